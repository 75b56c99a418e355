"""Issue 12, accounts: the caller edits their account (PATCH /api/users/me/),
changes their password (POST /api/users/me/password/) and deletes their
account (DELETE /api/users/me/)."""

import pytest
from django.contrib.auth.models import User

from accounts.models import UserCanonicalName
from threads import services
from threads.models import Message, Thread
from threads.tests.contract import ContractAPIClient

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new secret 77"

pytestmark = pytest.mark.django_db


def login(username="alice", password=PASSWORD):
    return ContractAPIClient().post("/api/token/", {"username": username, "password": password}, format="json")


def session(username="alice", password=PASSWORD) -> dict:
    response = login(username, password)
    assert response.status_code == 200, response.json()
    return response.json()


def refresh(token: str):
    return ContractAPIClient().post("/api/token/refresh/", {"refresh": token}, format="json")


def bearer(access: str) -> ContractAPIClient:
    client = ContractAPIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


# PATCH /api/users/me/


def test_editing_the_account_answers_it_and_others_see_the_display_name(client_for, alice, bob):
    thread, _ = services.thread_get_or_create(user=alice, other=bob)

    response = client_for(alice).patch(
        "/api/users/me/", {"first_name": "Alice", "last_name": "Liddell", "email": "alice@example.com"}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {
        "id": alice.pk, "username": "alice", "email": "alice@example.com",
        "first_name": "Alice", "last_name": "Liddell", "display_name": "Alice Liddell",
    }
    bobs = client_for(bob)
    assert bobs.get(f"/api/users/{alice.pk}/").json()["display_name"] == "Alice Liddell"
    participants = bobs.get(f"/api/threads/{thread.pk}/").json()["participants"]
    assert [p["display_name"] for p in participants if p["id"] == alice.pk] == ["Alice Liddell"]
    assert bobs.get("/api/users/", {"search": "liddell"}).json()["results"][0]["id"] == alice.pk


def test_editing_changes_only_the_fields_given_and_names_can_be_cleared(client_for, make_user):
    carol = make_user("carol", first_name="Carol", last_name="King", email="carol@example.com")
    client = client_for(carol)

    assert client.patch("/api/users/me/", {"last_name": "Queen"}, format="json").json()["display_name"] == "Carol Queen"
    cleared = client.patch("/api/users/me/", {"first_name": "", "last_name": ""}, format="json").json()

    assert cleared["display_name"] == "carol"
    assert cleared["email"] == "carol@example.com"
    assert client.patch("/api/users/me/", {}, format="json").json() == cleared


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"username": "mallory"}, "username", "cannot be changed"),
        ({"username": "mallory", "first_name": "Mal"}, "username", "cannot be changed"),
        ({"email": "not an email"}, "email", "valid email"),
        ({"email": 5}, "email", "valid email"),
        ({"first_name": 42}, "first_name", "Not a valid string"),
        ({"last_name": "x" * 151}, "last_name", "no more than 150"),
        ({"first_name": "Al\u202eice"}, "first_name", "not allowed"),
        ({"last_name": "Lid\ndell"}, "last_name", "not allowed"),
        ({"first_name": None}, "first_name", "may not be null"),
    ],
)
def test_a_bad_edit_is_a_400_on_the_field_and_changes_nothing(client_for, alice, body, field, fragment):
    response = client_for(alice).patch("/api/users/me/", body, format="json")

    assert response.status_code == 400
    assert fragment in str(response.json()[field])
    fresh = User.objects.get(pk=alice.pk)
    assert (fresh.username, fresh.first_name, fresh.last_name, fresh.email) == ("alice", "", "", "")


def test_editing_needs_a_token_and_ends_no_session(anonymous, alice):
    assert anonymous.patch("/api/users/me/", {"first_name": "A"}, format="json").status_code == 401
    tokens = session()

    assert bearer(tokens["access"]).patch("/api/users/me/", {"first_name": "A"}, format="json").status_code == 200
    assert bearer(tokens["access"]).get("/api/ping/").status_code == 200
    assert refresh(tokens["refresh"]).status_code == 200


def test_the_account_shows_the_names(client_for, make_user):
    dora = make_user("dora", first_name="Dora", last_name="Maar")

    assert client_for(dora).get("/api/users/me/").json()["display_name"] == "Dora Maar"


# POST /api/users/me/password/


def change(access: str, old=PASSWORD, new=NEW_PASSWORD):
    return bearer(access).post("/api/users/me/password/", {"old_password": old, "new_password": new}, format="json")


