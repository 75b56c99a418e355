"""The hot queries are served by indexes, on SQLite and on PostgreSQL: every
query an endpoint runs against messages or threads is planned without a full
scan of either table. (Whether an index *can* serve a query is what this
checks; on PostgreSQL, sequential scans are switched off for the EXPLAIN, as
a tiny test table would otherwise be scanned because that is cheaper.)"""

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from threads import services

TABLES = ("threads_message", "threads_thread", "threads_membership")


def plan_of(sql: str):
    """The plan of `sql` (as it ran, its parameters inlined by Django's capture)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
            return cursor.fetchone()[0]
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return "\n".join(row[-1] for row in cursor.fetchall())


def plan_nodes(node):
    if isinstance(node, dict):
        yield node
        node = list(node.values())
    if isinstance(node, list):
        for child in node:
            yield from plan_nodes(child)


def full_scans(plan) -> list[str]:
    if connection.vendor == "postgresql":
        return [
            node["Relation Name"]
            for node in plan_nodes(plan)
            if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in TABLES
        ]
    # SQLite: "SCAN <table>" reads every row; "SEARCH ... USING INDEX" and
    # the index searches of a "MULTI-INDEX OR" do not.
    return [table for table in TABLES if re.search(rf"^SCAN {table}\b", plan, flags=re.MULTILINE)]


def hot_queries(capture: CaptureQueriesContext) -> list[str]:
    statements = [q["sql"] for q in capture.captured_queries]
    return [
        sql for sql in statements
        if any(table in sql for table in TABLES)
        and sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "WITH"))
    ]


@pytest.fixture
def busy_thread(thread, alice, bob, carol):
    other, _ = services.thread_get_or_create(user=alice, other=carol)
    for number in range(30):
        services.message_create(thread=thread, sender=bob if number % 2 else alice, text="m")
        services.message_create(thread=other, sender=carol if number % 2 else alice, text="m")
    return thread


ENDPOINTS = [
    ("get", "/api/threads/"),
    ("get", "/api/threads/unread_count/"),
    ("get", "/api/threads/{thread}/"),
    ("get", "/api/threads/{thread}/messages/"),
    ("get", "/api/threads/{thread}/messages/?before={message}"),
    ("get", "/api/threads/{thread}/messages/?after=1"),
    ("get", "/api/threads/{thread}/messages/?offset=20&limit=5"),
    ("get", "/api/threads/?offset=1&limit=1"),
    ("get", "/api/threads/{thread}/messages/{own}/"),
    ("patch", "/api/threads/{thread}/messages/{own}/"),
    ("post", "/api/threads/{thread}/messages/"),
    ("post", "/api/threads/{thread}/mark_as_read/"),
    ("post", "/api/threads/{thread}/messages/{message}/mark_as_read/"),
    ("delete", "/api/threads/{thread}/messages/{own}/"),
    ("delete", "/api/threads/{thread}/"),
]


GROUP_ENDPOINTS = [
    ("get", "/api/threads/{group}/messages/"),
    ("post", "/api/threads/{group}/messages/"),
    ("post", "/api/threads/{group}/mark_as_read/"),
    ("post", "/api/threads/{group}/messages/{in_group}/mark_as_read/"),
    ("get", "/api/threads/{group}/messages/{in_group}/readers/"),
    ("get", "/api/threads/{group}/members/"),
    ("patch", "/api/threads/{group}/"),
    ("delete", "/api/threads/{group}/messages/{in_group}/"),
]


@pytest.fixture
def busy_group(busy_thread, alice, bob, carol, make_user):
    members = [bob, carol, *(make_user(f"member{n}") for n in range(10))]
    group = services.group_create(owner=alice, title="Crew", members=members)
    for number in range(30):
        services.message_create(thread=group, sender=members[number % len(members)], text="m")
    return group


ALL_ENDPOINTS = ENDPOINTS + GROUP_ENDPOINTS


@pytest.mark.parametrize(("method", "template"), ALL_ENDPOINTS, ids=[f"{m} {t}" for m, t in ALL_ENDPOINTS])
def test_hot_queries_use_indexes(client_for, alice, bob, busy_thread, busy_group, method, template):
    received = busy_thread.messages.filter(sender=bob).latest("pk")
    own = busy_thread.messages.filter(sender=alice).latest("pk")
    in_group = busy_group.messages.filter(sender=bob).latest("pk")
    path = template.format(thread=busy_thread.pk, message=received.pk, own=own.pk, group=busy_group.pk,
                           in_group=in_group.pk)
    client = client_for(alice)

    with CaptureQueriesContext(connection) as capture:
        # Marking read takes no body here: a body would have to list message_ids.
        body = {"text": "x", "title": "Renamed"} if method in {"post", "patch"} and "mark_as" not in path else None
        response = getattr(client, method)(path, body, format="json")
    assert response.status_code < 300, response.content

    queries = hot_queries(capture)
    assert queries, "the endpoint ran no query on threads, members or messages"
    for sql in queries:
        plan = plan_of(sql)
        assert not full_scans(plan), f"full table scan in:\n{sql}\n{json.dumps(plan, indent=1)}"


def test_the_check_sees_a_full_scan_when_there_is_one(busy_thread):
    # No index on text: the planner must read every message.
    assert full_scans(plan_of("SELECT id FROM threads_message WHERE text = 'm'")) == ["threads_message"]


def test_marking_a_direct_thread_read_takes_the_unread_index_on_a_database_never_analysed(
    client_for, alice, bob, thread
):
    """Without planner statistics (nobody runs ANALYZE on a fresh SQLite
    file) both message indexes on thread_id look alike; the UPDATE names the
    sender by equality, so the partial unread index (thread, sender) WHERE
    NOT is_read fits best and marking costs O(unread), not O(thread)."""
    for number in range(40):
        services.message_create(thread=thread, sender=bob if number % 4 else alice, text="m")
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
            assert cursor.fetchone()[0] == 0, "the test database has been analysed"

    with CaptureQueriesContext(connection) as capture:
        response = client_for(alice).post(f"/api/threads/{thread.pk}/mark_as_read/")

    assert response.json() == {"marked": 30}
    # (On PostgreSQL the reader's position is moved in the same statement, a WITH.)
    [update] = [q["sql"] for q in capture.captured_queries if 'UPDATE "threads_message"' in q["sql"]]
    plan = plan_of(update)
    if connection.vendor == "postgresql":
        message_indexes = [
            node["Index Name"] for node in plan_nodes(plan)
            if "Index Name" in node and node.get("Relation Name") == "threads_message"
        ]  # fmt: skip
        assert message_indexes == ["message_unread_idx"]
    else:
        assert "USING INDEX message_unread_idx" in plan, plan
