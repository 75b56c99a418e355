from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from . import checks, endpoints  # noqa: F401 (checks: register the deploy checks)
        from .models import WebhookEndpoint

        post_save.connect(endpoints.endpoints_changed, sender=WebhookEndpoint, dispatch_uid="webhooks-saved")
        post_delete.connect(endpoints.endpoints_changed, sender=WebhookEndpoint, dispatch_uid="webhooks-deleted")
