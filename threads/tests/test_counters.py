"""Thread.message_count, member_count, last_message and every member's
unread count: kept exact by every write, so that lists and counts never read
the messages."""

import pytest
from django.core.management import call_command

from threads import selectors, services
from threads.models import Membership, Message, Thread
from threads.tests.counters import actual_counters, assert_counters_exact, stored_counters


def unread(user, thread):
    return selectors.thread_unread_counts(thread_id=thread.pk)[user.pk]


def test_a_send_moves_last_message_and_counts_it_unread_for_the_recipient_only(thread, alice, bob):
    first = services.message_create(thread=thread, sender=alice, text="one")
    second = services.message_create(thread=thread, sender=alice, text="two")

    thread.refresh_from_db()
    assert thread.last_message == second != first
    assert (unread(bob, thread), unread(alice, thread)) == (2, 0)
    assert_counters_exact(thread)


def test_marking_read_lowers_only_the_readers_counter(thread, alice, bob):
    for text in ("a", "b", "c"):
        services.message_create(thread=thread, sender=alice, text=text)
    reply = services.message_create(thread=thread, sender=bob, text="reply")

    services.message_mark_read(message=Message.objects.filter(sender=alice).first(), reader=bob)
    assert (unread(bob, thread), unread(alice, thread)) == (2, 1)
    services.thread_mark_read(thread=thread, user=bob)
    assert (unread(bob, thread), unread(alice, thread)) == (0, 1)
    services.message_mark_read(message=reply, reader=alice)
    assert_counters_exact(thread)
    assert set(stored_counters(thread)["unread"].values()) == {0}


def test_deleting_messages_fixes_count_last_message_and_unread(thread, alice, bob):
    kept = services.message_create(thread=thread, sender=bob, text="kept")
    newest = services.message_create(thread=thread, sender=alice, text="newest, unread")

    services.message_delete(message=newest, actor=alice)

    thread.refresh_from_db()
    assert (thread.message_count, thread.last_message, unread(bob, thread)) == (1, kept, 0)
    services.message_delete(message=kept, actor=bob)
    thread.refresh_from_db()
    assert (thread.message_count, thread.last_message_id, unread(alice, thread), unread(bob, thread)) == (0, None, 0, 0)


def test_the_admins_bulk_read_state_changes_keep_counters_exact(thread, alice, bob, carol):
    other, _ = services.thread_get_or_create(user=carol, other=alice)
    for sender, where in ((alice, thread), (bob, thread), (carol, other), (alice, other)):
        services.message_create(thread=where, sender=sender, text="x")

    services.messages_set_read(messages=Message.objects.all(), is_read=True)
    assert unread(alice, thread) == unread(bob, thread) == unread(alice, other) == 0
    services.messages_set_read(messages=Message.objects.filter(sender=carol), is_read=False)
    assert unread(alice, other) == 1
    for each in (thread, other):
        assert_counters_exact(each)


@pytest.mark.parametrize(
    "wrong",
    [{"alice": 7}, {"bob": 3}, {"message_count": 9}, {"last_message": None}, {"member_count": 5}],
    ids=["unread-alice", "unread-bob", "message_count", "last_message", "member_count"],
)
def test_recount_messages_repairs_any_wrong_counter(thread, alice, bob, wrong):
    services.message_create(thread=thread, sender=alice, text="one")
    services.message_create(thread=thread, sender=bob, text="two")
    right = actual_counters(thread)
    for name, value in wrong.items():
        if name in ("alice", "bob"):
            Membership.objects.filter(thread=thread, user__username=name).update(unread_count=value)
        else:
            Thread.objects.filter(pk=thread.pk).update(**{name: value})

    call_command("recount_messages", verbosity=0)

    assert stored_counters(thread) == right


def test_recount_leaves_right_threads_and_empty_threads_alone(thread, alice, carol):
    services.thread_get_or_create(user=alice, other=carol)  # no messages
    services.message_create(thread=thread, sender=alice, text="one")

    assert services.threads_recount_messages(threads=Thread.objects.all()) == 0


def test_the_total_unread_count_sums_the_counters(thread, alice, bob, carol):
    other, _ = services.thread_get_or_create(user=bob, other=carol)
    services.message_create(thread=thread, sender=alice, text="to bob")
    services.message_create(thread=other, sender=carol, text="to bob too")
    services.message_create(thread=other, sender=bob, text="to carol")

    assert selectors.unread_count_for_user(user=bob) == 2
    assert selectors.unread_count_for_user(user=carol) == 1
    assert selectors.unread_count_for_user(user=alice) == 0


def test_recount_repairs_counters_of_a_thread_without_messages(thread, alice, bob, carol):
    other, _ = services.thread_get_or_create(user=alice, other=carol)
    stray = services.message_create(thread=other, sender=carol, text="elsewhere")
    Thread.objects.filter(pk=thread.pk).update(last_message=stray)
    Membership.objects.filter(thread=thread).update(unread_count=7)

    assert services.threads_recount_messages(threads=Thread.objects.all()) == 1

    assert stored_counters(thread) == {
        "message_count": 0, "member_count": 2, "last_message_id": None, "unread": {alice.pk: 0, bob.pk: 0},
        "member_activity": {thread.updated},
    }
    assert_counters_exact(other)


def test_group_counters_follow_sends_positions_deletes_and_recount(alice, bob, carol):
    group = services.group_create(owner=alice, title="Crew", members=[bob, carol])
    sent = [services.message_create(thread=group, sender=sender, text=str(i))
            for i, sender in enumerate((alice, alice, bob, carol))]
    # Sending moves the sender's own position: bob has read up to his message.
    assert (unread(alice, group), unread(bob, group), unread(carol, group)) == (2, 1, 0)

    services.message_mark_read(message=sent[2], reader=alice)
    assert unread(alice, group) == 1
    services.message_delete(message=sent[3], actor=carol)
    assert (unread(alice, group), unread(bob, group), unread(carol, group)) == (0, 0, 0)
    assert_counters_exact(group)

    Membership.objects.filter(thread=group).update(unread_count=9)
    Thread.objects.filter(pk=group.pk).update(member_count=1, message_count=0)
    assert services.threads_recount_messages(threads=Thread.objects.all()) == 1
    assert_counters_exact(group)


def test_recount_repairs_a_members_stale_copy_of_the_last_activity(thread, alice, bob):
    services.message_create(thread=thread, sender=alice, text="one")
    Membership.objects.filter(thread=thread, user=bob).update(thread_updated=thread.created)

    assert services.threads_recount_messages(threads=Thread.objects.all()) == 1
    assert_counters_exact(thread)


def test_the_thread_list_follows_each_members_copy_of_the_last_activity(thread, alice, bob, carol, client_for):
    other, _ = services.thread_get_or_create(user=alice, other=carol)
    services.message_create(thread=thread, sender=bob, text="older")
    services.message_create(thread=other, sender=carol, text="newer")
    group = services.group_create(owner=carol, title="Crew", members=[alice])

    listed = [t["id"] for t in client_for(alice).get("/api/threads/").json()["results"]]

    assert listed == [group.pk, other.pk, thread.pk]
    for each in (thread, other, group):
        assert_counters_exact(each)
