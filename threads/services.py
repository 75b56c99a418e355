"""Writes and the rules they enforce, shared by the API and the admin.

`check_*` functions validate and raise `django.core.exceptions.ValidationError`
(the API answers 400); writes refuse what the rules in `permissions` forbid
with `PermissionDenied` (403). Every write is one transaction.
"""

import uuid
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.http import Http404
from django.utils import timezone

from . import events
from .models import Message, Thread
from .permissions import can_edit_message, can_mark_message_read

User = get_user_model()


def check_thread_pair(*, user: AbstractBaseUser, other: AbstractBaseUser) -> None:
    """A thread is between two different users."""
    if user.pk == other.pk:
        raise ValidationError("A thread needs two different users; you cannot start one with yourself.")


def check_thread_participant_ids(*, user: AbstractBaseUser, participant_ids: Iterable[int]) -> AbstractBaseUser:
    """Resolve a create request's `participants` to the one other user, or explain what is wrong.

    The caller is always a participant; listing the caller's own id is allowed.
    """
    other_ids = sorted({pk for pk in participant_ids} - {user.pk})
    if not other_ids:
        problem = ValidationError(
            "List the id of the other participant: a thread needs two different users and you cannot "
            "start one with yourself.",
            code="no_other_participant",
        )
    elif len(other_ids) > 1:
        problem = ValidationError(
            f"A thread has exactly two participants: you and one other user. "
            f"Got {len(other_ids)} other users ({', '.join(map(str, other_ids[:10]))}"
            f"{', ...' if len(other_ids) > 10 else ''}).",
            code="too_many_participants",
        )
    else:
        other = User.objects.filter(pk=other_ids[0], is_active=True).first()
        if other is not None:
            return other
        problem = ValidationError(f"User {other_ids[0]} does not exist.", code="unknown_user")
    # Keyed by the request field, so the API answers {"participants": [...]}.
    raise ValidationError({"participants": problem})


