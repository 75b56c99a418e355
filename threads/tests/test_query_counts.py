"""Every list runs the same number of queries whatever the amount of data.

Each test builds a small and a larger data set and pins one query count for
both; the request's own queries include authenticating the JWT's user.
"""

import pytest
from django.contrib.auth.models import User

from threads import services


def build_threads(owner: User, threads: int, messages_each: int) -> None:
    for index in range(threads):
        other = User.objects.create_user(username=f"{owner.username}-friend-{index}")
        thread, _ = services.thread_get_or_create(user=owner, other=other)
        for number in range(messages_each):
            services.message_create(thread=thread, sender=other if number % 2 else owner, text=f"m{number}")


@pytest.mark.parametrize(("threads", "messages_each"), [(2, 1), (30, 4)])
def test_thread_list_query_count_is_fixed(client_for, alice, django_assert_num_queries, threads, messages_each):
    build_threads(alice, threads, messages_each)
    client = client_for(alice)

    # user, count, page (with participants, unread counters, last message and its sender)
    with django_assert_num_queries(3):
        response = client.get("/api/threads/?limit=100")

    assert len(response.json()["results"]) == threads
    assert all(t["last_message"] is not None for t in response.json()["results"])


@pytest.mark.parametrize("threads", [2, 25])
def test_staff_thread_list_for_another_user_query_count_is_fixed(client_for, staff, alice, django_assert_num_queries,
                                                                 threads):
    build_threads(alice, threads, 2)
    client = client_for(staff)

    # user, the listed user, count, page
    with django_assert_num_queries(4):
        response = client.get(f"/api/threads/?user={alice.pk}&limit=100")

    assert response.json()["count"] == threads


@pytest.mark.parametrize("messages", [3, 60])
def test_message_list_query_count_is_fixed(client_for, alice, bob, django_assert_num_queries, messages):
    thread, _ = services.thread_get_or_create(user=alice, other=bob)
    for number in range(messages):
        services.message_create(thread=thread, sender=bob if number % 2 else alice, text=f"m{number}")
    client = client_for(alice)

    # user, thread access check (with its exact message_count), page with senders
    with django_assert_num_queries(3):
        response = client.get(f"/api/threads/{thread.pk}/messages/?limit=100")

    assert len(response.json()["results"]) == messages


@pytest.mark.parametrize("users", [2, 40])
def test_user_list_query_count_is_fixed(client_for, alice, make_user, django_assert_num_queries, users):
    for index in range(users):
        make_user(f"person{index}")
    client = client_for(alice)

    with django_assert_num_queries(3):  # user, count, page
        response = client.get("/api/users/?limit=100")

    assert response.json()["count"] == users + 1


@pytest.mark.parametrize(("threads", "messages_each"), [(1, 1), (20, 5)])
def test_unread_count_query_count_is_fixed(client_for, alice, django_assert_num_queries, threads, messages_each):
    build_threads(alice, threads, messages_each)
    client = client_for(alice)

    with django_assert_num_queries(2):  # user, count
        response = client.get("/api/threads/unread_count/")

    assert response.json()["unread_count"] == threads * (messages_each // 2)


@pytest.mark.parametrize("messages", [1, 50])
def test_thread_detail_and_mark_as_read_query_counts_are_fixed(client_for, alice, bob, django_assert_num_queries,
                                                               messages):
    thread, _ = services.thread_get_or_create(user=alice, other=bob)
    for number in range(messages):
        services.message_create(thread=thread, sender=alice, text=f"m{number}")
    client = client_for(bob)

    with django_assert_num_queries(2):  # user, thread with its last message and counters
        client.get(f"/api/threads/{thread.pk}/")
    # user, thread access, the thread's row lock, one UPDATE of the messages,
    # one of the reader's counter, and the SAVEPOINT and RELEASE of the
    # service's transaction (nested in the test's own)
    with django_assert_num_queries(7):
        response = client.post(f"/api/threads/{thread.pk}/mark_as_read/")

    assert response.json() == {"marked": messages}


@pytest.mark.parametrize("messages", [1, 60])
def test_sending_runs_a_fixed_number_of_queries(client_for, alice, bob, django_assert_num_queries, messages):
    thread, _ = services.thread_get_or_create(user=alice, other=bob)
    for number in range(messages):
        services.message_create(thread=thread, sender=bob, text=f"m{number}")
    client = client_for(alice)

    # user, thread access, SAVEPOINT, the thread's row lock, INSERT, one UPDATE
    # of the thread (time, count, last message, bob's unread counter), RELEASE
    with django_assert_num_queries(7):
        response = client.post(f"/api/threads/{thread.pk}/messages/", {"text": "hi"}, format="json")

    assert response.status_code == 201
