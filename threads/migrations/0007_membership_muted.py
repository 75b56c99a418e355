"""Membership.muted (issue 16: a member mutes a thread for themselves).

SQLite adds the column by rebuilding the table, which drops the table's
triggers (migration 0006's guard of a direct thread's two members): they
are created again right after, and again after the column goes on the way
back.
"""

import importlib

from django.db import migrations, models

guard = importlib.import_module("threads.migrations.0006_membership_and_groups")


def restore_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in [*guard.SQLITE_DROP, *guard.SQLITE_TRIGGERS]:
        schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('threads', '0006_membership_and_groups'),
    ]

    operations = [
        # Backwards, this runs last: after the column is removed.
        migrations.RunPython(migrations.RunPython.noop, restore_sqlite_triggers),
        migrations.AddField(
            model_name='membership',
            name='muted',
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(restore_sqlite_triggers, migrations.RunPython.noop),
    ]
