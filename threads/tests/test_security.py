"""Headers for an API (CORS, caching, content policy) and error answers that
never show a stack trace or a setting, with DEBUG off as in production."""

import pytest
from django.conf import settings as live_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from threads import selectors
from threads.tests.contract import ContractAPIClient
from threads.tests.server import manage, production_env

ORIGIN = "https://app.example.com"


def test_api_answers_are_not_cacheable_and_run_nothing_if_rendered(client_for, alice):
    response = client_for(alice).get("/api/threads/")

    assert response["Cache-Control"] == "no-store"
    assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_error_answers_carry_the_same_headers(anonymous):
    response = anonymous.get("/api/threads/")

    assert response.status_code == 401
    assert response["Cache-Control"] == "no-store"
    assert "default-src 'none'" in response["Content-Security-Policy"]


def test_the_docs_page_is_not_under_the_data_policy(anonymous):
    assert "Content-Security-Policy" not in anonymous.get("/api/docs/")


def test_no_origin_is_allowed_by_default(client_for, alice):
    assert live_settings.CORS_ALLOWED_ORIGINS == []
    response = client_for(alice).get("/api/threads/", HTTP_ORIGIN=ORIGIN)

    assert "Access-Control-Allow-Origin" not in response


@pytest.fixture
def allowed_origin(settings):
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]


def test_an_allowed_origin_gets_cors_headers_and_a_preflight(allowed_origin, client_for, alice):
    preflight = ContractAPIClient().options(
        "/api/threads/", HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )
    actual = client_for(alice).get("/api/threads/", HTTP_ORIGIN=ORIGIN)

    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == ORIGIN
    assert "authorization" in preflight["Access-Control-Allow-Headers"]
    assert actual["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Credentials" not in actual  # bearer tokens, not cookies


def test_another_origin_gets_no_cors_headers_even_when_one_is_allowed(allowed_origin, client_for, alice):
    response = client_for(alice).get("/api/threads/", HTTP_ORIGIN="https://evil.example.net")

    assert "Access-Control-Allow-Origin" not in response


def test_the_admin_is_not_shared_cross_origin(allowed_origin, admin_client):
    assert "Access-Control-Allow-Origin" not in admin_client.get("/admin/", HTTP_ORIGIN=ORIGIN)


def test_cors_origins_come_from_the_environment():
    env = production_env(CORS_ALLOWED_ORIGINS="https://a.example.com, https://b.example.com")

    result = manage("shell", "-c", "from django.conf import settings; print(settings.CORS_ALLOWED_ORIGINS)", env=env)

    assert result.stdout.strip().splitlines()[-1] == "['https://a.example.com', 'https://b.example.com']", result.stderr


def test_an_unexpected_error_is_a_json_500_without_a_trace_or_settings(alice, monkeypatch):
    assert live_settings.DEBUG is False

    def broken(**kwargs):
        raise RuntimeError(f"internal detail {live_settings.SECRET_KEY}")

    monkeypatch.setattr(selectors, "unread_count_for_user", broken)
    # A plain client: a 500 is nothing the schema promises, which is the point.
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(alice)}")

    response = client.get("/api/threads/unread_count/")

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    body = response.content.decode()
    for leak in ("Traceback", "internal detail", live_settings.SECRET_KEY, "settings", ".py"):
        assert leak not in body


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type"),
    [
        ("post", "/api/threads/", b"{broken", "application/json"),
        ("post", "/api/threads/", b"a=1", "application/x-www-form-urlencoded"),
        ("get", "/api/threads/999/", b"", "application/json"),
        ("delete", "/api/threads/", b"", "application/json"),
        ("get", "/api/nowhere/", b"", "application/json"),
        ("post", "/api/threads/", b"[" * 5000 + b"]" * 5000, "application/json"),
    ],
)
def test_client_errors_show_no_trace_or_settings(client_for, alice, method, path, body, content_type):
    response = client_for(alice).generic(method.upper(), path, body, content_type=content_type)

    assert 400 <= response.status_code < 500
    text = response.content.decode()
    for leak in ("Traceback", 'File "', live_settings.SECRET_KEY, "DJANGO_", "/work/"):
        assert leak not in text
