"""`message.created.offline` (recipients with no open socket, for push and
email) and presence events, delivered to webhooks."""

import json

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext

from threads import presence, services
from threads.models import Membership
from webhooks.models import WebhookDelivery

OFFLINE = "message.created.offline"


@pytest.fixture
def online():
    """Presence in this process's memory; `online(user)` opens a socket for them."""
    presence.reset(presence.Presence(presence.MemoryStore(), send_events=False))

    def open_socket(user) -> None:
        async_to_sync(presence.get().socket_opened)(user.pk, f"socket-{user.pk}")

    yield open_socket
    presence.reset()


def queued(event_type: str) -> list[dict]:
    return [json.loads(d.payload) for d in WebhookDelivery.objects.filter(event_type=event_type).order_by("id")]


def test_each_offline_recipient_gets_the_message_saying_whether_they_muted(
    alice, bob, carol, make_user, make_endpoint, receiver, online
):
    dave = make_user("dave")
    make_endpoint(receiver.url, event_types=[OFFLINE])
    group = services.group_create(owner=alice, title="Crew", members=[bob, carol, dave])
    online(bob)
    Membership.objects.filter(thread=group, user=carol).update(muted=True)

    message = services.message_create(thread=group, sender=alice, text="anyone?")

    bodies = queued(OFFLINE)
    assert [b["data"]["recipient"] for b in bodies] == sorted([carol.pk, dave.pk])  # not bob (online), not alice
    by_recipient = {b["data"]["recipient"]: b["data"] for b in bodies}
    assert by_recipient[carol.pk]["muted"] is True
    assert by_recipient[dave.pk]["muted"] is False
    for data in by_recipient.values():
        assert data["recipient_online"] is False
        assert data["message"]["id"] == message.pk
        assert data["message"]["text"] == "anyone?"
        assert data["recipients"] == [data["recipient"]]
    assert WebhookDelivery.objects.exclude(event_type=OFFLINE).count() == 0


def test_nobody_offline_nothing_queued(thread, alice, bob, make_endpoint, receiver, online):
    make_endpoint(receiver.url, event_types=[OFFLINE])
    online(bob)
    services.message_create(thread=thread, sender=alice, text="hi")
    assert queued(OFFLINE) == []


@pytest.mark.parametrize("members", [2, 30])
def test_the_offline_event_costs_a_bounded_number_of_queries(
    client_for, alice, make_user, make_endpoint, receiver, online, members
):
    others = [make_user(f"member{n}") for n in range(members - 1)]
    group = services.group_create(owner=alice, title="Big", members=others)
    client = client_for(alice)

    def send() -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            assert client.post(f"/api/threads/{group.pk}/messages/", {"text": "hi"}, format="json").status_code == 201
        return [query["sql"] for query in captured.captured_queries]

    send()
    without = send()
    make_endpoint(receiver.url, event_types=[OFFLINE])
    send()
    with_endpoint = send()

    # The event's own read moved into the transaction, the mutes, one INSERT.
    assert len(with_endpoint) == len(without) + 3
    assert len(queued(OFFLINE)) == 2 * (members - 1)


def test_presence_events_are_delivered_too(thread, alice, bob, make_endpoint, receiver):
    make_endpoint(receiver.url, event_types=["presence"])

    presence.presence_deliveries(bob.pk, presence.State(True, None))

    [body] = queued("presence")
    assert body["data"]["user"]["id"] == bob.pk
    assert body["data"]["is_online"] is True
    assert body["data"]["recipients"] == [alice.pk]
