"""System checks run by `manage.py check --deploy`."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def check_webhooks_are_not_insecure(app_configs=None, **kwargs):
    """Warn while CHAT_WEBHOOK_ALLOW_INSECURE is on: it lets an endpoint's URL
    be plain http:// or point at a private or loopback address (the server's
    own network: server-side request forgery), which only development wants.
    """
    if not settings.CHAT_WEBHOOK_ALLOW_INSECURE:
        return []
    return [
        Warning(
            "CHAT_WEBHOOK_ALLOW_INSECURE is on: webhook endpoints may use http:// and private or loopback "
            "addresses, so an admin's URL can reach services on the server's own network.",
            hint="Unset CHAT_WEBHOOK_ALLOW_INSECURE in production (the .env that `make run` writes sets it).",
            id="webhooks.W001",
        )
    ]
