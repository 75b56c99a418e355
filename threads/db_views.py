"""The database view behind `Thread.participants` (see `models.Participant`).

`migrate` drops the view before it applies any migration and creates it again
afterwards. A migration that rebuilds `threads_thread` (SQLite rebuilds a
table for most field changes) would otherwise fail on the view that reads it,
so no migration ever has to know about it. Nothing at run time depends on the
view being present while migrations run: access checks read the pair columns.
"""

from django.db import connections

VIEW_NAME = "threads_participant"

CREATE_VIEW_SQL = f"""
CREATE VIEW {VIEW_NAME} AS
    SELECT 2 * id AS id, id AS thread_id, user_low_id AS user_id FROM threads_thread
    UNION ALL
    SELECT 2 * id + 1 AS id, id AS thread_id, user_high_id AS user_id FROM threads_thread
"""


def drop_participant_view(*, using: str) -> None:
    with connections[using].cursor() as cursor:
        cursor.execute(f"DROP VIEW IF EXISTS {VIEW_NAME}")


def create_participant_view(*, using: str) -> None:
    """(Re)create the view, if the table it reads exists (not after `migrate threads zero`)."""
    connection = connections[using]
    if "threads_thread" not in connection.introspection.table_names():
        return
    drop_participant_view(using=using)
    with connection.cursor() as cursor:
        cursor.execute(CREATE_VIEW_SQL)


def before_migrate(sender, using, **kwargs):
    drop_participant_view(using=using)


def after_migrate(sender, using, **kwargs):
    create_participant_view(using=using)
