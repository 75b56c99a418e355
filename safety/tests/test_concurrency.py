"""Blocks racing sends, with real threads on real database connections (as
threads/tests/test_concurrency.py): the counters stay exact, and every
message is either before the block (seen and counted) or after it (hidden
and never counted)."""

import threading
import time
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from rest_framework.response import Response

from safety import services as safety_services
from safety.models import Block
from threads import services
from threads.models import Membership, Message
from threads.tests.counters import assert_counters_exact
from threads.tests.test_concurrency import bearer, run_at_once

pytestmark = pytest.mark.django_db(transaction=True)


def test_blocking_and_unblocking_while_the_blocked_user_sends_leaves_every_count_exact():
    alice, bob, carol = (User.objects.create_user(name) for name in ("alice", "bob", "carol"))
    groups = [services.group_create(owner=alice, title=f"g{n}", members=[bob, carol]) for n in range(3)]
    direct, _ = services.thread_get_or_create(user=alice, other=bob)

    for round_number in range(4):
        # One request blocks (or unblocks) while bob sends 15 messages over the groups and the direct thread.
        def request(index, round_number=round_number):
            if index == 0:
                method = "post" if round_number % 2 == 0 else "delete"
                return getattr(bearer(alice), method)(f"/api/users/{bob.pk}/block/")
            thread = direct if index % 4 == 0 else groups[index % 3]
            return bearer(bob).post(f"/api/threads/{thread.pk}/messages/", {"text": f"r{round_number} {index}"},
                                    format="json")

        responses = run_at_once(16, request)

        assert responses[0].status_code == 204
        # In the direct thread a send is refused once the block is there, or goes through before it.
        assert {r.status_code for r in responses[1:]} <= {201, 403}
        for thread in [*groups, direct]:
            assert_counters_exact(thread)
        # What alice is shown and counted agree.
        client = bearer(alice)
        for group in groups:
            listed = client.get(f"/api/threads/{group.pk}/messages/?limit=100").json()["results"]
            position = Membership.objects.get(thread=group, user=alice).last_read_message_id
            unread = sum(1 for m in listed if m["sender"]["id"] != alice.pk and m["id"] > position)
            assert client.get(f"/api/threads/{group.pk}/").json()["unread_count"] == unread
        total = sum(Membership.objects.filter(user=alice).values_list("unread_count", flat=True))
        assert client.get("/api/threads/unread_count/").json() == {"unread_count": total}

    assert not Block.objects.exists()  # the last round unblocked
    assert Message.objects.filter(thread=direct).count() >= 1


def send_paused_after_its_insert(user: User, thread) -> tuple[threading.Event, Callable[[], Response]]:
    """Start `user`'s send to `thread` in a thread of its own; once its
    INSERT has run, it waits. Returns `resume` (set it to let the send go
    on) and `result` (waits for the send; its response)."""
    inserted, resume, sent = threading.Event(), threading.Event(), []
    table = connection.ops.quote_name(Message._meta.db_table)

    def pause_after_the_insert(execute, sql, params, many, context):
        outcome = execute(sql, params, many, context)
        if sql.startswith(f"INSERT INTO {table}") and not inserted.is_set():
            inserted.set()
            resume.wait(10)
        return outcome

    def send():
        try:
            with connection.execute_wrapper(pause_after_the_insert):
                sent.append(bearer(user).post(f"/api/threads/{thread.pk}/messages/", {"text": "hi"}, format="json"))
        except Exception as exc:  # the test client re-raises a view's exception: raised again in result()
            sent.append(exc)
        finally:
            connection.close()

    sender = threading.Thread(target=send)
    sender.start()
    assert inserted.wait(10)

    def result():
        sender.join(timeout=10)
        if isinstance(sent[0], Exception):
            raise sent[0]
        return sent[0]

    return resume, result


def block_held_open(blocker: User, blocked: User) -> Callable[[], None]:
    """Run block_user in a thread of its own and keep its transaction open:
    its locks held, the block written but not committed. Returns `commit`,
    which commits it and waits for the thread."""
    written, commit = threading.Event(), threading.Event()

    def block():
        with transaction.atomic():  # holds block_user's locks until `commit`
            safety_services.block_user(blocker=blocker, blocked=blocked)
            written.set()
            commit.wait(10)
        connection.close()

    worker = threading.Thread(target=block)
    worker.start()
    assert written.wait(10)

    def commit_and_wait():
        commit.set()
        worker.join(timeout=10)

    return commit_and_wait