def check_message_text(text: str) -> str:
    """Return `text` if it is a valid message body, else raise ValidationError."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("Message text cannot be blank.", code="blank")
    limit = settings.CHAT_MESSAGE_MAX_LENGTH
    if len(text) > limit:
        raise ValidationError(
            f"Message text is limited to {limit} characters; this one has {len(text)}.", code="max_length"
        )
    if "\x00" in text:
        raise ValidationError("Message text cannot contain NUL characters.", code="null_characters")
    return text


@transaction.atomic
def thread_get_or_create(*, user: AbstractBaseUser, other: AbstractBaseUser) -> tuple[Thread, bool]:
    """Return the pair's thread and whether it was created now.

    Safe when callers race: the unique pair constraint lets exactly one insert
    win and the others read the winner's thread.
    """
    check_thread_pair(user=user, other=other)
    low, high = sorted([user, other], key=lambda u: u.pk)
    existing = Thread.objects.filter(user_low=low, user_high=high).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            thread = Thread.objects.create(user_low=low, user_high=high)
    except IntegrityError:
        return Thread.objects.get(user_low=low, user_high=high), False
    events.thread_created(thread)
    return thread, True


@transaction.atomic
def threads_delete(*, threads: QuerySet[Thread]) -> int:
    """Delete threads and, with them, all their messages; returns how many threads.

    The threads' rows are locked first, in id order, as message_create and
    messages_delete lock them: a send racing the delete then either lands
    before it (and is deleted with the thread) or finds the thread gone, and
    the two never wait on each other in opposite orders.
    """
    # Lock the thread rows only: `threads` may join users (an admin search),
    # and FOR UPDATE on a join would lock those users' rows too.
    locked = list(
        Thread.objects.select_for_update()
        .filter(pk__in=Subquery(threads.order_by().values("pk")))
        .order_by("pk")
        .values_list("pk", "user_low_id", "user_high_id")
    )
    deleted = Thread.objects.filter(pk__in=[pk for pk, _, _ in locked]).delete()[1]
    events.threads_deleted(locked)
    return deleted.get(Thread._meta.label, 0)


def thread_delete(*, thread: Thread) -> None:
    """Delete one thread and all its messages."""
    threads_delete(threads=Thread.objects.filter(pk=thread.pk))


def message_create(*, thread: Thread, sender: AbstractBaseUser, text: str) -> Message:
    """Post a message and move the thread's `updated` to the message's time."""
    message, _ = message_get_or_create(thread=thread, sender=sender, text=text)
    return message


@transaction.atomic
def message_get_or_create(
    *, thread: Thread, sender: AbstractBaseUser, text: str, client_id: uuid.UUID | None = None
) -> tuple[Message, bool]:
    """Post a message unless `sender` already posted one with `client_id` in
    `thread`; return the message and whether it was created now.

    A retried send (same sender, thread and client_id) gets the original
    message back as it is now, whatever text the retry carries.
    """
    if not thread.has_participant(sender):
        raise PermissionDenied("Only the participants of a thread can post in it.")
    check_message_text(text)
    # Lock the thread so concurrent sends to it take their timestamps in commit
    # order; `updated` then always equals the newest message's `created`. The
    # lock also serialises retries of one client_id: the second finds the first.
    counters = _lock_thread(thread)
    if client_id is not None:
        existing = Message.objects.filter(thread=thread, sender=sender, client_id=client_id).first()
        if existing is not None:
            return existing, False
    fields = {"thread": thread, "sender": sender, "text": text, "created": timezone.now(), "client_id": client_id}
    if client_id is None:
        message = Message.objects.create(**fields)
    else:
        try:
            # The savepoint lets an insert refused by message_unique_client_id
            # fall back to the winner's row (the constraint is the last word).
            with transaction.atomic():
                message = Message.objects.create(**fields)
        except IntegrityError:
            return Message.objects.get(thread=thread, sender=sender, client_id=client_id), False
    unread_of_recipient = Thread.unread_field_for(thread_pair_ids=thread.pair_ids, user_id=_other(thread, sender.pk))
    Thread.objects.filter(pk=thread.pk).update(
        updated=message.created,
        message_count=F("message_count") + 1,
        last_message=message,
        **{unread_of_recipient: F(unread_of_recipient) + 1},
    )
    thread.updated, thread.last_message = message.created, message
    events.message_created(message, recipient_thread_unread=counters[unread_of_recipient] + 1)
    return message, True


@transaction.atomic
def message_update(*, message: Message, editor: AbstractBaseUser, text: str) -> Message:
    """Replace a message's text; only its sender may."""
    if not can_edit_message(user=editor, message=message):
        raise PermissionDenied("Only the sender of a message may change it.")
    return message_set_text(message=message, text=text)


@transaction.atomic
def message_set_text(*, message: Message, text: str) -> Message:
    """Replace a message's text, with no permission check (staff in the admin;
    the API goes through message_update)."""
    text = check_message_text(text)
    _lock_thread(message.thread)
    if not Message.objects.filter(pk=message.pk).update(text=text):
        raise Http404("No message with this id.")  # deleted since the caller fetched it
    message.text = text
    # Read under the lock: the recipient may have marked it read since it was fetched.
    message.is_read = Message.objects.filter(pk=message.pk).values_list("is_read", flat=True).get()
    events.message_updated(message)
    return message


@transaction.atomic
def message_delete(*, message: Message, actor: AbstractBaseUser) -> None:
    """Delete a message; only its sender may."""
    if not can_edit_message(user=actor, message=message):
        raise PermissionDenied("Only the sender of a message may delete it.")
    messages_delete(messages=Message.objects.filter(pk=message.pk))


