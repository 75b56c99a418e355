"""Thread.message_count, last_message, unread_low and unread_high: kept exact
by every write, so that lists and counts never read the messages."""

import pytest
from django.core.management import call_command

from threads import selectors, services
from threads.models import Message, Thread
from threads.tests.counters import actual_counters, assert_counters_exact, stored_counters


def unread(user, thread):
    return selectors.thread_unread_count_for_user_id(user_id=user.pk, thread_id=thread.pk)


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
    assert stored_counters(thread)["unread_low"] == stored_counters(thread)["unread_high"] == 0


def test_deleting_messages_fixes_count_last_message_and_unread(thread, alice, bob):
    kept = services.message_create(thread=thread, sender=bob, text="kept")
    newest = services.message_create(thread=thread, sender=alice, text="newest, unread")

    services.message_delete(message=newest, actor=alice)

    thread.refresh_from_db()
    assert (thread.message_count, thread.last_message, unread(bob, thread)) == (1, kept, 0)
    services.message_delete(message=kept, actor=bob)
    thread.refresh_from_db()
    assert (thread.message_count, thread.last_message_id, thread.unread_low, thread.unread_high) == (0, None, 0, 0)


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


@pytest.mark.parametrize("wrong", [{"unread_low": 7}, {"unread_high": 3}, {"message_count": 9}, {"last_message": None}])
def test_recount_messages_repairs_any_wrong_counter(thread, alice, bob, wrong):
    services.message_create(thread=thread, sender=alice, text="one")
    services.message_create(thread=thread, sender=bob, text="two")
    right = actual_counters(thread)
    Thread.objects.filter(pk=thread.pk).update(**wrong)

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
    Thread.objects.filter(pk=thread.pk).update(unread_low=7, unread_high=2, last_message=stray)

    assert services.threads_recount_messages(threads=Thread.objects.all()) == 1

    assert stored_counters(thread) == {"message_count": 0, "last_message_id": None, "unread_low": 0, "unread_high": 0}
    assert_counters_exact(other)
