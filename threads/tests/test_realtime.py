"""The WebSocket at /ws/ (threads/consumers.py) and the events the services
send (threads/events.py), through the real ASGI application and the in-memory
channel layer, with Channels' WebsocketCommunicator."""

import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.db import transaction
from rest_framework_simplejwt.tokens import AccessToken

from chat_project.asgi import application
from threads import presence, services
from threads.models import Thread
from threads.serializers import MessageSerializer
from threads.tests.conftest import name_of, summary

# Events go out on commit, and the consumer reads the database from other threads.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

UNAUTHORIZED = 4401


def token_for(user: User, lifetime: timedelta | None = None) -> str:
    token = AccessToken.for_user(user)
    if lifetime is not None:
        token.set_exp(lifetime=lifetime)
    return str(token)


async def open_socket(path: str = "/ws/") -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def connect_as(user: User) -> WebsocketCommunicator:
    communicator = await open_socket()
    await communicator.send_json_to({"type": "auth", "token": token_for(user)})
    # A generous wait for what must arrive: on a loaded machine the account
    # checks behind auth.ok can take longer than the default second.
    assert await communicator.receive_json_from(timeout=10) == {
        "type": "auth.ok",
        "user": name_of(user),
    }
    return communicator


async def closed_with(communicator: WebsocketCommunicator, timeout: float = 1) -> int:
    output = await communicator.receive_output(timeout)
    assert output["type"] == "websocket.close", output
    return output["code"]


def json_roundtrip(data) -> dict:
    presence.annotate(data)  # as the event sender does: the users shown carry their presence
    return json.loads(json.dumps(data, default=str))


@database_sync_to_async
def make_thread(first: User, second: User) -> Thread:
    return services.thread_get_or_create(user=first, other=second)[0]


# The users and `thread` come from conftest (sync fixtures, set up before the event loop runs).
send = database_sync_to_async(services.message_create)


# Authentication.


async def test_a_valid_token_in_the_first_frame_authenticates(alice):
    socket = await connect_as(alice)

    assert await socket.receive_nothing()
    await socket.disconnect()


@pytest.mark.parametrize(
    "first_frame",
    [
        {"type": "auth", "token": "not-a-jwt"},
        {"type": "auth"},
        {"type": "auth", "token": 42},
        {"type": "typing", "thread": 1},
        {"token": "x"},
        ["auth"],
    ],
)
async def test_anything_but_a_valid_auth_frame_first_closes_with_4401(alice, first_frame):
    socket = await open_socket()

    await socket.send_json_to(first_frame)

    assert await closed_with(socket) == UNAUTHORIZED


async def test_malformed_json_or_a_binary_frame_before_auth_closes_with_4401(alice):
    for frame in ({"text_data": "{not json"}, {"bytes_data": b"\x00\x01"}):
        socket = await open_socket()
        await socket.send_to(**frame)
        assert await closed_with(socket) == UNAUTHORIZED


async def test_an_expired_token_closes_with_4401(alice):
    socket = await open_socket()

    await socket.send_json_to({"type": "auth", "token": token_for(alice, lifetime=-timedelta(seconds=1))})

    assert await closed_with(socket) == UNAUTHORIZED


async def test_a_refresh_token_is_not_an_access_token(alice):
    from rest_framework_simplejwt.tokens import RefreshToken

    refresh = await database_sync_to_async(RefreshToken.for_user)(alice)  # recorded in the blacklist app
    socket = await open_socket()

    await socket.send_json_to({"type": "auth", "token": str(refresh)})

    assert await closed_with(socket) == UNAUTHORIZED


async def test_an_inactive_users_token_closes_with_4401(alice):
    alice.is_active = False
    await database_sync_to_async(alice.save)()
    socket = await open_socket()

    await socket.send_json_to({"type": "auth", "token": token_for(alice)})

    assert await closed_with(socket) == UNAUTHORIZED