@transaction.atomic
def messages_delete(*, messages: QuerySet[Message]) -> int:
    """Delete `messages` and keep their threads' `message_count` exact; returns
    how many were deleted. No permission check: the API checks the sender
    first (message_delete), the admin lets staff delete any message."""
    thread_ids = sorted(messages.order_by().values_list("thread_id", flat=True).distinct())
    # Lock the threads in id order, as message_create locks one, so that
    # counts and concurrent sends stay consistent and locks never deadlock.
    locked = Thread.objects.select_for_update().filter(pk__in=thread_ids).order_by("pk").only("user_low", "user_high")
    deleted_total = 0
    for thread in locked:
        doomed = list(messages.filter(thread_id=thread.pk).values_list("pk", "sender_id", "is_read"))
        message_ids = [pk for pk, _, _ in doomed]
        deleted = Message.objects.filter(pk__in=message_ids).delete()[1].get(Message._meta.label, 0)
        changes = {"message_count": _decrement("message_count", deleted), "last_message": Subquery(_newest(thread.pk))}
        for user_id in thread.pair_ids:
            unread_gone = sum(1 for _, sender_id, is_read in doomed if not is_read and sender_id != user_id)
            if unread_gone:
                field = Thread.unread_field_for(thread_pair_ids=thread.pair_ids, user_id=user_id)
                changes[field] = _decrement(field, unread_gone)
        Thread.objects.filter(pk=thread.pk).update(**changes)
        events.messages_deleted(thread=thread, message_ids=message_ids)
        deleted_total += deleted
    return deleted_total


def _decrement(field: str, amount: int):
    # Never below zero, even if data loaded around the services left a
    # counter short (`manage.py recount_messages` puts it right).
    return Greatest(F(field) - amount, 0)


def _newest(thread_id) -> QuerySet[Message]:
    """The id of the thread's newest message, for a subquery (`thread_id` may be an OuterRef)."""
    return Message.objects.filter(thread_id=thread_id).order_by("-created", "-id").values("pk")[:1]


def _other(thread: Thread, user_id: int) -> int:
    low, high = thread.pair_ids
    return high if user_id == low else low


def _lock_thread(thread: Thread) -> dict[str, int]:
    """Take the thread's row lock (before any of its messages', as every write
    does, so that writes never wait on each other in opposite orders); return
    its unread counters as they stand under the lock."""
    counters = Thread.objects.select_for_update().filter(pk=thread.pk).values("unread_low", "unread_high").first()
    if counters is None:
        raise Http404("No thread with this id.")  # deleted since the caller fetched it
    return counters


