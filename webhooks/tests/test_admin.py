"""The webhooks' admin: endpoints with their secret, deliveries with their
attempts, redelivery."""

import pytest
from django.urls import reverse
from standardwebhooks.webhooks import Webhook

from threads import services
from webhooks import delivery
from webhooks.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint


def test_staff_add_an_endpoint_and_see_its_secret(admin_client, insecure, receiver):
    page = admin_client.get(reverse("admin:webhooks_webhookendpoint_add"))
    assert page.status_code == 200
    for event_type in EVENT_TYPES:
        assert event_type in page.content.decode()

    response = admin_client.post(reverse("admin:webhooks_webhookendpoint_add"), {
        "url": receiver.url, "description": "CRM", "event_types": ["message.created", "member.added"],
        "is_active": "on",
    })
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])
    assert endpoint.event_types == ["message.created", "member.added"]
    assert endpoint.secret.startswith("whsec_")

    page = admin_client.get(response["Location"])
    assert endpoint.secret in page.content.decode()
    Webhook(endpoint.secret)  # a secret the library takes


def test_all_event_types_by_default(admin_client, insecure, receiver):
    admin_client.post(reverse("admin:webhooks_webhookendpoint_add"), {"url": receiver.url, "is_active": "on"})
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == []
    assert all(endpoint.subscribes_to(event_type) for event_type in EVENT_TYPES)


@pytest.mark.parametrize("url", ["https://127.0.0.1/hook", "http://hooks.example.com/", "https://localhost/x"])
def test_the_admin_refuses_private_and_insecure_urls(admin_client, db, url):
    response = admin_client.post(reverse("admin:webhooks_webhookendpoint_add"), {"url": url, "is_active": "on"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["url"]
    assert not WebhookEndpoint.objects.exists()


def test_a_disabled_endpoint_shows_why_and_staff_enable_it_again(admin_client, endpoint):
    endpoint.failing_since = endpoint.created
    endpoint.save()
    delivery.disable(endpoint, at=endpoint.created, reason="Disabled automatically: every attempt failed.")
    changelist = admin_client.get(reverse("admin:webhooks_webhookendpoint_changelist"))
    assert "every attempt failed" in changelist.content.decode()

    admin_client.post(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]),
                      {"url": endpoint.url, "is_active": "on"})
    endpoint.refresh_from_db()
    assert endpoint.is_active
    assert endpoint.disabled_reason == ""
    assert endpoint.failing_since is None


@pytest.mark.parametrize("messages", [1, 15])
def test_the_delivery_list_runs_fixed_queries(admin_client, thread, alice, endpoint, receiver,
                                              django_assert_num_queries, messages):
    for number in range(messages):
        services.message_create(thread=thread, sender=alice, text=f"m{number}")
    delivery.run_due()

    # session, user, the endpoint filter's choices, count, total count, the
    # page with its endpoints, the date hierarchy's range and days, the event
    # type filter's choices
    with django_assert_num_queries(9):
        page = admin_client.get(reverse("admin:webhooks_webhookdelivery_changelist"))
    assert page.status_code == 200
    assert page.content.decode().count("message.created") >= messages


def test_a_delivery_page_shows_its_attempts_and_staff_redeliver(admin_client, thread, alice, endpoint, receiver):
    receiver.statuses = [502]
    services.message_create(thread=thread, sender=alice, text="hello")
    queued = WebhookDelivery.objects.get(event_type="message.created")
    WebhookDelivery.objects.exclude(pk=queued.pk).delete()
    delivery.attempt(delivery.claim())
    WebhookDelivery.objects.filter(pk=queued.pk).update(next_attempt_at=queued.created)
    delivery.attempt(delivery.claim())

    page = admin_client.get(reverse("admin:webhooks_webhookdelivery_change", args=[queued.pk])).content.decode()
    assert queued.webhook_id in page
    assert "502" in page
    assert "200" in page
    assert "Duration ms" in page or "duration ms" in page.lower()

    response = admin_client.post(reverse("admin:webhooks_webhookdelivery_changelist"),
                                 {"action": "redeliver", "_selected_action": [queued.pk]})
    assert response.status_code == 302
    queued.refresh_from_db()
    assert queued.status == WebhookDelivery.Status.PENDING
    assert delivery.run_due() == 1

    assert len(receiver.requests) == 3
    assert {r["headers"]["webhook-id"] for r in receiver.requests} == {queued.webhook_id}
    queued.refresh_from_db()
    assert queued.status == WebhookDelivery.Status.DELIVERED
    assert queued.attempts.count() == 3
