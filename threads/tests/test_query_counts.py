"""Every list runs the same number of queries whatever the amount of data.

Each test builds a small and a larger data set and pins one query count for
both; the request's own queries include authenticating the JWT's user.
"""

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from threads import services
from threads.models import Message, Thread
from threads.tests.conftest import SEND_QUERIES


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
def test_viewer_thread_list_for_another_user_query_count_is_fixed(client_for, thread_viewer, alice,
                                                                  django_assert_num_queries, threads):
    build_threads(alice, threads, 2)
    client = client_for(thread_viewer)

    # user, the caller's user and group permissions, the listed user, count, page
    with django_assert_num_queries(6):
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
    # user; on PostgreSQL the thread's and the reader's rows locked (one
    # statement, which is also the access check), then one UPDATE of the
    # messages and the reader's counter (a data-modifying WITH); on SQLite
    # the UPDATE of the reader's counter (the access check, returning the
    # rows as they were), then one of the messages; and the SAVEPOINT and
    # RELEASE of the service's transaction (nested in the test's own)
    with django_assert_num_queries(5):
        response = client.post(f"/api/threads/{thread.pk}/mark_as_read/")

    assert response.json() == {"marked": messages}


@pytest.mark.parametrize("messages", [1, 60])
def test_sending_runs_a_fixed_number_of_queries(client_for, alice, bob, django_assert_num_queries, messages):
    thread, _ = services.thread_get_or_create(user=alice, other=bob)
    for number in range(messages):
        services.message_create(thread=thread, sender=bob, text=f"m{number}")
    client = client_for(alice)

    # user, SAVEPOINT, INSERT (which locks the thread, if the caller is a
    # member: the access check), one UPDATE of the thread (time, count, last
    # message), one of its memberships (bob's unread count), RELEASE; on
    # PostgreSQL both UPDATEs are one statement (a data-modifying WITH)
    with django_assert_num_queries(SEND_QUERIES):
        response = client.post(f"/api/threads/{thread.pk}/messages/", {"text": "hi"}, format="json")

    assert response.status_code == 201


# The other endpoints on a thread and its messages: (method, path, body, queries).
# {thread} is alice's thread with bob, {received} bob's newest message to
# alice, {own} alice's newest, {deep} an offset halfway down the thread.
# "Write" below is the service's transaction: SAVEPOINT ... RELEASE, nested in
# the view's (and in the test's own transaction, hence savepoints).
ENDPOINT_QUERIES = {
    # user, thread access, the page by id (the offset skips ids in a subquery)
    "message page at a deep offset": ("get", "/api/threads/{thread}/messages/?offset={deep}&limit=5", None, 3),
    "message page by cursor": ("get", "/api/threads/{thread}/messages/?before={own}&limit=5", None, 3),
    # user, thread access, the message
    "one message": ("get", "/api/threads/{thread}/messages/{own}/", None, 3),
    # user, thread access, message; write: lock the thread, UPDATE, reload read state
    "edit": ("patch", "/api/threads/{thread}/messages/{own}/", {"text": "edited"}, 10),
    # user, thread access, message; write: lock the thread and the caller's
    # membership, UPDATE of the members' unread counts, DELETE, UPDATE of the
    # thread's count and last message
    "delete a message": ("delete", "/api/threads/{thread}/messages/{own}/", None, 9),
    # user, thread access, message; write: lock the thread and the reader's
    # membership, UPDATE message, UPDATE the reader's membership
    "mark one message read": ("post", "/api/threads/{thread}/messages/{received}/mark_as_read/", None, 8),
    # user, the other user; write: the pair's thread; the thread to render
    "open an existing thread": ("post", "/api/threads/", {"participants": ["{bob}"]}, 6),
    # user, the other user; write: the pair's thread, INSERT (in its own
    # savepoint, for the race with another creator), INSERT of the two
    # memberships; the thread to render
    "start a new thread": ("post", "/api/threads/", {"participants": ["{carol}"]}, 10),
    # Deleting a thread: its own test below, at 3 and 2,500 messages.
}


