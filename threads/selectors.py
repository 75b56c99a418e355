"""Read queries. Everything a request reads about threads and messages is
scoped to a user here, in one place.

The access rule: a thread the user does not take part in does not exist for
them, so every lookup of a thread or of its messages goes through
`thread_get_for_user`, which raises Http404 in both cases alike.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, F, Q, QuerySet, Sum, When
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
    """The threads `user` takes part in: the one scope every thread read starts from."""
    return threads_of_user_id(user_id=user.pk)


def threads_of_user_id(*, user_id: int) -> QuerySet[Thread]:
    """`threads_visible_to` by id, for code that holds only the id (events).

    Decided by the pair columns, which the database constrains (the
    `participants` view is derived from them).
    """
    return Thread.objects.filter(Q(user_low_id=user_id) | Q(user_high_id=user_id))


def threads_for_user(*, user: AbstractBaseUser) -> QuerySet[Thread]:
    """The user's threads, latest activity first, with `last_message` (and its
    sender) loaded and `unread_count` (messages to `user` not yet read)
    annotated: both from the thread's own columns, so a page of threads reads
    no messages."""
    return (
        threads_visible_to(user=user)
        .select_related("user_low", "user_high", "last_message__sender")
        # Only what a rendered thread shows: a page builds five model
        # instances per thread, and full user rows are most of their cost.
        .only(*THREAD_LIST_FIELDS)
        .annotate(unread_count=_unread_counter_of(user.pk))
        .order_by("-updated", "-id")
    )


THREAD_LIST_FIELDS = [
    "created", "updated", "message_count", "unread_low", "unread_high",
    "user_low__username", "user_high__username",
    "last_message__thread", "last_message__text", "last_message__created", "last_message__is_read",
    "last_message__client_id", "last_message__sender__username",
]


def _unread_counter_of(user_id: int) -> Case:
    """The thread's counter of messages to `user_id` that are unread."""
    return Case(When(user_low_id=user_id, then=F("unread_low")), default=F("unread_high"))


def thread_get_for_user(*, user: AbstractBaseUser, thread_id, annotated: bool = False) -> Thread:
    """The user's thread with this id, or Http404; with `annotated`, as
    `threads_for_user` gives it, ready to render.

    "Not yours" and "does not exist" are the same answer on purpose.
    """
    parsed = parse_id(thread_id)
    if parsed is None:
        raise Http404("No thread with this id.")
    threads = threads_for_user(user=user) if annotated else threads_visible_to(user=user)
    thread = threads.filter(pk=parsed).first()
    if thread is None:
        raise Http404("No thread with this id.")
    return thread


def messages_for_thread(*, thread: Thread) -> QuerySet[Message]:
    """The thread's messages, newest first. The caller must have fetched
    `thread` through `thread_get_for_user`."""
    return (
        Message.objects.filter(thread=thread)
        .select_related("sender")
        .only("thread", "text", "created", "is_read", "client_id", "sender__username")
        .order_by("-created", "-id")
    )


def unread_count_for_user(*, user: AbstractBaseUser) -> int:
    """Messages addressed to `user`, in all their threads, not yet read."""
    return unread_count_for_user_id(user_id=user.pk)


def unread_count_for_user_id(*, user_id: int) -> int:
    """The sum of the user's threads' unread counters (no message is read)."""
    total = threads_of_user_id(user_id=user_id).aggregate(total=Sum(_unread_counter_of(user_id)))["total"]
    return total or 0


def thread_unread_count_for_user_id(*, user_id: int, thread_id: int) -> int:
    """Messages addressed to `user_id` in one of their threads, not yet read
    (0 for a thread they are not in, or that is gone)."""
    counters = (
        threads_of_user_id(user_id=user_id)
        .filter(pk=thread_id)
        .values_list("user_low_id", "unread_low", "unread_high")
        .first()
    )
    if counters is None:
        return 0
    low_id, unread_low, unread_high = counters
    return unread_low if user_id == low_id else unread_high
