"""`manage.py seed_scale` at a tiny scale: the data it writes around the
services keeps every invariant the services keep. (Its speed is the
benchmark's business, never a test's.)"""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count, F, Max

from threads import selectors, services
from threads.management.commands import seed_scale
from threads.management.commands.seed_scale import HOT_USER, PASSWORD, PEER_USER
from threads.models import Message, Thread
from threads.tests.counters import assert_counters_exact

User = get_user_model()

TINY = ["--users", "6", "--threads-per-user", "3", "--messages", "200", "--hot-threads", "4",
        "--hot-thread-messages", "60", "--hot-unread", "5", "--unread-share", "0.1", "--seed", "7"]


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_scale", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_seed_scale_keeps_the_invariants(tmp_path):
    summary_file = tmp_path / "summary.json"
    output = seed(*TINY, "--summary-json", str(summary_file))

    assert "invariants checked" in output  # and it prints progress
    assert User.objects.count() == 6
    assert Thread.objects.count() == 9  # 6 users x 3 / 2
    assert Message.objects.count() == 200
    assert not Message.objects.filter(text="").exists()

    threads = Thread.objects.annotate(n=Count("messages"), newest=Max("messages__created"))
    for thread in threads:
        assert thread.user_low_id < thread.user_high_id
        assert thread.message_count == thread.n
        assert thread.updated == (thread.newest or thread.created)
        assert thread.created <= thread.updated
        assert_counters_exact(thread)  # last_message and both unread counters
    pairs = list(Thread.objects.values_list("user_low_id", "user_high_id"))
    assert len(set(pairs)) == len(pairs)
    # Every sender is a participant of the message's thread.
    assert not Message.objects.exclude(sender=F("thread__user_low")).exclude(sender=F("thread__user_high")).exists()

    hot = User.objects.get(username=HOT_USER)
    peer = User.objects.get(username=PEER_USER)
    assert selectors.threads_visible_to(user=hot).count() == 4
    hot_thread = Thread.objects.get(user_low=min(hot, peer, key=lambda u: u.pk),
                                    user_high=max(hot, peer, key=lambda u: u.pk))
    assert hot_thread.message_count == 60
    assert check_password(PASSWORD, hot.password)

    # 10 % unread: the newest messages of their threads, all from one participant,
    # with the hot thread's newest 5 from scale_peer.
    assert Message.objects.filter(is_read=False).count() == 20
    for thread in Thread.objects.all():
        messages = list(thread.messages.order_by("created", "id").values_list("sender_id", "is_read"))
        flags = [is_read for _, is_read in messages]
        tail = flags.count(False)
        assert flags == [True] * (len(flags) - tail) + [False] * tail
        assert len({sender for sender, is_read in messages if not is_read}) <= 1
    hot_tail = list(hot_thread.messages.order_by("-created", "-id").values_list("sender_id", "is_read")[:5])
    assert hot_tail == [(peer.pk, False)] * 5
    # Ids follow time, as in a live database.
    by_time = list(Message.objects.order_by("created", "id").values_list("id", flat=True))
    assert by_time == sorted(by_time)

    summary = json.loads(summary_file.read_text())
    assert summary["hot_thread_id"] == hot_thread.pk
    assert summary["hot_user_id"] == hot.pk
    assert summary["messages"] == 200
    assert summary["unread"] == 20


@pytest.mark.django_db
def test_seed_scale_leaves_the_app_working():
    """The id sequences moved past the seeded ids: the services insert after them."""
    seed(*TINY)
    hot = User.objects.get(username=HOT_USER)
    thread = selectors.threads_for_user(user=hot).first()
    before = thread.message_count
    message = services.message_create(thread=thread, sender=hot, text="after the seed")
    assert message.pk > Message.objects.exclude(pk=message.pk).aggregate(Max("id"))["id__max"]
    thread.refresh_from_db()
    assert thread.message_count == before + 1
    assert User.objects.create_user("newcomer").pk > hot.pk
    other = User.objects.get(username="newcomer")
    created, _ = services.thread_get_or_create(user=hot, other=other)
    assert created.pk == Thread.objects.aggregate(Max("id"))["id__max"]


@pytest.mark.django_db
def test_seed_scale_is_reproducible_and_refuses_a_database_with_users():
    seed(*TINY)
    first = list(Message.objects.order_by("id").values_list("thread_id", "sender_id", "text", "is_read"))
    with pytest.raises(CommandError, match="already has users"):
        seed(*TINY)
    seed(*TINY, "--flush")
    again = list(Message.objects.order_by("id").values_list("thread_id", "sender_id", "text", "is_read"))
    assert again == first
    assert User.objects.count() == 6


@pytest.mark.django_db
def test_seed_scale_stops_at_a_derived_field_it_does_not_know(monkeypatch):
    """A new counter or pointer on Thread must be taught to seed_scale, never left at its default."""
    monkeypatch.delitem(seed_scale.THREAD_VALUES, "message_count")
    with pytest.raises(CommandError, match=r"Thread\.message_count"):
        seed(*TINY)
    assert not User.objects.exists()  # nothing was kept


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("column", "broken", "invariant"),
    [
        ("unread_low", F("unread_low") + 1, "unread_low or unread_high"),
        ("unread_high", F("unread_high") + 1, "unread_low or unread_high"),
        ("last_message", None, "last_message"),
        ("message_count", F("message_count") + 1, "message_count"),
    ],
)
def test_seed_scale_verification_catches_a_wrong_counter(column, broken, invariant):
    seed(*TINY)
    hot_thread = Thread.objects.order_by("-message_count").first()
    Thread.objects.filter(pk=hot_thread.pk).update(**{column: broken})
    command = seed_scale.Command(stdout=StringIO())
    command.connection, command.started = connection, 0

    with pytest.raises(CommandError, match=f"1 threads whose {invariant}"):
        command.verify()