@pytest.mark.parametrize("messages", [4, 60])
@pytest.mark.parametrize("endpoint", list(ENDPOINT_QUERIES))
def test_every_thread_and_message_endpoint_runs_a_fixed_number_of_queries(
    client_for, alice, bob, carol, django_assert_num_queries, endpoint, messages
):
    method, template, body, queries = ENDPOINT_QUERIES[endpoint]
    thread, _ = services.thread_get_or_create(user=alice, other=bob)
    for number in range(messages):
        services.message_create(thread=thread, sender=bob if number % 2 else alice, text=f"m{number}")
    ids = {
        "thread": thread.pk, "deep": messages // 2, "bob": bob.pk, "carol": carol.pk,
        "received": thread.messages.filter(sender=bob).latest("pk").pk,
        "own": thread.messages.filter(sender=alice).latest("pk").pk,
    }
    if body is not None and "participants" in body:
        body = {"participants": [int(participant.format(**ids)) for participant in body["participants"]]}
    client = client_for(alice)

    with django_assert_num_queries(queries):
        response = getattr(client, method)(template.format(**ids), body, format="json")

    assert response.status_code < 300, response.content


@pytest.mark.parametrize("messages", [3, 2500])
def test_deleting_a_thread_takes_the_same_queries_with_thousands_of_messages(
    client_for, alice, bob, django_assert_num_queries, messages
):
    """More messages than SQLite takes parameters in one statement: they go in
    one DELETE by thread, not fetched and deleted in batches of ids.

    user, thread access; write: lock the thread and the caller's membership,
    its members (for the events), the thread for Django's cascade, one DELETE
    each of its memberships, all its messages and the thread (SAVEPOINT,
    RELEASE)."""
    thread, _ = services.thread_get_or_create(user=alice, other=bob)
    Message.objects.bulk_create(Message(thread=thread, sender=bob, text=f"m{n}") for n in range(messages))
    services.threads_recount_messages(threads=Thread.objects.filter(pk=thread.pk))
    client = client_for(alice)

    with django_assert_num_queries(10):
        response = client.delete(f"/api/threads/{thread.pk}/")

    assert response.status_code == 204
    assert not Message.objects.filter(thread_id=thread.pk).exists()


# Groups: the same endpoints at 3 and 100 members, with messages from many of them.
def build_group(owner: User, members: int, messages: int) -> Thread:
    others = [User.objects.create_user(username=f"member-{n}") for n in range(members - 1)]
    group = services.group_create(owner=owner, title="Crew", members=others)
    senders = [owner, *others]
    for number in range(messages):
        services.message_create(thread=group, sender=senders[number % len(senders)], text=f"m{number}")
    return group


