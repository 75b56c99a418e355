import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.test import override_settings

from threads import services
from threads.models import Message, Thread


def test_thread_get_or_create_creates_once_then_returns_the_same_thread(alice, bob):
    first, created_first = services.thread_get_or_create(user=alice, other=bob)
    second, created_second = services.thread_get_or_create(user=bob, other=alice)

    assert (created_first, created_second) == (True, False)
    assert first.pk == second.pk
    assert Thread.objects.count() == 1


def test_thread_get_or_create_refuses_a_thread_with_oneself(alice):
    with pytest.raises(ValidationError, match="two different users"):
        services.thread_get_or_create(user=alice, other=alice)

    assert not Thread.objects.exists()


def test_check_thread_participant_ids_accepts_the_callers_own_id(alice, bob):
    assert services.check_thread_participant_ids(user=alice, participant_ids=[alice.pk, bob.pk]) == bob
    assert services.check_thread_participant_ids(user=alice, participant_ids=[bob.pk, bob.pk]) == bob


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (lambda a, b, c: [a.pk], "cannot start one with yourself"),
        (lambda a, b, c: [b.pk, c.pk], "exactly two participants"),
        (lambda a, b, c: [a.pk, b.pk, c.pk], "exactly two participants"),
        (lambda a, b, c: [10**6], "User 1000000 does not exist"),
    ],
)
def test_check_thread_participant_ids_explains_what_is_wrong(alice, bob, carol, ids, message):
    with pytest.raises(ValidationError, match=message):
        services.check_thread_participant_ids(user=alice, participant_ids=ids(alice, bob, carol))


def test_check_thread_participant_ids_treats_inactive_users_as_unknown(alice, bob):
    bob.is_active = False
    bob.save()

    with pytest.raises(ValidationError, match="does not exist"):
        services.check_thread_participant_ids(user=alice, participant_ids=[bob.pk])


def test_message_create_moves_thread_updated_to_the_message_time(thread, alice):
    before = thread.updated

    message = services.message_create(thread=thread, sender=alice, text="hello")

    thread.refresh_from_db()
    assert thread.updated == message.created
    assert thread.updated > before
    assert message.is_read is False


def test_message_create_refuses_a_non_participant(thread, carol):
    # Not found, as for the API: a thread you are not in does not exist for you.
    with pytest.raises(Http404):
        services.message_create(thread=thread, sender=carol, text="let me in")

    assert not Message.objects.exists()


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "x" * 11, "nul\x00byte"])
@override_settings(CHAT_MESSAGE_MAX_LENGTH=10)
def test_message_create_refuses_invalid_text_and_writes_nothing(thread, alice, text):
    updated_before = thread.updated

    with pytest.raises(ValidationError):
        services.message_create(thread=thread, sender=alice, text=text)

    thread.refresh_from_db()
    assert not Message.objects.exists()
    assert thread.updated == updated_before


@override_settings(CHAT_MESSAGE_MAX_LENGTH=10)
def test_message_create_accepts_text_at_the_length_limit(thread, alice):
    assert services.message_create(thread=thread, sender=alice, text="x" * 10).text == "x" * 10


def test_only_the_sender_may_update_or_delete_a_message(message_from_alice, alice, bob):
    with pytest.raises(PermissionDenied):
        services.message_update(message=message_from_alice, editor=bob, text="edited by bob")
    with pytest.raises(PermissionDenied):
        services.message_delete(message=message_from_alice, actor=bob)

    services.message_update(message=message_from_alice, editor=alice, text="edited")
    assert Message.objects.get().text == "edited"
    services.message_delete(message=message_from_alice, actor=alice)
    assert not Message.objects.exists()


def test_only_the_recipient_may_mark_a_message_read(message_from_alice, alice, bob, carol):
    for not_recipient, refusal in ((alice, PermissionDenied), (carol, Http404)):
        with pytest.raises(refusal):
            services.message_mark_read(message=message_from_alice, reader=not_recipient)
    assert Message.objects.get().is_read is False

    services.message_mark_read(message=message_from_alice, reader=bob)
    services.message_mark_read(message=message_from_alice, reader=bob)

    assert Message.objects.get().is_read is True


