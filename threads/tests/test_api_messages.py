from io import StringIO

import pytest
from django.test import override_settings

from threads import services
from threads.models import Message, Thread
from threads.tests.conftest import summary


def messages_url(thread, message=None):
    base = f"/api/threads/{thread.pk}/messages/"
    return base if message is None else f"{base}{message.pk}/"


def test_sending_a_message_returns_it_and_updates_the_thread(client_for, thread, alice, bob):
    response = client_for(alice).post(messages_url(thread), {"text": "Hello Bob"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "thread", "sender", "text", "created", "is_read", "client_id"}
    assert body["client_id"] is None
    assert body["thread"] == thread.pk
    assert body["sender"] == summary(alice)
    assert (body["text"], body["is_read"]) == ("Hello Bob", False)
    thread.refresh_from_db()
    assert thread.updated == Message.objects.get().created


def test_sender_thread_and_read_state_in_the_body_are_ignored(client_for, thread, alice, bob, carol):
    other_thread, _ = services.thread_get_or_create(user=bob, other=carol)

    response = client_for(alice).post(
        messages_url(thread),
        {
            "text": "spoof", "sender": bob.pk, "thread": other_thread.pk, "is_read": True,
            "id": 999, "created": "2000-01-01",
        },
        format="json",
    )

    assert response.status_code == 201
    message = Message.objects.get()
    assert (message.sender, message.thread, message.is_read) == (alice, thread, False)
    assert message.created.year > 2000
    assert not other_thread.messages.exists()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "required"),
        ({"text": ""}, "may not be blank"),
        ({"text": "   \n "}, "may not be blank"),
        ({"text": None}, "may not be null"),
        ({"text": ["a"]}, "Not a valid string"),
        ({"text": {"a": 1}}, "Not a valid string"),
        ({"text": 42}, "Not a valid string"),
        ({"text": True}, "Not a valid string"),
        ({"text": "x" * 5001}, "limited to 5000 characters"),
        ({"text": "nul\x00"}, "Null characters are not allowed"),
    ],
)
def test_invalid_message_text_is_a_400_and_stores_nothing(client_for, thread, alice, body, fragment):
    updated_before = Thread.objects.get().updated

    response = client_for(alice).post(messages_url(thread), body, format="json")

    assert response.status_code == 400
    assert fragment in str(response.json()["text"])
    assert not Message.objects.exists()
    assert Thread.objects.get().updated == updated_before


def test_message_text_of_exactly_the_limit_is_accepted(client_for, thread, alice):
    response = client_for(alice).post(messages_url(thread), {"text": "x" * 5000}, format="json")

    assert response.status_code == 201


@override_settings(CHAT_MESSAGE_MAX_LENGTH=3)
def test_the_message_length_limit_is_a_setting(client_for, thread, alice):
    client = client_for(alice)

    assert client.post(messages_url(thread), {"text": "abc"}, format="json").status_code == 201
    assert client.post(messages_url(thread), {"text": "abcd"}, format="json").status_code == 400


def test_message_list_is_newest_first_and_paginated(client_for, thread, alice, bob):
    for index in range(5):
        services.message_create(thread=thread, sender=alice if index % 2 else bob, text=f"m{index}")

    body = client_for(bob).get(messages_url(thread) + "?limit=3").json()

    assert body["count"] == 5
    assert [m["text"] for m in body["results"]] == ["m4", "m3", "m2"]
    assert body["next"] is not None
    assert body["previous"] is None


def test_message_list_shows_only_this_threads_messages(client_for, thread, message_from_alice, alice, carol):
    other_thread, _ = services.thread_get_or_create(user=alice, other=carol)
    services.message_create(thread=other_thread, sender=carol, text="elsewhere")

    body = client_for(alice).get(messages_url(thread)).json()

    assert [m["id"] for m in body["results"]] == [message_from_alice.pk]


def test_message_detail_is_readable_by_both_participants(client_for, thread, message_from_alice, alice, bob):
    for user in (alice, bob):
        body = client_for(user).get(messages_url(thread, message_from_alice)).json()
        assert body["text"] == "Hi Bob"


