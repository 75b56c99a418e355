"""The permission matrix: every thread and message endpoint, asked by each
kind of caller. In the message endpoints alice is the sender and bob the
recipient; carol and the staff member take part in no thread."""

import pytest
from django.utils import timezone

from threads.models import Membership, Message, Thread

THREAD = "/api/threads/{thread}/"
MESSAGES = "/api/threads/{thread}/messages/"
MESSAGE = "/api/threads/{thread}/messages/{message}/"

# (method, url, body, {role: expected status})
MATRIX = [
    ("get", "/api/threads/", None, {"anonymous": 401, "outsider": 200, "staff": 200, "sender": 200, "recipient": 200}),
    ("get", "/api/threads/unread_count/", None,
     {"anonymous": 401, "outsider": 200, "staff": 200, "sender": 200, "recipient": 200}),
    ("get", THREAD, None, {"anonymous": 401, "outsider": 404, "staff": 404, "sender": 200, "recipient": 200}),
    ("delete", THREAD, None, {"anonymous": 401, "outsider": 404, "staff": 404, "sender": 204, "recipient": 204}),
    ("post", THREAD + "mark_as_read/", None,
     {"anonymous": 401, "outsider": 404, "staff": 404, "sender": 200, "recipient": 200}),
    ("get", MESSAGES, None, {"anonymous": 401, "outsider": 404, "staff": 404, "sender": 200, "recipient": 200}),
    ("post", MESSAGES, {"text": "hello"},
     {"anonymous": 401, "outsider": 404, "staff": 404, "sender": 201, "recipient": 201}),
    ("get", MESSAGE, None, {"anonymous": 401, "outsider": 404, "staff": 404, "sender": 200, "recipient": 200}),
    ("patch", MESSAGE, {"text": "edited"},
     {"anonymous": 401, "outsider": 404, "staff": 404, "sender": 200, "recipient": 403}),
    ("delete", MESSAGE, None, {"anonymous": 401, "outsider": 404, "staff": 404, "sender": 204, "recipient": 403}),
    ("post", MESSAGE + "mark_as_read/", None,
     {"anonymous": 401, "outsider": 404, "staff": 404, "sender": 403, "recipient": 200}),
]

CASES = [
    pytest.param(method, url, body, role, status, id=f"{method} {url} as {role}")
    for method, url, body, expected in MATRIX
    for role, status in expected.items()
]


@pytest.fixture
def role_client(client_for, alice, bob, carol, staff):
    users = {"anonymous": None, "outsider": carol, "staff": staff, "sender": alice, "recipient": bob}
    return lambda role: client_for(users[role])


@pytest.mark.parametrize(("method", "url", "body", "role", "status"), CASES)
def test_permission_matrix(role_client, thread, message_from_alice, method, url, body, role, status):
    path = url.format(thread=thread.pk, message=message_from_alice.pk)

    response = getattr(role_client(role), method)(path, body, format="json")

    assert response.status_code == status, response.content
    if status >= 400:
        assert "detail" in response.json()
    if status in (401, 403, 404):
        # A refused request changes nothing.
        assert Thread.objects.filter(pk=thread.pk).exists()
        message = Message.objects.get(pk=message_from_alice.pk)
        assert (message.text, message.is_read) == ("Hi Bob", False)
        assert Message.objects.count() == 1


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [(m, u, b) for m, u, b, _ in MATRIX if "{thread}" in u],
)
def test_a_foreign_thread_answers_exactly_like_a_missing_one(client_for, carol, thread, message_from_alice,
                                                             method, url, body):
    client = client_for(carol)
    foreign = getattr(client, method)(url.format(thread=thread.pk, message=message_from_alice.pk), body, format="json")
    missing = getattr(client, method)(url.format(thread=thread.pk + 999, message=message_from_alice.pk + 999),
                                      body, format="json")

    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()


def test_a_message_of_another_thread_is_not_found_under_this_thread(client_for, alice, bob, carol, thread):
    from threads import services

    other_thread, _ = services.thread_get_or_create(user=alice, other=carol)
    elsewhere = services.message_create(thread=other_thread, sender=carol, text="not in alice-bob")

    response = client_for(bob).get(MESSAGE.format(thread=thread.pk, message=elsewhere.pk))
    also_alice = client_for(alice).get(MESSAGE.format(thread=thread.pk, message=elsewhere.pk))

    assert response.status_code == 404
    assert also_alice.status_code == 404


def test_a_thread_written_around_save_is_still_reachable_by_its_pair_only(client_for, alice, bob, carol):
    [bare] = Thread.objects.bulk_create([Thread(user_low=alice, user_high=bob, updated=timezone.now())])
    # Membership decides who is in a thread: rows written around the services need theirs.
    Membership.objects.bulk_create(
        [Membership(thread=bare, user=alice, direct_slot=0), Membership(thread=bare, user=bob, direct_slot=1)]
    )

    assert client_for(alice).get(f"/api/threads/{bare.pk}/").status_code == 200
    assert client_for(bob).get(f"/api/threads/{bare.pk}/messages/").status_code == 200
    assert client_for(carol).get(f"/api/threads/{bare.pk}/").status_code == 404
    again = client_for(alice).post("/api/threads/", {"participants": [bob.pk]}, format="json")
    assert (again.status_code, again.json()["id"]) == (200, bare.pk)
