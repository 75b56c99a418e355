"""Sending several messages in one request, marking exactly some messages
read, and naming participants by username (issue 12)."""

import uuid

import pytest

from threads import services
from threads.models import Membership, Message
from threads.tests.conftest import SEND_QUERIES
from threads.tests.counters import actual_counters, stored_counters


def send(client, thread, body):
    return client.post(f"/api/threads/{thread.pk}/messages/", body, format="json")


def unread_of(user, thread) -> int:
    return Membership.objects.get(thread=thread, user=user).unread_count


# Batch sends.


def test_a_batch_is_stored_in_order_and_answered_as_a_list(client_for, alice, bob, thread):
    response = send(client_for(alice), thread, {"messages": [{"text": "one"}, {"text": "two"}, {"text": "three"}]})

    assert response.status_code == 201
    body = response.json()
    assert [m["text"] for m in body] == ["one", "two", "three"]
    assert [m["id"] for m in body] == sorted(m["id"] for m in body)
    assert list(thread.messages.order_by("pk").values_list("text", flat=True)) == ["one", "two", "three"]
    assert unread_of(bob, thread) == 3
    assert stored_counters(thread) == actual_counters(thread)
    assert thread.last_message.text == "three"


def test_one_bad_item_is_a_400_naming_its_index_and_nothing_is_stored(client_for, alice, thread):
    items = [{"text": "fine"}, {"text": "also fine"}, {"text": "   "}, {"text": "x" * 5001}]

    response = send(client_for(alice), thread, {"messages": items})

    assert response.status_code == 400
    assert set(response.json()["messages"]) == {"2", "3"}
    assert "blank" in str(response.json()["messages"]["2"]["text"])
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"messages": []}, "at least 1"),
        ({"messages": [{"text": "x"}] * 101}, "no more than 100"),
        ({"messages": "hi"}, "list"),
        ({"messages": [{"text": 5}]}, "valid string"),
        ({"messages": [{"text": "a", "client_id": "nope"}]}, "UUID"),
        ({"text": "one", "messages": [{"text": "two"}]}, "not both"),
    ],
)
def test_malformed_batches_are_400s_that_store_nothing(client_for, alice, thread, body, fragment):
    response = send(client_for(alice), thread, body)

    assert response.status_code == 400
    assert fragment in str(response.json())
    assert not Message.objects.exists()


def test_a_client_id_twice_in_one_batch_is_a_400(client_for, alice, thread):
    client_id = str(uuid.uuid4())

    response = send(client_for(alice), thread, {"messages": [
        {"text": "a", "client_id": client_id}, {"text": "b", "client_id": client_id},
    ]})

    assert response.status_code == 400
    assert "Items 0 and 1 have the same client_id" in str(response.json())
    assert not Message.objects.exists()


def test_a_retried_batch_stores_nothing_twice_and_answers_the_originals(client_for, alice, bob, thread):
    items = [{"text": f"m{n}", "client_id": str(uuid.uuid4())} for n in range(3)]
    client = client_for(alice)
    first = send(client, thread, {"messages": items})

    retry = send(client, thread, {"messages": items})

    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json() == first.json()
    assert Message.objects.count() == 3
    assert unread_of(bob, thread) == 3


def test_a_batch_mixing_retries_and_new_messages_stores_only_the_new_ones_in_order(client_for, alice, bob, thread):
    old = [{"text": f"old{n}", "client_id": str(uuid.uuid4())} for n in range(2)]
    client = client_for(alice)
    originals = send(client, thread, {"messages": old}).json()
    new = {"text": "new", "client_id": str(uuid.uuid4())}

    response = send(client, thread, {"messages": [old[0], new, {"text": "no id"}, old[1]]})

    assert response.status_code == 201
    body = response.json()
    assert [m["text"] for m in body] == ["old0", "new", "no id", "old1"]
    assert (body[0], body[3]) == (originals[0], originals[1])
    assert Message.objects.count() == 4
    assert unread_of(bob, thread) == 4
    assert stored_counters(thread) == actual_counters(thread)


def test_a_single_send_and_a_one_item_batch_answer_in_their_own_shapes(client_for, alice, thread):
    client = client_for(alice)

    single = send(client, thread, {"text": "alone"})
    batch = send(client, thread, {"messages": [{"text": "listed"}]})

    assert single.json()["text"] == "alone"
    assert [m["text"] for m in batch.json()] == ["listed"]


