"""`manage.py seed_scale` at a tiny scale: the data it writes around the
services keeps every invariant the services keep. (Its speed is the
benchmark's business, never a test's.)"""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count, Exists, F, Max, OuterRef, Q

from threads import selectors, services
from threads.management.commands import seed_scale
from threads.management.commands.seed_scale import HOT_USER, PASSWORD, PEER_USER
from threads.models import Membership, Message, Thread
from threads.tests.counters import assert_counters_exact

User = get_user_model()

TINY = ["--users", "6", "--threads-per-user", "3", "--messages", "200", "--hot-threads", "4",
        "--hot-thread-messages", "60", "--hot-unread", "5", "--unread-share", "0.1", "--seed", "7"]
# With groups: scale_hot in 3 of 4, the hot group of 5 (of the 6 users) with 50 messages;
# the 200 messages are 60 in the hot thread, 50 in the hot group, 40 in the other groups, 50 direct.
GROUPS = [*TINY, "--groups", "4", "--hot-groups", "3", "--group-members", "3", "--group-messages", "40",
          "--hot-group-members", "5", "--hot-group-messages", "50"]


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
        assert thread.kind == Thread.Kind.DIRECT
        assert thread.title is None
        assert thread.user_low_id < thread.user_high_id
        assert thread.message_count == thread.n
        assert thread.updated == (thread.newest or thread.created)
        assert thread.created <= thread.updated
        assert_counters_exact(thread)  # last_message, member_count and both members' unread counts
        members = list(thread.memberships.order_by("direct_slot").values_list("direct_slot", "user_id", "role"))
        assert members == [(0, thread.user_low_id, "member"), (1, thread.user_high_id, "member")]
        assert set(thread.memberships.values_list("joined", flat=True)) == {thread.created}
    pairs = list(Thread.objects.values_list("user_low_id", "user_high_id"))
    assert len(set(pairs)) == len(pairs)
    # Every sender is a participant of the message's thread.
    assert not Message.objects.exclude(sender=F("thread__user_low")).exclude(sender=F("thread__user_high")).exists()
    # A read position is what the member has seen (as migration 0006 sets it): the newest
    # message they sent or, sent to them, have read.
    for membership in Membership.objects.all():
        seen = Message.objects.filter(Q(sender=membership.user_id) | Q(is_read=True), thread=membership.thread_id)
        assert membership.last_read_message_id == (seen.aggregate(Max("id"))["id__max"] or 0)

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
    assert summary["memberships"] == Membership.objects.count() == 18
    assert summary["groups"] == 0
    assert summary["hot_group_id"] is None


