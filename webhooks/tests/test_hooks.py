"""What the writes queue: every event type, and what it costs a request."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from threads import services
from threads.models import Membership, Message
from webhooks import endpoints, hooks
from webhooks.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from webhooks.tests.conftest import ONLINE_TYPES


def queued(event_type: str) -> list[dict]:
    return [json.loads(d.payload) for d in WebhookDelivery.objects.filter(event_type=event_type).order_by("id")]


def test_every_event_type_the_websocket_carries_is_queued(alice, bob, carol, make_user, endpoint):
    """Typing notices come from the consumer, presence events from
    threads.presence: test_typing.py, test_offline.py."""
    dave = make_user("dave")
    group = services.group_create(owner=alice, title="Plans", members=[bob, carol])
    services.group_rename(thread=group, actor=alice, title="Plans 2")
    services.member_add(thread=group, actor=alice, user_id=dave.pk)
    services.member_set_role(thread=group, actor=alice, user_id=bob.pk, role=Membership.Role.ADMIN)
    message = services.message_create(thread=group, sender=bob, text="hello")
    services.message_set_text(message=message, text="hello again")
    services.thread_mark_read(thread=group, user=alice)
    services.message_delete(message=message, actor=bob)
    services.member_remove(thread=group, actor=alice, user_id=dave.pk)
    direct, _ = services.thread_get_or_create(user=alice, other=bob)
    services.message_create(thread=direct, sender=bob, text="psst")
    services.messages_set_read(messages=Message.objects.filter(thread=direct), is_read=True)
    services.messages_set_read(messages=Message.objects.filter(thread=direct), is_read=False)
    services.thread_delete(thread=group, actor=alice)

    assert set(WebhookDelivery.objects.values_list("event_type", flat=True)) == set(EVENT_TYPES) - {
        "typing", "presence", "message.created.offline"  # test_typing.py, test_offline.py
    }

    # One webhook per distinct event, with the users it went to (equal
    # unread counts of several users are one event).
    [created, _] = queued("message.created")
    assert created["data"]["message"]["text"] == "hello"
    assert created["data"]["recipients"] == sorted([alice.pk, bob.pk, carol.pk, dave.pk])
    unread_users = [p["data"]["recipients"] for p in queued("unread_count")]
    # bob's message: the same new counts for the three others.
    assert unread_users[0] == sorted([alice.pk, carol.pk, dave.pk])
    [renamed] = queued("thread.updated")
    assert renamed["data"] == {"thread": group.pk, "title": "Plans 2",
                               "recipients": sorted([alice.pk, bob.pk, carol.pk])}
    assert all(set(p) == {"type", "timestamp", "data"} for p in queued("member.added"))


def test_an_endpoint_gets_only_the_event_types_it_chose(thread, alice, bob, make_endpoint, receiver):
    make_endpoint(receiver.url, event_types=["message.updated"])
    message = services.message_create(thread=thread, sender=alice, text="a")
    assert WebhookDelivery.objects.count() == 0
    services.message_set_text(message=message, text="b")
    assert list(WebhookDelivery.objects.values_list("event_type", flat=True)) == ["message.updated"]


def test_with_no_endpoint_the_hook_reads_nothing(db, django_assert_num_queries):
    endpoints.reset()
    with django_assert_num_queries(1):  # the process's first look
        assert hooks.wanted() is False
    with django_assert_num_queries(0):
        for _ in range(3):
            assert hooks.wanted() is False


def send_queries(client, thread_id: int) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.post(f"/api/threads/{thread_id}/messages/", {"text": "hi"}, format="json")
    assert response.status_code == 201
    return [query["sql"] for query in captured.captured_queries]


@pytest.mark.parametrize("members", [2, 30])
def test_a_send_costs_nothing_without_endpoints_and_one_insert_with_one(
    client_for, alice, make_user, make_endpoint, receiver, members, settings
):
    others = [make_user(f"member{n}") for n in range(members - 1)]
    group = services.group_create(owner=alice, title="Big", members=others)
    client = client_for(alice)
    send_queries(client, group.pk)  # warm: the process has looked at the endpoints

    without = send_queries(client, group.pk)
    assert not any("webhooks_" in sql for sql in without)

    make_endpoint(receiver.url, event_types=[t for t in EVENT_TYPES if t != "message.created.offline"])
    send_queries(client, group.pk)  # this process reloads the endpoints once after the change
    with_endpoint = send_queries(client, group.pk)

    # The event's own reads (the recipients' totals, which ran after the
    # commit) now run inside the transaction, plus one INSERT of every
    # webhook, whatever the group's size. (message.created.offline adds
    # two: test_offline.py.)
    extra = [sql for sql in with_endpoint if "webhooks_" in sql]
    assert len(extra) == 1
    assert extra[0].startswith("INSERT")
    assert len(with_endpoint) == len(without) + 2
    assert WebhookDelivery.objects.filter(event_type="message.created").count() == 2
    # The members' unread counts are all equal here: one event for all of them.
    assert [json.loads(d.payload)["data"]["recipients"] for d in WebhookDelivery.objects.filter(
        event_type="unread_count")] == [[u.pk for u in others]] * 2


def test_another_process_change_is_seen_through_the_cache_version(db, settings, django_assert_num_queries):
    settings.CHAT_WEBHOOK_ENDPOINTS_CHECK_SECONDS = 0
    assert endpoints.active() == ()
    # Another process adds an endpoint: its row, and a new version in the shared cache.
    WebhookEndpoint.objects.bulk_create([WebhookEndpoint(url="https://93.184.216.34/")])  # no signal here
    with django_assert_num_queries(0):
        assert endpoints.active() == ()  # same version: not reloaded
    from django.core.cache import cache

    cache.set(endpoints.VERSION_KEY, "another-process")
    with django_assert_num_queries(1):
        assert len(endpoints.active()) == 1
    with django_assert_num_queries(0):
        assert len(endpoints.active()) == 1


def test_saving_an_endpoint_takes_effect_at_once_in_this_process(db, thread, alice, make_endpoint, receiver):
    services.message_create(thread=thread, sender=alice, text="before")
    endpoint = make_endpoint(receiver.url, event_types=ONLINE_TYPES)
    services.message_create(thread=thread, sender=alice, text="after")
    assert WebhookDelivery.objects.count() == 2
    endpoint.is_active = False
    endpoint.save()
    services.message_create(thread=thread, sender=alice, text="off")
    assert WebhookDelivery.objects.count() == 2
