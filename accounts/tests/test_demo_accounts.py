"""Item 9 of issue 13: the demo accounts must not reach production."""

from io import StringIO

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.checks import check_no_demo_passwords
from accounts.demo import DEMO_PASSWORD, demo_accounts
from threads.management.commands import seed_demo
from threads.tests.server import manage, production_env

pytestmark = pytest.mark.django_db


def load_demo_data():
    call_command("load_demo", "--force", stdout=StringIO())


def test_the_demo_password_is_seed_demos():
    assert DEMO_PASSWORD == seed_demo.DEMO_PASSWORD
    assert set(demo_accounts()) == {"admin", *seed_demo.USERS}


def test_load_demo_refuses_with_debug_off(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DJANGO_DEBUG is off"):
        call_command("load_demo", stdout=StringIO())

    assert not User.objects.exists()


def test_load_demo_with_force_loads_with_debug_off(settings):
    settings.DEBUG = False

    load_demo_data()

    assert User.objects.filter(username="admin", is_superuser=True).exists()


def test_the_check_names_every_active_demo_account_with_the_demo_password():
    load_demo_data()

    [error] = check_no_demo_passwords()

    assert error.id == "accounts.E001"
    assert error.is_serious()
    for name in demo_accounts():
        assert name in error.msg


def test_a_reset_to_the_demo_password_with_a_new_salt_still_counts():
    load_demo_data()
    User.objects.exclude(username="admin").update(is_active=False)
    User.objects.filter(username="admin").update(password=make_password(DEMO_PASSWORD, hasher="pbkdf2_sha256"))

    [error] = check_no_demo_passwords()

    assert "admin" in error.msg


def test_real_passwords_inactive_or_unusable_accounts_pass_the_check():
    load_demo_data()
    admin = User.objects.get(username="admin")
    admin.set_password("a real and long password 1")
    admin.save()
    User.objects.filter(username__in=["alice", "bob"]).update(is_active=False)
    for name in ("carol", "dave", "erin"):
        user = User.objects.get(username=name)
        user.set_unusable_password()
        user.save()

    assert check_no_demo_passwords() == []


@pytest.mark.django_db(transaction=True)
def test_check_deploy_fails_while_the_demo_superuser_exists():
    """`manage.py check --deploy` in a production environment, on this test database."""
    env = production_env()
    clean = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert clean.returncode == 0, clean.stdout + clean.stderr

    refused = manage("load_demo", env=env)
    assert refused.returncode != 0
    assert "DJANGO_DEBUG is off" in refused.stderr
    assert manage("load_demo", "--force", env=env).returncode == 0

    failed = manage("check", "--deploy", env=env)
    assert failed.returncode != 0
    assert "accounts.E001" in failed.stderr
    assert "admin" in failed.stderr
