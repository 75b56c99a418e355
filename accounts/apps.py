from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Accounts and authentication: canonical usernames, token revocation,
    deploy checks. Kept apart from `threads` (the chat itself)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self):
        from . import checks  # noqa: F401 (registers the system checks)
