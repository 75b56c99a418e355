"""Item 1 of issue 13: one account per name as people read it."""

import importlib
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import IntegrityError, transaction

from accounts.models import UserCanonicalName
from accounts.usernames import canonical, scripts_problem, skeleton
from threads.tests.contract import ContractAPIClient
from threads.tests.test_concurrency import run_at_once

PASSWORD = "a long enough secret 42"


def register(username: str, client=None):
    return (client or ContractAPIClient()).post(
        "/api/users/", {"username": username, "password": PASSWORD}, format="json"
    )


def test_canonical_skeleton_and_scripts():
    assert canonical("ＡＬＩＣＥ") == canonical("ALICE") == canonical("Alice") == "alice"
    assert canonical("ᴬdmin") == "admin"
    assert canonical("Straße") == canonical("STRASSE") == "strasse"
    assert skeleton("аре") == "ape"  # all Cyrillic
    assert skeleton("bob1") == "bob1"  # ASCII is left alone
    assert scripts_problem("аlice") is not None  # Cyrillic a, Latin lice
    assert scripts_problem("Αlpha") is not None  # Greek capital alpha
    assert scripts_problem("alice_42") is None
    assert scripts_problem("борис") is None
    assert scripts_problem("山田たろう") is None  # Han with Hiragana: Japanese


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("taken", "attempt", "fragment"),
    [
        ("alice", "ＡＬＩＣＥ", "already exists"),  # fullwidth: was a 201 storing ALICE
        ("admin", "ᴬdmin", "already exists"),  # modifier letter: was stored as Admin
        ("alice", "ALICE", "already exists"),
        ("strasse", "Straße", "already exists"),
        ("alice", "аlice", "one script"),  # Cyrillic a
        ("ape", "аре", "looks too much like"),  # all Cyrillic
        ("poe", "рое", "looks too much like"),
    ],
)
def test_a_variant_or_look_alike_of_a_taken_name_is_a_400(make_user, taken, attempt, fragment):
    make_user(taken)

    response = register(attempt)

    assert response.status_code == 400, response.json()
    assert fragment in " ".join(response.json()["username"])
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_registration_stores_the_nfkc_form_and_its_canonical_name():
    response = register("Ｎｅｗｂｉｅ")

    assert response.status_code == 201
    assert response.json()["username"] == "Newbie"
    assert UserCanonicalName.objects.get(user__username="Newbie").canonical == "newbie"


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["борис", "山田たろう", "Zoë", "ἀλέξανδρος"])
def test_names_in_one_script_are_welcome(name):
    assert register(name).status_code == 201


@pytest.mark.django_db
def test_a_name_too_long_once_normalized_is_a_400_not_a_database_error():
    # U+FDFA is one character that NFKC turns into eighteen.
    response = register("\ufdfa" * 10)

    assert response.status_code == 400
    assert "no more than 150" in " ".join(response.json()["username"])


@pytest.mark.django_db(transaction=True)
def test_racing_registrations_of_case_variants_make_one_account():
    """Four variants of one new name at once, five rounds: each round one 201."""
    for round_number in range(5):
        variants = [f"race{round_number}q", f"RACE{round_number}Q", f"Race{round_number}q", f"rAce{round_number}q"]

        responses = run_at_once(len(variants), lambda i, variants=variants: register(variants[i]))

        assert sorted(r.status_code for r in responses) == [201, 400, 400, 400]
        assert UserCanonicalName.objects.filter(canonical=f"race{round_number}q").count() == 1
    assert User.objects.count() == 5


@pytest.mark.django_db
def test_every_path_that_creates_a_user_fills_the_canonical_name(admin_client):
    User.objects.create_user("Orm")
    call_command("createsuperuser", "--no-input", username="Root", email="r@example.com", stdout=StringIO())
    response = admin_client.post(
        "/admin/auth/user/add/",
        {"username": "Added", "password1": PASSWORD, "password2": PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302

    names = dict(UserCanonicalName.objects.values_list("user__username", "canonical"))
    assert names == {"admin": "admin", "Orm": "orm", "Root": "root", "Added": "added"}


@pytest.mark.django_db
def test_loading_the_demo_fixture_fills_the_canonical_names():
    call_command("load_demo", "--force", stdout=StringIO())

    names = set(UserCanonicalName.objects.values_list("canonical", flat=True))
    assert names == {"admin", "alice", "bob", "carol", "dave", "erin"}


@pytest.mark.django_db
def test_renaming_a_user_updates_its_canonical_name_and_the_database_refuses_a_duplicate(make_user):
    alice = make_user("alice")
    alice.username = "Alicia"
    alice.save()
    assert UserCanonicalName.objects.get(user=alice).canonical == "alicia"

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("ALICIA")


@pytest.mark.django_db
def test_the_data_migration_fills_existing_users_and_keeps_old_collisions_working():
    # bulk_create sends no post_save: users as they were before the migration.
    User.objects.bulk_create([User(username="alice"), User(username="ALICE"), User(username="bob")])
    migration = importlib.import_module("accounts.migrations.0002_fill_canonical_names")

    migration.fill(apps, None)

    names = dict(UserCanonicalName.objects.values_list("user__username", "canonical"))
    alice_upper = User.objects.get(username="ALICE")
    assert names == {"alice": "alice", "ALICE": f"alice#{alice_upper.pk}", "bob": "bob"}


@pytest.mark.django_db
def test_the_admin_refuses_a_canonical_duplicate_as_a_form_error(admin_client, make_user):
    alice = make_user("straße")

    added = admin_client.post(
        "/admin/auth/user/add/",
        {"username": "STRASSE", "password1": PASSWORD, "password2": PASSWORD, "usable_password": "true"},
    )
    bob = make_user("bob")
    renamed = admin_client.post(
        f"/admin/auth/user/{bob.pk}/change/",
        {"username": "Straße", "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"},
    )

    assert added.status_code == 200
    assert "already exists" in added.content.decode()
    assert renamed.status_code == 200
    assert "already exists" in renamed.content.decode()
    assert set(User.objects.values_list("username", flat=True)) == {"admin", alice.username, "bob"}


@pytest.mark.django_db
def test_a_dump_with_the_canonical_names_loads_back(make_user, tmp_path):
    make_user("Alice")
    dump = tmp_path / "dump.json"
    call_command("dumpdata", "accounts", "auth.user", output=str(dump), verbosity=0)  # rows before users
    User.objects.all().delete()

    call_command("loaddata", str(dump), verbosity=0)

    assert UserCanonicalName.objects.get().canonical == "alice"
