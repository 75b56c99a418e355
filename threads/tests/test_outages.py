"""Dependency outages through a real uvicorn: the server's database and Redis
connections go through a TCP proxy (tcp_proxy.py) that the test cuts and
restores. An outage is a 503 with Retry-After and a JSON body, never a 500;
a Redis outage does not fail a send at all; the health check names the
dependency that is down."""

import json
import time
import uuid

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db import connection

from threads import services
from threads.models import Message
from threads.tests.server import http, production_env, uvicorn_server
from threads.tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse battery"
HTTPS = {"X-Forwarded-Proto": "https", "Content-Type": "application/json"}
REDIS_DB = 3  # apart from the other end-to-end tests' Redis databases


@pytest.fixture
def redis_proxy():
    proxy = TcpProxy("127.0.0.1", 6379)
    yield proxy
    proxy.cut()


@pytest.fixture
def database_proxy():
    if connection.vendor != "postgresql":
        pytest.skip("a database outage over TCP needs PostgreSQL (SQLite is a file)")
    settings = connection.settings_dict
    proxy = TcpProxy(settings.get("HOST") or "127.0.0.1", int(settings.get("PORT") or 5432))
    yield proxy
    proxy.cut()


def server_env(redis_proxy, database_proxy=None):
    overrides = {
        "REDIS_URL": f"redis://127.0.0.1:{redis_proxy.port}/{REDIS_DB}",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DATABASE_POOL_TIMEOUT": "1",
    }
    if database_proxy is not None:
        settings = connection.settings_dict
        user = settings.get("USER") or "postgres"
        overrides["DATABASE_URL"] = f"postgres://{user}@127.0.0.1:{database_proxy.port}/{settings['NAME']}"
    return production_env(**overrides)


@pytest.fixture
def conversation():
    alice, bob = (
        User.objects.create(username=name, password=make_password(PASSWORD, hasher="pbkdf2_sha256"))
        for name in ("alice", "bob")
    )
    thread, _ = services.thread_get_or_create(user=alice, other=bob)
    return alice, thread


def login(base: str) -> str:
    body = json.dumps({"username": "alice", "password": PASSWORD}).encode()
    status, _, answer = http("POST", f"{base}/api/token/", body, HTTPS)
    assert status == 200, answer
    return json.loads(answer)["access"]


def send(base: str, token: str, thread_id: int, text: str):
    body = json.dumps({"text": text, "client_id": str(uuid.uuid4())}).encode()
    headers = {**HTTPS, "Authorization": f"Bearer {token}"}
    return http("POST", f"{base}/api/threads/{thread_id}/messages/", body, headers)


def health(base: str) -> tuple[int, dict]:
    status, _, body = http("GET", f"{base}/api/health/", headers=HTTPS)
    return status, json.loads(body)


def assert_outage_answer(status, headers, body, dependency: str) -> None:
    assert status == 503, body
    assert int(headers["Retry-After"]) > 0
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["unavailable"] == dependency
    assert b"Traceback" not in body


def wait_for(condition, seconds: float = 15):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the service did not come back"
        time.sleep(0.2)


def test_a_database_outage_is_a_503_with_retry_after_and_service_returns(
    redis_proxy, database_proxy, conversation
):
    _, thread = conversation
    with uvicorn_server(server_env(redis_proxy, database_proxy)) as base:
        token = login(base)
        assert send(base, token, thread.pk, "before")[0] == 201

        database_proxy.cut()
        assert_outage_answer(*send(base, token, thread.pk, "during"), "database")
        listing = http("GET", f"{base}/api/threads/", headers={**HTTPS, "Authorization": f"Bearer {token}"})
        assert_outage_answer(*listing, "database")
        body = json.dumps({"username": "alice", "password": PASSWORD}).encode()
        assert_outage_answer(*http("POST", f"{base}/api/token/", body, HTTPS), "database")
        assert health(base) == (503, {"status": "unavailable", "database": "unreachable", "redis": "ok"})

        database_proxy.restore()
        wait_for(lambda: send(base, token, thread.pk, "after")[0] == 201)
        assert health(base) == (200, {"status": "ok", "database": "ok", "redis": "ok"})
    assert list(Message.objects.filter(thread=thread).values_list("text", flat=True).order_by("id")) == [
        "before", "after"
    ]


