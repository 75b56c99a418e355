"""Racing requests, with real threads on real database connections."""

import threading
import uuid

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Q
from django.http import Http404
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from threads import services
from threads.models import Message, Thread
from threads.tests.contract import ContractAPIClient
from threads.tests.counters import assert_counters_exact

pytestmark = pytest.mark.django_db(transaction=True)


def run_at_once(count: int, request) -> list:
    """Call `request(index)` from `count` threads released together; return
    the results. An exception in any thread fails the test."""
    barrier = threading.Barrier(count)
    results = [None] * count
    errors = []

    def worker(index):
        try:
            barrier.wait(timeout=60)
            results[index] = request(index)
        except BaseException as exc:  # re-raised below, in the test's own thread
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for worker_thread in workers:
        worker_thread.start()
    for worker_thread in workers:
        worker_thread.join(timeout=120)
    assert not any(worker_thread.is_alive() for worker_thread in workers), "a request never finished"
    if errors:
        raise errors[0]
    return results


def bearer(user: User) -> APIClient:
    client = ContractAPIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def test_twenty_simultaneous_creates_for_one_pair_make_one_thread_and_all_get_its_id():
    alice = User.objects.create_user("alice")
    # Five rounds, each racing for a new pair: one round rarely hits the
    # narrow window between two inserts; five do, when the safeguard is missing.
    for round_number in range(5):
        other = User.objects.create_user(f"other{round_number}")
        callers = [alice, other] * 10

        responses = run_at_once(
            len(callers),
            lambda i, other=other, callers=callers: bearer(callers[i]).post(
                "/api/threads/", {"participants": [other.pk if callers[i] == alice else alice.pk]}, format="json"
            ),
        )

        assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
        pair_threads = Thread.objects.filter(user_high=other)
        assert pair_threads.count() == 1
        assert {r.json()["id"] for r in responses} == {pair_threads.get().pk}


