"""Item 2 of issue 13: a password change ends every session, and a session
ends anyway JWT_REFRESH_MAX_LIFETIME after its login."""

from datetime import timedelta
from io import StringIO

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken as PlainRefreshToken
from rest_framework_simplejwt.utils import aware_utcnow, datetime_to_epoch

from accounts.tokens import AUTH_TIME_CLAIM, RefreshToken
from threads.tests.contract import ContractAPIClient
from threads.tests.test_realtime import closed_with, open_socket

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new secret 77"


def login(username="alice", password=PASSWORD) -> dict:
    response = ContractAPIClient().post("/api/token/", {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def refresh(token: str):
    return ContractAPIClient().post("/api/token/refresh/", {"refresh": token}, format="json")


def ping(access: str) -> int:
    client = ContractAPIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get("/api/ping/").status_code


@pytest.mark.django_db
def test_a_password_change_revokes_every_refresh_token_and_ends_access_tokens_at_once(alice):
    phone, laptop = login(), login()
    rotated = refresh(laptop["refresh"]).json()

    alice.set_password(NEW_PASSWORD)
    alice.save()

    assert refresh(phone["refresh"]).status_code == 401
    assert refresh(rotated["refresh"]).status_code == 401
    assert ping(phone["access"]) == 401
    assert ping(rotated["access"]) == 401
    fresh = login(password=NEW_PASSWORD)
    assert ping(fresh["access"]) == 200
    assert refresh(fresh["refresh"]).status_code == 200


@pytest.mark.django_db
def test_an_admins_password_reset_revokes_the_users_sessions(admin_client, alice):
    session = login()

    response = admin_client.post(
        f"/admin/auth/user/{alice.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )

    assert response.status_code == 302
    assert refresh(session["refresh"]).status_code == 401
    assert ping(session["access"]) == 401


@pytest.mark.django_db
def test_changepassword_and_a_direct_hash_change_revoke_too(alice, monkeypatch):
    first = login()
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    call_command("changepassword", "alice", stdout=StringIO())
    assert refresh(first["refresh"]).status_code == 401

    second = login(password=NEW_PASSWORD)
    user = User.objects.get(pk=alice.pk)
    user.set_unusable_password()
    user.save()
    assert refresh(second["refresh"]).status_code == 401


@pytest.mark.django_db
def test_saving_a_user_without_changing_the_password_revokes_nothing(alice):
    session = login()
    user = User.objects.get(pk=alice.pk)
    user.email = "alice@example.com"
    user.save()
    User.objects.only("username").get(pk=alice.pk).save()

    assert refresh(session["refresh"]).status_code == 200


@pytest.mark.django_db
def test_rotation_carries_the_login_time_and_never_outlives_the_maximum(settings, alice):
    settings.JWT_REFRESH_MAX_LIFETIME = timedelta(days=30)
    session = login()
    original = RefreshToken(session["refresh"])

    rotated = RefreshToken(refresh(session["refresh"]).json()["refresh"])

    assert rotated[AUTH_TIME_CLAIM] == original[AUTH_TIME_CLAIM] == original["iat"]
    # A session 29 days and 23 hours old: its next refresh token ends with the session.
    old = RefreshToken.for_user(alice)
    old[AUTH_TIME_CLAIM] = datetime_to_epoch(aware_utcnow() - timedelta(days=29, hours=23))
    renewed = RefreshToken(refresh(str(old)).json()["refresh"])
    assert renewed["exp"] == old[AUTH_TIME_CLAIM] + 30 * 24 * 3600


@pytest.mark.django_db
def test_a_refresh_after_the_maximum_lifetime_is_refused(alice):
    # Refreshed every day (so never expired), but logged in 31 days ago.
    token = RefreshToken.for_user(alice)
    token[AUTH_TIME_CLAIM] = datetime_to_epoch(aware_utcnow() - timedelta(days=31))

    response = refresh(str(token))

    assert response.status_code == 401
    assert "log in again" in response.json()["detail"]


@pytest.mark.django_db
def test_a_refresh_token_without_a_login_time_is_refused(alice):
    # As SimpleJWT made them before this change: no auth_time.
    token = PlainRefreshToken.for_user(alice)
    assert AUTH_TIME_CLAIM not in token.payload

    assert refresh(str(token)).status_code == 401
    assert OutstandingToken.objects.filter(jti=token["jti"]).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_socket_cannot_authenticate_with_an_access_token_from_before_a_password_change(alice):
    access = (await database_sync_to_async(login)())["access"]

    def change_password():
        alice.set_password(NEW_PASSWORD)
        alice.save()

    await database_sync_to_async(change_password)()
    socket = await open_socket()
    await socket.send_json_to({"type": "auth", "token": access})

    assert await closed_with(socket) == 4401


def verify(token: str) -> int:
    return ContractAPIClient().post("/api/token/verify/", {"token": token}, format="json").status_code


@pytest.mark.django_db
def test_verify_says_a_token_from_before_a_password_change_or_a_deactivation_is_not_valid(alice, bob):
    alices, bobs = login(), login("bob")
    assert verify(alices["access"]) == verify(alices["refresh"]) == 200

    alice.set_password(NEW_PASSWORD)
    alice.save()
    bob.is_active = False
    bob.save()

    assert verify(alices["access"]) == 401
    assert verify(alices["refresh"]) == 400  # blacklisted: SimpleJWT's answer for that
    assert verify(bobs["access"]) == 401
