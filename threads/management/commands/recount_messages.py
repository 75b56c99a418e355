from django.core.management.base import BaseCommand

from threads import services
from threads.models import Thread


class Command(BaseCommand):
    help = (
        "Set every thread's message_count, last_message and unread counters from its messages. The services "
        "keep them exact; run this after loading messages around them (a hand-made fixture, raw SQL, a partial "
        "dumpdata)."
    )

    def handle(self, *args, **options):
        fixed = services.threads_recount_messages(threads=Thread.objects.all())
        self.stdout.write(f"Corrected the counters of {fixed} thread(s).")