def test_two_hundred_simultaneous_sends_over_ten_threads_are_all_stored_and_counted_exactly():
    users = [User.objects.create_user(f"user{i}") for i in range(10)]
    # Ten threads in a ring, so every user is in two threads and gets messages from two people.
    threads = [services.thread_get_or_create(user=users[i], other=users[(i + 1) % 10])[0] for i in range(10)]
    sends = [(threads[i % 10], threads[i % 10].pair[(i // 10) % 2]) for i in range(200)]

    responses = run_at_once(
        len(sends),
        lambda i: bearer(sends[i][1]).post(
            f"/api/threads/{sends[i][0].pk}/messages/", {"text": f"message {i}"}, format="json"
        ),
    )

    assert [r.status_code for r in responses] == [201] * 200
    assert Message.objects.count() == 200
    for thread in Thread.objects.all():
        newest = Message.objects.filter(thread=thread).order_by("-created", "-id").first()
        assert thread.updated == newest.created
        # Ids and timestamps in commit order: the later id is never the earlier time.
        times = list(Message.objects.filter(thread=thread).order_by("id").values_list("created", flat=True))
        assert times == sorted(times)
        assert thread.last_message_id == newest.pk == Message.objects.filter(thread=thread).latest("id").pk
        assert thread.message_count == Message.objects.filter(thread=thread).count() == 20
        assert_counters_exact(thread)
    for user in users:
        sent_to_user = Message.objects.filter(
            Q(thread__user_low=user) | Q(thread__user_high=user), is_read=False
        ).exclude(sender=user)
        expected = sent_to_user.count()
        assert expected > 0
        assert bearer(user).get("/api/threads/unread_count/").json() == {"unread_count": expected}
        per_thread = {t["id"]: t["unread_count"] for t in bearer(user).get("/api/threads/").json()["results"]}
        assert sum(per_thread.values()) == expected


def test_simultaneous_retries_of_one_client_id_store_one_message():
    alice = User.objects.create_user("alice")
    bob = User.objects.create_user("bob")
    thread = services.thread_get_or_create(user=alice, other=bob)[0]
    for round_number in range(5):  # five rounds: see the creates test
        body = {"text": f"sent over a flaky network {round_number}", "client_id": str(uuid.uuid4())}

        responses = run_at_once(
            10, lambda i, body=body: bearer(alice).post(f"/api/threads/{thread.pk}/messages/", body, format="json")
        )

        assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
        assert len({r.json()["id"] for r in responses}) == 1
        assert Message.objects.filter(client_id=body["client_id"]).count() == 1
    thread.refresh_from_db()
    assert thread.message_count == Message.objects.count() == 5


def test_marking_read_while_the_other_side_sends_counts_exactly_what_it_marked():
    alice = User.objects.create_user("alice")
    bob = User.objects.create_user("bob")
    thread = services.thread_get_or_create(user=alice, other=bob)[0]
    sends = 150
    marked_counts = []
    sending_done = threading.Event()

    def bob_sends():
        client = bearer(bob)
        for i in range(sends):
            response = client.post(f"/api/threads/{thread.pk}/messages/", {"text": f"m{i}"}, format="json")
            assert response.status_code == 201
        sending_done.set()

    def alice_marks():
        client = bearer(alice)
        while not sending_done.is_set():
            response = client.post(f"/api/threads/{thread.pk}/mark_as_read/")
            assert response.status_code == 200
            marked_counts.append(response.json()["marked"])

    run_at_once(2, lambda i: (bob_sends, alice_marks)[i]())

    # Every message marked read so far was counted by exactly one call, and no
    # call counted a message it did not change (one that arrived after it).
    assert len(marked_counts) > 1
    read_so_far = Message.objects.filter(is_read=True).count()
    assert sum(marked_counts) == read_so_far
    assert_counters_exact(thread)
    final = bearer(alice).post(f"/api/threads/{thread.pk}/mark_as_read/").json()["marked"]
    assert sum(marked_counts) + final == sends
    assert not Message.objects.filter(is_read=False).exists()
    assert_counters_exact(thread)


def test_simultaneous_registrations_of_one_name_make_one_user():
    responses = run_at_once(
        6,
        lambda i: ContractAPIClient().post(
            "/api/users/", {"username": "samename", "password": "a long enough secret 42"}, format="json"
        ),
    )

    assert sorted(r.status_code for r in responses) == [201] + [400] * 5
    assert all("already exists" in str(r.json()["username"]) for r in responses if r.status_code == 400)
    assert User.objects.filter(username="samename").count() == 1


def test_deleting_a_thread_while_its_participants_send_and_delete_never_fails():
    alice = User.objects.create_user("alice")
    bob = User.objects.create_user("bob")
    for _ in range(3):  # each round deletes the thread, so the next starts afresh
        thread = services.thread_get_or_create(user=alice, other=bob)[0]
        base = f"/api/threads/{thread.pk}/"
        first, second = (
            bearer(bob).post(f"{base}messages/", {"text": text}, format="json").json()["id"] for text in ("a", "b")
        )
        requests = [
            (alice, "delete", base, None),
            (bob, "post", f"{base}messages/", {"text": "racing"}),
            (bob, "delete", f"{base}messages/{first}/", None),
            (bob, "patch", f"{base}messages/{second}/", {"text": "edit"}),
        ]

        responses = run_at_once(
            len(requests),
            lambda i, requests=requests: getattr(bearer(requests[i][0]), requests[i][1])(
                requests[i][2], requests[i][3], format="json"
            ),
        )

        assert responses[0].status_code == 204
        assert {r.status_code for r in responses[1:]} <= {200, 201, 204, 404}
        assert not Thread.objects.exists()
        assert not Message.objects.exists()


def test_a_send_commits_while_another_request_is_still_reading():
    """Readers never hold up a writer (SQLite: WAL; PostgreSQL: MVCC): without
    WAL the send's commit waits on the reader, then fails "database is locked"."""
    alice, bob = User.objects.create_user("alice"), User.objects.create_user("bob")
    thread = bearer(alice).post("/api/threads/", {"participants": [bob.pk]}, format="json").json()["id"]
    for index in range(3):
        bearer(alice).post(f"/api/threads/{thread}/messages/", {"text": f"earlier {index}"}, format="json")
    reading, finished_sending = threading.Event(), threading.Event()

    def slow_reader():
        try:
            with connection.cursor() as cursor:
                # A statement with rows left to fetch keeps its read open.
                cursor.execute(f"SELECT id FROM {Message._meta.db_table} WHERE thread_id = %s", [thread])
                cursor.fetchone()
                reading.set()
                finished_sending.wait(timeout=60)
        finally:
            connection.close()

    reader = threading.Thread(target=slow_reader)
    reader.start()
    try:
        assert reading.wait(timeout=30), "the reader never started"
        response = bearer(bob).post(f"/api/threads/{thread}/messages/", {"text": "while you read"}, format="json")
    finally:
        finished_sending.set()
        reader.join(timeout=60)

    assert response.status_code == 201
    assert Message.objects.filter(thread_id=thread).count() == 4


@override_settings(CHAT_GROUP_MAX_MEMBERS=30)
def test_twenty_simultaneous_adds_to_a_group_with_room_for_ten_admit_exactly_ten():
    owner = User.objects.create_user("owner")
    # Five rounds, each a new group with 10 places left, raced for by 20 newcomers.
    for round_number in range(5):
        members = [User.objects.create_user(f"m{round_number}-{n}") for n in range(19)]
        group = services.group_create(owner=owner, title=f"Crew {round_number}", members=members)
        newcomers = [User.objects.create_user(f"new{round_number}-{n}") for n in range(20)]

        responses = run_at_once(
            20,
            lambda i, group=group, newcomers=newcomers: bearer(owner).post(
                f"/api/threads/{group.pk}/members/", {"user": newcomers[i].pk}, format="json"
            ),
        )

        assert sorted(r.status_code for r in responses) == [201] * 10 + [400] * 10
        assert all("full" in r.json()["user"][0] for r in responses if r.status_code == 400)
        group.refresh_from_db()
        assert group.member_count == group.memberships.count() == 30


def test_owner_and_admin_leaving_at_once_leave_exactly_one_owner():
    owner, admin, member = (User.objects.create_user(name) for name in ("owner", "admin", "member"))
    for round_number in range(5):
        group = services.group_create(owner=owner, title=f"Crew {round_number}", members=[admin, member])
        services.member_set_role(thread=group, actor=owner, user_id=admin.pk, role="admin")
        leavers = [owner, admin]

        responses = run_at_once(
            2,
            lambda i, group=group, leavers=leavers: bearer(leavers[i]).delete(
                f"/api/threads/{group.pk}/members/{leavers[i].pk}/"
            ),
        )

        assert [r.status_code for r in responses] == [204, 204]
        assert list(group.memberships.values_list("user__username", "role")) == [("member", "owner")]
        group.refresh_from_db()
        assert group.member_count == 1


def run_while_holding_the_lock(first, second):
    """Run `first` in a transaction that stays open until `second`, in
    another thread, has had a second to queue behind it for the thread's row
    lock; then commit. Returns what either raised. (A `second` that had not
    queued yet would only make the test pass vacuously, never fail wrongly.)"""
    started, release = threading.Event(), threading.Event()
    errors = []

    def hold():
        try:
            with transaction.atomic():
                first()
                started.set()
                release.wait(10)
        except BaseException as exc:  # reported to the test
            errors.append(exc)
        finally:
            connection.close()

    def wait_then_write():
        try:
            started.wait(10)
            second()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=hold), threading.Thread(target=wait_then_write)]
    for worker_thread in workers:
        worker_thread.start()
    started.wait(10)
    release.wait(1.0)  # let `second` queue behind the lock
    release.set()
    for worker_thread in workers:
        worker_thread.join(20)
    return errors


def test_a_mark_read_queued_behind_another_sees_the_position_it_left():
    """On PostgreSQL a statement that waited for the lock sees other rows as
    they were before it waited: the membership must be read after the lock."""
    owner, reader = User.objects.create_user("owner"), User.objects.create_user("reader")
    group = services.group_create(owner=owner, title="Crew", members=[reader])
    first, second, _third = (services.message_create(thread=group, sender=owner, text=f"m{n}") for n in range(3))

    errors = run_while_holding_the_lock(
        lambda: services.message_mark_read(message=Message.objects.get(pk=second.pk), reader=reader),
        lambda: services.message_mark_read(message=Message.objects.get(pk=first.pk), reader=reader),
    )

    assert not errors
    assert_counters_exact(group)


def test_a_member_removed_while_their_send_waits_cannot_post():
    owner, member = User.objects.create_user("owner"), User.objects.create_user("member")
    group = services.group_create(owner=owner, title="Crew", members=[member])

    errors = run_while_holding_the_lock(
        lambda: services.member_remove(thread=group, actor=owner, user_id=member.pk),
        lambda: services.message_create(thread=group, sender=member, text="after removal"),
    )

    assert [type(error) for error in errors] == [Http404]
    assert not Message.objects.filter(thread=group).exists()
    assert_counters_exact(group)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="on SQLite every write transaction takes the database's write lock"
)
def test_a_mark_read_with_nothing_to_mark_takes_no_lock_and_one_with_something_waits_for_it():
    """A row lock is a write (a transaction id, a WAL flush at commit): a
    mark-read with nothing to do must not take one, and still answer 0."""
    alice, bob = User.objects.create_user("alice"), User.objects.create_user("bob")
    thread = services.thread_get_or_create(user=alice, other=bob)[0]
    services.message_create(thread=thread, sender=bob, text="hello")
    services.thread_mark_read(thread=thread, user=alice)

    def mark_while_another_request_holds_the_thread(expected_to_wait: bool) -> list:
        locked, release, marked = threading.Event(), threading.Event(), []

        def hold():
            with transaction.atomic():
                Thread.objects.select_for_update().get(pk=thread.pk)
                locked.set()
                release.wait(10)
            connection.close()

        def mark():
            locked.wait(10)
            marked.append(services.thread_mark_read(thread=Thread(pk=thread.pk), user=alice))
            connection.close()

        holder, marker = threading.Thread(target=hold), threading.Thread(target=mark)
        holder.start()
        marker.start()
        marker.join(timeout=1)
        assert marker.is_alive() is expected_to_wait
        release.set()
        for worker_thread in (holder, marker):
            worker_thread.join(timeout=10)
        return marked

    assert mark_while_another_request_holds_the_thread(expected_to_wait=False) == [0]
    services.message_create(thread=thread, sender=bob, text="again")
    assert mark_while_another_request_holds_the_thread(expected_to_wait=True) == [1]
    assert_counters_exact(thread)
