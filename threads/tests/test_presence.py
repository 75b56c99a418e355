"""Presence (threads/presence.py): who is online, in memory and in a real
Redis shared by two server processes (two Presence objects on one store, each
with its own sockets and heartbeat), expiry of a dead process's users, and
the rate limit of presence events. Time is a clock the tests move."""

import uuid

import pytest
from asgiref.sync import async_to_sync

from threads import presence
from threads.tests.server import redis_answering

REDIS_URL = "redis://127.0.0.1:6379/7"
TTL = 45.0


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def redis_store():
    store = presence.RedisStore(redis_answering(REDIS_URL), prefix=f"test:presence:{uuid.uuid4().hex}:")
    yield store
    store.clear()


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        return presence.MemoryStore()
    return request.getfixturevalue("redis_store")


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def announced(monkeypatch):
    """Presence events sent, as (user id, is_online), instead of going to the channel layer."""
    sent = []

    async def record(user_id, state):
        sent.append((user_id, state.is_online))

    monkeypatch.setattr(presence, "send_presence_event", record)
    return sent


def process(store, clock) -> presence.Presence:
    """One server process: its own sockets and heartbeat, the shared store."""
    return presence.Presence(store, clock=clock)


def test_users_online_is_the_users_with_an_open_socket(store, clock, announced):
    server = process(store, clock)
    presence.reset(server)

    assert presence.users_online([1, 2, 3]) == set()
    async_to_sync(server.socket_opened)(1, "socket-a")
    async_to_sync(server.socket_opened)(1, "socket-b")
    async_to_sync(server.socket_opened)(2, "socket-c")

    assert presence.users_online([1, 2, 3]) == {1, 2}
    assert presence.users_online([]) == set()
    async_to_sync(server.socket_closed)(1, "socket-a")
    assert presence.users_online([1, 2, 3]) == {1, 2}  # socket-b is still open
    clock.advance(presence.event_interval())  # past the rate limit
    async_to_sync(server.socket_closed)(1, "socket-b")
    assert presence.users_online([1, 2, 3]) == {2}
    assert announced == [(1, True), (2, True), (1, False)]


def test_last_seen_is_when_the_last_socket_closed(store, clock, announced):
    server = process(store, clock)
    assert server.states([1]) == {1: presence.State(False, None)}  # never seen

    async_to_sync(server.socket_opened)(1, "socket-a")
    assert server.states([1]) == {1: presence.State(True, None)}
    clock.advance(30)
    async_to_sync(server.socket_closed)(1, "socket-a")

    assert server.states([1]) == {1: presence.State(False, clock.now)}


def test_two_processes_share_presence_through_redis(redis_store, clock, announced):
    first, second = process(redis_store, clock), process(redis_store, clock)

    async_to_sync(first.socket_opened)(1, "first/socket")
    async_to_sync(second.socket_opened)(1, "second/socket")
    assert second.users_online([1]) == first.users_online([1]) == {1}

    clock.advance(presence.event_interval())  # past the rate limit
    async_to_sync(first.socket_closed)(1, "first/socket")
    assert second.users_online([1]) == {1}  # still open on the second
    async_to_sync(second.socket_closed)(1, "second/socket")
    assert first.users_online([1]) == set()
    # Online once, offline once: the other process's socket hid the first close.
    assert announced == [(1, True), (1, False)]


def test_a_dead_processes_users_expire_without_its_heartbeat(store, clock, announced):
    alive, dead = process(store, clock), process(store, clock)
    async_to_sync(alive.socket_opened)(1, "alive/socket")
    async_to_sync(dead.socket_opened)(2, "dead/socket")
    async_to_sync(dead.socket_opened)(3, "dead/socket-2")
    async_to_sync(alive.socket_opened)(3, "alive/socket-2")  # also open on the live process
    announced.clear()
    last_heartbeat = clock.now

    # The dead process never closes its sockets nor beats again; the live one beats on.
    for _ in range(2):
        clock.advance(presence.heartbeat_interval())
        async_to_sync(alive.beat)()
        assert alive.users_online([1, 2, 3]) == {1, 2, 3}, "still inside the TTL"
    clock.advance(TTL - 2 * presence.heartbeat_interval() + 1)
    # Reads are right at once, before any sweep...
    assert alive.users_online([1, 2, 3]) == {1, 3}
    assert alive.states([2])[2] == presence.State(False, last_heartbeat)
    # ...and the next beat of any live process announces the departure.
    async_to_sync(alive.beat)()
    assert announced == [(2, False)]
    assert alive.states([2])[2] == presence.State(False, last_heartbeat)
    async_to_sync(alive.beat)()
    assert announced == [(2, False)], "announced once"


