"""End to end: two real uvicorn processes sharing the Redis channel layer, a
real WebSocket client on one and real HTTP requests to the other."""

import contextlib
import json
import time

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from websockets.sync.client import connect

from threads import services
from threads.models import Message
from threads.tests.conftest import PASSWORD
from threads.tests.server import http, production_env, redis_answering, uvicorn_server

pytestmark = pytest.mark.django_db(transaction=True)

# Redis database 1, kept apart from anything a developer keeps in database 0.
REDIS_URL = "redis://127.0.0.1:6379/1"
HTTPS = {"X-Forwarded-Proto": "https"}


@pytest.fixture(scope="module")
def redis():
    return redis_answering(REDIS_URL)


@pytest.fixture
def server_logs(tmp_path):
    return tmp_path / "first.log", tmp_path / "second.log"


@pytest.fixture
def two_servers(redis, server_logs):
    env = production_env(REDIS_URL=redis, DJANGO_SECURE_SSL_REDIRECT="0")
    with uvicorn_server(env, server_logs[0]) as first, uvicorn_server(env, server_logs[1]) as second:
        yield first, second


def login(base: str, username: str) -> str:
    body = json.dumps({"username": username, "password": PASSWORD}).encode()
    status, _, answer = http("POST", f"{base}/api/token/", body, {**HTTPS, "Content-Type": "application/json"})
    assert status == 200, answer
    return json.loads(answer)["access"]


def post_message(base: str, token: str, thread_id: int, text: str) -> dict:
    status, _, answer = http(
        "POST", f"{base}/api/threads/{thread_id}/messages/", json.dumps({"text": text}).encode(),
        {**HTTPS, "Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    assert status == 201, answer
    return json.loads(answer)


@contextlib.contextmanager
def open_feed(base: str, token: str):
    """A real WebSocket client on `base`'s /ws/, authenticated with `token`."""
    with connect(base.replace("http://", "ws://") + "/ws/", open_timeout=10) as socket:
        socket.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(socket.recv(timeout=5))["type"] == "auth.ok"
        yield socket


def next_event(socket, of_type: str, timeout: float) -> dict:
    """The next event of `of_type`, skipping others (unread counts), within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        event = json.loads(socket.recv(timeout=max(0.0, deadline - time.monotonic())))
        if event["type"] == of_type:
            return event


def test_a_message_posted_to_one_server_reaches_a_socket_on_the_other_and_catch_up_is_exact(
    two_servers, server_logs
):
    first, second = two_servers
    alice, bob = (
        User.objects.create(username=name, password=make_password(PASSWORD, hasher="pbkdf2_sha256"))
        for name in ("alice", "bob")
    )
    thread, _ = services.thread_get_or_create(user=alice, other=bob)
    alice_token, bob_token = login(first, "alice"), login(second, "bob")

    # Alice listens on the first server; Bob posts to the second.
    with open_feed(first, alice_token) as feed:
        live = post_message(second, bob_token, thread.pk, "Hello from the other server")
        event = next_event(feed, "message.created", timeout=1)
    assert event["message"] == live

    # Alice is offline while Bob posts three more.
    missed = [post_message(second, bob_token, thread.pk, f"while you were away {i}") for i in range(3)]

    with open_feed(first, alice_token) as feed:
        status, _, answer = http(
            "GET", f"{first}/api/threads/{thread.pk}/messages/?after={live['id']}",
            headers={**HTTPS, "Authorization": f"Bearer {alice_token}"},
        )
        assert status == 200
        caught_up = json.loads(answer)
        assert caught_up["results"] == missed
        assert caught_up["next"] is None
        # And the feed carries on live after the catch-up.
        after = post_message(second, bob_token, thread.pk, "back online")
        assert next_event(feed, "message.created", timeout=1)["message"] == after

    seen = [live["id"], *(m["id"] for m in caught_up["results"]), after["id"]]
    assert len(seen) == len(set(seen)) == 5
    assert seen == sorted(Message.objects.filter(thread=thread).values_list("id", flat=True))
    # The servers logged the requests (access log on), and never a token.
    logs = "".join(path.read_text() for path in server_logs)
    assert "/ws/" in logs
    assert "/api/threads/" in logs
    assert alice_token not in logs
    assert bob_token not in logs
