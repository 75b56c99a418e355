"""Item 8 of issue 13: the client address the rate limits count by is the
one the deployment trusts, with the production command (scripts/serve.sh)
running a real uvicorn."""

import json

import pytest

from threads.tests.server import http, production_env, uvicorn_server

pytestmark = pytest.mark.django_db(transaction=True)

HTTPS = {"X-Forwarded-Proto": "https", "Content-Type": "application/json"}
WRONG_LOGIN = json.dumps({"username": "nobody", "password": "wrong guess"}).encode()


def login_statuses(base: str, forwarded_for: list[str]) -> list[int]:
    return [
        http("POST", f"{base}/api/token/", WRONG_LOGIN, {**HTTPS, "X-Forwarded-For": address})[0]
        for address in forwarded_for
    ]


def server_env(**overrides):
    return production_env(CHAT_THROTTLE_TOKEN="3/minute", DJANGO_SECURE_SSL_REDIRECT="0", **overrides)


def test_without_a_proxy_a_forged_x_forwarded_for_from_loopback_does_not_dodge_the_token_limit():
    spoofed = [f"198.51.100.{i}" for i in range(10)]

    env = server_env()
    env.pop("FORWARDED_ALLOW_IPS", None)  # no proxy configured: the variable is not set at all

    with uvicorn_server(env) as base:
        statuses = login_statuses(base, spoofed)

    assert statuses == [401] * 3 + [429] * 7


def test_a_proxy_that_is_not_trusted_cannot_set_the_address_either():
    spoofed = [f"198.51.100.{i}" for i in range(5)]

    with uvicorn_server(server_env(FORWARDED_ALLOW_IPS="10.0.0.2")) as base:
        statuses = login_statuses(base, spoofed)

    assert statuses == [401] * 3 + [429] * 2


def test_a_trusted_proxy_sets_the_client_address_the_limit_counts_by():
    with uvicorn_server(server_env(FORWARDED_ALLOW_IPS="127.0.0.1")) as base:
        # Each client behind the proxy has a limit of its own...
        assert login_statuses(base, [f"198.51.100.{i}" for i in range(6)]) == [401] * 6
        # ...and one client's fourth attempt is refused.
        assert login_statuses(base, ["203.0.113.5"] * 4) == [401] * 3 + [429]
