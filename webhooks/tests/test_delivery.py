"""Webhooks against a real HTTP receiver: signing, retries, durability, SSRF,
disabling a failing endpoint."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from threads import services
from webhooks import delivery
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.tests.conftest import ONLINE_TYPES


def test_a_sent_message_reaches_the_endpoint_signed(client_for, thread, alice, bob, receiver, make_endpoint):
    endpoint = make_endpoint(receiver.url, event_types=["message.created"])

    response = client_for(alice).post(f"/api/threads/{thread.pk}/messages/", {"text": "hello"}, format="json")
    assert response.status_code == 201
    assert delivery.run_due() == 1

    [request] = receiver.requests
    assert request["path"] == "/hooks/chat?source=test"
    assert request["headers"]["Content-Type"] == "application/json"
    # The library's own verifier accepts it...
    body = Webhook(endpoint.secret).verify(request["body"], request["headers"])
    assert body["type"] == "message.created"
    assert body["data"]["message"] == response.json()  # the API's own rendering
    assert body["data"]["recipients"] == sorted([alice.pk, bob.pk])
    assert request["headers"]["webhook-id"] == WebhookDelivery.objects.get().webhook_id
    # ...and refuses it under another secret or with the body changed.
    with pytest.raises(WebhookVerificationError):
        Webhook(WebhookEndpoint(url="https://example.com/").secret).verify(request["body"], request["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(request["body"].replace("hello", "HELLO"), request["headers"])

    sent = WebhookDelivery.objects.get()
    assert sent.status == WebhookDelivery.Status.DELIVERED
    assert sent.next_attempt_at is None
    [attempt] = sent.attempts.all()
    assert attempt.status_code == 200
    assert attempt.address == "127.0.0.1"


def test_a_receiver_failing_twice_gets_the_event_three_times_with_one_webhook_id(
    thread, alice, receiver, endpoint, settings
):
    receiver.statuses = [500, 500]
    services.message_create(thread=thread, sender=alice, text="retry me")
    [queued] = WebhookDelivery.objects.filter(event_type="message.created")
    WebhookDelivery.objects.exclude(pk=queued.pk).delete()  # the unread_count one

    # Drive the schedule with time: each retry is due 5 s, then 30 s, later.
    start = timezone.now()
    assert delivery.attempt(delivery.claim(now=start), now=start).status_code == 500
    queued.refresh_from_db()
    assert queued.next_attempt_at == start + timedelta(seconds=5)
    assert delivery.claim(now=start + timedelta(seconds=4)) is None  # not due yet

    second = start + timedelta(seconds=5)
    assert delivery.attempt(delivery.claim(now=second), now=second).status_code == 500
    queued.refresh_from_db()
    assert queued.next_attempt_at == second + timedelta(seconds=30)

    third = second + timedelta(seconds=30)
    assert delivery.attempt(delivery.claim(now=third), now=third).status_code == 200

    assert len(receiver.requests) == 3
    assert {request["headers"]["webhook-id"] for request in receiver.requests} == {queued.webhook_id}
    assert len({request["body"] for request in receiver.requests}) == 1
    for request in receiver.requests:
        Webhook(endpoint.secret).verify(request["body"], request["headers"])
    queued.refresh_from_db()
    assert queued.status == WebhookDelivery.Status.DELIVERED
    assert queued.attempt_count == 3
    assert [a.status_code for a in queued.attempts.all()] == [500, 500, 200]
    assert all(a.duration_ms >= 0 for a in queued.attempts.all())
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None  # the success ended the streak


def test_the_retry_schedule_backs_off_to_every_two_hours_and_lasts_three_days(settings):
    delays = [delivery.retry_delay(n).total_seconds() for n in range(1, 12)]
    assert delays == [5, 30, 120, 600, 1200, 2400, 4800, 7200, 7200, 7200, 7200]
    assert timedelta(hours=24) <= settings.CHAT_WEBHOOK_RETRY_FOR


def test_a_rolled_back_write_sends_nothing(thread, alice, receiver, endpoint):
    queued_inside = []

    def failing_write():
        with transaction.atomic():
            services.message_create(thread=thread, sender=alice, text="never")
            queued_inside.append(WebhookDelivery.objects.count())
            raise RuntimeError("the write fails")

    with pytest.raises(RuntimeError):
        failing_write()

    assert queued_inside == [2]  # message.created, bob's unread_count: queued...

    assert WebhookDelivery.objects.count() == 0  # ...and gone with the write
    assert delivery.run_due() == 0
    assert receiver.requests == []

    services.message_create(thread=thread, sender=alice, text="committed")
    assert delivery.run_due() == 2
    assert [p["type"] for p in receiver.payloads()] == ["message.created", "unread_count"]


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",  # not https
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.0.0.8/hook",
        "https://192.168.1.1/hook",
        "https://172.16.0.1/hook",
        "https://100.64.0.1/hook",  # shared address space
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata, link-local
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://[fd00::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "https://224.0.0.1/hook",
        "https://user:secret@93.184.216.34/hook",
    ],
)
def test_private_and_insecure_urls_are_refused_when_saved(db, url):
    endpoint = WebhookEndpoint(url=url)
    with pytest.raises(ValidationError) as refused:
        endpoint.full_clean()
    assert "url" in refused.value.message_dict


def test_public_https_urls_are_accepted(db):
    WebhookEndpoint(url="https://93.184.216.34/hook").full_clean()
    WebhookEndpoint(url="https://[2606:2800:220:1:248:1893:25c8:1946]/hook").full_clean()


def test_insecure_mode_allows_http_and_loopback(db, insecure):
    WebhookEndpoint(url="http://127.0.0.1:8001/hook").full_clean()
    WebhookEndpoint(url="http://localhost/hook").full_clean()


def test_an_address_that_became_private_is_refused_at_delivery(db, thread, alice, monkeypatch):
    """Saved while its name resolved to a public address; at the attempt it
    resolves to loopback (DNS rebinding): refused, no connection made."""
    import socket

    answers = {"hooks.example.test": "93.184.216.34"}
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))])
    connections = []
    monkeypatch.setattr(socket, "create_connection", lambda *args, **kwargs: connections.append(args))
    endpoint = WebhookEndpoint(url="https://hooks.example.test/chat", event_types=ONLINE_TYPES)
    endpoint.full_clean()
    endpoint.save()
    services.message_create(thread=thread, sender=alice, text="to a private address")
    answers["hooks.example.test"] = "127.0.0.1"

    assert delivery.run_due() == 2
    assert connections == []
    for queued in WebhookDelivery.objects.all():
        assert queued.status == WebhookDelivery.Status.PENDING  # retried later, on the schedule
        [attempt] = queued.attempts.all()
        assert attempt.status_code is None
        assert attempt.error.startswith("Refused:")
        assert "127.0.0.1" in attempt.error


def test_the_checked_address_is_the_one_connected_to(thread, alice, receiver, endpoint, monkeypatch):
    """DNS rebinding: the name is resolved once per attempt, checked, and the
    connection goes to that address; a second resolution would say otherwise."""
    import socket

    real_getaddrinfo = socket.getaddrinfo
    lookups = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "receiver.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) % 2 else "10.9.9.9"  # rebinds after each answer
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    port = int(receiver.url.split(":")[2].split("/")[0])
    endpoint.url = receiver.url.replace("127.0.0.1", "receiver.test")
    endpoint.event_types = ["message.created"]
    endpoint.save()
    services.message_create(thread=thread, sender=alice, text="by name")
    lookups.clear()

    assert delivery.run_due() == 1
    assert len(receiver.requests) == 1
    assert lookups == ["receiver.test"]  # one look-up, and the connection went where it said
    assert receiver.requests[0]["headers"]["Host"] == f"receiver.test:{port}"


def drive(when) -> None:
    """Attempt every pending delivery as if it were `when`."""
    WebhookDelivery.objects.filter(status="pending").update(next_attempt_at=when)
    while (claimed := delivery.claim(now=when)) is not None:
        delivery.attempt(claimed, now=when)


def test_an_endpoint_failing_for_three_days_is_disabled_and_says_why(thread, alice, receiver, endpoint):
    receiver.statuses = [503] * 10
    services.message_create(thread=thread, sender=alice, text="into the void")
    start = timezone.now()

    for when in [start, start + timedelta(days=1), start + timedelta(days=2, hours=23)]:
        drive(when)
        endpoint.refresh_from_db()
        assert endpoint.is_active
        assert endpoint.failing_since == start

    late = start + timedelta(days=3, seconds=1)
    drive(late)

    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert endpoint.disabled_at == late
    assert "every attempt failed since" in endpoint.disabled_reason
    assert "HTTP 503" in endpoint.disabled_reason
    # Nothing of it is pending any more: the attempt that disabled it gave up
    # (3 days is also a delivery's limit), the rest are cancelled; staff can
    # redeliver them.
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) <= {"cancelled", "failed"}
    # And new writes queue nothing for it.
    services.message_create(thread=thread, sender=alice, text="after")
    assert WebhookDelivery.objects.filter(status="pending").count() == 0


def test_a_delivery_gives_up_after_the_retry_period(thread, alice, receiver, endpoint, settings):
    settings.CHAT_WEBHOOK_DISABLE_AFTER = timedelta(days=30)  # only the delivery's own limit here
    receiver.statuses = [500] * 10
    services.message_create(thread=thread, sender=alice, text="x")
    queued = WebhookDelivery.objects.filter(event_type="message.created").get()
    WebhookDelivery.objects.exclude(pk=queued.pk).delete()

    drive(queued.round_started + settings.CHAT_WEBHOOK_RETRY_FOR - timedelta(hours=3))
    queued.refresh_from_db()
    assert queued.status == WebhookDelivery.Status.PENDING
    drive(queued.round_started + settings.CHAT_WEBHOOK_RETRY_FOR)

    queued.refresh_from_db()
    assert queued.status == WebhookDelivery.Status.FAILED
    assert queued.next_attempt_at is None
    assert queued.last_status_code == 500


def test_a_deactivated_or_deleted_endpoint_gets_nothing_more(thread, alice, receiver, endpoint, make_endpoint):
    other = make_endpoint(receiver.url, event_types=ONLINE_TYPES)
    services.message_create(thread=thread, sender=alice, text="x")
    assert WebhookDelivery.objects.count() == 4
    endpoint.is_active = False
    endpoint.save()
    WebhookEndpoint.objects.filter(pk=other.pk).delete()  # its deliveries go with it...
    WebhookDelivery.objects.create(endpoint_id=other.pk, event_type="thread.updated", payload="{}")  # ...or not yet

    assert delivery.run_due() == 3
    assert receiver.requests == []
    assert list(WebhookDelivery.objects.values_list("status", flat=True)) == ["cancelled", "cancelled"]


def test_a_worker_that_outlived_its_lease_does_not_undo_a_delivery(thread, alice, receiver, endpoint):
    services.message_create(thread=thread, sender=alice, text="x")
    queued = WebhookDelivery.objects.filter(event_type="message.created").get()
    WebhookDelivery.objects.exclude(pk=queued.pk).delete()
    slow = delivery.claim()  # this worker stalls past its lease...
    WebhookDelivery.objects.filter(pk=slow.pk).update(next_attempt_at=timezone.now())
    fast = delivery.claim()  # ...another takes the delivery and delivers it
    assert fast.pk == slow.pk == queued.pk
    delivery.attempt(fast)
    receiver.statuses = [500]
    delivery.attempt(slow)  # the stalled one's late failure

    queued.refresh_from_db()
    assert queued.status == WebhookDelivery.Status.DELIVERED
    assert queued.attempt_count == 2


def test_finished_deliveries_are_pruned_after_the_keep_days(thread, alice, receiver, endpoint, settings):
    services.message_create(thread=thread, sender=alice, text="x")
    delivery.run_due()
    services.message_create(thread=thread, sender=alice, text="pending")
    later = timezone.now() + timedelta(days=settings.CHAT_WEBHOOK_KEEP_DAYS, seconds=1)

    assert delivery.prune(now=timezone.now()) == 0
    assert delivery.prune(now=later) == 2  # the two delivered; pending ones stay whatever their age
    assert WebhookDelivery.objects.count() == 2
    assert not WebhookDelivery.objects.exclude(status="pending").exists()
