"""Group events over the WebSocket: every current member gets them, a
removed member gets nothing more, and membership changes are announced to
the members they concern, the added or removed user included."""

import pytest
from channels.db import database_sync_to_async

from threads import services
from threads.tests.conftest import summary
from threads.tests.test_realtime import connect_as

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
def dave(make_user):
    return make_user("dave")


@pytest.fixture
def group(alice, bob, carol):
    return services.group_create(owner=alice, title="Crew", members=[bob, carol])


def types(events):
    return [event["type"] for event in events]


async def drain(socket) -> list[dict]:
    """Every event waiting on the socket (in order)."""
    events = []
    while not await socket.receive_nothing(timeout=0.2):
        events.append(await socket.receive_json_from())
    return events


async def test_a_group_message_reaches_every_member_and_no_one_else(alice, bob, carol, dave, group):
    sockets = {user.username: await connect_as(user) for user in (alice, bob, carol, dave)}

    message = await database_sync_to_async(services.message_create)(thread=group, sender=bob, text="hello crew")

    for name in ("alice", "carol"):
        events = await drain(sockets[name])
        assert types(events) == ["message.created", "unread_count"]
        assert events[0]["message"] | {"created": None} == {
            "id": message.pk, "thread": group.pk, "sender": summary(bob, is_online=True), "text": "hello crew",
            "created": None, "is_read": False, "read_count": 0, "client_id": None,
        }
        assert events[1] == {"type": "unread_count", "unread_count": 1, "thread": group.pk, "thread_unread_count": 1}
    assert types(await drain(sockets["bob"])) == ["message.created"]
    assert await sockets["dave"].receive_nothing()
    for socket in sockets.values():
        await socket.disconnect()


async def test_a_removed_member_is_told_and_then_gets_nothing_more(alice, bob, carol, group):
    carol_socket, bob_socket = await connect_as(carol), await connect_as(bob)

    await database_sync_to_async(services.member_remove)(thread=group, actor=alice, user_id=carol.pk)
    removed = await drain(carol_socket)
    await database_sync_to_async(services.message_create)(thread=group, sender=alice, text="after carol")
    await database_sync_to_async(services.group_rename)(thread=group, actor=alice, title="Renamed")

    assert types(removed) == ["member.removed", "unread_count"]
    assert removed[0] == {"type": "member.removed", "thread": group.pk, "user": summary(carol, is_online=True),
                          "member_count": 2}
    assert await carol_socket.receive_nothing()
    assert types(await drain(bob_socket)) == ["member.removed", "message.created", "unread_count", "thread.updated"]
    await carol_socket.disconnect()
    await bob_socket.disconnect()


async def test_adding_a_member_and_changing_a_role_reach_every_member_the_new_one_included(
    alice, bob, dave, group
):
    dave_socket, bob_socket = await connect_as(dave), await connect_as(bob)

    await database_sync_to_async(services.member_add)(thread=group, actor=alice, user_id=dave.pk)
    await database_sync_to_async(services.member_set_role)(thread=group, actor=alice, user_id=dave.pk, role="owner")

    for socket in (dave_socket, bob_socket):
        events = await drain(socket)
        assert types(events) == ["member.added", "member.updated", "member.updated"]
        assert (events[0]["member"]["user"]["id"], events[0]["member"]["role"], events[0]["member_count"]) == (
            dave.pk, "member", 4
        )
        # Ownership handed over: the old owner steps down, the new one steps up.
        assert [(e["member"]["user"]["username"], e["member"]["role"]) for e in events[1:]] == [
            ("alice", "admin"), ("dave", "owner")
        ]
        await socket.disconnect()


async def test_group_creation_and_deletion_reach_every_member(alice, bob, carol, dave):
    sockets = [await connect_as(user) for user in (alice, bob, carol)]

    created = await database_sync_to_async(services.group_create)(owner=alice, title="New", members=[bob, carol])
    await database_sync_to_async(services.thread_delete)(thread=created, actor=alice)

    for socket in sockets:
        events = await drain(socket)
        assert types(events) == ["thread.created", "thread.deleted", "unread_count"]
        assert (events[0]["thread"]["kind"], events[0]["thread"]["title"], events[0]["thread"]["member_count"]) == (
            "group", "New", 3
        )
        await socket.disconnect()


async def test_a_group_read_receipt_carries_the_reader_and_their_position(alice, bob, carol, group):
    message = await database_sync_to_async(services.message_create)(thread=group, sender=alice, text="read me")
    alice_socket, carol_socket = await connect_as(alice), await connect_as(carol)

    await database_sync_to_async(services.thread_mark_read)(thread=group, user=bob)

    receipt = {"type": "message.read", "thread": group.pk, "reader": bob.pk, "last_read_message": message.pk}
    assert await drain(alice_socket) == [receipt]
    assert await drain(carol_socket) == [receipt]
    await alice_socket.disconnect()
    await carol_socket.disconnect()


async def test_typing_in_a_group_reaches_the_other_members_only(alice, bob, carol, dave, group):
    sockets = {user.username: await connect_as(user) for user in (alice, bob, carol, dave)}

    await sockets["bob"].send_json_to({"type": "typing", "thread": group.pk})

    notice = {"type": "typing", "thread": group.pk, "user": summary(bob, is_online=True)}
    assert await sockets["alice"].receive_json_from() == notice
    assert await sockets["carol"].receive_json_from() == notice
    assert await sockets["bob"].receive_nothing()
    assert await sockets["dave"].receive_nothing()
    for socket in sockets.values():
        await socket.disconnect()


async def test_a_removed_member_typing_reaches_no_one(alice, bob, carol, group):
    await database_sync_to_async(services.member_remove)(thread=group, actor=alice, user_id=carol.pk)
    with_alice, _ = await database_sync_to_async(services.thread_get_or_create)(user=carol, other=alice)
    alice_socket, carol_socket = await connect_as(alice), await connect_as(carol)

    await carol_socket.send_json_to({"type": "typing", "thread": group.pk})
    # A socket's frames are handled in order: once this one arrives, the one
    # above has been handled, so whatever it sent would have come first.
    await carol_socket.send_json_to({"type": "typing", "thread": with_alice.pk})

    assert (await alice_socket.receive_json_from())["thread"] == with_alice.pk
    for socket in (alice_socket, carol_socket):
        await socket.disconnect()