async def test_no_auth_frame_within_the_timeout_closes_with_4401(alice, settings):
    settings.CHAT_WS_AUTH_TIMEOUT = 0.1
    socket = await open_socket()

    assert await closed_with(socket, timeout=2) == UNAUTHORIZED


async def test_the_socket_closes_with_4401_when_the_token_expires(alice):
    socket = await open_socket()
    await socket.send_json_to({"type": "auth", "token": token_for(alice, lifetime=timedelta(seconds=1))})
    assert (await socket.receive_json_from())["type"] == "auth.ok"

    assert await closed_with(socket, timeout=3) == UNAUTHORIZED


async def test_nothing_is_delivered_before_authentication(alice, bob, thread):
    socket = await open_socket()

    await send(thread=thread, sender=bob, text="before alice authenticated")
    await socket.send_json_to({"type": "auth", "token": token_for(alice)})

    assert (await socket.receive_json_from())["type"] == "auth.ok"
    assert await socket.receive_nothing()
    await socket.disconnect()


async def test_another_websocket_path_closes_with_4404():
    socket = await open_socket("/ws/elsewhere/")

    assert await closed_with(socket) == 4404


# Events.


async def test_a_new_message_reaches_both_participants_and_no_one_else(alice, bob, carol, thread):
    alice_socket, bob_socket, carol_socket = [await connect_as(user) for user in (alice, bob, carol)]

    message = await send(thread=thread, sender=alice, text="Hello Bob")

    expected = {"type": "message.created", "message": json_roundtrip(MessageSerializer(message).data)}
    assert await alice_socket.receive_json_from() == expected
    assert await bob_socket.receive_json_from() == expected
    assert await bob_socket.receive_json_from() == {
        "type": "unread_count", "unread_count": 1, "thread": thread.pk, "thread_unread_count": 1,
    }
    assert await carol_socket.receive_nothing()
    assert await alice_socket.receive_nothing()
    for socket in (alice_socket, bob_socket, carol_socket):
        await socket.disconnect()


async def test_the_event_payload_is_what_the_rest_api_returns(alice, bob, thread):
    from rest_framework.test import APIClient

    bob_socket = await connect_as(bob)

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}")
        return client.post(f"/api/threads/{thread.pk}/messages/", {"text": "via HTTP"}, format="json").json()

    posted = await database_sync_to_async(post)()

    assert await bob_socket.receive_json_from() == {"type": "message.created", "message": posted}
    await bob_socket.disconnect()


async def test_a_write_that_rolls_back_sends_nothing(alice, bob, thread):
    bob_socket = await connect_as(bob)

    @database_sync_to_async
    def send_then_roll_back():
        with transaction.atomic():
            services.message_create(thread=thread, sender=alice, text="never committed")
            transaction.set_rollback(True)

    await send_then_roll_back()

    assert await bob_socket.receive_nothing()
    await bob_socket.disconnect()


async def test_edit_and_delete_reach_both_participants(alice, bob, thread):
    message = await send(thread=thread, sender=alice, text="first draft")
    alice_socket, bob_socket = await connect_as(alice), await connect_as(bob)

    await database_sync_to_async(services.message_update)(message=message, editor=alice, text="second draft")
    for socket in (alice_socket, bob_socket):
        event = await socket.receive_json_from()
        assert (event["type"], event["message"]["id"], event["message"]["text"]) == (
            "message.updated", message.pk, "second draft",
        )

    await database_sync_to_async(services.message_delete)(message=message, actor=alice)
    deleted = {"type": "message.deleted", "thread": thread.pk, "message_ids": [message.pk]}
    assert await alice_socket.receive_json_from() == deleted
    assert await bob_socket.receive_json_from() == deleted
    # The unread message is gone, so bob's counts drop back to zero.
    assert await bob_socket.receive_json_from() == {
        "type": "unread_count", "unread_count": 0, "thread": thread.pk, "thread_unread_count": 0,
    }
    for socket in (alice_socket, bob_socket):
        await socket.disconnect()


