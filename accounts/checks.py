"""System checks run by `manage.py check --deploy`."""

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError

from .demo import DEMO_PASSWORD, demo_accounts


@register(Tags.security, deploy=True)
def check_no_demo_passwords(app_configs=None, **kwargs):
    """Fail while an active account can still log in with the demo password.

    Cheap by design: only the demo fixture's usernames are looked at (six),
    with a usable password; each is a match if its hash is still the
    fixture's or if the demo password checks against it (a reset to the
    same password makes a new salt). The hashers' check_password, not the
    user's: a check never writes (no hash upgrade).
    """
    fixture = demo_accounts()
    try:
        users = list(
            get_user_model()
            .objects.filter(username__in=fixture, is_active=True)
            .only("pk", "username", "password")
            .order_by("username")
        )
    except DatabaseError as exc:
        return [
            Warning(
                f"Could not look for demo accounts in the database: {exc}",
                hint="Run the deploy check against the production database, after migrate.",
                id="accounts.W001",
            )
        ]
    with_demo_password = [
        user.username
        for user in users
        if user.has_usable_password()
        and (user.password == fixture[user.username] or check_password(DEMO_PASSWORD, user.password))
    ]
    if not with_demo_password:
        return []
    return [
        Error(
            f"Active accounts still have the demo password: {', '.join(with_demo_password)}.",
            hint=(
                "The demo data (load_demo) is for development. Delete these accounts, or set real "
                "passwords (manage.py changepassword <username>), or deactivate them."
            ),
            id="accounts.E001",
        )
    ]