def test_thread_mark_read_marks_only_the_other_participants_messages_and_counts_changes(thread, alice, bob):
    for text in ("one", "two", "three"):
        services.message_create(thread=thread, sender=alice, text=text)
    services.message_create(thread=thread, sender=bob, text="from bob")

    assert services.thread_mark_read(thread=thread, user=bob) == 3
    assert services.thread_mark_read(thread=thread, user=bob) == 0
    assert list(Message.objects.filter(is_read=False).values_list("text", flat=True)) == ["from bob"]


def test_thread_mark_read_refuses_a_non_participant(message_from_alice, thread, carol):
    with pytest.raises(Http404):
        services.thread_mark_read(thread=thread, user=carol)

    assert Message.objects.filter(is_read=False).count() == 1


def test_messages_set_read_reports_only_real_changes(thread, alice, bob):
    first = services.message_create(thread=thread, sender=alice, text="one")
    services.message_create(thread=thread, sender=alice, text="two")
    services.message_mark_read(message=first, reader=bob)

    assert services.messages_set_read(messages=Message.objects.all(), is_read=True) == 1
    assert services.messages_set_read(messages=Message.objects.all(), is_read=False) == 2


def test_message_count_follows_every_send_and_delete(thread, alice, bob, carol):
    other, _ = services.thread_get_or_create(user=alice, other=carol)
    sent = [services.message_create(thread=thread, sender=user, text="x") for user in (alice, bob, alice)]
    services.message_create(thread=other, sender=carol, text="elsewhere")

    services.message_delete(message=sent[0], actor=alice)
    with pytest.raises(PermissionDenied):
        services.message_delete(message=sent[1], actor=alice)
    deleted = services.messages_delete(messages=Message.objects.all())

    assert deleted == 3
    assert [t.message_count for t in Thread.objects.order_by("pk")] == [0, 0]


def test_messages_delete_updates_each_threads_count(thread, alice, bob, carol):
    other, _ = services.thread_get_or_create(user=alice, other=carol)
    for _ in range(3):
        services.message_create(thread=thread, sender=bob, text="x")
        services.message_create(thread=other, sender=carol, text="y")

    two_of_thread = Message.objects.filter(thread=thread).values_list("pk", flat=True)[:2]
    one_of_other = Message.objects.filter(thread=other).values_list("pk", flat=True)[:1]

    services.messages_delete(messages=Message.objects.filter(pk__in=[*two_of_thread, *one_of_other]))

    thread.refresh_from_db()
    other.refresh_from_db()
    assert (thread.message_count, other.message_count) == (1, 2)
    assert (thread.messages.count(), other.messages.count()) == (1, 2)


def test_sending_to_a_thread_deleted_meanwhile_is_not_found(thread, alice):
    Thread.objects.filter(pk=thread.pk).delete()

    with pytest.raises(Http404):
        services.message_create(thread=thread, sender=alice, text="too late")

    assert not Message.objects.exists()


def test_editing_a_message_deleted_meanwhile_is_not_found(message_from_alice, alice):
    services.messages_delete(messages=Message.objects.filter(pk=message_from_alice.pk))

    with pytest.raises(Http404):
        services.message_update(message=message_from_alice, editor=alice, text="too late")


def test_threads_recount_messages_repairs_counts_written_around_the_services(thread, alice, bob, carol):
    other, _ = services.thread_get_or_create(user=alice, other=carol)
    for _ in range(3):
        services.message_create(thread=thread, sender=alice, text="x")
    Thread.objects.update(message_count=0)
    Message.objects.create(thread=other, sender=carol, text="raw insert")

    assert services.threads_recount_messages(threads=Thread.objects.all()) == 2
    assert services.threads_recount_messages(threads=Thread.objects.all()) == 0
    assert sorted(Thread.objects.values_list("message_count", flat=True)) == [1, 3]


def test_deleting_with_a_short_counter_never_goes_below_zero(message_from_alice, thread, alice):
    Thread.objects.update(message_count=0)

    services.message_delete(message=message_from_alice, actor=alice)

    thread.refresh_from_db()
    assert thread.message_count == 0
