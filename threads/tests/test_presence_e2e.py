"""Presence end to end: two real uvicorn processes sharing a real Redis
(database 7) for the channel layer and presence, real WebSocket clients.
Short presence timings (a 3 s TTL, a 0.5 s heartbeat, a 1 s event window) so
that a killed process's user expires within the test; the waits below are
upper bounds for what must arrive, never measured."""

import json
import signal

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User

from threads import presence, services
from threads.tests.conftest import PASSWORD
from threads.tests.server import http, production_env, redis_answering, uvicorn_server
from threads.tests.test_realtime_e2e import HTTPS, login, next_event, open_feed

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_URL = "redis://127.0.0.1:6379/7"


@pytest.fixture
def redis():
    url = redis_answering(REDIS_URL)
    presence.RedisStore(url).clear()  # no presence left from an earlier run's users of the same ids
    yield url
    presence.RedisStore(url).clear()


@pytest.fixture
def two_servers(redis, tmp_path):
    env = production_env(
        REDIS_URL=redis, DJANGO_SECURE_SSL_REDIRECT="0",
        CHAT_PRESENCE_TTL="3", CHAT_PRESENCE_HEARTBEAT="0.5", CHAT_PRESENCE_EVENT_INTERVAL="1",
    )
    processes = []
    with (
        uvicorn_server(env, tmp_path / "first.log", processes) as first,
        uvicorn_server(env, tmp_path / "second.log", processes) as second,
    ):
        yield first, second, processes


@pytest.fixture
def friends():
    alice, bob = (
        User.objects.create(username=name, password=make_password(PASSWORD, hasher="pbkdf2_sha256"))
        for name in ("alice", "bob")
    )
    services.thread_get_or_create(user=alice, other=bob)
    return alice, bob


def online_contacts(base: str, token: str) -> list[dict]:
    status, _, answer = http(
        "GET", f"{base}/api/users/?online=true", headers={**HTTPS, "Authorization": f"Bearer {token}"}
    )
    assert status == 200, answer
    return json.loads(answer)["results"]


def test_presence_on_one_server_is_seen_and_announced_on_the_other(two_servers, friends):
    first, second, _ = two_servers
    alice, _ = friends
    alice_token, bob_token = login(first, "alice"), login(second, "bob")

    with open_feed(second, bob_token) as bob_feed:
        assert online_contacts(second, bob_token) == []
        with open_feed(first, alice_token):
            came = next_event(bob_feed, "presence", timeout=10)
            assert (came["user"]["id"], came["is_online"], came["last_seen"]) == (alice.pk, True, None)
            [shown] = online_contacts(second, bob_token)
            assert (shown["id"], shown["is_online"], shown["last_seen"]) == (alice.pk, True, None)
        # Alice closed her socket inside the event window: the offline event
        # comes at the window's end, deferred, not dropped.
        went = next_event(bob_feed, "presence", timeout=10)
        assert (went["user"]["id"], went["is_online"]) == (alice.pk, False)
        assert went["last_seen"] is not None
        assert online_contacts(second, bob_token) == []


def test_a_killed_servers_users_go_offline_within_the_ttl(two_servers, friends):
    first, second, processes = two_servers
    alice, _ = friends
    alice_token, bob_token = login(first, "alice"), login(second, "bob")

    with open_feed(second, bob_token) as bob_feed:
        with open_feed(first, alice_token):
            assert next_event(bob_feed, "presence", timeout=10)["is_online"] is True
            # The first server dies without closing anything (no shutdown, no disconnect handler).
            processes[0].send_signal(signal.SIGKILL)
            processes[0].wait(timeout=10)
            went = next_event(bob_feed, "presence", timeout=15)  # the TTL is 3 s
        assert (went["user"]["id"], went["is_online"]) == (alice.pk, False)
        assert went["last_seen"] is not None
        assert online_contacts(second, bob_token) == []
