"""Read queries. Everything a request reads about threads and messages is
scoped to a user here, in one place.

The access rule: a thread the user does not take part in does not exist for
them, so every lookup of a thread or of its messages goes through
`thread_get_for_user`, which raises Http404 in both cases alike.
"""

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from .models import Message, Thread

# The largest id a database integer column holds (signed 64 bit). Ids from a
# URL or a query string are checked against it before they reach SQL:
# SQLite raises OverflowError for anything larger.
MAX_ID = 2**63 - 1


def parse_id(raw, *, minimum: int = 1) -> int | None:
    """Return `raw` (an int or a string of ASCII digits) as a whole number from
    `minimum` to the largest 64-bit id, or None if it is not one."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 19:
        value = int(raw)
    else:
        return None
    return value if minimum <= value <= MAX_ID else None


def threads_visible_to(*, user: AbstractBaseUser) -> QuerySet[Thread]:
    """The threads `user` takes part in: the one scope every thread read starts from.

    Decided by the pair columns, which the database constrains (the
    `participants` view is derived from them).
    """
    return Thread.objects.filter(Q(user_low=user) | Q(user_high=user)).select_related("user_low", "user_high")


def threads_for_user(*, user: AbstractBaseUser) -> QuerySet[Thread]:
    """The user's threads, latest activity first, each annotated with
    `last_message_id` and `unread_count` (messages to `user` not yet read).

    Call `attach_last_messages` on the page you render to load `last_message`
    for all of it in one query (`thread_get_for_user(annotated=True)` does so
    for one thread).
    """
    newest_message = Message.objects.filter(thread=OuterRef("pk")).order_by("-created", "-id").values("id")[:1]
    unread_messages = (
        Message.objects.filter(thread=OuterRef("pk"), is_read=False)
        .exclude(sender_id=user.pk)
        .order_by()
        .values("thread")
        .annotate(total=Count("id"))
        .values("total")
    )
    return (
        threads_visible_to(user=user)
        .annotate(
            last_message_id=Subquery(newest_message, output_field=IntegerField()),
            unread_count=Coalesce(Subquery(unread_messages, output_field=IntegerField()), Value(0)),
        )
        .order_by("-updated", "-id")
    )


def attach_last_messages(threads: Iterable[Thread]) -> list[Thread]:
    """Set `thread.last_message` (a Message with its sender, or None) on each
    thread from `threads_for_user`, in one query for all of them."""
    threads = list(threads)
    wanted = [t.last_message_id for t in threads if t.last_message_id is not None]
    by_id = Message.objects.select_related("sender").in_bulk(wanted) if wanted else {}
    for thread in threads:
        thread.last_message = by_id.get(thread.last_message_id)
    return threads


def thread_get_for_user(*, user: AbstractBaseUser, thread_id, annotated: bool = False) -> Thread:
    """The user's thread with this id, or Http404; with `annotated`, carrying
    the annotations of `threads_for_user` and its `last_message`, ready to render.

    "Not yours" and "does not exist" are the same answer on purpose.
    """
    parsed = parse_id(thread_id)
    if parsed is None:
        raise Http404("No thread with this id.")
    threads = threads_for_user(user=user) if annotated else threads_visible_to(user=user)
    thread = threads.filter(pk=parsed).first()
    if thread is None:
        raise Http404("No thread with this id.")
    if annotated:
        attach_last_messages([thread])
    return thread


def messages_for_thread(*, thread: Thread) -> QuerySet[Message]:
    """The thread's messages, newest first. The caller must have fetched
    `thread` through `thread_get_for_user`."""
    return Message.objects.filter(thread=thread).select_related("sender").order_by("-created", "-id")


def unread_count_for_user(*, user: AbstractBaseUser) -> int:
    """Messages addressed to `user`, in all their threads, not yet read."""
    return unread_count_for_user_id(user_id=user.pk)


def unread_count_for_user_id(*, user_id: int) -> int:
    return (
        Message.objects.filter(Q(thread__user_low_id=user_id) | Q(thread__user_high_id=user_id), is_read=False)
        .exclude(sender_id=user_id)
        .count()
    )


def thread_unread_count_for_user_id(*, user_id: int, thread_id: int) -> int:
    """Messages addressed to `user_id` in one of their threads, not yet read."""
    return Message.objects.filter(thread_id=thread_id, is_read=False).exclude(sender_id=user_id).count()
