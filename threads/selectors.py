"""Read queries. Everything a request reads about threads and messages is
scoped to a user here, in one place.

The access rule: a thread the user is not a member of does not exist for
them, so every lookup of a thread or of its messages goes through
`thread_get_for_user`, which raises Http404 in both cases alike. Membership
is decided by one table, `Membership`.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import F, FilteredRelation, Q, QuerySet, Sum
from django.http import Http404

from chat_project.prepared import PreparedQuery
from safety import rules as safety_rules

from .models import Membership, Message, Thread
from .rendering import ReadPositions

User = get_user_model()

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


def threads_of_user_id(*, user_id: int) -> QuerySet[Thread]:
    """The threads `user_id` is a member of, each annotated with the
    member's own `my_role`, `unread_count` and `my_last_read` from their
    membership row: the one scope every thread read starts from.

    The membership is joined with the user in the join condition (not in
    WHERE), so a query built on this one can drop its filters (the deferred
    join of `pagination`) and still read the caller's row only.
    """
    return (
        Thread.objects.annotate(mine=FilteredRelation("memberships", condition=Q(memberships__user_id=user_id)))
        .filter(mine__isnull=False)
        .annotate(
            my_role=F("mine__role"), unread_count=F("mine__unread_count"), my_last_read=F("mine__last_read_message_id"),
            muted=F("mine__muted"),  # safety
        )
    )


def threads_visible_to(*, user: AbstractBaseUser) -> QuerySet[Thread]:
    return threads_of_user_id(user_id=user.pk)


# What a rendered user summary reads (rendering.render_user_summary), for
# `.only()`: each name is prefixed with the path to the user.
USER_SUMMARY_FIELDS = ["username", "first_name", "last_name"]


def user_summary_fields(path: str) -> list[str]:
    return [f"{path}__{name}" for name in USER_SUMMARY_FIELDS]


# Only what a rendered thread shows: a page builds several model instances
# per thread, and full user rows are most of their cost.
THREAD_LIST_FIELDS = [
    "kind", "title", "created", "updated", "message_count", "member_count",
    *user_summary_fields("user_low"), *user_summary_fields("user_high"),
    "last_message__thread", "last_message__text", "last_message__created", "last_message__is_read",
    "last_message__client_id", *user_summary_fields("last_message__sender"),
]


def threads_for_user(*, user: AbstractBaseUser) -> QuerySet[Thread]:
    """The user's threads, latest activity first, ready to render (after
    `load_member_previews` for a page's groups): `last_message` (and its
    sender) and a direct thread's pair loaded, the caller's `unread_count`
    annotated from their membership, so a page of threads reads no messages."""
    return (
        threads_visible_to(user=user)
        .select_related("user_low", "user_high", "last_message__sender")
        .only(*THREAD_LIST_FIELDS)
        # safety: a group's last message from someone the user blocks, sent since, is not shown.
        .annotate(last_message_hidden=safety_rules.last_message_hidden(user.pk))
        # The caller's own copy of `updated`: their membership index's order.
        .order_by("-mine__thread_updated", "-mine__thread_id")
    )


def load_member_previews(threads) -> None:
    """Set on each group among `threads` its `member_preview`: the first
    CHAT_GROUP_PREVIEW_MEMBERS members as (user id, username, first name,
    last name: rendering.render_user_fields's arguments), owner first, then
    by joining order; and `last_message_read`: (how many members other than
    its sender have read the last message, how many such members there
    are). One query for all of them, whatever their sizes.

    Raw SQL: the ORM spent ten times longer compiling this window query
    (3.4 ms) than the database spent running it (0.26 ms).
    """
    groups = {thread.pk: thread for thread in threads if thread.is_group}
    if not groups:
        return
    for thread in groups.values():
        thread.member_preview, thread.last_message_read = [], (0, 0)
    quote = connection.ops.quote_name
    other = "m.user_id <> last.sender_id"
    sql = (
        "SELECT ranked.thread_id, ranked.read_count, ranked.others, ranked.user_id, "
        + ", ".join(f"u.{quote(name)}" for name in USER_SUMMARY_FIELDS)
        + " FROM ("
        "  SELECT m.thread_id, m.user_id, ROW_NUMBER() OVER ("
        "    PARTITION BY m.thread_id ORDER BY CASE WHEN m.role = %s THEN 0 ELSE 1 END, m.joined, m.id) AS place,"
        f"   SUM(CASE WHEN {other} AND m.last_read_message_id >= last.id THEN 1 ELSE 0 END)"
        "      OVER (PARTITION BY m.thread_id) AS read_count,"
        f"   SUM(CASE WHEN {other} THEN 1 ELSE 0 END) OVER (PARTITION BY m.thread_id) AS others"
        f"  FROM {quote(Membership._meta.db_table)} m"
        f"  JOIN {quote(Thread._meta.db_table)} t ON t.id = m.thread_id"
        f"  LEFT JOIN {quote(Message._meta.db_table)} last ON last.id = t.last_message_id"
        f"  WHERE m.thread_id IN ({', '.join(['%s'] * len(groups))})"
        f") ranked JOIN {quote(User._meta.db_table)} u ON u.id = ranked.user_id"
        " WHERE ranked.place <= %s ORDER BY ranked.thread_id, ranked.place"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [Membership.Role.OWNER, *groups, settings.CHAT_GROUP_PREVIEW_MEMBERS])
        for thread_id, read_count, others, *member in cursor.fetchall():
            groups[thread_id].member_preview.append(tuple(member))
            groups[thread_id].last_message_read = (read_count or 0, others or 0)


def thread_get_for_user(*, user: AbstractBaseUser, thread_id, annotated: bool = False) -> Thread:
    """The user's thread with this id, or Http404; with `annotated`, as
    `threads_for_user` gives it, ready to render.

    "Not yours" and "does not exist" are the same answer on purpose.
    """
    parsed = parse_id(thread_id)
    if parsed is None:
        raise Http404("No thread with this id.")
    if annotated:
        thread = threads_for_user(user=user).filter(pk=parsed).first()
    else:
        found = _thread_of_user.instances(user_id=user.pk, thread_id=parsed)
        thread = found[0] if found else None
    if thread is None:
        raise Http404("No thread with this id.")
    if annotated:
        load_member_previews([thread])
    return thread


# Every request nested under a thread starts here: prepared once
# (chat_project/prepared.py), the same scope as threads_of_user_id (at
# most one row: one membership per user and thread).
_thread_of_user = PreparedQuery(
    Thread, lambda user_id, thread_id: threads_of_user_id(user_id=user_id).filter(pk=thread_id).order_by()
)


def thread_for_write(*, thread_id) -> Thread:
    """An unloaded reference to a thread (its id only) for a write service
    that checks access itself: the service's first statement locks the
    thread's row only if the caller is a member (services._lock_as_member,
    or the send's INSERT) and answers Http404 otherwise, the same 404 as
    thread_get_for_user, one query fewer than reading the thread first."""
    parsed = parse_id(thread_id)
    if parsed is None:
        raise Http404("No thread with this id.")
    return Thread(pk=parsed)


def member_ids_of_thread(*, thread_id: int) -> list[int]:
    return list(Membership.objects.filter(thread_id=thread_id).values_list("user_id", flat=True))


def memberships_of_thread(*, thread: Thread) -> QuerySet[Membership]:
    """A thread's members by joining order, with their users. The caller must
    have fetched `thread` through `thread_get_for_user`."""
    return (
        Membership.objects.filter(thread=thread)
        .select_related("user")
        .only("thread_id", "role", "joined", "last_read_message_id", *user_summary_fields("user"))
        .order_by("joined", "id")
    )


def read_positions(*, thread_id: int) -> ReadPositions:
    """A group's read positions: every current member's user id -> the id of
    the newest message they have read (at most CHAT_GROUP_MAX_MEMBERS rows)."""
    return dict(Membership.objects.filter(thread_id=thread_id).values_list("user_id", "last_read_message_id"))


def readers_of_message(*, message: Message) -> QuerySet[Membership]:
    """The members other than its sender who have read `message`, by joining
    order: in a group, those whose read position reached it; in a direct
    thread, the recipient once the message is read."""
    members = memberships_of_thread(thread=message.thread).exclude(user_id=message.sender_id)
    if message.thread.is_group:
        return members.filter(last_read_message_id__gte=message.pk)
    return members if message.is_read else members.none()


def messages_for_thread(*, thread: Thread, viewer: AbstractBaseUser | None = None) -> QuerySet[Message]:
    """The thread's messages, newest first. The caller must have fetched
    `thread` through `thread_get_for_user`. With `viewer`, without those
    hidden from them (sent by someone they block, after the block: safety)."""
    messages = Message.objects.filter(thread=thread)
    if viewer is not None:
        messages = messages.exclude(safety_rules.hidden_from(viewer.pk))
    return (
        messages
        .select_related("sender")
        .only("thread", "text", "created", "is_read", "client_id", *user_summary_fields("sender"))
        .order_by("-created", "-id")
    )


def unread_count_for_user(*, user: AbstractBaseUser) -> int:
    """Messages to `user` from others, in all their threads, not yet read."""
    return unread_count_for_user_id(user_id=user.pk)


def unread_count_for_user_id(*, user_id: int) -> int:
    """The sum of the user's membership counters (no message is read)."""
    return unread_counts_for_user_ids(user_ids=[user_id])[user_id]


# Every send reads its recipients' totals: prepared once (chat_project/prepared.py).
_unread_totals = PreparedQuery(
    Membership,
    lambda user_ids: (
        # The partial index membership_unread_idx holds exactly these rows.
        # Muted threads count in their own unread_count only (safety).
        Membership.objects.filter(user_id__in=user_ids, unread_count__gt=0, muted=False)
        .values("user_id")
        .order_by()
        .annotate(total=Sum("unread_count"))
        .values_list("user_id", "total")
    ),
)


def unread_counts_for_user_ids(*, user_ids) -> dict[int, int]:
    """Each user's total unread count, in one query however many users."""
    totals = dict.fromkeys(user_ids, 0)
    if totals:
        totals.update(_unread_totals.rows(user_ids=list(totals)))
    return totals


def thread_unread_counts(*, thread_id: int) -> dict[int, int]:
    """Each member's unread count in one thread."""
    return dict(Membership.objects.filter(thread_id=thread_id).values_list("user_id", "unread_count"))


def contact_ids(*, user_id: int) -> set[int]:
    """Everyone who shares a thread (direct or group) with the user, not the
    user: who hears of their presence (threads.presence). One query."""
    threads = Membership.objects.filter(user_id=user_id).values("thread_id")
    return set(
        Membership.objects.filter(thread_id__in=threads).exclude(user_id=user_id).values_list("user_id", flat=True)
    )
