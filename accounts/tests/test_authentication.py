"""Bearer tokens: the user is read by a statement compiled once
(accounts.authentication.user_by_id), with every check SimpleJWT makes."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from accounts.authentication import user_by_id

User = get_user_model()
pytestmark = pytest.mark.django_db


def test_user_by_id_loads_every_field_as_the_orm_does(alice, bob):
    alice.first_name, alice.last_login = "Alice", timezone.now() - timedelta(days=2)
    alice.save()
    for user in (alice, bob):
        expected = User.objects.get(pk=user.pk)
        loaded = user_by_id(user.pk)
        for field in User._meta.concrete_fields:
            assert getattr(loaded, field.attname) == getattr(expected, field.attname), field.name
        # Loaded from the database, as a queryset's instances are: saving updates, not inserts.
        assert loaded._state.adding is False
        assert loaded._state.db == "default"
    assert isinstance(user_by_id(str(alice.pk)).date_joined, type(timezone.now()))


def test_user_by_id_is_none_for_an_unknown_or_malformed_id(alice):
    assert user_by_id(alice.pk + 1000) is None
    assert user_by_id("not-a-number") is None


def test_user_by_id_is_one_query(alice, django_assert_num_queries):
    user_by_id(alice.pk)
    with django_assert_num_queries(1):
        assert user_by_id(alice.pk).username == "alice"


def test_a_loaded_user_remembers_its_password_hash_for_the_session_rules(alice):
    # accounts.signals: a post_init receiver; from_db must fire it as a queryset does.
    assert user_by_id(alice.pk)._loaded_password_hash == alice.password


def test_a_valid_token_authenticates_its_user_and_not_another(client_for, alice, bob):
    assert client_for(alice).get("/api/ping/").json() == {"user_id": alice.pk}
    assert client_for(bob).get("/api/ping/").json() == {"user_id": bob.pk}


def test_a_deactivated_users_token_gets_401(client_for, alice, bob):
    client = client_for(alice)
    User.objects.filter(pk=alice.pk).update(is_active=False)
    response = client.get("/api/ping/")
    assert response.status_code == 401
    assert response.json()["code"] == "user_inactive"
    assert client_for(bob).get("/api/ping/").status_code == 200


def test_a_token_from_before_a_password_change_gets_401(client_for, alice):
    client = client_for(alice)
    User.objects.filter(pk=alice.pk).update(password="pbkdf2_sha256$1$x$changed")
    response = client.get("/api/ping/")
    assert response.status_code == 401
    assert response.json()["code"] == "password_changed"


def test_a_token_whose_user_id_is_malformed_gets_401(anonymous, alice):
    token = AccessToken.for_user(alice)
    token["user_id"] = "alice"
    anonymous.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = anonymous.get("/api/ping/")
    assert response.status_code == 401
    assert response.json()["code"] == "user_not_found"
