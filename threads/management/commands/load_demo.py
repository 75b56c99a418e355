"""Load the demo data set, once: `make run` calls this on every start."""

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from accounts.demo import DEMO_FIXTURE, DEMO_PASSWORD


class Command(BaseCommand):
    help = (
        "Load fixtures/demo.json if the database has no users yet; otherwise leave it alone. "
        "Refuses with DJANGO_DEBUG off (a production database) unless --force."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Load even with DJANGO_DEBUG off. The demo accounts' password is public: "
            "check --deploy fails while any of them is active.",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "DJANGO_DEBUG is off: refusing to load the demo data, whose accounts (a superuser "
                f"among them) all have the public password {DEMO_PASSWORD!r}. Use --force to load it anyway."
            )
        if User.objects.exists():
            self.stdout.write("The database already has users; demo data not loaded again.")
            return
        call_command("loaddata", str(DEMO_FIXTURE), verbosity=options["verbosity"])
        self.stdout.write(f"Demo data loaded. Every demo user's password: {DEMO_PASSWORD}")
