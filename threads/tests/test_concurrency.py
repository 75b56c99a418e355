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