def test_a_redis_outage_fails_no_send_and_the_health_check_says_so(redis_proxy, conversation, tmp_path):
    _, thread = conversation
    log = tmp_path / "server.log"
    with uvicorn_server(server_env(redis_proxy), log) as base:
        token = login(base)
        assert health(base) == (200, {"status": "ok", "database": "ok", "redis": "ok"})

        redis_proxy.cut()
        sends = [send(base, token, thread.pk, f"during {i}") for i in range(3)]
        assert [status for status, _, _ in sends] == [201] * 3, sends[0][2]
        assert health(base) == (200, {"status": "degraded", "database": "ok", "redis": "unreachable"})

        redis_proxy.restore()
        wait_for(lambda: health(base)[1]["redis"] == "ok")
        assert send(base, token, thread.pk, "after")[0] == 201
    assert Message.objects.filter(thread=thread).count() == 4
    assert "not applied: the cache is unreachable" in log.read_text()


def test_a_redis_outage_closes_open_sockets_and_catch_up_recovers_what_they_missed(
    redis_proxy, conversation, tmp_path
):
    """What the README tells clients: an event that could not be published
    is lost, but the outage also closes the sockets that would have carried
    it, so a client that catches up after every reconnect misses nothing."""
    from websockets.exceptions import ConnectionClosed, WebSocketException

    from threads.tests.test_realtime_e2e import open_feed

    _, thread = conversation
    with uvicorn_server(server_env(redis_proxy), tmp_path / "server.log") as base:
        token = login(base)
        with open_feed(base, token) as feed:
            assert send(base, token, thread.pk, "before")[0] == 201
            before = json.loads(feed.recv(timeout=10))["message"]["id"]
            redis_proxy.cut()
            assert send(base, token, thread.pk, "during")[0] == 201

            def read_until_closed():
                while True:  # whatever was still on its way, then the close
                    feed.recv(timeout=10)

            with pytest.raises(ConnectionClosed):
                read_until_closed()
        redis_proxy.restore()

        def reconnected() -> bool:  # as a client does, retrying until the server takes it
            try:
                with open_feed(base, token):
                    return True
            except (WebSocketException, EOFError, OSError):
                return False

        wait_for(reconnected)
        status, _, body = http("GET", f"{base}/api/threads/{thread.pk}/messages/?after={before}",
                               headers={**HTTPS, "Authorization": f"Bearer {token}"})
    assert status == 200
    assert [m["text"] for m in json.loads(body)["results"]] == ["during"]


def test_an_unopenable_sqlite_database_is_a_503_not_a_500():
    """The same on SQLite, whose outage is a file that cannot be opened."""
    env = production_env(DATABASE_URL="sqlite:////nonexistent-directory/db.sqlite3", DJANGO_SECURE_SSL_REDIRECT="0")
    body = json.dumps({"username": "alice", "password": PASSWORD}).encode()

    with uvicorn_server(env) as base:
        assert_outage_answer(*http("POST", f"{base}/api/token/", body, HTTPS), "database")
        registration = json.dumps({"username": "newbie", "password": "a long enough secret 42"}).encode()
        assert_outage_answer(*http("POST", f"{base}/api/users/", registration, HTTPS), "database")
        # The admin, with a session cookie to look up: a plain-text 503.
        status, headers, page = http("GET", f"{base}/admin/", headers={**HTTPS, "Cookie": "sessionid=" + "a" * 32})
        assert (status, headers["Retry-After"]) == (503, "5")
        assert b"Traceback" not in page
