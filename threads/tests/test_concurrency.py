"""Racing requests, with real threads on real database connections."""

import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from threads.models import Message, Thread

pytestmark = pytest.mark.django_db(transaction=True)


def run_at_once(count: int, request) -> list:
    """Call `request(index)` from `count` threads released together; return the responses."""
    barrier = threading.Barrier(count)
    responses = [None] * count

    def worker(index):
        try:
            barrier.wait(timeout=30)
            responses[index] = request(index)
        finally:
            connection.close()

    workers = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for worker_thread in workers:
        worker_thread.start()
    for worker_thread in workers:
        worker_thread.join(timeout=120)
    return responses


def bearer(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def test_simultaneous_creates_for_one_pair_make_one_thread():
    alice = User.objects.create_user("alice")
    bob = User.objects.create_user("bob")
    callers = [alice, bob] * 5

    responses = run_at_once(
        len(callers),
        lambda i: bearer(callers[i]).post(
            "/api/threads/", {"participants": [bob.pk if callers[i] == alice else alice.pk]}, format="json"
        ),
    )

    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert {r.json()["id"] for r in responses} == {Thread.objects.get().pk}


def test_simultaneous_sends_to_one_thread_are_all_stored_and_updated_follows_the_newest():
    alice = User.objects.create_user("alice")
    bob = User.objects.create_user("bob")
    thread = Thread.objects.create(user_low=alice, user_high=bob)
    senders = [alice, bob] * 4

    responses = run_at_once(
        len(senders),
        lambda i: bearer(senders[i]).post(f"/api/threads/{thread.pk}/messages/", {"text": f"m{i}"}, format="json"),
    )

    assert [r.status_code for r in responses] == [201] * len(senders)
    assert Message.objects.count() == len(senders)
    thread.refresh_from_db()
    assert thread.updated == Message.objects.order_by("-created").first().created
    assert thread.message_count == len(senders)


def test_simultaneous_registrations_of_one_name_make_one_user():
    responses = run_at_once(
        6,
        lambda i: APIClient().post(
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
        thread = Thread.objects.create(user_low=alice, user_high=bob)
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