def test_a_non_member_cannot_send_a_batch(client_for, carol, thread):
    response = send(client_for(carol), thread, {"messages": [{"text": "sneaky"}]})

    assert response.status_code == 404
    assert not Message.objects.exists()


def test_the_send_rate_limit_counts_every_message_of_a_batch(client_for, alice, thread, settings, throttle_cache):
    settings.CHAT_THROTTLE_RATES = {**settings.CHAT_THROTTLE_RATES, "message_send": "5/minute"}
    client = client_for(alice)

    assert send(client, thread, {"messages": [{"text": "a"}, {"text": "b"}, {"text": "c"}]}).status_code == 201
    assert send(client, thread, {"messages": [{"text": "d"}, {"text": "e"}, {"text": "f"}]}).status_code == 429
    assert send(client, thread, {"messages": [{"text": "d"}, {"text": "e"}]}).status_code == 201
    assert send(client, thread, {"text": "g"}).status_code == 429
    assert Message.objects.count() == 5


def test_a_batch_in_a_group_moves_the_senders_position_and_counts_for_every_other_member(
    client_for, alice, bob, carol
):
    group = services.group_create(owner=alice, title="Crew", members=[bob, carol])
    services.message_create(thread=group, sender=bob, text="earlier")

    response = send(client_for(alice), group, {"messages": [{"text": "x"}, {"text": "y"}]})

    body = response.json()
    assert response.status_code == 201
    assert [m["read_count"] for m in body] == [0, 0]
    assert Membership.objects.get(thread=group, user=alice).last_read_message_id == body[-1]["id"]
    assert (unread_of(alice, group), unread_of(bob, group), unread_of(carol, group)) == (0, 2, 3)
    assert stored_counters(group) == actual_counters(group)


def test_a_batch_is_announced_message_by_message_after_the_commit(
    client_for, alice, bob, thread, listen, django_capture_on_commit_callbacks
):
    bob_events = listen(bob)

    with django_capture_on_commit_callbacks(execute=True):
        send(client_for(alice), thread, {"messages": [{"text": "one"}, {"text": "two"}]})

    events = bob_events()
    assert [(e["type"], e.get("message", {}).get("text")) for e in events] == [
        ("message.created", "one"), ("message.created", "two"), ("unread_count", None),
    ]
    assert events[-1]["unread_count"] == 2


@pytest.mark.parametrize("size", [1, 100])
def test_a_batch_runs_the_same_queries_whatever_its_size(client_for, alice, thread, django_assert_num_queries, size):
    client = client_for(alice)
    body = {"messages": [{"text": f"m{n}", "client_id": str(uuid.uuid4())} for n in range(size)]}

    # user; write (SAVEPOINT ... RELEASE): one INSERT of all the messages
    # (which locks the thread if the caller is a member, and skips client_ids
    # sent before), UPDATE of the thread, UPDATE of the memberships (one
    # statement on PostgreSQL)
    with django_assert_num_queries(SEND_QUERIES):
        response = send(client, thread, body)

    assert response.status_code == 201
    assert Message.objects.count() == size


# Marking read by ids.


def mark(client, thread, body=None):
    return client.post(f"/api/threads/{thread.pk}/mark_as_read/", body, format="json")


def test_marking_listed_messages_read_marks_exactly_those(client_for, alice, bob, thread, listen,
                                                         django_capture_on_commit_callbacks):
    sent = [services.message_create(thread=thread, sender=alice, text=f"m{n}") for n in range(4)]
    alice_events = listen(alice)

    with django_capture_on_commit_callbacks(execute=True):
        response = mark(client_for(bob), thread, {"message_ids": [sent[2].pk, sent[0].pk]})

    assert response.json() == {"marked": 2}
    assert list(thread.messages.order_by("pk").values_list("is_read", flat=True)) == [True, False, True, False]
    assert unread_of(bob, thread) == 2
    assert stored_counters(thread) == actual_counters(thread)
    receipt = [e for e in alice_events() if e["type"] == "message.read"]
    assert receipt[0]["message_ids"] == [sent[0].pk, sent[2].pk]