GROUP_QUERIES = {
    # user, count, page, the page's groups' first members (one query for all)
    "thread list": ("get", "/api/threads/?limit=100", None, 4),
    # user, thread access, page, every member's read position (read_count)
    "message page": ("get", "/api/threads/{group}/messages/?limit=100", None, 4),
    # user; write: INSERT (locking the thread if the caller is a member),
    # UPDATE of the thread, one UPDATE ... RETURNING of every membership
    # (whose read positions give the answer's read_count)
    "send": ("post", "/api/threads/{group}/messages/", {"text": "hi all"}, SEND_QUERIES),
    # user; write: lock the thread and the reader's membership (position and
    # count; the access check), UPDATE of the membership (on SQLite one
    # statement, services._catch_up_on_sqlite)
    "mark read": ("post", "/api/threads/{group}/mark_as_read/", None, 5 if connection.vendor == "postgresql" else 4),
    # user, thread access, message, read positions; write: lock the thread and
    # the reader's membership, count of the newly read messages, UPDATE of the membership
    "mark one read": ("post", "/api/threads/{group}/messages/{received}/mark_as_read/", None, 9),
    # user, thread access, the message, page of readers (count from the page query's filter)
    "readers": ("get", "/api/threads/{group}/messages/{own}/readers/?limit=100", None, 5),
    # user, thread access, page of members with their users (count from the thread's member_count)
    "members": ("get", "/api/threads/{group}/members/?limit=100", None, 3),
    # user, thread access, the thread rendered with its member preview
    "one group": ("get", "/api/threads/{group}/", None, 3),
    # user, thread access; write: lock the thread and the caller's membership (role), the new user,
    # already a member?, INSERT, UPDATE of member_count
    "add a member": ("post", "/api/threads/{group}/members/", {"user": "{newcomer}"}, 9),
    # user, thread access; write: lock the thread and the caller's membership (role), UPDATE of
    # the title; the thread to render
    "rename": ("patch", "/api/threads/{group}/", {"title": "Renamed"}, 8),
    # user, thread access; write: lock the thread and the caller's membership (role), the target, UPDATE of its role
    "make a member admin": ("patch", "/api/threads/{group}/members/{member}/", {"role": "admin"}, 7),
    # as above, and the old owner stepping down first
    "hand the group over": ("patch", "/api/threads/{group}/members/{member}/", {"role": "owner"}, 9),
    # user, thread access; write: lock the thread and the caller's membership (role), the target,
    # DELETE, UPDATE of member_count
    "remove a member": ("delete", "/api/threads/{group}/members/{member}/", None, 9),
    # as above, and the successor found and made owner
    "the owner leaves": ("delete", "/api/threads/{group}/members/{owner}/", None, 11),
    # user, thread access, message; write: lock, UPDATE, read state; read positions for the answer
    "edit a message": ("patch", "/api/threads/{group}/messages/{own}/", {"text": "edited"}, 11),
    # user, thread access, message; write: lock the thread and the caller's membership (an owner may delete anyone's),
    # UPDATE of the members' unread counts, DELETE, UPDATE of the thread
    "delete someone's message": ("delete", "/api/threads/{group}/messages/{received}/", None, 9),
    # user, thread access; write: lock the thread and the caller's membership (role), members
    # (for the events), the thread for
    # the cascade, one DELETE each of memberships, messages and the thread
    "delete the group": ("delete", "/api/threads/{group}/", None, 10),
}


@pytest.mark.parametrize("members", [3, 100])
@pytest.mark.parametrize("endpoint", list(GROUP_QUERIES))
@override_settings(CHAT_GROUP_MAX_MEMBERS=101)  # room for the newcomer in the 100-member group
def test_every_group_endpoint_runs_a_fixed_number_of_queries(
    client_for, alice, make_user, django_assert_num_queries, endpoint, members
):
    method, template, body, queries = GROUP_QUERIES[endpoint]
    group = build_group(alice, members, messages=members + 2)
    newcomer = make_user("newcomer")
    ids = {
        "group": group.pk, "newcomer": newcomer.pk, "owner": alice.pk,
        "member": group.memberships.exclude(user=alice).latest("joined", "id").user_id,
        "received": group.messages.exclude(sender=alice).latest("pk").pk,
        "own": group.messages.filter(sender=alice).earliest("pk").pk,
    }
    if body is not None and "user" in body:
        body = {"user": int(body["user"].format(**ids))}
    client = client_for(alice)

    with django_assert_num_queries(queries):
        response = getattr(client, method)(template.format(**ids), body, format="json")

    assert response.status_code < 300, response.content


# What a request runs in production, where the service's transaction is the
# outermost one: no test transaction around it, so no SAVEPOINT, and the
# events' queries run after the COMMIT. Transaction control (BEGIN, COMMIT)
# is not a query that does work and is left out of the counts.
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")


def thread_from_bob(kind: str, alice: User, bob: User, carol: User, messages: int) -> Thread:
    """alice's direct thread with bob, or bob's group with alice and carol,
    with `messages` from bob that alice has not read."""
    if kind == "direct":
        thread, _ = services.thread_get_or_create(user=alice, other=bob)
    else:
        thread = services.group_create(owner=bob, title="Crew", members=[alice, carol])
    for number in range(messages):
        services.message_create(thread=thread, sender=bob, text=f"m{number}")
    return thread


