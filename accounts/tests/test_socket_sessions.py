"""Item 6 of issue 13: an open WebSocket does not outlive its session (the
in-memory channel layer; the two-process test is test_socket_sessions_e2e)."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User

from threads import services
from threads.tests.contract import ContractAPIClient
from threads.tests.test_realtime import closed_with, connect_as, open_socket, token_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

UNAUTHORIZED = 4401


@database_sync_to_async
def change_password(user):
    user = User.objects.get(pk=user.pk)
    user.set_password("a brand new secret 77")
    user.save()


@database_sync_to_async
def deactivate(user):
    user = User.objects.get(pk=user.pk)
    user.is_active = False
    user.save()


@database_sync_to_async
def log_out_everywhere_over_the_api(user):
    client = ContractAPIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    response = client.post("/api/users/me/logout_everywhere/")
    assert response.status_code == 204


@database_sync_to_async
def change_password_over_the_api(user):
    client = ContractAPIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    body = {"old_password": "correct horse battery", "new_password": "a brand new secret 77"}
    assert client.post("/api/users/me/password/", body, format="json").status_code == 204


@database_sync_to_async
def delete_account_over_the_api(user):
    client = ContractAPIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    assert client.delete("/api/users/me/", {"password": "correct horse battery"}, format="json").status_code == 204


@database_sync_to_async
def send(thread, sender, text):
    return services.message_create(thread=thread, sender=sender, text=text)


@pytest.mark.parametrize(
    "end",
    [
        change_password,
        deactivate,
        log_out_everywhere_over_the_api,
        change_password_over_the_api,
        delete_account_over_the_api,
    ],
)
async def test_every_open_socket_of_the_user_closes_with_4401_and_others_stay(alice, bob, thread, end):
    phone, laptop, bobs = await connect_as(alice), await connect_as(alice), await connect_as(bob)

    await end(alice)

    assert await closed_with(phone) == UNAUTHORIZED
    assert await closed_with(laptop) == UNAUTHORIZED
    # Bob's socket is untouched: it still gets the next message.
    await send(thread, bob, "still here")
    assert (await bobs.receive_json_from())["type"] == "message.created"
    await bobs.disconnect()


async def test_after_logging_out_everywhere_an_earlier_access_token_cannot_reconnect(alice):
    token = token_for(alice)
    await log_out_everywhere_over_the_api(alice)

    socket = await open_socket()
    await socket.send_json_to({"type": "auth", "token": token})

    assert await closed_with(socket) == UNAUTHORIZED


async def test_saving_a_user_without_ending_anything_leaves_the_socket_open(alice):
    socket = await connect_as(alice)

    @database_sync_to_async
    def rename():
        user = User.objects.get(pk=alice.pk)
        user.email = "alice@example.com"
        user.save()

    await rename()

    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


async def test_a_session_ended_while_the_socket_authenticates_still_closes_it(alice, monkeypatch):
    """The race: the password changes after the token was checked but before
    the socket joined the user's group. The socket joins first, so the end
    reaches it."""
    import accounts.tokens
    import threads.consumers

    real_check = accounts.tokens.token_still_valid

    def check_then_change_password(token, user):
        valid = real_check(token, user)  # checked under the old password...
        changed = User.objects.get(pk=user.pk)
        changed.set_password("a brand new secret 77")
        changed.save()  # ...which changes (and commits) right after
        return valid

    monkeypatch.setattr(threads.consumers, "token_still_valid", check_then_change_password)
    socket = await open_socket()
    await socket.send_json_to({"type": "auth", "token": token_for(alice)})

    first = await socket.receive_output(1)
    if first["type"] == "websocket.send":  # auth.ok went out before the end arrived
        assert await closed_with(socket) == UNAUTHORIZED
    else:
        assert (first["type"], first["code"]) == ("websocket.close", UNAUTHORIZED)
