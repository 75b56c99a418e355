import json
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from threads import selectors
from threads.management.commands.seed_demo import DEMO_PASSWORD
from threads.models import Message, Thread

FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "demo.json"


def test_demo_fixture_loads_into_a_fresh_database(db, anonymous):
    call_command("loaddata", str(FIXTURE), verbosity=0)

    assert User.objects.count() == 6
    assert Thread.objects.filter(kind="direct").count() == 5
    assert all(thread.participants.count() == 2 for thread in Thread.objects.filter(kind="direct"))
    group = Thread.objects.get(kind="group")
    assert (group.title, group.participants.count(), group.memberships.get(role="owner").user.username) == (
        "Design review", 4, "alice"
    )
    assert set(Message.objects.values_list("is_read", flat=True)) == {True, False, None}  # None: group messages
    for thread in Thread.objects.all():
        newest = thread.messages.order_by("-created").first()
        assert newest is None or thread.updated == newest.created
    # The README's demo login works and the data is what a client sees.
    token = anonymous.post("/api/token/", {"username": "bob", "password": DEMO_PASSWORD}, format="json")
    assert token.status_code == 200
    bob = User.objects.get(username="bob")
    assert selectors.unread_count_for_user(user=bob) == 2
    assert User.objects.get(username="admin").is_staff


# reset_sequences: the records are compared with their ids, and PostgreSQL's
# sequences keep counting across the other tests' rolled-back inserts.
@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_demo_fixture_is_what_seed_demo_makes():
    """Fails when seed_demo changed and the fixture was not remade (`make fixture`)."""
    call_command("seed_demo", stdout=StringIO())
    dumped = StringIO()
    call_command(
        "dumpdata", "auth.user", "threads.thread", "threads.membership", "threads.message", natural_foreign=True,
        stdout=dumped,
    )

    def comparable(records):
        for record in records:
            record["fields"].pop("password", None)  # salted: differs on every run
        return records

    assert comparable(json.loads(dumped.getvalue())) == comparable(json.loads(FIXTURE.read_text()))


def test_seed_demo_refuses_a_database_with_data(db, alice):
    with pytest.raises(CommandError, match="empty database only"):
        call_command("seed_demo", stdout=StringIO())


def test_load_demo_loads_an_empty_database_once(db, settings):
    settings.DEBUG = True  # development: with DEBUG off it refuses (accounts/tests/test_demo_accounts.py)
    call_command("load_demo", stdout=StringIO())
    first_password = User.objects.get(username="alice").password
    User.objects.filter(username="alice").update(email="changed@example.com")

    call_command("load_demo", stdout=StringIO())

    assert User.objects.count() == 6
    assert User.objects.get(username="alice").email == "changed@example.com"
    assert User.objects.get(username="alice").password == first_password


def test_the_demo_fixtures_message_counts_are_exact(db):
    call_command("loaddata", str(FIXTURE), verbosity=0)

    for thread in Thread.objects.all():
        assert thread.message_count == thread.messages.count()


def test_dumpdata_of_the_whole_app_loads_back(db, alice, bob, tmp_path):
    from threads import services

    thread, _ = services.thread_get_or_create(user=alice, other=bob)
    services.message_create(thread=thread, sender=bob, text="round trip")
    dumped = StringIO()
    call_command("dumpdata", "auth.user", "threads", stdout=dumped)
    records = json.loads(dumped.getvalue())
    Thread.objects.all().delete()
    User.objects.all().delete()
    fixture = tmp_path / "dump.json"
    fixture.write_text(dumped.getvalue())
    call_command("loaddata", str(fixture), verbosity=0)

    # The participants view is derived, never dumped.
    assert {r["model"] for r in records} == {"auth.user", "threads.thread", "threads.membership", "threads.message"}
    assert set(Thread.objects.get().participants.values_list("username", flat=True)) == {"alice", "bob"}
    assert Message.objects.get().text == "round trip"
