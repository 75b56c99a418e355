"""Every safety endpoint runs the same number of queries whatever the data
size (as threads/tests/test_query_counts.py); the block checks add none to
a send (that file's pinned counts are unchanged)."""

import pytest
from django.contrib.auth.models import User

from safety import services as safety_services
from threads import services
from threads.tests.conftest import SEND_QUERIES


def shared_threads(alice: User, bob: User, groups: int, messages_each: int) -> None:
    """`groups` groups with both of them (and a direct thread), bob writing in each."""
    thread, _ = services.thread_get_or_create(user=alice, other=bob)
    services.message_create(thread=thread, sender=bob, text="direct")
    for index in range(groups):
        group = services.group_create(owner=alice, title=f"g{index}", members=[bob])
        for number in range(messages_each):
            services.message_create(thread=group, sender=bob, text=f"m{number}")


@pytest.mark.parametrize("blocked", [2, 30])
def test_the_blocked_list(client_for, alice, django_assert_num_queries, blocked):
    for index in range(blocked):
        safety_services.block_user(blocker=alice, blocked=User.objects.create_user(username=f"pest{index}"))

    with django_assert_num_queries(3):  # user, count, page
        response = client_for(alice).get("/api/users/blocked/?limit=100")

    assert response.json()["count"] == blocked


@pytest.mark.parametrize(("groups", "messages_each"), [(1, 1), (20, 5)])
def test_blocking_and_unblocking(client_for, alice, bob, django_assert_num_queries, groups, messages_each):
    shared_threads(alice, bob, groups, messages_each)
    client = client_for(alice)

    # user, the blocked user; write: SAVEPOINT, lock the shared threads, INSERT, RELEASE
    with django_assert_num_queries(6):
        assert client.post(f"/api/users/{bob.pk}/block/").status_code == 204
    with django_assert_num_queries(6):  # again: the INSERT does nothing
        assert client.post(f"/api/users/{bob.pk}/block/").status_code == 204
    for number in range(messages_each):  # hidden from alice
        services.message_create(thread=alice.threads.filter(kind="group").first(), sender=bob, text=f"h{number}")

    # user, the blocked user; write: SAVEPOINT, lock the shared threads,
    # DELETE, UPDATE of alice's unread counts, RELEASE
    with django_assert_num_queries(7):
        assert client.delete(f"/api/users/{bob.pk}/block/").status_code == 204


@pytest.mark.parametrize("messages", [1, 40])
def test_muting(client_for, alice, bob, thread, django_assert_num_queries, messages):
    for number in range(messages):
        services.message_create(thread=thread, sender=bob, text=f"m{number}")
    client = client_for(alice)

    # user, thread access; write: SAVEPOINT, UPDATE of the caller's membership, RELEASE
    with django_assert_num_queries(5):
        assert client.post(f"/api/threads/{thread.pk}/mute/").status_code == 204
    with django_assert_num_queries(5):
        assert client.post(f"/api/threads/{thread.pk}/unmute/").status_code == 204


@pytest.mark.parametrize("messages", [1, 40])
def test_reporting(client_for, alice, bob, thread, django_assert_num_queries, messages):
    for number in range(messages):
        services.message_create(thread=thread, sender=bob, text=f"m{number}")
    message = thread.messages.latest("pk")
    client = client_for(alice)
    url = f"/api/threads/{thread.pk}/messages/{message.pk}/report/"

    # user, thread access, the message, the open report if any; SAVEPOINT, INSERT, RELEASE
    with django_assert_num_queries(7):
        assert client.post(url, {"reason": "spam"}, format="json").status_code == 201
    # user, thread access, the message, the open report
    with django_assert_num_queries(4):
        assert client.post(url, {"reason": "spam"}, format="json").status_code == 200


@pytest.mark.parametrize("members", [3, 60])
def test_a_group_send_with_blockers_runs_the_same_queries_as_without(
    client_for, alice, bob, make_user, django_assert_num_queries, members
):
    others = [make_user(f"member{n}") for n in range(members - 2)]
    group = services.group_create(owner=alice, title="big", members=[bob, *others])
    for blocker in others[: len(others) // 2]:
        safety_services.block_user(blocker=blocker, blocked=bob)

    # As threads/tests/test_query_counts.py pins a group send without blocks:
    # user; write (SAVEPOINT ... RELEASE): INSERT (locking the thread, members
    # only), UPDATE of the thread, one UPDATE ... RETURNING of every
    # membership (blockers left out in that same statement); PostgreSQL: 5
    with django_assert_num_queries(SEND_QUERIES):
        response = client_for(bob).post(f"/api/threads/{group.pk}/messages/", {"text": "hi"}, format="json")

    assert response.status_code == 201


def test_blocking_muting_and_reporting_are_rate_limited_together(client_for, alice, bob, thread, settings):
    settings.CHAT_THROTTLE_RATES = {**settings.CHAT_THROTTLE_RATES, "safety": "3/minute"}
    message = services.message_create(thread=thread, sender=bob, text="hi")
    client = client_for(alice)
    assert client.post(f"/api/threads/{thread.pk}/mute/").status_code == 204
    assert client.post(f"/api/users/{bob.pk}/block/").status_code == 204
    assert client.delete(f"/api/users/{bob.pk}/block/").status_code == 204
    response = client.post(
        f"/api/threads/{thread.pk}/messages/{message.pk}/report/", {"reason": "spam"}, format="json"
    )
    assert response.status_code == 429
    assert "Retry-After" in response
    assert client.get("/api/users/blocked/").status_code == 200  # reading is not limited
