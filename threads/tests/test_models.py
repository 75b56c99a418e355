"""The two-participant and unique-pair invariants, through the ORM."""

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from threads.models import Message, Participant, Thread


def test_new_thread_has_exactly_its_two_users_as_participants(alice, bob):
    thread = Thread.objects.create(user_low=bob, user_high=alice)

    assert set(thread.participants.all()) == {alice, bob}
    # The pair is stored in id order whatever order it was given in.
    assert (thread.user_low, thread.user_high) == (alice, bob)
    assert thread.updated == thread.created


def test_adding_a_third_participant_from_the_orm_is_refused(thread, carol):
    # Like any failed write, it spoils the surrounding transaction: hence the atomic block.
    with pytest.raises(ValidationError, match="exactly two participants"), transaction.atomic():
        thread.participants.add(carol)

    assert thread.participants.count() == 2


def test_adding_a_thread_to_an_outsiders_threads_is_refused(thread, carol):
    with pytest.raises(ValidationError, match="exactly two participants"), transaction.atomic():
        carol.threads.add(thread)

    assert not carol.threads.exists()


@pytest.mark.parametrize(
    "change",
    [
        lambda thread, alice, carol: thread.participants.remove(alice),
        lambda thread, alice, carol: thread.participants.clear(),
        lambda thread, alice, carol: thread.participants.set([alice, carol]),
        lambda thread, alice, carol: alice.threads.remove(thread),
    ],
    ids=["remove", "clear", "set-other-pair", "reverse-remove"],
)
def test_removing_or_replacing_participants_is_refused(thread, alice, carol, change):
    with pytest.raises(ValidationError), transaction.atomic():
        change(thread, alice, carol)

    assert set(thread.participants.values_list("username", flat=True)) == {"alice", "bob"}


def test_the_database_refuses_participant_rows_written_around_the_orm(thread, carol):
    with pytest.raises(DatabaseError), transaction.atomic():
        Participant.objects.create(id=10**9, thread=thread, user=carol)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM threads_participant WHERE thread_id = %s", [thread.pk])

    assert thread.participants.count() == 2


def test_participants_follow_the_pair_even_for_threads_written_around_save(alice, bob, carol):
    [bare] = Thread.objects.bulk_create([Thread(user_low=alice, user_high=bob, updated=timezone.now())])
    Thread.objects.filter(pk=bare.pk).update(user_high=carol)

    assert set(bare.participants.all()) == {alice, carol}
    assert set(alice.threads.all()) == {bare}


def test_printing_threads_and_messages_runs_no_queries(thread, message_from_alice, django_assert_num_queries):
    plain_thread = Thread.objects.get(pk=thread.pk)
    plain_message = Message.objects.get(pk=message_from_alice.pk)

    with django_assert_num_queries(0):
        assert str(plain_thread) == f"Thread {thread.pk}"
        assert str(plain_message) == f"Message {plain_message.pk} in thread {thread.pk}: Hi Bob"
    assert str(Thread.objects.select_related("user_low", "user_high").get(pk=thread.pk)) == "alice & bob"


def test_adding_an_existing_participant_again_changes_nothing(thread, alice):
    thread.participants.add(alice)

    assert thread.participants.count() == 2


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
        Thread.objects.bulk_create([Thread(user_low=bob, user_high=alice)])


def test_changing_the_pair_of_a_saved_thread_is_refused(thread, carol):
    thread.user_high = carol

    with pytest.raises(ValidationError, match="cannot be changed"):
        thread.save()

    thread.refresh_from_db()
    assert thread.user_high.username == "bob"


def test_the_database_refuses_an_empty_message_text(thread, alice):
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(thread=thread, sender=alice, text="")


def test_deleting_a_user_deletes_their_threads_and_messages(thread, message_from_alice, alice, bob):
    bob.delete()

    assert not Thread.objects.exists()
    assert not Message.objects.exists()
    assert alice.threads.count() == 0


def test_migrate_rebuilds_the_participant_view_it_dropped(thread, alice, bob):
    # migrate drops the view first so that table rebuilds never trip over it,
    # and makes it again at the end.
    from django.apps import apps
    from django.db.models.signals import post_migrate, pre_migrate

    from threads.apps import ThreadsConfig

    config = apps.get_app_config("threads")
    assert isinstance(config, ThreadsConfig)
    pre_migrate.send(sender=config, app_config=config, verbosity=0, interactive=False, using="default", plan=[],
                     apps=apps)
    with pytest.raises(DatabaseError), transaction.atomic():
        list(thread.participants.all())

    post_migrate.send(sender=config, app_config=config, verbosity=0, interactive=False, using="default", plan=[],
                      apps=apps)

    assert set(thread.participants.all()) == {alice, bob}