def queries_before_and_after_commit(capture) -> tuple[list[str], list[str]]:
    statements = [query["sql"] for query in capture.captured_queries]
    commit = next(index for index, sql in enumerate(statements) if sql.startswith("COMMIT"))
    work = [sql for sql in statements[:commit] if not sql.startswith(TRANSACTION_CONTROL)]
    return work, statements[commit + 1:]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("messages", [1, 60])
@pytest.mark.parametrize(
    ("kind", "path", "work_queries", "event_queries"),
    [
        # user; INSERT (locking the thread, members only), UPDATE of the
        # thread, UPDATE ... RETURNING of its memberships (on PostgreSQL one
        # statement with the thread's: 3 there) | after the commit: the
        # recipient's total unread count for the unread_count event (read
        # only when they listen: test_events.py)
        ("direct", "messages/", 4, 1),
        ("group", "messages/", 4, 1),
        # user; the thread's and reader's rows locked, then one UPDATE of the
        # messages and the reader's counter (a data-modifying WITH); on
        # SQLite, UPDATE of the reader's counter returning the rows as they
        # were, then one of the messages | the members' counts in the
        # thread, the reader's total
        ("direct", "mark_as_read/", 3, 2),
        # user; lock as above, UPDATE of the reader's position and counter
        # (on SQLite both one statement: 2 there)
        ("group", "mark_as_read/", 3, 2),
    ],
)
def test_a_send_and_a_mark_read_run_few_queries_in_production(
    client_for, alice, bob, carol, listen, kind, path, work_queries, event_queries, messages
):
    if connection.vendor == "postgresql" and path == "messages/":
        work_queries -= 1  # two UPDATEs in one statement (a data-modifying WITH)
    if connection.vendor == "sqlite" and path == "mark_as_read/" and kind == "group":
        work_queries -= 1  # the position moves in the statement that reads the rows
    thread = thread_from_bob(kind, alice, bob, carol, messages)
    listen(alice), listen(bob)  # both have the app open
    client = client_for(alice)

    with CaptureQueriesContext(connection) as capture:
        response = client.post(f"/api/threads/{thread.pk}/{path}", {"text": "hi"} if path == "messages/" else None,
                               format="json")

    assert response.status_code in (200, 201), response.content
    work, after_commit = queries_before_and_after_commit(capture)
    assert len(work) == work_queries, "\n".join(work)
    assert len(after_commit) == event_queries, "\n".join(after_commit)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("messages", [1, 60])
@pytest.mark.parametrize("kind", ["direct", "group"])
def test_a_mark_read_with_nothing_to_mark_reads_and_writes_nothing(client_for, alice, bob, carol, kind, messages):
    """Clients mark a thread read on opening it, most often with nothing
    unread: the user and the member's row, no write, no event. (SQLite
    first tries the UPDATE that marks, which finds nothing to change.)"""
    thread = thread_from_bob(kind, alice, bob, carol, messages)
    client = client_for(alice)
    assert client.post(f"/api/threads/{thread.pk}/mark_as_read/").json() == {"marked": messages}

    changes_before = connection.connection.total_changes if connection.vendor == "sqlite" else None
    with CaptureQueriesContext(connection) as capture:
        response = client.post(f"/api/threads/{thread.pk}/mark_as_read/")

    assert response.json() == {"marked": 0}
    statements = [query["sql"] for query in capture.captured_queries]
    work = [sql for sql in statements if not sql.startswith(TRANSACTION_CONTROL)]
    if connection.vendor == "sqlite":
        assert len(work) == 3, "\n".join(work)  # the user; the UPDATE that marks; the member's row
        assert connection.connection.total_changes == changes_before  # the UPDATE changed no row
    else:
        assert len(work) == 2, "\n".join(work)  # the user; the member's row (not locked)
        assert not any(sql.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE")) for sql in work)
