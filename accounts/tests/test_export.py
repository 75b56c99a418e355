"""Issue 12, accounts: GET /api/users/me/export/, the caller's own data as
one JSON document, streamed so that its memory does not grow with the
number of messages."""

import json
import tempfile
import tracemalloc

import pytest
from django.test import AsyncClient
from rest_framework_simplejwt.tokens import AccessToken

from threads import services
from threads.models import Message, Thread
from threads.tests.conftest import name_of
from threads.tests.contract import check_body

pytestmark = pytest.mark.django_db

EXPORT = "/api/users/me/export/"
MEMORY_BOUND = 10 * 1024 * 1024  # bytes of Python memory at the peak, whatever the number of messages


def read_stream(response) -> dict:
    assert response.streaming
    document = json.loads(b"".join(response.streaming_content))
    check_body(response, document)
    return document


def test_the_export_holds_the_account_threads_read_state_and_every_message_sent(client_for, make_user, bob, carol):
    alice = make_user("alice", first_name="Alice", last_name="Liddell", email="alice@example.com")
    direct, _ = services.thread_get_or_create(user=alice, other=bob)
    group = services.group_create(owner=bob, title="Crew", members=[alice, carol])
    other, _ = services.thread_get_or_create(user=bob, other=carol)  # not alice's
    first = services.message_create(thread=direct, sender=alice, text="hi bob ☕")
    services.message_create(thread=direct, sender=bob, text="hi alice")
    services.message_create(thread=direct, sender=bob, text="are you there?")
    in_group = services.message_create(thread=group, sender=alice, text='quotes " and \\ and\nnewlines')
    services.message_create(thread=group, sender=carol, text="hello")
    services.message_create(thread=other, sender=bob, text="secret between bob and carol")
    services.thread_mark_read(thread=group, user=alice)

    response = client_for(alice).get(EXPORT)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="chat-export-{alice.pk}.json"'
    document = read_stream(response)
    assert document["account"] == {
        "id": alice.pk, "username": "alice", "email": "alice@example.com", "first_name": "Alice",
        "last_name": "Liddell", "display_name": "Alice Liddell", "date_joined": document["account"]["date_joined"],
    }
    threads = {t["id"]: t for t in document["threads"]}
    assert set(threads) == {direct.pk, group.pk}
    assert threads[direct.pk]["kind"] == "direct"
    assert threads[direct.pk]["title"] is None
    assert threads[direct.pk]["unread_count"] == 2
    assert sorted(threads[direct.pk]["participants"], key=lambda p: p["username"]) == [
        name_of(alice) | {"display_name": "Alice Liddell"}, name_of(bob),
    ]
    assert (threads[group.pk]["kind"], threads[group.pk]["title"], threads[group.pk]["role"]) == (
        "group", "Crew", "member"
    )
    assert [p["username"] for p in threads[group.pk]["participants"]] == ["bob", "alice", "carol"]
    assert threads[group.pk]["unread_count"] == 0
    assert threads[group.pk]["last_read_message"] == group.messages.latest("pk").pk
    assert [(m["id"], m["thread"], m["text"]) for m in document["messages"]] == [
        (first.pk, direct.pk, "hi bob ☕"), (in_group.pk, group.pk, 'quotes " and \\ and\nnewlines'),
    ]
    assert "secret" not in json.dumps(document)


def test_another_users_export_is_their_own(client_for, alice, bob, thread):
    services.message_create(thread=thread, sender=alice, text="from alice")
    services.message_create(thread=thread, sender=bob, text="from bob")

    document = read_stream(client_for(bob).get(EXPORT))

    assert document["account"]["username"] == "bob"
    assert [m["text"] for m in document["messages"]] == ["from bob"]
    assert [t["unread_count"] for t in document["threads"]] == [1]


def test_an_empty_account_exports_empty_lists(client_for, alice):
    document = read_stream(client_for(alice).get(EXPORT))

    assert (document["threads"], document["messages"]) == ([], [])


def test_the_export_needs_a_token(anonymous, alice):
    assert anonymous.get(EXPORT).status_code == 401


def test_ten_thousand_messages_stream_in_bounded_memory(client_for, alice, bob, carol):
    """Peak Python memory while the stream is read stays under MEMORY_BOUND:
    the messages alone are several megabytes of JSON, and 100,000 would be
    ten times that; the chunks are written to a file, not kept."""
    direct, _ = services.thread_get_or_create(user=alice, other=bob)
    group = services.group_create(owner=alice, title="Crew", members=[bob, carol])
    text = "x" * 400
    for thread in (direct, group):
        Message.objects.bulk_create(
            (Message(thread=thread, sender=alice, text=f"{n} {text}") for n in range(5000)), batch_size=1000
        )
    response = client_for(alice).get(EXPORT)

    with tempfile.TemporaryFile() as file:
        tracemalloc.start()
        try:
            chunks = 0
            for chunk in response.streaming_content:
                file.write(chunk)
                chunks += 1
            written, peak = file.tell(), tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        file.seek(0)
        document = json.load(file)

    assert written > 4_000_000  # the document is much larger than...
    print(f"export peak {peak / 1e6:.2f} MB, {written / 1e6:.1f} MB written")
    assert peak < MEMORY_BOUND, f"peak {peak / 1e6:.1f} MB"  # ...what exporting it holds
    assert chunks > 50
    check_body(response, {**document, "messages": document["messages"][:100]})
    assert len(document["messages"]) == 10_000
    assert [m["id"] for m in document["messages"]] == sorted(Message.objects.values_list("pk", flat=True))
    assert {m["thread"] for m in document["messages"]} == {direct.pk, group.pk}
    assert len(document["threads"]) == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_under_asgi_the_export_streams_an_async_iterator(alice, bob, thread):
    """Django reads a sync iterator whole before serving it under ASGI; the
    view gives ASGI an async one, each chunk made in the request's thread."""
    from asgiref.sync import sync_to_async

    await sync_to_async(services.message_create)(thread=thread, sender=alice, text="over asgi")
    response = await AsyncClient().get(EXPORT, headers={"Authorization": f"Bearer {AccessToken.for_user(alice)}"})

    assert response.status_code == 200, response.json()
    assert response.is_async
    body = b"".join([chunk async for chunk in response.streaming_content])
    document = json.loads(body)
    assert [m["text"] for m in document["messages"]] == ["over asgi"]
    assert [t["id"] for t in document["threads"]] == [thread.pk]
    assert await sync_to_async(Thread.objects.count)() == 1


@pytest.mark.parametrize("size", [3, 60])
def test_the_export_runs_a_fixed_number_of_queries(client_for, alice, make_user, django_assert_num_queries, size):
    """user; the caller's memberships with their threads; the participants of
    up to 100 threads at a time; the messages (read in chunks of 2,000)."""
    friends = [make_user(f"friend{n}", first_name=f"F{n}") for n in range(size)]
    for friend in friends:
        thread, _ = services.thread_get_or_create(user=alice, other=friend)
        services.message_create(thread=thread, sender=alice, text="hi")
    services.group_create(owner=alice, title="Crew", members=friends)
    client = client_for(alice)

    with django_assert_num_queries(4):
        document = read_stream(client.get(EXPORT))

    assert len(document["threads"]) == size + 1
    assert len(document["messages"]) == size
    assert f"F{size - 1}" in {p["display_name"] for t in document["threads"] for p in t["participants"]}