def test_a_password_change_logs_out_every_device(alice, bob):
    phone, laptop = session(), session()
    bobs = session("bob")

    response = change(laptop["access"])

    assert response.status_code == 204
    assert not response.content
    for device in (phone, laptop):
        assert refresh(device["refresh"]).status_code == 401
        assert bearer(device["access"]).get("/api/ping/").status_code == 401
    assert login().status_code == 401
    fresh = session(password=NEW_PASSWORD)
    assert bearer(fresh["access"]).get("/api/ping/").status_code == 200
    # Bob's session is untouched.
    assert refresh(bobs["refresh"]).status_code == 200


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"old_password": "wrong guess", "new_password": NEW_PASSWORD}, "old_password", "Wrong password"),
        ({"old_password": PASSWORD, "new_password": "short"}, "new_password", "too short"),
        ({"old_password": PASSWORD, "new_password": "password123"}, "new_password", "too common"),
        ({"old_password": PASSWORD, "new_password": "83729164508"}, "new_password", "entirely numeric"),
        ({"old_password": PASSWORD, "new_password": "alice1234"}, "new_password", "too similar"),
        ({"old_password": PASSWORD}, "new_password", "required"),
        ({"new_password": NEW_PASSWORD}, "old_password", "required"),
        ({"old_password": PASSWORD, "new_password": 1234567890123}, "new_password", "Not a valid string"),
        ({"old_password": PASSWORD, "new_password": "x" * 129}, "new_password", "no more than 128"),
    ],
)
def test_a_refused_password_change_is_a_400_and_ends_no_session(alice, body, field, fragment):
    tokens = session()

    response = bearer(tokens["access"]).post("/api/users/me/password/", body, format="json")

    assert response.status_code == 400
    assert fragment in str(response.json()[field])
    assert User.objects.get(pk=alice.pk).check_password(PASSWORD)
    assert refresh(tokens["refresh"]).status_code == 200


def test_changing_the_password_needs_a_token(anonymous, alice):
    response = anonymous.post("/api/users/me/password/", {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
                              format="json")

    assert response.status_code == 401
    assert User.objects.get(pk=alice.pk).check_password(PASSWORD)


@pytest.fixture
def token_rate(settings):
    settings.CHAT_THROTTLE_RATES = {**settings.CHAT_THROTTLE_RATES, "token": "3/minute"}


def test_password_guesses_are_throttled_like_the_token_endpoint(alice, token_rate, client_for):
    client = client_for(alice)
    guess = {"old_password": "wrong guess", "new_password": NEW_PASSWORD}

    statuses = [client.post("/api/users/me/password/", guess, format="json").status_code for _ in range(3)]
    refused = client.post("/api/users/me/password/", {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
                          format="json")

    assert statuses == [400, 400, 400]
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    # The same counter as /api/token/ (per client address).
    assert login().status_code == 429
    assert User.objects.get(pk=alice.pk).check_password(PASSWORD)


# DELETE /api/users/me/


def delete(client, password=PASSWORD):
    return client.delete("/api/users/me/", {"password": password}, format="json")


def test_deleting_the_account_deactivates_and_anonymizes_it_and_ends_every_session(make_user, bob):
    alice = make_user("alice", first_name="Alice", last_name="Liddell", email="alice@example.com")
    phone, laptop = session(), session()

    response = delete(bearer(laptop["access"]))

    assert response.status_code == 204
    assert not response.content
    gone = User.objects.get(pk=alice.pk)
    assert (gone.username, gone.email, gone.first_name, gone.last_name) == (f"deleted-{alice.pk}", "", "", "")
    assert not gone.is_active
    assert not gone.has_usable_password()
    assert UserCanonicalName.objects.get(user=gone).canonical == f"deleted-{alice.pk}"
    for device in (phone, laptop):
        assert refresh(device["refresh"]).status_code == 401
        assert bearer(device["access"]).get("/api/ping/").status_code == 401
    assert login().status_code == 401
    assert login(f"deleted-{alice.pk}", "").status_code in {400, 401}


def test_a_deleted_accounts_threads_and_messages_stay_for_the_others(client_for, alice, bob, carol):
    direct, _ = services.thread_get_or_create(user=alice, other=bob)
    group = services.group_create(owner=bob, title="Crew", members=[alice, carol])
    services.message_create(thread=direct, sender=alice, text="hi bob")
    services.message_create(thread=group, sender=alice, text="hi crew")

    assert delete(client_for(alice)).status_code == 204

    deleted = {"id": alice.pk, "username": f"deleted-{alice.pk}", "display_name": f"deleted-{alice.pk}",
               "is_online": False, "last_seen": None}
    bobs = client_for(bob)
    threads = bobs.get("/api/threads/").json()["results"]
    assert {t["id"] for t in threads} == {direct.pk, group.pk}
    assert all(t["last_message"]["sender"] == deleted for t in threads)
    assert deleted in bobs.get(f"/api/threads/{direct.pk}/").json()["participants"]
    [message] = bobs.get(f"/api/threads/{direct.pk}/messages/").json()["results"]
    assert (message["sender"], message["text"]) == (deleted, "hi bob")
    members = client_for(carol).get(f"/api/threads/{group.pk}/members/").json()["results"]
    assert deleted in [m["user"] for m in members]
    assert Message.objects.filter(sender_id=alice.pk).count() == 2
    assert Thread.objects.count() == 2


def test_nobody_can_find_start_a_thread_with_or_add_a_deleted_account(client_for, alice, bob, carol):
    group = services.group_create(owner=bob, title="Crew", members=[carol])
    assert delete(client_for(alice)).status_code == 204
    bobs = client_for(bob)

    assert alice.pk not in [u["id"] for u in bobs.get("/api/users/").json()["results"]]
    assert bobs.get("/api/users/", {"search": "deleted"}).json()["results"] == []
    assert bobs.get(f"/api/users/{alice.pk}/").status_code == 404
    direct = bobs.post("/api/threads/", {"participants": [alice.pk]}, format="json")
    assert direct.status_code == 400
    assert "participants" in direct.json()
    new_group = bobs.post("/api/threads/", {"kind": "group", "title": "Again", "participants": [alice.pk, carol.pk]},
                          format="json")
    assert new_group.status_code == 400
    assert "participants" in new_group.json()
    added = bobs.post(f"/api/threads/{group.pk}/members/", {"user": alice.pk}, format="json")
    assert added.status_code == 400
    assert "user" in added.json()
    assert not Thread.objects.filter(memberships__user=alice).exists()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"password": "wrong guess"}, "Wrong password"),
        ({"password": ""}, "may not be blank"),
        ({"password": 12345678}, "Not a valid string"),
        ({}, "required"),
    ],
)
def test_a_refused_deletion_is_a_400_and_changes_nothing(alice, body, fragment):
    tokens = session()

    response = bearer(tokens["access"]).delete("/api/users/me/", body, format="json")

    assert response.status_code == 400
    assert fragment in str(response.json()["password"])
    fresh = User.objects.get(pk=alice.pk)
    assert (fresh.is_active, fresh.username, fresh.check_password(PASSWORD)) == (True, "alice", True)
    assert refresh(tokens["refresh"]).status_code == 200


