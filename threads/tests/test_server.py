"""The production servers (gunicorn for HTTP, uvicorn for everything or /ws/)
with production settings, over real HTTP."""

import json
import re

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User

from chat_project.proxy import TrustedProxyMiddleware
from threads.tests.server import http, manage, production_env, uvicorn_server

# The server process must see rows this test commits.
pytestmark = pytest.mark.django_db(transaction=True)

HTTPS = {"X-Forwarded-Proto": "https"}  # what the TLS-terminating proxy adds


@pytest.fixture(scope="module")
def static_root(tmp_path_factory):
    """The admin's static files, collected as a deploy would (hashed, compressed)."""
    root = tmp_path_factory.mktemp("static")
    result = manage("collectstatic", "--no-input", env=production_env(DJANGO_STATIC_ROOT=str(root)))
    assert result.returncode == 0, result.stderr
    return root


def test_deploy_check_passes_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_deploy_check_refuses_to_start_without_a_secret_key():
    result = manage("check", "--deploy", env=production_env(DJANGO_SECRET_KEY=""))

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize("http_server", ["gunicorn", "uvicorn"])
def test_production_server_serves_the_api_health_and_admin_static_files(static_root, http_server):
    # Hashed as production hashes (the test settings hash with MD5, which production refuses).
    User.objects.create(username="alice", password=make_password("correct horse battery", hasher="pbkdf2_sha256"))
    credentials = json.dumps({"username": "alice", "password": "correct horse battery"}).encode()

    env = production_env(DJANGO_STATIC_ROOT=str(static_root))
    with uvicorn_server(env, http_server=http_server) as base:
        status, _, body = http("GET", f"{base}/api/health/")
        assert (status, json.loads(body)) == (200, {"status": "ok", "database": "ok", "redis": "not_configured"})

        status, _, body = http(
            "POST", f"{base}/api/token/", credentials, {**HTTPS, "Content-Type": "application/json"}
        )
        assert status == 200
        token = json.loads(body)["access"]
        status, _, body = http("GET", f"{base}/api/ping/", headers={**HTTPS, "Authorization": f"Bearer {token}"})
        assert (status, json.loads(body)) == (200, {"user_id": User.objects.get().pk})

        status, _, page = http("GET", f"{base}/admin/login/", headers=HTTPS)
        assert status == 200
        stylesheet = re.search(rb'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page)
        assert stylesheet, "the admin links its stylesheet by hashed name"
        status, headers, css = http("GET", base + stylesheet.group(1).decode(), headers=HTTPS)
        assert status == 200
        assert headers["Content-Type"].startswith("text/css")
        assert "immutable" in headers["Cache-Control"]
        assert b"body" in css


@pytest.mark.parametrize("http_server", ["gunicorn", "uvicorn"])
def test_plain_http_is_redirected_to_https_except_the_health_check(static_root, http_server):
    with uvicorn_server(production_env(DJANGO_STATIC_ROOT=str(static_root)), http_server=http_server) as base:
        status, headers, _ = http("GET", f"{base}/api/threads/")
        assert status == 301
        assert headers["Location"] == f"https://{base.removeprefix('http://')}/api/threads/"
        assert http("GET", f"{base}/api/health/")[0] == 200

        _, headers, _ = http("GET", f"{base}/api/health/", headers=HTTPS)
        assert headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.parametrize(
    "unreachable_database",
    ["postgres://postgres@127.0.0.1:1/nowhere", "sqlite:////nonexistent-directory/db.sqlite3"],
    ids=["postgres-refused", "sqlite-unopenable"],
)
def test_health_is_503_when_the_database_is_unreachable(static_root, unreachable_database):
    env = production_env(
        DATABASE_URL=unreachable_database, DATABASE_POOL_TIMEOUT="1", DJANGO_STATIC_ROOT=str(static_root)
    )

    with uvicorn_server(env) as base:
        status, headers, body = http("GET", f"{base}/api/health/")

    assert status == 503
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"status": "unavailable", "database": "unreachable", "redis": "not_configured"}


def remote_addr_seen(trusted: str, peer: str, forwarded_for: str | None) -> str:
    """REMOTE_ADDR as the app behind TrustedProxyMiddleware sees it."""
    seen = {}

    def app(environ, start_response):
        seen["addr"] = environ["REMOTE_ADDR"]
        return [b""]

    environ = {"REMOTE_ADDR": peer}
    if forwarded_for is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded_for
    TrustedProxyMiddleware(app, trusted=trusted)(environ, lambda *args: None)
    return seen["addr"]


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded_for", "client"),
    [
        # No proxy configured: the header is nobody's word.
        ("", "127.0.0.1", "203.0.113.9", "127.0.0.1"),
        # From the trusted proxy: the address it appended.
        ("10.0.0.2", "10.0.0.2", "203.0.113.9", "203.0.113.9"),
        # A client's own X-Forwarded-For is on the left; the proxy's append is on the right.
        ("10.0.0.2", "10.0.0.2", "1.2.3.4, 203.0.113.9", "203.0.113.9"),
        # Through two trusted proxies (a network): the nearest untrusted hop.
        ("10.0.0.0/8", "10.0.0.2", "203.0.113.9, 10.0.0.7", "203.0.113.9"),
        # From anywhere else the header is ignored.
        ("10.0.0.2", "198.51.100.4", "203.0.113.9", "198.51.100.4"),
        # Trusted peer, no header: the peer.
        ("10.0.0.2", "10.0.0.2", None, "10.0.0.2"),
        # "*": every peer is a trusted proxy (as the servers read it).
        ("*", "198.51.100.4", "203.0.113.9", "203.0.113.9"),
    ],
)
def test_the_client_address_comes_from_trusted_proxies_only(trusted, peer, forwarded_for, client):
    assert remote_addr_seen(trusted, peer, forwarded_for) == client