def test_a_process_that_stalled_past_the_ttl_comes_back_online_on_its_next_beat(store, clock, announced):
    server = process(store, clock)
    async_to_sync(server.socket_opened)(1, "socket")
    clock.advance(TTL + 1)
    other = process(store, clock)
    clock.advance(presence.event_interval())
    async_to_sync(other.beat)()  # sweeps user 1: its process looked dead
    assert server.users_online([1]) == set()

    clock.advance(presence.event_interval())
    async_to_sync(server.beat)()  # alive after all: its socket is still open

    assert server.users_online([1]) == {1}
    assert announced == [(1, True), (1, False), (1, True)]


def test_redis_down_answers_offline_and_never_raises(clock, announced):
    server = process(presence.RedisStore("redis://127.0.0.1:1/7"), clock)  # nothing listens there

    assert server.users_online([1]) == set()
    async_to_sync(server.socket_opened)(1, "socket")
    async_to_sync(server.socket_closed)(1, "socket")
    assert announced == []


# The rate limit of presence events.


def test_a_flapping_connection_sends_one_event_per_window_and_the_last_state_after_it(store, clock, announced):
    server = process(store, clock)
    window = presence.event_interval()

    async_to_sync(server.socket_opened)(1, "s1")  # online: sent
    for n in range(5):  # flapping inside the window: held back
        clock.advance(0.5)
        async_to_sync(server.socket_closed)(1, f"s{n + 1}")
        clock.advance(0.5)
        async_to_sync(server.socket_opened)(1, f"s{n + 2}")
    clock.advance(0.5)
    async_to_sync(server.socket_closed)(1, "s6")  # finally offline
    assert announced == [(1, True)]
    assert server.deferrals == [(1, clock.now - 5.5 + presence.event_interval())], "one check, at the window's end"

    clock.advance(window)
    async_to_sync(server.settle)(1)  # what the deferred check does at the window's end
    assert announced == [(1, True), (1, False)]


def test_a_flap_that_ends_where_it_started_sends_nothing_more(store, clock, announced):
    server = process(store, clock)
    async_to_sync(server.socket_opened)(1, "s1")
    clock.advance(1)
    async_to_sync(server.socket_closed)(1, "s1")
    clock.advance(1)
    async_to_sync(server.socket_opened)(1, "s2")

    clock.advance(presence.event_interval())
    async_to_sync(server.settle)(1)

    assert announced == [(1, True)], "online was sent, online it is"


def test_after_the_window_a_change_goes_out_at_once(store, clock, announced):
    server = process(store, clock)
    async_to_sync(server.socket_opened)(1, "s1")
    clock.advance(presence.event_interval())
    async_to_sync(server.socket_closed)(1, "s1")

    assert announced == [(1, True), (1, False)]


def test_the_rate_limit_is_shared_by_the_processes(redis_store, clock, announced):
    first, second = process(redis_store, clock), process(redis_store, clock)
    async_to_sync(first.socket_opened)(1, "first/socket")
    clock.advance(1)
    async_to_sync(first.socket_closed)(1, "first/socket")
    clock.advance(1)
    async_to_sync(second.socket_opened)(1, "second/socket")
    clock.advance(1)
    async_to_sync(second.socket_closed)(1, "second/socket")

    assert announced == [(1, True)]
    assert len(first.deferrals + second.deferrals) == 1


def test_a_socket_closing_after_its_entry_expired_unswept_still_goes_offline(store, clock, announced):
    server = process(store, clock)
    async_to_sync(server.socket_opened)(1, "socket")
    clock.advance(TTL + 5)  # the process stalled: no heartbeat, and nobody swept

    async_to_sync(server.socket_closed)(1, "socket")

    assert announced == [(1, True), (1, False)]
    assert server.states([1])[1] == presence.State(False, clock.now)