def test_the_sender_can_edit_the_text_and_nothing_else(client_for, thread, message_from_alice, alice, bob):
    response = client_for(alice).patch(
        messages_url(thread, message_from_alice),
        {"text": "Hi Bob, edited", "is_read": True, "sender": bob.pk},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["text"] == "Hi Bob, edited"
    message = Message.objects.get()
    assert (message.text, message.is_read, message.sender) == ("Hi Bob, edited", False, alice)


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "x" * 5001}, {"is_read": True}])
def test_an_invalid_edit_is_a_400_and_changes_nothing(client_for, thread, message_from_alice, alice, body):
    response = client_for(alice).patch(messages_url(thread, message_from_alice), body, format="json")

    assert response.status_code == 400
    assert Message.objects.get().text == "Hi Bob"


def test_the_recipient_cannot_edit_or_delete(client_for, thread, message_from_alice, bob):
    client = client_for(bob)

    edit = client.patch(messages_url(thread, message_from_alice), {"text": "bob was here"}, format="json")
    delete = client.delete(messages_url(thread, message_from_alice))

    assert (edit.status_code, delete.status_code) == (403, 403)
    assert "sender" in edit.json()["detail"]
    assert Message.objects.get().text == "Hi Bob"


def test_put_is_not_allowed_on_messages(client_for, thread, message_from_alice, alice):
    response = client_for(alice).put(messages_url(thread, message_from_alice), {"text": "x"}, format="json")

    assert response.status_code == 405


def test_the_sender_can_delete_a_message(client_for, thread, message_from_alice, alice):
    response = client_for(alice).delete(messages_url(thread, message_from_alice))

    assert response.status_code == 204
    assert not Message.objects.exists()


def test_the_recipient_marks_a_message_read_and_gets_it_back(client_for, thread, message_from_alice, bob):
    client = client_for(bob)

    first = client.post(messages_url(thread, message_from_alice) + "mark_as_read/")
    again = client.post(messages_url(thread, message_from_alice) + "mark_as_read/")

    assert first.status_code == again.status_code == 200
    assert first.json()["is_read"] is True
    assert first.json()["id"] == message_from_alice.pk
    assert Message.objects.get().is_read is True
    assert client.get("/api/threads/unread_count/").json() == {"unread_count": 0}


def test_the_sender_cannot_mark_their_own_message_read(client_for, thread, message_from_alice, alice):
    response = client_for(alice).post(messages_url(thread, message_from_alice) + "mark_as_read/")

    assert response.status_code == 403
    assert "recipient" in response.json()["detail"]
    assert Message.objects.get().is_read is False


def test_a_deleted_last_message_is_replaced_by_the_previous_one_in_the_list(client_for, thread, alice, bob):
    services.message_create(thread=thread, sender=alice, text="earlier")
    latest = services.message_create(thread=thread, sender=alice, text="regret")

    client_for(alice).delete(messages_url(thread, latest))

    body = client_for(bob).get("/api/threads/").json()
    assert body["results"][0]["last_message"]["text"] == "earlier"
    assert body["results"][0]["unread_count"] == 1


@pytest.mark.parametrize(("limit", "offset"), [(1, 0), (3, 2), (4, 4), (100, 0), (2, 7), (5, 8)])
def test_message_pages_tile_the_whole_thread_in_order(client_for, thread, alice, bob, limit, offset):
    sent = [services.message_create(thread=thread, sender=alice if i % 2 else bob, text=f"m{i}") for i in range(9)]
    newest_first = [m.pk for m in reversed(sent)]

    body = client_for(alice).get(f"{messages_url(thread)}?limit={limit}&offset={offset}").json()

    assert body["count"] == 9
    assert [m["id"] for m in body["results"]] == newest_first[offset : offset + limit]


def test_message_count_in_lists_follows_sends_and_deletes(client_for, thread, alice, bob):
    client = client_for(alice)
    first = client.post(messages_url(thread), {"text": "one"}, format="json").json()
    client.post(messages_url(thread), {"text": "two"}, format="json")
    client.delete(f"{messages_url(thread)}{first['id']}/")

    assert client.get(messages_url(thread)).json()["count"] == 1
    thread.refresh_from_db()
    assert thread.message_count == 1


def test_a_short_counter_still_shows_the_messages_and_recount_fixes_the_total(client_for, thread, alice):
    from django.core.management import call_command

    services.message_create(thread=thread, sender=alice, text="loaded around the services")
    Thread.objects.update(message_count=0)
    client = client_for(alice)

    before = client.get(messages_url(thread)).json()
    call_command("recount_messages", stdout=StringIO())
    after = client.get(messages_url(thread)).json()

    assert [m["text"] for m in before["results"]] == ["loaded around the services"]
    assert (before["count"], after["count"]) == (0, 1)