def test_marking_already_read_messages_again_marks_nothing(client_for, alice, bob, thread):
    message = services.message_create(thread=thread, sender=alice, text="hi")
    client = client_for(bob)
    mark(client, thread, {"message_ids": [message.pk]})

    assert mark(client, thread, {"message_ids": [message.pk]}).json() == {"marked": 0}
    assert unread_of(bob, thread) == 0


def test_ids_of_other_threads_or_own_messages_are_a_400_listing_them_and_nothing_is_marked(
    client_for, alice, bob, carol, thread
):
    received = services.message_create(thread=thread, sender=alice, text="to bob")
    own = services.message_create(thread=thread, sender=bob, text="from bob")
    elsewhere, _ = services.thread_get_or_create(user=alice, other=carol)
    foreign = services.message_create(thread=elsewhere, sender=alice, text="to carol")

    response = mark(client_for(bob), thread, {"message_ids": [received.pk, own.pk, foreign.pk, 999999]})

    assert response.status_code == 400
    problem = str(response.json()["message_ids"])
    assert f"not messages of this thread: {foreign.pk}, 999999" in problem
    assert f"sent by you: {own.pk}" in problem
    assert not Message.objects.get(pk=received.pk).is_read
    assert unread_of(bob, thread) == 1


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"message_ids": []}, "at least 1"),
        ({"message_ids": list(range(1, 502))}, "no more than 500"),
        ({"message_ids": ["1"]}, "valid integer"),
        ({"message_ids": [0]}, "greater than or equal to 1"),
    ],
)
def test_malformed_mark_read_bodies_are_400s_that_mark_nothing(client_for, alice, bob, thread, body, fragment):
    services.message_create(thread=thread, sender=alice, text="hi")

    response = mark(client_for(bob), thread, body)

    assert response.status_code == 400
    assert fragment in str(response.json())
    assert unread_of(bob, thread) == 1


def test_a_non_member_marking_by_ids_gets_404(client_for, alice, carol, thread):
    message = services.message_create(thread=thread, sender=alice, text="hi")

    assert mark(client_for(carol), thread, {"message_ids": [message.pk]}).status_code == 404


def test_marking_by_ids_in_a_group_moves_the_position_to_the_newest_of_them(client_for, alice, bob, carol):
    group = services.group_create(owner=alice, title="Crew", members=[bob, carol])
    sent = [services.message_create(thread=group, sender=sender, text="m") for sender in (alice, carol, alice, carol)]

    response = mark(client_for(bob), group, {"message_ids": [sent[1].pk, sent[2].pk]})

    assert response.json() == {"marked": 3}
    assert Membership.objects.get(thread=group, user=bob).last_read_message_id == sent[2].pk
    assert unread_of(bob, group) == 1
    assert stored_counters(group) == actual_counters(group)
    assert mark(client_for(bob), group, {"message_ids": [sent[0].pk]}).json() == {"marked": 0}


def test_an_empty_body_still_marks_the_whole_thread_and_a_null_one_is_a_400(client_for, alice, bob, thread):
    for n in range(3):
        services.message_create(thread=thread, sender=alice, text=f"m{n}")
    client = client_for(bob)

    null = client.generic("POST", f"/api/threads/{thread.pk}/mark_as_read/", b"null", content_type="application/json")

    assert null.status_code == 400
    assert mark(client, thread, {}).json() == {"marked": 3}


# Participants by username.


def test_a_thread_can_be_started_with_a_username_in_any_case(client_for, alice, bob):
    response = client_for(alice).post("/api/threads/", {"participants": ["BOB"]}, format="json")

    assert response.status_code == 201
    assert {p["username"] for p in response.json()["participants"]} == {"alice", "bob"}


def test_a_group_can_mix_ids_and_usernames(client_for, alice, bob, carol):
    response = client_for(alice).post(
        "/api/threads/", {"kind": "group", "title": "Mixed", "participants": [bob.pk, "carol"]}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["member_count"] == 3


def test_unknown_or_deactivated_usernames_are_a_400_naming_them(client_for, alice, bob, make_user):
    make_user("gone", is_active=False)

    response = client_for(alice).post(
        "/api/threads/", {"kind": "group", "title": "X", "participants": ["bob", "nobody", "gone"]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["participants"] == ["No user is called nobody, gone."]
