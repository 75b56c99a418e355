"""Item 4 of issue 13: failed admin logins are limited per address and per username."""

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def limits(settings):
    settings.ADMIN_LOGIN_MAX_FAILURES_PER_USERNAME = 5
    settings.ADMIN_LOGIN_MAX_FAILURES_PER_ADDRESS = 8
    settings.ADMIN_LOGIN_LOCKOUT_MINUTES = 15


@pytest.fixture
def admin_user(db):
    return User.objects.create_superuser("admin", "admin@example.com", PASSWORD)


def attempt(username="admin", password="wrong guess", address="127.0.0.1"):
    return Client(REMOTE_ADDR=address).post(LOGIN, {"username": username, "password": password})


def test_after_five_failures_the_username_is_locked_even_with_the_right_password(limits, admin_user):
    assert [attempt(address=f"10.0.0.{i}").status_code for i in range(5)] == [200] * 5

    refused = attempt(password=PASSWORD, address="10.0.0.99")

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) == 15 * 60
    assert "admin_login_unlock" in refused.content.decode()
    # Any case of the name is the same name.
    assert attempt(username="ADMIN", password=PASSWORD, address="10.0.0.98").status_code == 429


def test_an_address_is_limited_whatever_usernames_it_tries(limits, admin_user, make_user):
    make_user("alice", is_staff=True)
    for i in range(8):
        assert attempt(username=f"guess{i}").status_code == 200

    assert attempt(username="alice", password=PASSWORD).status_code == 429
    # Another address is not.
    assert attempt(username="alice", password=PASSWORD, address="10.1.1.1").status_code == 302


def test_successful_logins_do_not_count(limits, admin_user):
    for _ in range(10):
        assert attempt(password=PASSWORD).status_code == 302


def test_the_unlock_command_clears_a_username_and_an_address(limits, admin_user):
    for i in range(8):
        attempt(username="admin" if i < 5 else f"nobody{i}")
    assert attempt(password=PASSWORD).status_code == 429

    call_command("admin_login_unlock", "--username", "admin", stdout=StringIO())
    assert attempt(password=PASSWORD, address="10.2.2.2").status_code == 302
    assert attempt(password=PASSWORD).status_code == 429  # the address is still locked
    call_command("admin_login_unlock", "--address", "127.0.0.1", stdout=StringIO())
    assert attempt(password=PASSWORD).status_code == 302


def test_the_lockout_ends_after_its_window(limits, admin_user, monkeypatch):
    import time

    for _ in range(5):
        attempt()
    assert attempt(password=PASSWORD).status_code == 429

    # The in-memory cache expires by the clock.
    later = time.time() + 15 * 60 + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert attempt(password=PASSWORD).status_code == 302