async def test_marking_a_thread_read_sends_the_senders_read_receipt(alice, bob, thread):
    first = await send(thread=thread, sender=alice, text="one")
    second = await send(thread=thread, sender=alice, text="two")
    alice_socket, bob_socket = await connect_as(alice), await connect_as(bob)

    marked = await database_sync_to_async(services.thread_mark_read)(thread=thread, user=bob)

    receipt = {"type": "message.read", "thread": thread.pk, "reader": bob.pk, "message_ids": [first.pk, second.pk]}
    assert marked == 2
    assert await alice_socket.receive_json_from() == receipt
    assert await bob_socket.receive_json_from() == receipt
    assert await bob_socket.receive_json_from() == {
        "type": "unread_count", "unread_count": 0, "thread": thread.pk, "thread_unread_count": 0,
    }
    assert await alice_socket.receive_nothing()

    assert await database_sync_to_async(services.thread_mark_read)(thread=thread, user=bob) == 0
    assert await alice_socket.receive_nothing()  # nothing changed, nothing sent
    for socket in (alice_socket, bob_socket):
        await socket.disconnect()


async def test_marking_one_message_read_sends_its_receipt(alice, bob, thread):
    message = await send(thread=thread, sender=alice, text="one")
    alice_socket = await connect_as(alice)

    await database_sync_to_async(services.message_mark_read)(message=message, reader=bob)

    assert await alice_socket.receive_json_from() == {
        "type": "message.read", "thread": thread.pk, "reader": bob.pk, "message_ids": [message.pk],
    }
    await alice_socket.disconnect()


async def test_thread_created_and_deleted_reach_both_participants(alice, bob, carol):
    alice_socket, carol_socket = await connect_as(alice), await connect_as(carol)

    thread = await make_thread(carol, alice)
    for socket in (alice_socket, carol_socket):
        event = await socket.receive_json_from()
        assert event["type"] == "thread.created"
        assert event["thread"]["id"] == thread.pk
        assert {p["username"] for p in event["thread"]["participants"]} == {"alice", "carol"}
        assert (event["thread"]["last_message"], event["thread"]["unread_count"]) == (None, 0)

    await make_thread(carol, alice)  # exists already: nothing new
    assert await alice_socket.receive_nothing()

    await database_sync_to_async(services.thread_delete)(thread=thread)
    for socket in (alice_socket, carol_socket):
        assert await socket.receive_json_from() == {"type": "thread.deleted", "thread": thread.pk}
        assert await socket.receive_json_from() == {
            "type": "unread_count", "unread_count": 0, "thread": thread.pk, "thread_unread_count": 0,
        }
    for socket in (alice_socket, carol_socket):
        await socket.disconnect()


async def test_deleting_a_thread_with_unread_messages_lowers_the_readers_total(alice, bob, carol, thread):
    other = await make_thread(alice, carol)
    await send(thread=thread, sender=bob, text="unread, in the thread that goes")
    await send(thread=other, sender=carol, text="unread, in the thread that stays")
    alice_socket = await connect_as(alice)

    await database_sync_to_async(services.thread_delete)(thread=thread)

    assert await alice_socket.receive_json_from() == {"type": "thread.deleted", "thread": thread.pk}
    assert await alice_socket.receive_json_from() == {
        "type": "unread_count", "unread_count": 1, "thread": thread.pk, "thread_unread_count": 0,
    }
    await alice_socket.disconnect()


async def test_a_frame_nested_too_deeply_or_a_token_that_is_not_utf8_closes_with_4401(alice):
    for frame in ("[" * 100_000 + "]" * 100_000, '{"type": "auth", "token": "\\ud800"}'):
        socket = await open_socket()
        await socket.send_to(text_data=frame)
        assert await closed_with(socket) == UNAUTHORIZED


async def test_typing_over_many_threads_is_capped_per_second(alice, make_user):
    others = [await database_sync_to_async(make_user)(f"friend{i}") for i in range(7)]
    threads = [await make_thread(alice, other) for other in others]
    alice_socket = await connect_as(alice)
    listeners = [await connect_as(other) for other in others]

    for thread in threads:
        await alice_socket.send_json_to({"type": "typing", "thread": thread.pk})

    delivered = [not await listener.receive_nothing(timeout=0.3) for listener in listeners]
    assert delivered == [True] * 5 + [False] * 2
    for socket in (alice_socket, *listeners):
        await socket.disconnect()


