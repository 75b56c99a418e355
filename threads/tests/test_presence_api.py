"""Presence in the API (threads/presence.py through the renderer, the event
sender, the consumer and GET /api/users/?online=true): users shown to others
carry is_online and last_seen, looked up once per response and with no query;
the online list is the caller's contacts only; presence events reach the
contacts, rate limited. In memory (no REDIS_URL), as the suite runs; the real
Redis is in test_presence.py and test_presence_e2e.py."""

import uuid

import pytest
import redis.connection
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.test import override_settings

from threads import presence, services
from threads.tests.conftest import summary
from threads.tests.server import redis_answering
from threads.tests.test_presence import Clock
from threads.tests.test_realtime import connect_as


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def server(clock):
    """This process's presence, on a clock the test moves. Without events: their
    sender reads the database from another thread, which needs transaction=True."""
    instance = presence.Presence(presence.MemoryStore(), clock=clock, send_events=False)
    presence.reset(instance)
    return instance


@pytest.fixture
def live_server_presence(server):
    """The same, with presence events."""
    server.send_events = True
    return server


@pytest.fixture
def lookups(server, monkeypatch):
    """How many presence lookups (Redis round trips, with Redis) were made."""
    calls = []
    original = server.store.lookup

    def counted(*args):
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(server.store, "lookup", counted)
    return calls


def online(server, *users: User) -> None:
    for user in users:
        async_to_sync(server.socket_opened)(user.pk, f"socket-of-{user.pk}")


def offline(server, *users: User) -> None:
    for user in users:
        async_to_sync(server.socket_closed)(user.pk, f"socket-of-{user.pk}")


def iso(timestamp: float) -> str:
    return presence.render_time(timestamp)


# Representations.


def test_a_user_shows_online_while_a_socket_is_open_and_last_seen_after(
    client_for, alice, bob, server, clock
):
    client = client_for(alice)
    assert client.get(f"/api/users/{bob.pk}/").json() == summary(bob)  # never seen

    online(server, bob)
    assert client.get(f"/api/users/{bob.pk}/").json() == summary(bob, is_online=True)
    clock.advance(60)
    offline(server, bob)

    assert client.get(f"/api/users/{bob.pk}/").json() == summary(bob, last_seen=iso(clock.now))
    assert client.get("/api/users/?search=bob").json()["results"] == [summary(bob, last_seen=iso(clock.now))]


def test_every_user_in_a_response_carries_presence(client_for, alice, bob, carol, server):
    thread, _ = services.thread_get_or_create(user=alice, other=bob)
    group = services.group_create(owner=alice, title="Crew", members=[bob, carol])
    services.message_create(thread=thread, sender=bob, text="hi")
    services.message_create(thread=group, sender=bob, text="hello crew")
    online(server, bob)
    client = client_for(alice)

    threads = client.get("/api/threads/").json()["results"]
    assert {p["username"]: p["is_online"] for t in threads for p in t["participants"]} == {
        "alice": False, "bob": True, "carol": False,
    }
    assert all(t["last_message"]["sender"] == summary(bob, is_online=True) for t in threads)
    assert client.get(f"/api/threads/{thread.pk}/messages/").json()["results"][0]["sender"] == summary(
        bob, is_online=True
    )
    members = client.get(f"/api/threads/{group.pk}/members/").json()["results"]
    assert [(m["user"]["username"], m["user"]["is_online"]) for m in members] == [
        ("alice", False), ("bob", True), ("carol", False),
    ]


@pytest.mark.parametrize("friends", [2, 30])
def test_a_thread_list_looks_presence_up_once_and_adds_no_query(
    client_for, alice, server, lookups, django_assert_num_queries, friends
):
    others = [User.objects.create_user(username=f"friend-{n}") for n in range(friends)]
    for other in others:
        services.thread_get_or_create(user=alice, other=other)
    online(server, *others[::2])
    client = client_for(alice)
    lookups.clear()

    # user, count, page: as without presence (test_query_counts)
    with django_assert_num_queries(3):
        results = client.get("/api/threads/?limit=100").json()["results"]

    assert len(lookups) == 1, "one lookup for every user of the page"
    shown = {p["username"]: p["is_online"] for t in results for p in t["participants"]}
    assert shown == {"alice": False, **{o.username: n % 2 == 0 for n, o in enumerate(others)}}


