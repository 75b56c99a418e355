"""Migration 0006 on a database that holds the schema before it (0005) with
data: every thread and its read state move to the membership table with
nothing lost."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from threads import selectors, services
from threads.models import Membership, Message, Thread

BEFORE = [("threads", "0005_thread_last_message_do_nothing")]
AFTER = [("threads", "0006_membership_and_groups")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    if targets is AFTER:
        # 0006 and everything after it (later migrations, other apps' that
        # depend on threads): the current models, which the services use.
        targets = executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_migration_0006_moves_every_thread_and_its_read_state():
    old = migrate(BEFORE)
    User, OldThread, OldMessage = (old.get_model(*name.split(".")) for name in
                                   ("auth.User", "threads.Thread", "threads.Message"))
    alice, bob, carol = (User.objects.create(username=name) for name in ("alice", "bob", "carol"))
    now = timezone.now()
    # (pair, [(sender, is_read)]) in order; unread_low/unread_high filled as 0005's services kept them.
    plans = [((alice, bob), [(alice, True), (bob, True), (alice, False), (bob, False), (bob, False)]),
             ((alice, carol), [(carol, True), (carol, False)]),
             ((bob, carol), [])]
    before = {}
    for (low, high), lines in plans:
        thread = OldThread.objects.create(user_low=low, user_high=high, created=now, updated=now)
        sent = [OldMessage.objects.create(thread=thread, sender=sender, text=f"m{n}", is_read=read, created=now)
                for n, (sender, read) in enumerate(lines)]
        unread = {user.pk: sum(1 for m in sent if not m.is_read and m.sender_id != user.pk) for user in (low, high)}
        OldThread.objects.filter(pk=thread.pk).update(
            message_count=len(sent), last_message=sent[-1] if sent else None,
            unread_low=unread[low.pk], unread_high=unread[high.pk],
        )
        before[thread.pk] = {"messages": [m.pk for m in sent], "unread": unread,
                             "last_message": sent[-1].pk if sent else None, "updated": now}

    migrate(AFTER)

    assert Thread.objects.count() == len(plans)
    for thread in Thread.objects.all():
        expected = before[thread.pk]
        assert (thread.kind, thread.title, thread.member_count) == ("direct", None, 2)
        assert list(thread.messages.order_by("pk").values_list("pk", flat=True)) == expected["messages"]
        assert (thread.last_message_id, thread.updated) == (expected["last_message"], expected["updated"])
        assert thread.message_count == len(expected["messages"])
        assert dict(thread.memberships.values_list("user_id", "unread_count")) == expected["unread"]
        assert set(thread.memberships.values_list("user_id", "direct_slot")) == {
            (thread.user_low_id, 0), (thread.user_high_id, 1)
        }
    # Read positions: the newest message sent to each that they have read.
    ab = Thread.objects.get(user_low_id=alice.pk, user_high_id=bob.pk)
    first, second, *_ = before[ab.pk]["messages"]
    assert dict(ab.memberships.values_list("user_id", "last_read_message_id")) == {alice.pk: second, bob.pk: first}
    assert Thread.objects.get(user_low_id=bob.pk, user_high_id=carol.pk).memberships.filter(
        last_read_message_id=0).count() == 2

    # The migrated data works through the services and selectors as new data does.
    bob_user = ab.participants.get(pk=bob.pk)
    assert selectors.unread_count_for_user(user=bob_user) == 1
    assert services.thread_mark_read(thread=ab, user=ab.participants.get(pk=alice.pk)) == 2
    assert Membership.objects.get(thread=ab, user_id=alice.pk).unread_count == 0
    assert Message.objects.filter(thread=ab, is_read=False).count() == 1


@pytest.mark.django_db(transaction=True)
def test_migration_0006_goes_back_for_direct_threads():
    migrate(AFTER)
    from django.contrib.auth.models import User

    alice, bob, carol = (User.objects.create_user(name) for name in ("alice", "bob", "carol"))
    thread, _ = services.thread_get_or_create(user=alice, other=bob)
    services.message_create(thread=thread, sender=alice, text="hi")
    services.group_create(owner=alice, title="Crew", members=[bob, carol])

    old = migrate(BEFORE)

    OldThread = old.get_model("threads", "Thread")
    assert list(OldThread.objects.values_list("pk", "unread_low", "unread_high")) == [(thread.pk, 0, 1)]
    migrate(AFTER)