@pytest.mark.django_db
def test_seed_scale_writes_groups_that_keep_the_invariants(tmp_path):
    summary_file = tmp_path / "summary.json"
    output = seed(*GROUPS, "--summary-json", str(summary_file))
    assert "invariants checked" in output
    summary = json.loads(summary_file.read_text())
    hot = User.objects.get(username=HOT_USER)
    peer = User.objects.get(username=PEER_USER)

    assert Thread.objects.filter(kind=Thread.Kind.DIRECT).count() == 9
    groups = Thread.objects.filter(kind=Thread.Kind.GROUP)
    assert groups.count() == 4
    assert Message.objects.count() == 200
    assert Message.objects.filter(thread__kind=Thread.Kind.GROUP).count() == 90 == summary["group_messages"]
    # A group's read state is its members' positions, never a flag; a direct message always has one.
    assert not Message.objects.filter(thread__kind=Thread.Kind.GROUP, is_read__isnull=False).exists()
    assert not Message.objects.filter(thread__kind=Thread.Kind.DIRECT, is_read__isnull=True).exists()
    for thread in Thread.objects.all():
        assert_counters_exact(thread)  # message, member and unread counts, last message: exact
        newest = thread.last_message_id or 0
        for membership in thread.memberships.all():
            assert 0 <= membership.last_read_message_id <= newest
    for group in groups.annotate(newest=Max("messages__created")):
        assert group.title
        assert (group.user_low_id, group.user_high_id) == (None, None)
        assert group.updated == (group.newest or group.created)
        assert list(group.memberships.values_list("role", flat=True)).count("owner") == 1
        assert not group.memberships.filter(direct_slot__isnull=False).exists()
        member_ids = set(group.memberships.values_list("user_id", flat=True))
        assert set(group.messages.values_list("sender_id", flat=True)) <= member_ids
        for membership in group.memberships.all():
            # A sender's position is at least their own newest message (a send moves it there).
            own = group.messages.filter(sender=membership.user_id).aggregate(Max("id"))["id__max"] or 0
            assert membership.last_read_message_id >= own
    # Every sender is a member of the message's thread.
    assert not Message.objects.exclude(
        Exists(Membership.objects.filter(thread=OuterRef("thread"), user=OuterRef("sender")))
    ).exists()

    # scale_hot: the tiny data set's 4 direct threads and 3 groups; the hot group has 5 members
    # (scale_hot owns it, scale_peer is in it) and 50 messages, the newest 5 unread by scale_hot.
    hot_group = Thread.objects.get(pk=summary["hot_group_id"])
    assert hot_group.member_count == summary["hot_group_members"] == 5
    assert hot_group.message_count == summary["hot_group_messages"] == 50
    assert hot_group.memberships.get(user=hot).role == "owner"
    assert hot_group.memberships.filter(user=peer).exists()
    assert hot_group.memberships.get(user=hot).unread_count == summary["hot_group_unread"] == 5
    assert groups.filter(memberships__user=hot).count() == summary["hot_user_groups"] == 3
    assert selectors.threads_visible_to(user=hot).count() == 4 + 3
    assert summary["memberships"] == Membership.objects.count() == 18 + 5 + 3 * 3

    # The app works on it: scale_hot sends to the hot group, scale_peer reads it all.
    message = services.message_create(thread=hot_group, sender=hot, text="after the seed")
    assert message.pk > Message.objects.exclude(pk=message.pk).aggregate(Max("id"))["id__max"]
    assert message.is_read is None
    services.thread_mark_read(thread=hot_group, user=peer)
    assert_counters_exact(hot_group)
    assert hot_group.memberships.get(user=hot).unread_count == 0
    assert hot_group.memberships.get(user=peer).unread_count == 0
    assert services.threads_recount_messages(threads=Thread.objects.all()) == 0


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


def _unread_plus_one(kind):
    def broken():
        membership = Membership.objects.filter(thread__kind=kind).order_by("-thread__message_count", "id").first()
        Membership.objects.filter(pk=membership.pk).update(unread_count=F("unread_count") + 1)

    return broken


def _thread_update(**changes):
    def broken():
        thread = Thread.objects.order_by("-message_count", "id").first()
        Thread.objects.filter(pk=thread.pk).update(**changes)

    return broken


def _stale_member_activity():
    membership = Membership.objects.order_by("id").first()
    Membership.objects.filter(pk=membership.pk).update(thread_updated=F("thread_updated") - timedelta(seconds=1))


def _group_message_with_a_flag():
    message = Message.objects.filter(thread__kind=Thread.Kind.GROUP).order_by("id").first()
    Message.objects.filter(pk=message.pk).update(is_read=False)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("broken", "invariant"),
    [
        (_unread_plus_one(Thread.Kind.DIRECT), "1 direct memberships whose unread_count"),
        (_unread_plus_one(Thread.Kind.GROUP), "1 group memberships whose unread_count"),
        (_thread_update(member_count=F("member_count") + 1), "1 threads whose member_count"),
        (_thread_update(last_message=None), "1 threads whose last_message"),
        (_thread_update(message_count=F("message_count") + 1), "1 threads whose message_count"),
        (_group_message_with_a_flag, "1 messages whose is_read is not NULL in a group"),
        (_stale_member_activity, "1 memberships whose thread_updated"),
    ],
    ids=["direct unread_count", "group unread_count", "member_count", "last_message", "message_count", "group is_read",
         "thread_updated"],
)
def test_seed_scale_verification_catches_a_wrong_counter(broken, invariant):
    seed(*GROUPS)
    broken()
    command = seed_scale.Command(stdout=StringIO())
    command.connection, command.started = connection, 0

    with pytest.raises(CommandError, match=invariant):
        command.verify()