@pytest.mark.django_db(transaction=True)  # the send's events go out on its commit, inside the request
def test_a_send_looks_its_sender_up_once_for_its_events_and_its_answer(client_for, alice, bob, server, lookups):
    thread, _ = services.thread_get_or_create(user=alice, other=bob)
    online(server, alice)
    client = client_for(alice)
    lookups.clear()

    response = client.post(f"/api/threads/{thread.pk}/messages/", {"text": "hi"}, format="json")

    assert response.status_code == 201
    assert response.json()["sender"]["is_online"] is True
    assert len(lookups) == 1, "the message.created event and the answer share one lookup"
    # The next request looks up again: alice has gone offline since.
    offline(server, alice)
    response = client.post(f"/api/threads/{thread.pk}/messages/", {"text": "bye"}, format="json")
    assert response.json()["sender"]["is_online"] is False
    assert len(lookups) == 2


def test_a_response_without_users_looks_nothing_up(client_for, alice, server, lookups):
    client_for(alice).get("/api/threads/unread_count/")
    assert lookups == []


# GET /api/users/?online=true


def test_online_lists_the_callers_online_contacts_only(client_for, make_user, alice, bob, carol, server):
    dave, erin, stranger = make_user("dave"), make_user("erin"), make_user("stranger")
    services.thread_get_or_create(user=alice, other=bob)
    services.group_create(owner=carol, title="Crew", members=[alice, dave, erin])
    services.thread_get_or_create(user=bob, other=stranger)  # a contact's contact is not a contact
    online(server, bob, dave, stranger, carol)
    client = client_for(alice)

    body = client.get("/api/users/?online=true").json()

    assert body["count"] == 3
    assert body["results"] == [summary(u, is_online=True) for u in (bob, carol, dave)]
    assert client.get("/api/users/?online=true&search=da").json()["results"] == [summary(dave, is_online=True)]
    # Bob's contacts: alice (offline) and the stranger.
    assert client_for(bob).get("/api/users/?online=true").json()["results"] == [summary(stranger, is_online=True)]


def test_online_never_lists_the_caller_a_deactivated_contact_or_someone_who_left(
    client_for, make_user, alice, bob, carol, server
):
    services.thread_get_or_create(user=alice, other=bob)
    group = services.group_create(owner=alice, title="Crew", members=[carol])
    services.member_remove(thread=group, actor=carol, user_id=carol.pk)  # carol leaves
    online(server, alice, bob, carol)
    User.objects.filter(pk=bob.pk).update(is_active=False)

    assert client_for(alice).get("/api/users/?online=true").json() == {
        "count": 0, "next": None, "previous": None, "results": [],
    }


@pytest.mark.parametrize("value", ["false", "1", "yes", ""])
def test_online_takes_only_true(client_for, alice, value):
    response = client_for(alice).get(f"/api/users/?online={value}")

    assert response.status_code == 400
    assert response.json() == {"online": ['The only value is "true".']}


@pytest.mark.parametrize("contacts", [3, 40])
def test_online_list_query_count_is_fixed(
    client_for, alice, server, lookups, django_assert_num_queries, contacts
):
    others = [User.objects.create_user(username=f"contact-{n}") for n in range(contacts)]
    services.group_create(owner=alice, title="Everyone", members=others)
    online(server, *others)
    client = client_for(alice)
    lookups.clear()

    # user, contacts, count, page
    with django_assert_num_queries(4):
        body = client.get("/api/users/?online=true&limit=100").json()

    assert body["count"] == contacts
    assert len(lookups) == 2, "one for the contacts, one for the page's users"


# Presence events through the consumer (in-memory channel layer).

