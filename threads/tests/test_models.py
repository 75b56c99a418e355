"""The thread invariants the database keeps, through the ORM and around it:
one direct thread per pair, a direct thread's members fixed, a group's shape."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from threads import services
from threads.models import Membership, Message, Thread


@pytest.fixture
def group(alice, bob, carol):
    return services.group_create(owner=alice, title="Crew", members=[bob, carol])


def test_a_new_direct_thread_has_exactly_its_two_users_as_members(alice, bob):
    thread, _ = services.thread_get_or_create(user=bob, other=alice)

    assert set(thread.participants.all()) == {alice, bob}
    # The pair is stored in id order whatever order it was given in.
    assert (thread.user_low, thread.user_high) == (alice, bob)
    assert thread.updated == thread.created
    assert thread.member_count == 2
    assert set(thread.memberships.values_list("direct_slot", "role")) == {(0, "member"), (1, "member")}


def test_adding_a_third_member_to_a_direct_thread_from_the_orm_is_refused(thread, carol):
    # Like any failed write, it spoils the surrounding transaction: hence the atomic block.
    with pytest.raises(IntegrityError, match="exactly its two participants"), transaction.atomic():
        thread.participants.add(carol)
    with pytest.raises(IntegrityError), transaction.atomic():
        carol.threads.add(thread)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(thread=thread, user=carol)

    assert thread.participants.count() == 2


@pytest.mark.parametrize(
    "change",
    [
        lambda thread, alice, carol: thread.participants.remove(alice),
        lambda thread, alice, carol: thread.participants.clear(),
        lambda thread, alice, carol: thread.participants.set([alice, carol]),
        lambda thread, alice, carol: alice.threads.remove(thread),
        lambda thread, alice, carol: thread.memberships.get(user=alice).delete(),
    ],
    ids=["remove", "clear", "set-other-pair", "reverse-remove", "membership-delete"],
)
def test_removing_or_replacing_direct_members_from_the_orm_is_refused(thread, alice, carol, change):
    with pytest.raises(ValidationError, match="two participants"), transaction.atomic():
        change(thread, alice, carol)

    assert set(thread.participants.values_list("username", flat=True)) == {"alice", "bob"}


def test_the_database_refuses_direct_members_written_around_the_orm(thread, alice, carol):
    table = Membership._meta.db_table
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (thread_id, user_id, role, joined, last_read_message_id, unread_count)"
            " VALUES (%s, %s, 'member', %s, 0, 0)",
            [thread.pk, carol.pk, timezone.now()],
        )
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET user_id = %s WHERE thread_id = %s AND user_id = %s",
                       [carol.pk, thread.pk, alice.pk])
    # A third slot is refused by the unique slot constraint.
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.bulk_create([Membership(thread=thread, user=carol, direct_slot=1)])

    assert set(thread.participants.values_list("username", flat=True)) == {"alice", "bob"}


def test_a_group_takes_members_through_the_orm_but_keeps_one_owner(group, alice, bob, make_user):
    dave = make_user("dave")
    group.participants.add(dave)
    assert group.participants.count() == 4

    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.filter(thread=group, user=bob).update(role="owner")
    # A direct-thread row (with a slot) cannot join a group.
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.bulk_create([Membership(thread=group, user=make_user("erin"), direct_slot=0)])
    assert group.memberships.get(role="owner").user == alice


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "group", "title": "Pair and title"},
        {"kind": "direct", "title": "A title"},
    ],
    ids=["group-with-pair", "direct-with-title"],
)
def test_the_database_refuses_a_thread_of_the_wrong_shape(alice, bob, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        Thread.objects.create(user_low=alice, user_high=bob, **fields)


@pytest.mark.parametrize("title", [None, ""], ids=["no-title", "empty-title"])
def test_the_database_refuses_a_group_without_a_title(db, title):
    with pytest.raises(IntegrityError), transaction.atomic():
        Thread.objects.create(kind="group", title=title)


def test_printing_threads_and_messages_runs_no_queries(thread, group, message_from_alice, django_assert_num_queries):
    plain_thread = Thread.objects.get(pk=thread.pk)
    plain_group = Thread.objects.get(pk=group.pk)
    plain_message = Message.objects.get(pk=message_from_alice.pk)

    with django_assert_num_queries(0):
        assert str(plain_thread) == f"Thread {thread.pk}"
        assert str(plain_group) == "Crew"
        assert str(plain_message) == f"Message {plain_message.pk} in thread {thread.pk}: Hi Bob"
    assert str(Thread.objects.select_related("user_low", "user_high").get(pk=thread.pk)) == "alice & bob"


def test_the_database_refuses_a_second_thread_for_the_same_pair(thread, alice, bob):
    with pytest.raises(IntegrityError), transaction.atomic():
        Thread.objects.create(user_low=alice, user_high=bob)

    assert Thread.objects.count() == 1


def test_the_database_refuses_a_second_thread_for_the_same_pair_in_reverse_order(thread, alice, bob):
    with pytest.raises(IntegrityError), transaction.atomic():
        Thread.objects.create(user_low=bob, user_high=alice)


def test_the_database_refuses_a_thread_with_oneself(alice):
    with pytest.raises(IntegrityError), transaction.atomic():
        Thread.objects.create(user_low=alice, user_high=alice)

    assert not Thread.objects.exists()


def test_the_database_refuses_an_unordered_pair_written_around_save(alice, bob):
    # bulk_create skips Thread.save, so only the check constraint stands in the way.
    with pytest.raises(IntegrityError), transaction.atomic():
        Thread.objects.bulk_create([Thread(user_low=bob, user_high=alice, updated=timezone.now())])


def test_changing_the_pair_of_a_saved_thread_is_refused(thread, carol):
    thread.user_high = carol

    with pytest.raises(ValidationError, match="cannot be changed"):
        thread.save()

    thread.refresh_from_db()
    assert thread.user_high.username == "bob"


def test_the_database_refuses_an_empty_message_text(thread, alice):
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(thread=thread, sender=alice, text="")


def test_deleting_a_user_deletes_their_direct_threads_and_leaves_their_groups(
    thread, group, message_from_alice, alice, bob
):
    services.message_create(thread=group, sender=alice, text="Hello crew")

    alice.delete()

    assert list(Thread.objects.all()) == [group]
    assert not Message.objects.filter(thread_id=thread.pk).exists()
    group.refresh_from_db()
    assert group.member_count == 2
    # Ownership passed to the longest-standing remaining member.
    assert group.memberships.get(role="owner").user == bob
    assert bob.threads.count() == 1
