import pytest
from django.contrib.auth.models import User

from threads.tests.conftest import summary


def register(client, **body):
    return client.post("/api/users/", body, format="json")


def test_registration_creates_a_user_and_never_returns_the_password(anonymous):
    response = register(anonymous, username="newbie", password="a long enough secret 42", email="n@example.com")

    assert response.status_code == 201
    assert response.json() == {
        "id": response.json()["id"], "username": "newbie", "email": "n@example.com",
        "first_name": "", "last_name": "", "display_name": "newbie",
    }
    user = User.objects.get(username="newbie")
    assert user.check_password("a long enough secret 42")
    assert "a long enough secret 42" not in response.content.decode()


def test_registration_email_is_optional(anonymous):
    response = register(anonymous, username="newbie", password="a long enough secret 42")

    assert response.status_code == 201
    assert response.json()["email"] == ""


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"username": "newbie", "password": "short"}, "password", "too short"),
        ({"username": "newbie", "password": "password123"}, "password", "too common"),
        ({"username": "newbie", "password": "83729164508"}, "password", "entirely numeric"),
        ({"username": "newbie", "password": "newbie1234"}, "password", "too similar"),
        ({"username": "newbie"}, "password", "required"),
        ({"password": "a long enough secret 42"}, "username", "required"),
        ({"username": "bad name!", "password": "a long enough secret 42"}, "username", "valid username"),
        ({"username": "x" * 151, "password": "a long enough secret 42"}, "username", "no more than 150"),
        ({"username": "newbie", "password": "a long enough secret 42", "email": "nope"}, "email", "valid email"),
        ({"username": "newbie", "password": 12345678901234}, "password", "Not a valid string"),
        ({"username": 12345, "password": "a long enough secret 42"}, "username", "Not a valid string"),
        ({"username": ["newbie"], "password": "a long enough secret 42"}, "username", "Not a valid string"),
        ({"username": "newbie", "password": "a long enough secret 42", "email": 5}, "email", "valid email"),
    ],
)
def test_registration_rejects_bad_input_with_a_field_error(anonymous, body, field, fragment):
    response = register(anonymous, **body)

    assert response.status_code == 400
    assert fragment in str(response.json()[field])
    assert not User.objects.filter(username="newbie").exists()


def test_registration_rejects_a_taken_username_in_any_case(anonymous, alice):
    for name in ("alice", "ALICE"):
        response = register(anonymous, username=name, password="a long enough secret 42")

        assert response.status_code == 400
        assert "already exists" in str(response.json()["username"])
    assert User.objects.count() == 1


def test_user_search_lists_id_and_username_only(client_for, alice, bob, carol):
    response = client_for(alice).get("/api/users/?search=BO")

    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert response.json()["results"] == [summary(bob)]


@pytest.mark.parametrize(
    ("search", "fragment"),
    [
        (",".join(["a"] * 1000), "at most 10 search terms"),
        ("a" * 50_001, "at most 150 characters"),
        ("a\x00b", "Null characters are not allowed"),
    ],
)
def test_an_unreasonable_search_is_a_400_on_the_search_parameter(client_for, alice, search, fragment):
    response = client_for(alice).get("/api/users/", {"search": search})

    assert response.status_code == 400
    assert fragment in str(response.json()["search"])


def test_several_search_terms_must_all_match(client_for, alice, make_user):
    make_user("bobby")
    make_user("robert")

    body = client_for(alice).get("/api/users/", {"search": "bob by"}).json()

    assert [u["username"] for u in body["results"]] == ["bobby"]


def test_user_list_without_search_is_paginated_and_hides_inactive_users(client_for, alice, bob, carol):
    carol.is_active = False
    carol.save()

    body = client_for(alice).get("/api/users/?limit=1").json()

    assert body["count"] == 2
    assert body["results"] == [summary(alice)]


def test_me_returns_the_caller(client_for, alice):
    assert client_for(alice).get("/api/users/me/").json() == {
        "id": alice.pk, "username": "alice", "email": "", "first_name": "", "last_name": "", "display_name": "alice",
    }


def test_a_user_can_be_looked_up_by_id(client_for, alice, bob):
    assert client_for(alice).get(f"/api/users/{bob.pk}/").json() == summary(bob)
    assert client_for(alice).get("/api/users/424242/").status_code == 404


@pytest.mark.parametrize("path", ["/api/users/", "/api/users/me/", "/api/users/1/"])
def test_user_endpoints_other_than_registration_need_a_token(anonymous, alice, path):
    assert anonymous.get(path).status_code == 401


def obtain(client, username="alice", password="correct horse battery"):
    return client.post("/api/token/", {"username": username, "password": password}, format="json")


def test_token_pair_works_as_a_bearer_token(anonymous, alice):
    tokens = obtain(anonymous).json()
    anonymous.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")

    assert set(tokens) == {"access", "refresh"}
    assert anonymous.get("/api/users/me/").json()["username"] == "alice"


def test_wrong_password_gets_401_and_no_tokens(anonymous, alice):
    response = obtain(anonymous, password="wrong")

    assert response.status_code == 401
    assert "access" not in response.json()


def test_token_request_with_missing_fields_is_a_400(anonymous):
    response = anonymous.post("/api/token/", {"username": "alice"}, format="json")

    assert response.status_code == 400
    assert "password" in response.json()


def test_refresh_rotates_and_the_old_refresh_token_stops_working(anonymous, alice):
    tokens = obtain(anonymous).json()

    rotated = anonymous.post("/api/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    reused = anonymous.post("/api/token/refresh/", {"refresh": tokens["refresh"]}, format="json")

    assert rotated.status_code == 200
    assert set(rotated.json()) == {"access", "refresh"}
    assert rotated.json()["refresh"] != tokens["refresh"]
    assert reused.status_code == 401


def test_verify_accepts_a_valid_token_and_rejects_garbage(anonymous, alice):
    tokens = obtain(anonymous).json()

    assert anonymous.post("/api/token/verify/", {"token": tokens["access"]}, format="json").status_code == 200
    assert anonymous.post("/api/token/verify/", {"token": "not-a-jwt"}, format="json").status_code == 401


def test_blacklist_logs_out_the_refresh_token(anonymous, alice):
    tokens = obtain(anonymous).json()

    logout = anonymous.post("/api/token/blacklist/", {"refresh": tokens["refresh"]}, format="json")
    refresh = anonymous.post("/api/token/refresh/", {"refresh": tokens["refresh"]}, format="json")

    assert logout.status_code == 200
    assert refresh.status_code == 401


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-jwt", "Bearer", "Token abc", "Bearer a.b.c"],
)
def test_a_bad_authorization_header_gets_401_json(anonymous, header):
    anonymous.credentials(HTTP_AUTHORIZATION=header)

    response = anonymous.get("/api/threads/")

    assert response.status_code == 401
    assert "detail" in response.json()


def test_a_token_of_a_deleted_user_gets_401(client_for, make_user):
    doomed = make_user("doomed")
    client = client_for(doomed)
    doomed.delete()

    assert client.get("/api/threads/").status_code == 401


def test_refreshing_the_token_of_a_deleted_account_is_a_401(anonymous, make_user):
    from rest_framework_simplejwt.tokens import RefreshToken

    gone = make_user("gone")
    refresh = str(RefreshToken.for_user(gone))
    gone.delete()

    response = anonymous.post("/api/token/refresh/", {"refresh": refresh}, format="json")

    assert response.status_code == 401
    assert "No active account" in response.json()["detail"]
