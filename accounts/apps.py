from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Accounts and authentication: canonical usernames, token revocation,
    deploy checks. Kept apart from `threads` (the chat itself)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self):
        from django.conf import settings
        from django.db.models.signals import post_save

        from . import checks  # noqa: F401 (registers the system checks)
        from .signals import keep_canonical_name

        post_save.connect(keep_canonical_name, sender=settings.AUTH_USER_MODEL, dispatch_uid="canonical-name")