def wait_for_a_lock_wait() -> None:
    """Until some connection to the test database waits for a lock."""
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    pytest.fail("nothing ever waited for a lock")


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="on SQLite a write transaction holds the database's write lock throughout"
)
def test_a_send_that_raced_the_block_into_the_direct_thread_is_counted_once_unblocked():
    """The race the test above finds now and then, made certain: bob's send
    takes its time and snapshot after alice's block took its time but before
    it committed, and waits for the thread's lock. The message goes in,
    hidden from alice and not counted; when she unblocks, it shows again
    and is counted."""
    alice, bob = User.objects.create_user("alice"), User.objects.create_user("bob")
    direct, _ = services.thread_get_or_create(user=alice, other=bob)
    sent = []

    def send():
        sent.append(bearer(bob).post(f"/api/threads/{direct.pk}/messages/", {"text": "raced"}, format="json"))
        connection.close()

    commit = block_held_open(alice, bob)
    sender = threading.Thread(target=send)
    sender.start()
    wait_for_a_lock_wait()  # the send, for the block's lock
    commit()
    sender.join(timeout=10)

    assert sent[0].status_code == 201
    alice_client = bearer(alice)
    assert alice_client.get(f"/api/threads/{direct.pk}/messages/").json()["results"] == []
    assert alice_client.get(f"/api/threads/{direct.pk}/").json()["unread_count"] == 0
    # Marking the thread read leaves the hidden message unread (no receipt for bob).
    assert alice_client.post(f"/api/threads/{direct.pk}/mark_as_read/").json() == {"marked": 0}
    assert Message.objects.get(thread=direct).is_read is False
    assert_counters_exact(direct)

    assert alice_client.delete(f"/api/users/{bob.pk}/block/").status_code == 204

    assert [m["text"] for m in alice_client.get(f"/api/threads/{direct.pk}/messages/").json()["results"]] == ["raced"]
    assert alice_client.get(f"/api/threads/{direct.pk}/").json()["unread_count"] == 1
    assert alice_client.get("/api/threads/unread_count/").json() == {"unread_count": 1}
    assert_counters_exact(direct)



@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="on SQLite a write transaction holds the database's write lock throughout"
)
@pytest.mark.parametrize("change", ["the block is lifted", "the sender is added to the group"])
def test_a_send_refused_by_rows_that_change_before_its_lock_goes_through(change):
    """A send's INSERT reads the rows as they were when it started: refused
    by a block, or because bob is not a member, it stores nothing. If the
    block is lifted or bob added before the send takes the thread's lock to
    say why, the send stores the message after all (it was a 500)."""
    alice, bob = User.objects.create_user("alice"), User.objects.create_user("bob")
    if change == "the block is lifted":
        thread, _ = services.thread_get_or_create(user=alice, other=bob)
        safety_services.block_user(blocker=alice, blocked=bob)
        method, path, body = "delete", f"/api/users/{bob.pk}/block/", None
    else:
        thread = services.group_create(owner=alice, title="g", members=[User.objects.create_user("carol")])
        method, path, body = "post", f"/api/threads/{thread.pk}/members/", {"user": bob.pk}
    resume, result = send_paused_after_its_insert(bob, thread)

    assert getattr(bearer(alice), method)(path, body, format="json").status_code in {201, 204}
    resume.set()

    assert result().status_code == 201
    assert [m["text"] for m in bearer(alice).get(f"/api/threads/{thread.pk}/messages/").json()["results"]] == ["hi"]
    assert_counters_exact(thread)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="on SQLite a write transaction holds the database's write lock throughout"
)
def test_a_send_refused_by_a_block_lifted_and_put_back_while_it_waits_is_refused():
    """As above, but alice blocks bob again, and the send waits for that
    block's lock: its check (reading the rows as they were when it began
    to wait) sees no block, the INSERT it runs again does. Still a 403, and
    nothing stored (it was a 500)."""
    alice, bob = User.objects.create_user("alice"), User.objects.create_user("bob")
    thread, _ = services.thread_get_or_create(user=alice, other=bob)
    safety_services.block_user(blocker=alice, blocked=bob)
    resume, result = send_paused_after_its_insert(bob, thread)
    assert bearer(alice).delete(f"/api/users/{bob.pk}/block/").status_code == 204
    commit = block_held_open(alice, bob)
    resume.set()
    wait_for_a_lock_wait()  # the send's check, for the block's lock
    commit()

    response = result()
    assert response.status_code == 403
    assert response.json()["detail"] == "You can't message this user."
    assert not Message.objects.filter(thread=thread).exists()
    assert_counters_exact(thread)
