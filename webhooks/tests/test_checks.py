"""`manage.py check --deploy` warns while webhooks may reach private addresses."""

import pytest
from django.core.checks import run_checks

pytestmark = pytest.mark.django_db  # the deploy checks include one that reads the accounts


def deploy_check_ids() -> set[str]:
    return {message.id for message in run_checks(include_deployment_checks=True)}


def test_deploy_check_warns_while_insecure_webhooks_are_allowed(settings):
    settings.CHAT_WEBHOOK_ALLOW_INSECURE = True
    assert "webhooks.W001" in deploy_check_ids()


def test_deploy_check_is_quiet_about_webhooks_while_insecure_urls_are_off(settings):
    settings.CHAT_WEBHOOK_ALLOW_INSECURE = False
    assert "webhooks.W001" not in deploy_check_ids()


def test_plain_check_does_not_warn_about_insecure_webhooks_in_development(settings):
    settings.CHAT_WEBHOOK_ALLOW_INSECURE = True
    assert "webhooks.W001" not in {message.id for message in run_checks()}