async def test_every_open_socket_of_a_user_gets_the_event(alice, bob, thread):
    phone, laptop = await connect_as(bob), await connect_as(bob)

    await send(thread=thread, sender=alice, text="to both devices")

    for socket in (phone, laptop):
        assert (await socket.receive_json_from())["type"] == "message.created"
        await socket.disconnect()


# Typing.


async def test_typing_reaches_the_other_participant_only(alice, bob, carol, thread):
    alice_socket, bob_socket, carol_socket = [await connect_as(user) for user in (alice, bob, carol)]

    await alice_socket.send_json_to({"type": "typing", "thread": thread.pk})

    assert await bob_socket.receive_json_from() == {
        "type": "typing", "thread": thread.pk, "user": summary(alice, is_online=True),
    }
    assert await alice_socket.receive_nothing()
    assert await carol_socket.receive_nothing()
    for socket in (alice_socket, bob_socket, carol_socket):
        await socket.disconnect()


async def test_typing_in_a_thread_you_are_not_in_does_nothing(alice, bob, carol, thread):
    with_alice, with_bob = await make_thread(carol, alice), await make_thread(carol, bob)
    alice_socket, bob_socket, carol_socket = [await connect_as(user) for user in (alice, bob, carol)]

    await carol_socket.send_json_to({"type": "typing", "thread": thread.pk})
    await carol_socket.send_json_to({"type": "typing", "thread": 999_999})
    # A socket's frames are handled in order: once these arrive, the two
    # above have been handled, so whatever they sent would have come first.
    await carol_socket.send_json_to({"type": "typing", "thread": with_alice.pk})
    await carol_socket.send_json_to({"type": "typing", "thread": with_bob.pk})

    assert (await alice_socket.receive_json_from())["thread"] == with_alice.pk
    assert (await bob_socket.receive_json_from())["thread"] == with_bob.pk
    assert await carol_socket.receive_nothing()  # no error either: the thread does not exist for carol
    for socket in (alice_socket, bob_socket, carol_socket):
        await socket.disconnect()


async def test_typing_is_rate_limited_per_thread(alice, bob, thread, settings):
    settings.CHAT_TYPING_INTERVAL = 60
    alice_socket, bob_socket = await connect_as(alice), await connect_as(bob)

    for _ in range(5):
        await alice_socket.send_json_to({"type": "typing", "thread": thread.pk})

    assert (await bob_socket.receive_json_from())["type"] == "typing"
    assert await bob_socket.receive_nothing()
    for socket in (alice_socket, bob_socket):
        await socket.disconnect()


async def test_typing_again_after_the_interval_is_delivered_again(alice, bob, thread, settings):
    settings.CHAT_TYPING_INTERVAL = 0
    alice_socket, bob_socket = await connect_as(alice), await connect_as(bob)

    for _ in range(3):
        await alice_socket.send_json_to({"type": "typing", "thread": thread.pk})

    for _ in range(3):
        assert (await bob_socket.receive_json_from())["type"] == "typing"
    for socket in (alice_socket, bob_socket):
        await socket.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "typing", "thread": "1"},
        {"type": "typing"},
        {"type": "typing", "thread": True},
        {"type": "typing", "thread": 2**70},
        {"type": "shout", "text": "hi"},
        {"type": "auth", "token": "again"},
    ],
)
async def test_a_bad_frame_after_auth_gets_an_error_event_and_the_socket_stays_open(alice, thread, frame):
    socket = await connect_as(alice)

    await socket.send_json_to(frame)

    event = await socket.receive_json_from()
    assert event["type"] == "error"
    assert event["detail"]
    await socket.send_to(text_data="{broken")
    assert (await socket.receive_json_from())["type"] == "error"
    await socket.disconnect()