def test_deleting_without_a_body_is_a_400(client_for, alice):
    response = client_for(alice).delete("/api/users/me/")

    assert response.status_code == 400
    assert User.objects.get(pk=alice.pk).is_active


def test_deleting_needs_a_token(anonymous, alice):
    assert delete(anonymous).status_code == 401
    assert User.objects.get(pk=alice.pk).is_active


def test_deletion_guesses_are_throttled_like_the_token_endpoint(alice, token_rate, client_for):
    client = client_for(alice)

    statuses = [delete(client, "wrong guess").status_code for _ in range(3)]

    assert statuses == [400, 400, 400]
    assert delete(client).status_code == 429
    assert User.objects.get(pk=alice.pk).is_active


@pytest.mark.parametrize("name", ["deleted-7", "Deleted-12", "DELETED-\uff11"])  # the last: a fullwidth 1
def test_the_deleted_names_are_reserved(anonymous, name):
    response = anonymous.post("/api/users/", {"username": name, "password": "a long enough secret 42"}, format="json")

    assert response.status_code == 400
    assert "reserved" in str(response.json()["username"])


def test_a_deleted_accounts_old_username_is_free_again(client_for, alice, anonymous):
    assert delete(client_for(alice)).status_code == 204

    response = anonymous.post("/api/users/", {"username": "alice", "password": "a long enough secret 42"},
                              format="json")

    assert response.status_code == 201
    assert response.json()["id"] != alice.pk


def test_a_group_whose_owner_deleted_their_account_stays_usable_for_the_members(client_for, alice, bob, carol):
    group = services.group_create(owner=alice, title="Crew", members=[bob, carol])

    assert delete(client_for(alice)).status_code == 204

    assert client_for(bob).post(f"/api/threads/{group.pk}/messages/", {"text": "still here"},
                                format="json").status_code == 201


def test_the_schema_documents_the_deletion_body():
    from threads.tests.contract import openapi

    body = openapi()["paths"]["/api/users/me/"]["delete"]["requestBody"]

    assert body["required"] is True
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert openapi()["components"]["schemas"][ref]["required"] == ["password"]
