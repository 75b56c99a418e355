"""The web client's credential: Django's session cookie, accepted by the API
beside JWT (SessionAuthentication, CSRF-checked) and by the WebSocket when the
page that opens it is on this host; and the page at / with its CSP."""

import re
from http.cookies import SimpleCookie

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from chat_project.asgi import application
from threads.models import Message
from threads.tests.contract import ContractAPIClient
from webclient.tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser_client():
    """A client that makes Django check CSRF tokens, as a browser's requests are checked."""
    return ContractAPIClient(enforce_csrf_checks=True)


def csrf_token(client) -> str:
    """The token a page gets: GET / sets the csrftoken cookie."""
    response = client.get("/")
    assert response.status_code == 200
    return client.cookies["csrftoken"].value


def log_in(client, username="alice", password=PASSWORD):
    return client.post(
        "/api/session/", {"username": username, "password": password}, format="json",
        HTTP_X_CSRFTOKEN=csrf_token(client),
    )


# --- the page -----------------------------------------------------------------


def test_the_page_has_a_strict_csp_no_inline_script_and_sets_the_csrf_cookie(client):
    response = client.get("/")

    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert csp == (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self' ws://testserver wss://testserver; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    page = response.content.decode()
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts == ['<script type="module" src="/static/webclient/app.js">']
    assert "style=" not in page
    assert re.search(r"<script[^>]*>\s*[^<\s]", page) is None  # no inline code
    assert "csrftoken" in response.cookies
    assert 'data-logged-in="no"' in page


def test_the_page_loads_nothing_from_elsewhere(client):
    page = client.get("/").content.decode()

    urls = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert urls, "the page names its files"
    assert all(url.startswith("/static/webclient/") for url in urls), urls


def test_the_page_answers_get_only(client):
    assert client.post("/").status_code in {403, 405}  # CSRF or method: never a page


# --- logging in and out ---------------------------------------------------------


def test_log_in_sets_an_httponly_samesite_session_cookie(browser_client, alice):
    response = log_in(browser_client)

    assert response.status_code == 200
    assert {key: response.json()[key] for key in ("id", "username", "email")} == {
        "id": alice.pk, "username": "alice", "email": "",
    }
    cookie = SimpleCookie(response.cookies.output(header=""))[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert browser_client.get("/api/users/me/").json()["username"] == "alice"
    assert 'data-logged-in="yes"' in browser_client.get("/").content.decode()


def test_log_in_without_the_csrf_token_is_refused(browser_client, alice):
    response = browser_client.post("/api/session/", {"username": "alice", "password": PASSWORD}, format="json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert settings.SESSION_COOKIE_NAME not in response.cookies


def test_a_wrong_password_is_a_400_and_no_session(browser_client, alice):
    response = log_in(browser_client, password="wrong password")

    assert response.status_code == 400
    assert response.json() == {"detail": "No active account found with the given credentials."}
    assert browser_client.get("/api/users/me/").status_code == 401


def test_log_out_ends_the_session_on_the_server(browser_client, alice):
    log_in(browser_client)
    session_key = browser_client.cookies[settings.SESSION_COOKIE_NAME].value
    token = browser_client.cookies["csrftoken"].value

    assert browser_client.delete("/api/session/").status_code == 403  # no CSRF token: no forced logout
    assert browser_client.delete("/api/session/", HTTP_X_CSRFTOKEN=token).status_code == 204

    assert browser_client.get("/api/users/me/").status_code == 401
    # The old cookie, replayed, is worth nothing: the session is gone from the database.
    replay = ContractAPIClient()
    replay.cookies[settings.SESSION_COOKIE_NAME] = session_key
    assert replay.get("/api/users/me/").status_code == 401


# --- the API with a session ------------------------------------------------------


def test_a_session_write_needs_the_csrf_token(browser_client, alice, thread):
    log_in(browser_client)
    url = f"/api/threads/{thread.pk}/messages/"

    refused = browser_client.post(url, {"text": "forged"}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert not Message.objects.exists()

    token = browser_client.cookies["csrftoken"].value
    sent = browser_client.post(url, {"text": "hello"}, format="json", HTTP_X_CSRFTOKEN=token)
    assert sent.status_code == 201
    assert Message.objects.get().text == "hello"


def test_a_session_read_needs_no_csrf_token(browser_client, alice, thread):
    log_in(browser_client)

    assert browser_client.get("/api/threads/").json()["count"] == 1


def test_jwt_requests_need_no_csrf_token_even_beside_a_session_cookie(browser_client, alice, bob, thread):
    # bob's session cookie is in the jar, but the bearer token (alice) is tried first and wins.
    log_in(browser_client, "bob")
    browser_client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(alice)}")

    response = browser_client.post(f"/api/threads/{thread.pk}/messages/", {"text": "by token"}, format="json")

    assert response.status_code == 201
    assert response.json()["sender"]["username"] == "alice"


def test_without_any_credential_the_api_still_answers_401_with_the_bearer_challenge(anonymous_client):
    response = anonymous_client.get("/api/threads/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture
def anonymous_client():
    return ContractAPIClient()


# --- the WebSocket with a session --------------------------------------------------


def session_headers(client, origin: str | None) -> list[tuple[bytes, bytes]]:
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    headers = [(b"host", b"chat.example.com"), (b"cookie", cookie.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return headers


async def open_socket(headers) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_same_origin_socket_is_authenticated_by_the_session(alice):
    client = ContractAPIClient(enforce_csrf_checks=True)
    assert (await _log_in_async(client)).status_code == 200

    socket = await open_socket(session_headers(client, "https://chat.example.com"))

    event = await socket.receive_json_from()
    assert (event["type"], event["user"]["id"], event["user"]["username"]) == ("auth.ok", alice.pk, "alice")
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("origin", ["https://evil.example.net", "null", None, "https://chat.example.com.evil.net"])
async def test_another_origin_gets_nothing_from_the_session_and_must_send_a_token(alice, origin):
    client = ContractAPIClient(enforce_csrf_checks=True)
    assert (await _log_in_async(client)).status_code == 200

    socket = await open_socket(session_headers(client, origin))

    assert await socket.receive_nothing(timeout=0.3)  # no auth.ok: the session is ignored
    await socket.send_json_to({"type": "auth", "token": str(AccessToken.for_user(alice))})
    assert (await socket.receive_json_from())["type"] == "auth.ok"  # the token path works as before
    await socket.disconnect()


async def _log_in_async(client):
    from asgiref.sync import sync_to_async

    return await sync_to_async(log_in)(client)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_logging_out_closes_the_sessions_sockets(alice):
    from asgiref.sync import sync_to_async

    client = ContractAPIClient(enforce_csrf_checks=True)
    assert (await _log_in_async(client)).status_code == 200
    socket = await open_socket(session_headers(client, "https://chat.example.com"))
    assert (await socket.receive_json_from())["type"] == "auth.ok"

    token = client.cookies["csrftoken"].value
    response = await sync_to_async(client.delete)("/api/session/", HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 204
    output = await socket.receive_output(timeout=1)
    assert (output["type"], output["code"]) == ("websocket.close", 4401)


def test_log_out_everywhere_ends_the_web_session_too(browser_client, alice):
    log_in(browser_client)
    token = browser_client.cookies["csrftoken"].value

    response = browser_client.post("/api/users/me/logout_everywhere/", HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 204
    assert browser_client.get("/api/users/me/").status_code == 401
    # Logging in again afterwards works.
    assert log_in(browser_client).status_code == 200
    assert browser_client.get("/api/users/me/").status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_log_out_everywhere_closes_the_session_socket_and_refuses_a_new_one(alice):
    from asgiref.sync import sync_to_async

    from accounts.services import log_out_everywhere

    client = ContractAPIClient(enforce_csrf_checks=True)
    assert (await _log_in_async(client)).status_code == 200
    headers = session_headers(client, "https://chat.example.com")
    socket = await open_socket(headers)
    assert (await socket.receive_json_from())["type"] == "auth.ok"

    await sync_to_async(log_out_everywhere)(alice)

    output = await socket.receive_output(timeout=1)
    assert (output["type"], output["code"]) == ("websocket.close", 4401)
    again = await open_socket(headers)  # the same cookie, from before the log-out
    output = await again.receive_output(timeout=1)
    assert (output["type"], output["code"]) == ("websocket.close", 4401)