@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_coming_online_and_going_offline_reach_the_contacts_only(alice, bob, carol, live_server_presence, clock):
    await database_sync_to_async(services.thread_get_or_create)(user=alice, other=bob)
    alice_socket, carol_socket = await connect_as(alice), await connect_as(carol)

    bob_socket = await connect_as(bob)
    assert await alice_socket.receive_json_from(timeout=10) == {
        "type": "presence", "user": summary(bob, is_online=True), "is_online": True, "last_seen": None,
    }
    clock.advance(presence.event_interval())  # past the rate limit
    await bob_socket.disconnect()

    went = {"type": "presence", "user": summary(bob, last_seen=iso(clock.now)), "is_online": False,
            "last_seen": iso(clock.now)}
    assert await alice_socket.receive_json_from(timeout=10) == went
    assert await carol_socket.receive_nothing()  # shares no thread with bob
    assert await alice_socket.receive_nothing()
    await alice_socket.disconnect()
    await carol_socket.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_second_socket_of_an_online_user_announces_nothing(alice, bob, live_server_presence, clock):
    await database_sync_to_async(services.thread_get_or_create)(user=alice, other=bob)
    alice_socket = await connect_as(alice)
    phone = await connect_as(bob)
    assert (await alice_socket.receive_json_from(timeout=10))["is_online"] is True
    clock.advance(presence.event_interval())

    laptop = await connect_as(bob)
    await phone.disconnect()

    assert await alice_socket.receive_nothing()  # bob stayed online throughout
    await laptop.disconnect()
    assert (await alice_socket.receive_json_from(timeout=10))["is_online"] is False
    await alice_socket.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_flapping_connection_is_announced_once_then_its_final_state(alice, bob):
    # The real clock and a short window: the deferred check really runs.
    with override_settings(CHAT_PRESENCE_EVENT_INTERVAL=0.5):
        presence.reset(presence.Presence(presence.MemoryStore()))
        await database_sync_to_async(services.thread_get_or_create)(user=alice, other=bob)
        alice_socket = await connect_as(alice)

        for _ in range(3):
            flap = await connect_as(bob)
            await flap.disconnect()

        events = [await alice_socket.receive_json_from(timeout=10) for _ in range(2)]
        assert [(e["type"], e["is_online"]) for e in events] == [("presence", True), ("presence", False)]
        assert events[1]["last_seen"] is not None
        assert await alice_socket.receive_nothing(timeout=1)  # nothing more: offline is where it ended
        await alice_socket.disconnect()


# With Redis: the send's sender rides on the round trip that asks who listens.


@pytest.fixture
def redis_round_trips(monkeypatch):
    """Every command or pipeline sent to Redis from this process (one round trip each)."""
    sent = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    return sent


@pytest.mark.django_db(transaction=True)  # the send's events go out on its commit, inside the request
@pytest.mark.parametrize(("presence_db", "round_trips"), [(13, 1), (7, 2)])
def test_with_redis_a_send_reads_its_senders_presence_with_who_listens(
    settings, client_for, alice, bob, clock, redis_round_trips, presence_db, round_trips
):
    """One round trip after the commit when presence and the channel layer
    share a Redis (as with REDIS_URL); two when they do not, with the same answer."""
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "threads.channel_layers.ChatRedisChannelLayer",
        "CONFIG": {"hosts": [redis_answering("redis://127.0.0.1:6379/13")], "prefix": f"test-{uuid.uuid4().hex}"},
    }}  # fmt: skip
    store = presence.RedisStore(f"redis://127.0.0.1:6379/{presence_db}", prefix=f"test:presence:{uuid.uuid4().hex}:")
    server = presence.Presence(store, clock=clock, send_events=False)
    presence.reset(server)
    thread, _ = services.thread_get_or_create(user=alice, other=bob)
    client = client_for(alice)
    try:
        online(server, alice)
        redis_round_trips.clear()

        response = client.post(f"/api/threads/{thread.pk}/messages/", {"text": "hi"}, format="json")

        assert response.status_code == 201
        assert response.json()["sender"]["is_online"] is True
        assert len(redis_round_trips) == round_trips
        offline(server, alice)
        clock.advance(60)
        response = client.post(f"/api/threads/{thread.pk}/messages/", {"text": "bye"}, format="json")
        assert response.json()["sender"] | {"last_seen": None} == summary(alice) | {"last_seen": None}
        assert response.json()["sender"]["last_seen"] == iso(clock.now - 60)
    finally:
        store.clear()
