from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Accounts and authentication: canonical usernames, token revocation,
    deploy checks. Kept apart from `threads` (the chat itself)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self):
        from django.conf import settings
        from django.db.models.signals import post_delete, post_init, post_save

        from . import checks, schema  # noqa: F401 (register the system checks and schema extensions)
        from .signals import (
            end_sessions_on_delete,
            end_sessions_on_password_change_or_deactivation,
            keep_canonical_name,
            remember_password_hash,
        )

        user = settings.AUTH_USER_MODEL
        post_save.connect(keep_canonical_name, sender=user, dispatch_uid="canonical-name")
        post_init.connect(remember_password_hash, sender=user, dispatch_uid="remember-password-hash")
        post_save.connect(end_sessions_on_password_change_or_deactivation, sender=user, dispatch_uid="end-sessions")
        post_delete.connect(end_sessions_on_delete, sender=user, dispatch_uid="end-sessions-on-delete")
