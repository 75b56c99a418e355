"""Fill the baseline's tables from the chat app's, in the same database:
the same users (auth_user is shared), threads, participants and messages,
with the same ids. A group message counts as read (the baseline has one
is_read per message, not a read position per member)."""

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from plain.models import Message, Thread

COPY = [
    "DELETE FROM plain_message",
    "DELETE FROM plain_thread_participants",
    "DELETE FROM plain_thread",
    "INSERT INTO plain_thread (id, title, created, updated) "
    "SELECT id, COALESCE(title, ''), created, updated FROM threads_thread",
    "INSERT INTO plain_thread_participants (thread_id, user_id) SELECT thread_id, user_id FROM threads_membership",
    "INSERT INTO plain_message (id, thread_id, sender_id, text, created, is_read) "
    "SELECT id, thread_id, sender_id, text, created, COALESCE(is_read, TRUE) FROM threads_message ORDER BY id",
]


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in COPY:
                cursor.execute(statement)
            if connection.vendor == "postgresql":
                for model in (Thread, Message):
                    table = model._meta.db_table
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 1)) FROM {table}"
                    )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.stdout.write(f"copied {Thread.objects.count()} threads, {Message.objects.count()} messages")
