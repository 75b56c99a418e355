from django.core.management.base import BaseCommand, CommandError

from accounts.admin_login import unlock


class Command(BaseCommand):
    help = "Clear the admin login's failure counts of a username and/or a client address (accounts/admin_login.py)."

    def add_arguments(self, parser):
        parser.add_argument("--username", help="The username whose failed logins to forget.")
        parser.add_argument(
            "--address", help="The client address (as the server sees it) whose failed logins to forget."
        )

    def handle(self, *args, username=None, address=None, **options):
        if username is None and address is None:
            raise CommandError("Name a --username, an --address, or both.")
        unlock(username=username, address=address)
        self.stdout.write(
            "Unlocked: " + ", ".join(f"{k} {v}" for k, v in (("username", username), ("address", address)) if v)
        )