@transaction.atomic
def threads_recount_messages(*, threads: QuerySet[Thread]) -> int:
    """Set each thread's `message_count`, `last_message` and unread counters
    from its messages (after data was loaded around the services); returns
    how many threads were wrong."""
    per_thread = Message.objects.filter(thread=OuterRef("pk")).order_by().values("thread").annotate(n=Count("id"))

    def unread_to(participant: str):
        unread = per_thread.filter(is_read=False).exclude(sender_id=OuterRef(participant))
        return Coalesce(Subquery(unread.values("n")), 0)

    actual = {
        "message_count": Coalesce(Subquery(per_thread.values("n")), 0),
        "last_message": Subquery(_newest(OuterRef("pk"))),
        "unread_low": unread_to("user_low_id"),
        "unread_high": unread_to("user_high_id"),
    }
    # Lock the threads first (in id order, as every write does), so that no
    # write lands between reading the messages and storing the counts.
    thread_ids = list(
        Thread.objects.select_for_update()
        .filter(pk__in=Subquery(threads.order_by().values("pk")))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    annotated = Thread.objects.filter(pk__in=thread_ids).annotate(
        **{f"actual_{name}": value for name, value in actual.items()}
    )
    # NULL never equals NULL in SQL: a missing last message is right only when there is none.
    right = Q(
        message_count=F("actual_message_count"),
        unread_low=F("actual_unread_low"),
        unread_high=F("actual_unread_high"),
    ) & (Q(last_message=F("actual_last_message")) | Q(last_message__isnull=True, actual_last_message__isnull=True))
    wrong = list(annotated.exclude(right).values_list("pk", flat=True))
    return Thread.objects.filter(pk__in=wrong).update(**actual)


@transaction.atomic
def message_mark_read(*, message: Message, reader: AbstractBaseUser) -> Message:
    """Mark one message read; only its recipient may. Marking twice is harmless."""
    if not can_mark_message_read(user=reader, message=message):
        raise PermissionDenied("Only the recipient of a message may mark it as read.")
    thread = message.thread
    _lock_thread(thread)
    if Message.objects.filter(pk=message.pk, is_read=False).update(is_read=True):
        field = Thread.unread_field_for(thread_pair_ids=thread.pair_ids, user_id=reader.pk)
        Thread.objects.filter(pk=thread.pk).update(**{field: _decrement(field, 1)})
        events.messages_read(thread=thread, reader_id=reader.pk, message_ids=[message.pk])
    message.is_read = True
    return message


@transaction.atomic
def thread_mark_read(*, thread: Thread, user: AbstractBaseUser) -> int:
    """Mark every message the other participant sent in `thread` as read.

    Returns how many messages changed. Sends to the thread wait for its row
    lock, taken first, and the marking is one UPDATE: a message that arrives
    meanwhile is left unread and not counted, and `marked` is exactly what
    changed (the reader's unread counter drops by as much).
    """
    if not thread.has_participant(user):
        raise PermissionDenied("Only the participants of a thread can mark it read.")
    _lock_thread(thread)
    # Raw SQL for RETURNING, which the ORM's update() lacks: the read receipt
    # needs the ids of exactly the rows this statement changed (SQLite >= 3.35
    # and PostgreSQL both have it).
    table = connection.ops.quote_name(Message._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET is_read = %s WHERE thread_id = %s AND NOT is_read AND sender_id <> %s RETURNING id",
            [True, thread.pk, user.pk],
        )
        marked_ids = sorted(row[0] for row in cursor.fetchall())
    if marked_ids:
        field = Thread.unread_field_for(thread_pair_ids=thread.pair_ids, user_id=user.pk)
        Thread.objects.filter(pk=thread.pk).update(**{field: _decrement(field, len(marked_ids))})
        events.messages_read(thread=thread, reader_id=user.pk, message_ids=marked_ids)
    return len(marked_ids)


@transaction.atomic
def messages_set_read(*, messages: QuerySet[Message], is_read: bool) -> int:
    """Staff bulk action: set the read state of `messages`; returns how many changed."""
    thread_ids = sorted(messages.order_by().values_list("thread_id", flat=True).distinct())
    list(Thread.objects.select_for_update().filter(pk__in=thread_ids).order_by("pk").values_list("pk"))
    # Only messages of the threads now locked: rows of other threads (sent
    # since the ids were read) could change under us.
    changing = list(
        messages.filter(thread_id__in=thread_ids)
        .exclude(is_read=is_read)
        .order_by("thread_id", "pk")
        .values_list("pk", "thread_id", "sender_id", "thread__user_low_id", "thread__user_high_id")
    )
    changed = 0
    for start in range(0, len(changing), 500):  # bounded IN lists, whatever the selection
        changed += Message.objects.filter(
            pk__in=[row[0] for row in changing[start : start + 500]], is_read=not is_read
        ).update(is_read=is_read)
    by_thread_and_reader: dict[tuple[int, int, int, int], list[int]] = {}
    for pk, thread_id, sender_id, low, high in changing:
        reader_id = high if sender_id == low else low
        by_thread_and_reader.setdefault((thread_id, low, high, reader_id), []).append(pk)
    notify = events.messages_read if is_read else events.messages_marked_unread
    for (thread_id, low, high, reader_id), message_ids in by_thread_and_reader.items():
        field = Thread.unread_field_for(thread_pair_ids=(low, high), user_id=reader_id)
        counter = _decrement(field, len(message_ids)) if is_read else F(field) + len(message_ids)
        Thread.objects.filter(pk=thread_id).update(**{field: counter})
        thread = Thread(pk=thread_id, user_low_id=low, user_high_id=high)
        notify(thread=thread, reader_id=reader_id, message_ids=message_ids)
    return changed
