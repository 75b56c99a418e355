"""Item 6 of issue 13, end to end: two real uvicorn processes sharing Redis;
the user's sockets on both close with 4401 at once, whichever process (or
other program: here the test itself, on the same Redis) ends the session."""

import contextlib
import json
import time

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from threads import services
from threads.tests.conftest import PASSWORD
from threads.tests.server import http, production_env, redis_answering, uvicorn_server

pytestmark = pytest.mark.django_db(transaction=True)

# Redis database 3: apart from the other end-to-end test's (1) and from development's (0).
REDIS_URL = "redis://127.0.0.1:6379/3"
HTTPS = {"X-Forwarded-Proto": "https", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def redis():
    return redis_answering(REDIS_URL)


@pytest.fixture
def two_servers(redis):
    env = production_env(REDIS_URL=redis, DJANGO_SECURE_SSL_REDIRECT="0")
    with uvicorn_server(env) as first, uvicorn_server(env) as second:
        yield first, second


@pytest.fixture
def shared_layer(settings, redis):
    """This test process sends its events through the servers' Redis too."""
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis]}}
    }


@pytest.fixture
def people():
    alice, bob = (
        User.objects.create(username=name, password=make_password(PASSWORD, hasher="pbkdf2_sha256"))
        for name in ("alice", "bob")
    )
    thread, _ = services.thread_get_or_create(user=alice, other=bob)
    return alice, bob, thread


def login(base: str, username: str) -> str:
    body = json.dumps({"username": username, "password": PASSWORD}).encode()
    status, _, answer = http("POST", f"{base}/api/token/", body, HTTPS)
    assert status == 200, answer
    return json.loads(answer)["access"]


@contextlib.contextmanager
def open_feed(base: str, token: str):
    with connect(base.replace("http://", "ws://") + "/ws/", open_timeout=10) as socket:
        socket.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(socket.recv(timeout=5))["type"] == "auth.ok"
        yield socket


def close_code(socket, timeout: float) -> int:
    """The code the server closed `socket` with, within `timeout` seconds (events before it are skipped)."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            socket.recv(timeout=max(0.01, deadline - time.monotonic()))
    except ConnectionClosed as closed:
        return closed.rcvd.code
    except TimeoutError:
        return -1


def post_message(base: str, token: str, thread_id: int, text: str) -> int:
    status, _, _ = http(
        "POST", f"{base}/api/threads/{thread_id}/messages/", json.dumps({"text": text}).encode(),
        {**HTTPS, "Authorization": f"Bearer {token}"},
    )
    return status


def test_logging_out_everywhere_on_one_server_closes_the_users_sockets_on_both(two_servers, people):
    first, second = two_servers
    _, _, thread = people
    alice_token, bob_token = login(first, "alice"), login(second, "bob")
    with (
        open_feed(first, alice_token) as on_first,
        open_feed(second, alice_token) as on_second,
        open_feed(first, bob_token) as bobs,
    ):
        status, _, _ = http(
            "POST", f"{second}/api/users/me/logout_everywhere/", None,
            {**HTTPS, "Authorization": f"Bearer {alice_token}"},
        )
        started = time.monotonic()

        assert status == 204
        assert close_code(on_first, timeout=2) == 4401
        assert close_code(on_second, timeout=2) == 4401
        assert time.monotonic() - started < 2
        # Bob's socket stays open and live.
        assert post_message(second, bob_token, thread.pk, "still there?") == 201
        assert json.loads(bobs.recv(timeout=2))["type"] == "message.created"
    # The old access token cannot open a new socket.
    with connect(first.replace("http://", "ws://") + "/ws/", open_timeout=10) as again:
        again.send(json.dumps({"type": "auth", "token": alice_token}))
        assert close_code(again, timeout=5) == 4401


@pytest.mark.parametrize("end", ["password change", "deactivation"])
def test_a_password_change_or_deactivation_elsewhere_closes_the_users_sockets_on_both(
    two_servers, people, shared_layer, end
):
    first, second = two_servers
    alice, _, _ = people
    token = login(first, "alice")
    with open_feed(first, token) as on_first, open_feed(second, token) as on_second:
        user = User.objects.get(pk=alice.pk)
        if end == "password change":
            user.set_password("a brand new secret 77")
        else:
            user.is_active = False
        user.save()

        assert close_code(on_first, timeout=2) == 4401
        assert close_code(on_second, timeout=2) == 4401
