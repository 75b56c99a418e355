"""Load the demo data set, once: `make run` calls this on every start."""

from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand

DEMO_FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "demo.json"


class Command(BaseCommand):
    help = "Load fixtures/demo.json if the database has no users yet; otherwise leave it alone."

    def handle(self, *args, **options):
        if User.objects.exists():
            self.stdout.write("The database already has users; demo data not loaded again.")
            return
        call_command("loaddata", str(DEMO_FIXTURE), verbosity=options["verbosity"])
        self.stdout.write("Demo data loaded. Every demo user's password: chat-demo-2026")
