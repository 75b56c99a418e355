"""What blocks and mutes do to the real-time events, through the real ASGI
application and the in-memory channel layer (as threads/tests/test_realtime.py)."""

import pytest
from channels.db import database_sync_to_async

from safety import services as safety_services
from threads import services
from threads.tests.conftest import summary
from threads.tests.test_realtime import connect_as

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

send = database_sync_to_async(services.message_create)
block = database_sync_to_async(safety_services.block_user)
unblock = database_sync_to_async(safety_services.unblock_user)
set_muted = database_sync_to_async(safety_services.thread_set_muted)
edit = database_sync_to_async(services.message_update)


async def next_of_type(socket, kind: str) -> dict:
    while True:
        event = await socket.receive_json_from(timeout=5)
        if event["type"] == kind:
            return event


async def test_the_blocker_gets_no_event_and_no_unread_count_from_the_blocked_users_group_messages(
    alice, bob, carol, group
):
    await block(blocker=alice, blocked=bob)
    alice_socket, carol_socket = await connect_as(alice), await connect_as(carol)

    message = await send(thread=group, sender=bob, text="after the block")

    created = await carol_socket.receive_json_from(timeout=5)
    assert (created["type"], created["message"]["id"]) == ("message.created", message.pk)
    assert await carol_socket.receive_json_from(timeout=5) == {
        "type": "unread_count", "unread_count": 1, "thread": group.pk, "thread_unread_count": 1,
    }
    await edit(message=message, editor=bob, text="edited")
    assert (await carol_socket.receive_json_from(timeout=5))["type"] == "message.updated"
    assert await alice_socket.receive_nothing()

    # Carol's message still reaches alice, with counts that never included bob's.
    await send(thread=group, sender=carol, text="from carol")
    assert (await alice_socket.receive_json_from(timeout=5))["type"] == "message.created"
    assert await alice_socket.receive_json_from(timeout=5) == {
        "type": "unread_count", "unread_count": 1, "thread": group.pk, "thread_unread_count": 1,
    }
    for socket in (alice_socket, carol_socket):
        await socket.disconnect()


async def test_typing_from_the_blocked_user_does_not_reach_the_blocker(alice, bob, carol, group):
    await block(blocker=alice, blocked=bob)
    alice_socket, bob_socket, carol_socket = [await connect_as(user) for user in (alice, bob, carol)]

    await bob_socket.send_json_to({"type": "typing", "thread": group.pk})
    assert await carol_socket.receive_json_from(timeout=5) == {
        "type": "typing", "thread": group.pk, "user": summary(bob, is_online=True),
    }
    assert await alice_socket.receive_nothing()
    # The other way round is unaffected: bob is not told.
    await alice_socket.send_json_to({"type": "typing", "thread": group.pk})
    assert (await bob_socket.receive_json_from(timeout=5))["user"] == summary(alice, is_online=True)
    for socket in (alice_socket, bob_socket, carol_socket):
        await socket.disconnect()


async def test_unblocking_sends_the_recounted_unread_count(alice, bob, carol, group):
    await block(blocker=alice, blocked=bob)
    await send(thread=group, sender=bob, text="hidden")
    alice_socket = await connect_as(alice)

    await unblock(blocker=alice, blocked=bob)

    assert await alice_socket.receive_json_from(timeout=5) == {
        "type": "unread_count", "unread_count": 1, "thread": group.pk, "thread_unread_count": 1,
    }
    await alice_socket.disconnect()


async def test_a_muted_thread_leaves_the_total_of_unread_count_events(alice, bob, carol, thread, group):
    alice_socket = await connect_as(alice)
    await set_muted(thread=thread, user=alice, muted=True)
    # Muting moves the total (nothing unread yet: 0), on every device of alice.
    assert await alice_socket.receive_json_from(timeout=5) == {
        "type": "unread_count", "unread_count": 0, "thread": thread.pk, "thread_unread_count": 0,
    }

    await send(thread=group, sender=carol, text="group")
    assert await next_of_type(alice_socket, "unread_count") == {
        "type": "unread_count", "unread_count": 1, "thread": group.pk, "thread_unread_count": 1,
    }
    await send(thread=thread, sender=bob, text="direct, muted")
    # The message still arrives; the thread's own count moves, the total does not.
    assert (await alice_socket.receive_json_from(timeout=5))["type"] == "message.created"
    assert await alice_socket.receive_json_from(timeout=5) == {
        "type": "unread_count", "unread_count": 1, "thread": thread.pk, "thread_unread_count": 1,
    }

    await set_muted(thread=thread, user=alice, muted=False)
    assert await alice_socket.receive_json_from(timeout=5) == {
        "type": "unread_count", "unread_count": 2, "thread": thread.pk, "thread_unread_count": 1,
    }
    await set_muted(thread=thread, user=alice, muted=False)  # no change: no event
    assert await alice_socket.receive_nothing()
    await alice_socket.disconnect()


async def test_the_report_queues_actions_are_announced_like_any_other_write(alice, bob, thread):
    from safety.models import Report
    from threads.tests.test_realtime import UNAUTHORIZED, closed_with

    message = await send(thread=thread, sender=bob, text="spam")
    report = database_sync_to_async(safety_services.message_report)
    await report(message=message, reporter=alice, reason="spam")
    reports = Report.objects.all()
    alice_socket, bob_socket = await connect_as(alice), await connect_as(bob)

    await database_sync_to_async(safety_services.reports_delete_messages)(reports=reports)
    for socket in (alice_socket, bob_socket):
        assert await next_of_type(socket, "message.deleted") == {
            "type": "message.deleted", "thread": thread.pk, "message_ids": [message.pk],
        }
        assert (await socket.receive_json_from(timeout=5))["type"] == "unread_count"

    await database_sync_to_async(safety_services.reports_deactivate_senders)(reports=reports)
    assert await closed_with(bob_socket, timeout=5) == UNAUTHORIZED
    await alice_socket.disconnect()
