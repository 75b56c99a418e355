"""Writes and the rules they enforce, shared by the API and the admin.

`check_*` functions validate and raise `django.core.exceptions.ValidationError`
(the API answers 400); writes refuse what the rules in `permissions` forbid
with `PermissionDenied` (403), and a thread or member that is not there, or
a caller who is not (or no longer) a member, with Http404. Every write is one transaction that takes the
thread's row lock first, so writes to one thread never interleave and never
wait on each other in opposite orders; the counters they keep (the thread's
message and member counts, each member's unread count) are exact.
"""

import uuid
from collections.abc import Iterable
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Greatest
from django.http import Http404
from django.utils import timezone

from accounts.usernames import canonical
from chat_project.prepared import PreparedQuery, prepared_cursor
from safety import rules as safety_rules

from . import events
from .models import Membership, Message, Thread
from .permissions import (
    can_delete_message,
    can_delete_thread,
    can_edit_message,
    can_manage_group,
    can_mark_message_read,
    can_remove_member,
    can_set_role,
)

User = get_user_model()
Role = Membership.Role


# Checks.


def check_thread_pair(*, user: AbstractBaseUser, other: AbstractBaseUser) -> None:
    """A direct thread is between two different users."""
    if user.pk == other.pk:
        raise ValidationError("A thread needs two different users; you cannot start one with yourself.")


def check_participant_references(references: Iterable[int | str]) -> list[int]:
    """User ids for `participants` that name users by id or by username (in
    any case or compatibility form: usernames are unique in canonical form);
    unknown or deactivated usernames are a ValidationError naming them."""
    ids = [reference for reference in references if isinstance(reference, int)]
    names = {canonical(reference): reference for reference in references if isinstance(reference, str)}
    if names:
        found = dict(
            User.objects.filter(canonical_name__canonical__in=names, is_active=True).values_list(
                "canonical_name__canonical", "pk"
            )
        )
        unknown = [name for key, name in names.items() if key not in found]
        if unknown:
            raise ValidationError({"participants": ValidationError(
                f"No user is called {', '.join(unknown[:10])}{', ...' if len(unknown) > 10 else ''}.",
                code="unknown_user",
            )})
        ids.extend(found.values())
    return ids


def check_thread_participant_ids(*, user: AbstractBaseUser, participant_ids: Iterable[int]) -> AbstractBaseUser:
    """Resolve a direct thread's `participants` to the one other user, or explain what is wrong.

    The caller is always a participant; listing the caller's own id is allowed.
    """
    other_ids = sorted(set(participant_ids) - {user.pk})
    if not other_ids:
        problem = ValidationError(
            "List the id of the other participant: a thread needs two different users and you cannot "
            "start one with yourself.",
            code="no_other_participant",
        )
    elif len(other_ids) > 1:
        problem = ValidationError(
            f"A direct thread has exactly two participants: you and one other user. "
            f"Got {len(other_ids)} other users ({_some(other_ids)}); "
            f'for more, create a group ("kind": "group").',
            code="too_many_participants",
        )
    else:
        other = (
            User.objects.filter(pk=other_ids[0], is_active=True)
            .annotate(blocks_caller=safety_rules.blocks(OuterRef("pk"), user.pk))  # safety: same query
            .first()
        )
        if other is not None:
            if other.blocks_caller:
                raise PermissionDenied(safety_rules.CANT_MESSAGE)
            return other
        problem = ValidationError(f"User {other_ids[0]} does not exist.", code="unknown_user")
    # Keyed by the request field, so the API answers {"participants": [...]}.
    raise ValidationError({"participants": problem})


def check_group_title(title) -> str:
    """A group's title, trimmed: 1 to 100 characters."""
    if not isinstance(title, str) or not title.strip():
        problem = ValidationError("A group needs a title.", code="blank")
    elif len(title.strip()) > 100:
        problem = ValidationError(
            f"A title is at most 100 characters; this one has {len(title.strip())}.", code="max_length"
        )
    elif "\x00" in title:
        problem = ValidationError("A title cannot contain NUL characters.", code="null_characters")
    else:
        return title.strip()
    raise ValidationError({"title": problem})


def check_group_member_ids(*, owner: AbstractBaseUser, member_ids: Iterable[int]) -> list[AbstractBaseUser]:
    """Resolve a new group's `participants` to its members other than the
    owner (who may list themselves), or explain what is wrong."""
    other_ids = sorted(set(member_ids) - {owner.pk})
    limit = settings.CHAT_GROUP_MAX_MEMBERS
    if len(other_ids) + 1 > limit:
        raise ValidationError(
            {"participants": ValidationError(
                f"A group has at most {limit} members, you included; this one would have {len(other_ids) + 1}.",
                code="too_many_members",
            )}
        )
    candidates = User.objects.filter(pk__in=other_ids, is_active=True)
    candidates = candidates.annotate(blocks_owner=safety_rules.blocks(OuterRef("pk"), owner.pk))  # safety
    found = {user.pk: user for user in candidates}
    unknown = [pk for pk in other_ids if pk not in found]
    if unknown:
        raise ValidationError(
            {"participants": ValidationError(f"Unknown or inactive users: {_some(unknown)}.", code="unknown_user")}
        )
    if any(user.blocks_owner for user in found.values()):
        raise PermissionDenied(safety_rules.CANT_MESSAGE)
    return [found[pk] for pk in other_ids]


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


def _some(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:10])) + (", ..." if len(ids) > 10 else "")


# Locks.


def _lock_thread(thread: Thread) -> dict:
    """Take the thread's row lock (before any of its messages' or members',
    as every write does); return its row as it stands under the lock."""
    row = (
        Thread.objects.select_for_update(of=("self",))
        .filter(pk=thread.pk)
        .values("kind", "updated", "last_message_id", "member_count", "user_low_id", "user_high_id")
        .first()
    )
    if row is None:
        raise Http404("No thread with this id.")  # deleted since the caller fetched it
    row["role"] = row["unread_count"] = row["last_read"] = None
    return row


def _lock_for(thread: Thread, actor: AbstractBaseUser | None) -> dict:
    """Lock the thread for a write by `actor`, a member, or with no actor by staff (no rule applies)."""
    return _lock_thread(thread) if actor is None else _lock_as_member(thread, actor)


def _lock_as_member(thread: Thread, user: AbstractBaseUser, *, blocks: bool = False) -> dict:
    """Lock the thread for a write by `user`, who must (still) be a member:
    someone who is not, or was removed while their request waited, gets the
    same 404 as for a thread that does not exist. Returns the thread's row
    and the member's `role`, `unread_count` and `last_read` position.

    One statement locks the thread's row and then the member's (PostgreSQL
    locks in FROM order, so the thread first, as every write does): a
    statement that waited for a row lock rereads the rows it locks, so both
    are as the write ahead of it left them. On SQLite the IMMEDIATE
    transaction already holds the database's write lock.

    With `blocks` (safety), also `blocker`: in a direct thread, the id of a
    participant who blocks the other, or None. Read by the same statement,
    so from its snapshot: a block that commits while the send waits for the
    lock is not seen here, but the counting UPDATE after it sees it (the
    message is then hidden from the blocker and not counted for them).
    """
    found = (_lock_as_member_with_blocker if blocks else _lock_as_member_query).dicts(
        thread_id=thread.pk, user_id=user.pk
    )
    if not found:
        raise Http404("No thread with this id.")
    return found[0]


def _lock_as_member_queryset(*, blocks: bool):
    extra = {"blocker": safety_rules.direct_blocker()} if blocks else {}  # safety
    return lambda thread_id, user_id: (
        Thread.objects.select_for_update()
        .filter(pk=thread_id, memberships__user_id=user_id)
        .values(
            "kind", "updated", "last_message_id", "member_count", "user_low_id", "user_high_id",
            role=F("memberships__role"), unread_count=F("memberships__unread_count"),
            last_read=F("memberships__last_read_message_id"), **extra,
        )
        .order_by()[:1]
    )  # fmt: skip


# What _lock_as_member returns, by name: the thread's row (t) and the member's (m).
_MEMBER_ROW_COLUMNS = {
    "kind": "t.kind", "updated": "t.updated", "last_message_id": "t.last_message_id",
    "member_count": "t.member_count", "user_low_id": "t.user_low_id", "user_high_id": "t.user_high_id",
    "role": "m.role", "unread_count": "m.unread_count", "last_read": "m.last_read_message_id",
}  # fmt: skip
# Whether the member has anything to mark: something unread, or a read position behind the newest message.
_HAS_SOMETHING_TO_MARK = "(m.unread_count > 0 OR COALESCE(t.last_message_id, 0) > m.last_read_message_id)"


def _member_row_sql() -> tuple[str, str]:
    """The SELECT list of _MEMBER_ROW_COLUMNS and the FROM ... WHERE that
    finds the rows (parameters: the thread's id, the user's)."""
    quote = connection.ops.quote_name
    threads, memberships = quote(Thread._meta.db_table), quote(Membership._meta.db_table)
    selected = ", ".join(f"{column} AS {name}" for name, column in _MEMBER_ROW_COLUMNS.items())
    rows = f"FROM {threads} t JOIN {memberships} m ON m.thread_id = t.id WHERE t.id = %s AND m.user_id = %s"
    return selected, rows


def _lock_as_member_to_mark_read(thread: Thread, user: AbstractBaseUser) -> dict:
    """_lock_as_member for marking a thread read, which has nothing to do
    when the member has nothing unread and their position is the newest
    message: on PostgreSQL the rows are then read but not locked. A row
    lock is a write (it takes a transaction id), so every no-op mark-read,
    the most common kind (clients mark a thread read on opening it), paid
    for a commit that flushes the WAL to disk. One statement either way:
    the locking part (`locked`) returns, and locks, the rows only when
    there is work, reread as they are once locked; `current` is the
    snapshot's and the access check (404 when the user is not a member).
    PostgreSQL only: SQLite's is _catch_up_on_sqlite."""
    selected, rows = _member_row_sql()
    # The locked row when there is one (reread after the lock), else the snapshot's.
    chosen = ", ".join(f"CASE WHEN l.kind IS NULL THEN c.{name} ELSE l.{name} END" for name in _MEMBER_ROW_COLUMNS)
    with prepared_cursor(connection) as cursor:
        cursor.execute(
            f"WITH current AS (SELECT {selected} {rows}),"
            f" locked AS (SELECT {selected} {rows} AND {_HAS_SOMETHING_TO_MARK} FOR UPDATE OF t, m)"
            f" SELECT {chosen} FROM current c LEFT JOIN locked l ON true",
            [thread.pk, user.pk, thread.pk, user.pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise Http404("No thread with this id.")
    return dict(zip(_MEMBER_ROW_COLUMNS, row, strict=True))


def _catch_up_on_sqlite(thread: Thread, user: AbstractBaseUser) -> dict | None:
    """On SQLite, where the IMMEDIATE transaction holds the write lock: if
    `user` is a member with something to mark, move their read position to
    the thread's newest message and set their unread count to 0, and return
    the rows as they were before (_lock_as_member's dict); else None (not a
    member, or nothing to mark: nothing is written).

    One statement, so that marking a direct thread read is 3 queries (the
    user, this, the UPDATE of the messages' flags): SQLite has no
    data-modifying WITH to join the two UPDATEs, and RETURNING gives only
    the new values. The old ones come from `before`, a MATERIALIZED CTE,
    which SQLite computes once per statement, when it is first read: the
    WHERE reads it (a subquery with no reference to the row, so evaluated
    once, before any row is changed), and RETURNING reads the same copy."""
    selected, rows = _member_row_sql()
    memberships = connection.ops.quote_name(Membership._meta.db_table)
    with prepared_cursor(connection) as cursor:
        cursor.execute(
            f"WITH before AS MATERIALIZED (SELECT {selected}, {_HAS_SOMETHING_TO_MARK} AS has_work {rows})"
            f" UPDATE {memberships} SET unread_count = 0,"
            "  last_read_message_id = MAX(last_read_message_id, (SELECT COALESCE(last_message_id, 0) FROM before))"
            " WHERE thread_id = %s AND user_id = %s AND (SELECT has_work FROM before)"
            " RETURNING " + ", ".join(f"(SELECT {name} FROM before)" for name in _MEMBER_ROW_COLUMNS),
            [thread.pk, user.pk, thread.pk, user.pk],
        )
        row = cursor.fetchone()
    return None if row is None else dict(zip(_MEMBER_ROW_COLUMNS, row, strict=True))


# Every write to a thread starts with it: prepared once (chat_project/prepared.py).
_lock_as_member_query = PreparedQuery(Thread, _lock_as_member_queryset(blocks=False), for_write=True)
_lock_as_member_with_blocker = PreparedQuery(Thread, _lock_as_member_queryset(blocks=True), for_write=True)


# Threads.


@transaction.atomic
def thread_get_or_create(*, user: AbstractBaseUser, other: AbstractBaseUser) -> tuple[Thread, bool]:
    """Return the pair's direct thread and whether it was created now.

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
            thread = Thread.objects.create(user_low=low, user_high=high, member_count=2)
    except IntegrityError:
        return Thread.objects.get(user_low=low, user_high=high), False
    Membership.objects.bulk_create(
        [
            Membership(
                thread=thread, user=member, direct_slot=slot, joined=thread.created, thread_updated=thread.updated
            )
            for slot, member in enumerate((low, high))
        ]
    )
    events.thread_created(thread, member_ids=[low.pk, high.pk])
    return thread, True


@transaction.atomic
def group_create(*, owner: AbstractBaseUser, title: str, members: list[AbstractBaseUser]) -> Thread:
    """Create a group thread: `owner` owns it, `members` (checked by
    check_group_member_ids) join as members. Always a new group."""
    title = check_group_title(title)
    if len(members) + 1 > settings.CHAT_GROUP_MAX_MEMBERS:
        raise ValidationError({"participants": f"A group has at most {settings.CHAT_GROUP_MAX_MEMBERS} members."})
    thread = Thread.objects.create(kind=Thread.Kind.GROUP, title=title, member_count=len(members) + 1)
    # The owner's row first: joining order is (joined, id).
    joined = {"joined": thread.created, "thread_updated": thread.updated}
    Membership.objects.bulk_create(
        [Membership(thread=thread, user=owner, role=Role.OWNER, **joined)]
        + [Membership(thread=thread, user=member, role=Role.MEMBER, **joined) for member in members]
    )
    events.thread_created(thread, member_ids=[owner.pk, *(member.pk for member in members)])
    return thread


@transaction.atomic
def group_rename(*, thread: Thread, actor: AbstractBaseUser | None, title: str) -> Thread:
    """Change a group's title: its owner and admins (no actor: staff)."""
    if not thread.is_group:
        raise ValidationError({"title": "A direct thread has no title; only groups can be renamed."})
    locked = _lock_for(thread, actor)
    if actor is not None and not can_manage_group(thread=thread, role=locked["role"]):
        raise PermissionDenied("Only the group's owner and admins may rename it.")
    title = check_group_title(title)
    Thread.objects.filter(pk=thread.pk).update(title=title)
    thread.title = title
    events.thread_updated(thread)
    return thread


@transaction.atomic
def threads_delete(*, threads: QuerySet[Thread]) -> int:
    """Delete threads and, with them, their messages and memberships; returns
    how many threads. No permission check (staff in the admin; the API goes
    through thread_delete with an actor).

    The threads' rows are locked first, in id order, as every write locks
    them: a send racing the delete then either lands before it (and is
    deleted with the thread) or finds the thread gone.
    """
    # Lock the thread rows only: `threads` may join users (an admin search),
    # and FOR UPDATE on a join would lock those users' rows too.
    locked = list(
        Thread.objects.select_for_update()
        .filter(pk__in=Subquery(threads.order_by().values("pk")))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return _delete_locked_threads(locked)


@transaction.atomic
def thread_delete(*, thread: Thread, actor: AbstractBaseUser | None = None) -> None:
    """Delete one thread and everything in it: a direct thread by either
    participant, a group by its owner; with no `actor`, staff (no check)."""
    locked = _lock_for(thread, actor)
    if actor is not None and not can_delete_thread(thread=thread, role=locked["role"]):
        raise PermissionDenied("Only the group's owner may delete it; members leave it instead.")
    _delete_locked_threads([thread.pk])


def _delete_locked_threads(thread_ids: list[int]) -> int:
    """Delete threads whose rows the caller has locked, and tell their members."""
    members: dict[int, list[int]] = {pk: [] for pk in thread_ids}
    for thread_id, user_id in Membership.objects.filter(thread_id__in=thread_ids).values_list("thread_id", "user_id"):
        members[thread_id].append(user_id)
    # Django's cascade deletes each thread's messages and memberships in one
    # statement each (nothing refers to them that would need a fetch).
    deleted = Thread.objects.filter(pk__in=thread_ids).delete()[1]
    events.threads_deleted(members)
    return deleted.get(Thread._meta.label, 0)


# Members.


def _check_group(thread: Thread) -> None:
    if not thread.is_group:
        raise ValidationError("A direct thread has exactly its two participants; members can change only in groups.")


def _membership_of(thread: Thread, user_id: int) -> Membership:
    membership = Membership.objects.filter(thread=thread, user_id=user_id).select_related("user").first()
    if membership is None:
        raise Http404("No member with this id.")
    return membership


@transaction.atomic
def member_add(*, thread: Thread, actor: AbstractBaseUser | None, user_id: int) -> Membership:
    """Add a user to a group (its owner and admins; no actor: staff): a
    member with the whole history to read and nothing unread. The group's
    row lock makes the CHAT_GROUP_MAX_MEMBERS limit exact when adds race."""
    _check_group(thread)
    locked = _lock_for(thread, actor)
    if actor is not None and not can_manage_group(thread=thread, role=locked["role"]):
        raise PermissionDenied("Only the group's owner and admins may add members.")
    candidates = User.objects.filter(pk=user_id, is_active=True)
    if actor is not None:  # safety: nobody adds someone who blocks them (same query)
        candidates = candidates.annotate(blocks_actor=safety_rules.blocks(OuterRef("pk"), actor.pk))
    user = candidates.first()
    if user is None:
        raise ValidationError({"user": ValidationError(f"User {user_id} does not exist.", code="unknown_user")})
    if actor is not None and user.blocks_actor:
        raise PermissionDenied(safety_rules.CANT_MESSAGE)
    if Membership.objects.filter(thread=thread, user=user).exists():
        raise ValidationError({"user": ValidationError(f"{user.username} is already a member.", code="already_member")})
    limit = settings.CHAT_GROUP_MAX_MEMBERS
    if locked["member_count"] >= limit:
        raise ValidationError({"user": ValidationError(f"The group is full ({limit} members).", code="group_full")})
    membership = Membership.objects.create(
        thread=thread, user=user, role=Role.MEMBER, last_read_message_id=locked["last_message_id"] or 0,
        thread_updated=locked["updated"],
    )
    Thread.objects.filter(pk=thread.pk).update(member_count=F("member_count") + 1)
    thread.member_count = locked["member_count"] + 1
    events.member_added(thread, membership)
    return membership


@transaction.atomic
def member_set_role(*, thread: Thread, actor: AbstractBaseUser | None, user_id: int, role: str) -> Membership:
    """Change a member's role (the owner only; no actor: staff). Making
    someone `owner` hands ownership over: the old owner becomes an admin."""
    _check_group(thread)
    if role not in Role.values:
        raise ValidationError({"role": f"A role is one of {', '.join(Role.values)}."})
    locked = _lock_for(thread, actor)
    if actor is not None and not can_set_role(role=locked["role"]):
        raise PermissionDenied("Only the group's owner may change roles.")
    target = _membership_of(thread, user_id)
    if target.role == role:
        return target
    if target.role == Role.OWNER:
        raise ValidationError({"role": "The owner stays owner until another member is made owner (or they leave)."})
    changed = []
    if role == Role.OWNER:
        # The old owner steps down first: at most one owner at any moment.
        old_owner = Membership.objects.select_related("user").get(thread=thread, role=Role.OWNER)
        Membership.objects.filter(pk=old_owner.pk).update(role=Role.ADMIN)
        old_owner.role = Role.ADMIN
        changed.append(old_owner)
    Membership.objects.filter(pk=target.pk).update(role=role)
    target.role = role
    changed.append(target)
    events.members_updated(thread, changed)
    return target


@transaction.atomic
def member_remove(*, thread: Thread, actor: AbstractBaseUser | None, user_id: int) -> None:
    """Take a member out of a group: a member leaves, the owner or an admin
    removes someone (see permissions.can_remove_member; no actor: staff). An
    owner who goes hands the group to the longest-standing admin, else the
    longest-standing member; the last member to go deletes the group and its
    messages."""
    _check_group(thread)
    locked = _lock_for(thread, actor)
    target = _membership_of(thread, user_id)
    if actor is None:
        if target.role == Role.OWNER:
            raise ValidationError("Nobody removes a group's owner: make another member owner first.")
    elif not can_remove_member(user=actor, role=locked["role"], target=target):
        raise PermissionDenied("You may not remove this member.")
    if locked["member_count"] <= 1:
        _delete_locked_threads([thread.pk])
        return
    Membership.objects.filter(pk=target.pk).delete()
    Thread.objects.filter(pk=thread.pk).update(member_count=F("member_count") - 1)
    thread.member_count = locked["member_count"] - 1
    successor = None
    if target.role == Role.OWNER:
        successor = (
            Membership.objects.filter(thread=thread)
            .select_related("user")
            .order_by(F("role").asc(), "joined", "id")  # "admin" sorts before "member"
            .first()
        )
        Membership.objects.filter(pk=successor.pk).update(role=Role.OWNER)
        successor.role = Role.OWNER
    events.member_removed(thread, target)
    if successor is not None:
        events.members_updated(thread, [successor])


def user_remove_from_all_threads(*, user: AbstractBaseUser) -> None:
    """Before a user is deleted: delete their direct threads, delete what
    they wrote in groups (the database would cascade it, around the counters)
    and leave their groups."""
    threads_delete(threads=Thread.objects.filter(kind=Thread.Kind.DIRECT, memberships__user=user))
    messages_delete(messages=Message.objects.filter(sender=user))
    for thread in Thread.objects.filter(kind=Thread.Kind.GROUP, memberships__user=user):
        member_remove(thread=thread, actor=user, user_id=user.pk)


# Messages.


def message_create(*, thread: Thread, sender: AbstractBaseUser, text: str) -> Message:
    """Post a message and move the thread's `updated` to the message's time."""
    message, _ = message_get_or_create(thread=thread, sender=sender, text=text)
    return message


def message_get_or_create(
    *, thread: Thread, sender: AbstractBaseUser, text: str, client_id: uuid.UUID | None = None
) -> tuple[Message, bool]:
    """Post a message unless `sender` already posted one with `client_id` in
    `thread`; return the message and whether it was created now (see
    messages_get_or_create)."""
    sent = messages_get_or_create(thread=thread, sender=sender, items=[(text, client_id)])
    return sent.messages[0], sent.created[0]


class SentMessages(NamedTuple):
    """What a send stored or found: `messages` in the order they were given,
    `created[i]` whether messages[i] is new, and every member's read position
    after the send (None when nothing was new: no member's row changed)."""

    messages: list[Message]
    created: list[bool]
    positions: dict[int, int] | None


def check_message_batch(items: list[tuple[str, uuid.UUID | None]]) -> None:
    """A batch is 1 to CHAT_MESSAGE_BATCH_MAX messages, each with valid text,
    and no client_id twice; a problem names the item's index."""
    limit = settings.CHAT_MESSAGE_BATCH_MAX
    if not 1 <= len(items) <= limit:
        raise ValidationError(
            {"messages": f"Send 1 to {limit} messages at a time; this batch has {len(items)}."}
        )
    if len(items) == 1:
        check_message_text(items[0][0])
        return
    first_with: dict[uuid.UUID, int] = {}
    for index, (text, client_id) in enumerate(items):
        try:
            check_message_text(text)
        except ValidationError as exc:
            raise ValidationError({"messages": f"Item {index}: {exc.messages[0]}"}) from None
        if client_id is not None:
            if client_id in first_with:
                raise ValidationError(
                    {"messages": f"Items {first_with[client_id]} and {index} have the same client_id; "
                     "each message needs its own."}
                )
            first_with[client_id] = index


@transaction.atomic
def messages_get_or_create(
    *, thread: Thread, sender: AbstractBaseUser, items: list[tuple[str, uuid.UUID | None]]
) -> SentMessages:
    """Post `items` ((text, client_id) pairs) in order, all or nothing,
    except those `sender` already posted with the same client_id in
    `thread`: a retry gets the original message back as it is now, whatever
    text it carries, and stores nothing twice. A sender who is not (or no
    longer) a member gets Http404 and nothing is stored.

    Each new message adds one to every other member's unread count and, in a
    group, moves the sender's read position to it (they have seen the
    thread). Three statements whatever the batch's size (one INSERT for all
    the messages; a send that races a block or a membership change may take
    two or three more); `thread` may be a bare `Thread(pk=...)`: its kind
    and the fields a send changes are filled in from the rows.
    """
    check_message_batch(items)
    inserted = _insert_messages(thread, sender, items)
    existing: dict[uuid.UUID, Message] | None = None
    if not any(inserted):
        # Nothing was stored: every item is a retry, or the sender may not
        # post here (not a member: 404; safety: a block either way closes
        # a direct thread: 403), or could not when the INSERT read the rows.
        thread.kind = _check_may_post(thread, sender)["kind"]
        existing = _sent_before(thread, sender, [client_id for _, client_id in items])
        if any(client_id not in existing for _, client_id in items):
            # Not all retries, and no reason to refuse: the INSERT was
            # refused by rows that changed since it read them (a block
            # lifted, the sender added to the group). The thread's lock is
            # held now, and every write to those rows takes it first, so
            # the INSERT and the check below read the same rows.
            inserted = _insert_messages(thread, sender, items)
            if not any(inserted):
                # Refused again: the rows changed once more while the check
                # above waited for the lock (a block put back), which its
                # statement, reading them as they were when it began, did
                # not see. Asked again it does not wait, and answers 403.
                _check_may_post(thread, sender)
    new = [message for message in inserted if message is not None]
    positions = None
    if new:
        newest = new[-1]
        members, is_group, hidden_from = _count_sent_messages(
            thread, sender_id=sender.pk, sent=len(new), newest=newest
        )
        if sender.pk not in members:
            # Removed while the request waited for the lock (the INSERT's
            # membership check read the rows as they were before): undo all.
            raise Http404("No thread with this id.")
        thread.kind = Thread.Kind.GROUP if is_group else Thread.Kind.DIRECT
        thread.updated, thread.last_message = newest.created, newest
        for message in new:
            message.is_read = None if is_group else False
        positions = {user_id: position for user_id, (_, position) in members.items()}
        events.messages_created(new, members=members, hidden_from=hidden_from)
    missing = [client_id for message, (_, client_id) in zip(inserted, items, strict=True) if message is None]
    if existing is None:
        existing = _sent_before(thread, sender, missing)
    messages = [
        message or existing[client_id] for message, (_, client_id) in zip(inserted, items, strict=True)
    ]
    return SentMessages(messages, [message is not None for message in inserted], positions)


def _check_may_post(thread: Thread, sender: AbstractBaseUser) -> dict:
    """Lock the thread for a send by `sender` (_lock_as_member): 404 for a
    non-member, 403 when a block closes the direct thread."""
    locked = _lock_as_member(thread, sender, blocks=True)
    if locked["blocker"] is not None:
        raise PermissionDenied(safety_rules.refusal(blocker_id=locked["blocker"], sender_id=sender.pk))
    return locked


def _sent_before(thread: Thread, sender: AbstractBaseUser, client_ids: list[uuid.UUID | None]) -> dict:
    """`sender`'s messages in `thread` with these client_ids, by client_id
    (no query when there are none: None is never looked up)."""
    wanted = [client_id for client_id in client_ids if client_id is not None]
    if not wanted:
        return {}
    found = {}
    for message in Message.objects.filter(thread_id=thread.pk, sender_id=sender.pk, client_id__in=wanted):
        message.thread, message.sender = thread, sender  # no query to render them
        found[message.client_id] = message
    return found


def _insert_messages(
    thread: Thread, sender: AbstractBaseUser, items: list[tuple[str, uuid.UUID | None]]
) -> list[Message | None]:
    """Insert the items as `sender`'s messages in `thread` in one statement
    that first takes the thread's row lock and checks that the sender is a
    member; returns each item's new message, or None where none was stored:
    its client_id was sent before (ON CONFLICT on message_unique_client_id),
    or the thread is not the sender's, or is a direct thread closed by a
    block (then every item is None).

    The lock comes first, inside the INSERT (... SELECT FROM the thread FOR
    UPDATE: PostgreSQL; on SQLite the IMMEDIATE transaction holds the write
    lock), so concurrent sends take their ids and timestamps in commit
    order: `created` is never before the thread's `updated`, as it was left
    by the send ahead, and `updated` always equals the newest message's
    `created`. It also serialises retries of one client_id.
    """
    postgres = connection.vendor == "postgresql"
    quote = connection.ops.quote_name
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    text_type, uuid_type = ("text", "uuid") if postgres else ("text", "text")
    rows, params = [], []
    for index, (text, client_id) in enumerate(items):
        rows.append(f"SELECT CAST(%s AS {text_type}) AS text, CAST(%s AS {uuid_type}) AS client_id, {index} AS ord")
        params += [text, None if client_id is None else (client_id if postgres else client_id.hex)]
    group = Thread.Kind.GROUP
    sql = (
        f"INSERT INTO {quote(Message._meta.db_table)} (thread_id, sender_id, text, created, client_id, is_read)"
        f" SELECT t.id, %s, v.text, CASE WHEN t.updated > %s THEN t.updated ELSE %s END, v.client_id,"
        f" CASE WHEN t.kind = '{group}' THEN NULL ELSE %s END"
        f" FROM {quote(Thread._meta.db_table)} t CROSS JOIN ({' UNION ALL '.join(rows)}) v"
        f" WHERE t.id = %s AND EXISTS (SELECT 1 FROM {quote(Membership._meta.db_table)} m"
        "  WHERE m.thread_id = t.id AND m.user_id = %s)"
        f" AND NOT {safety_rules.pair_blocked_sql('t')}"  # safety: a block either way closes a direct thread
        " ORDER BY v.ord"
        + (" FOR UPDATE OF t" if postgres else "")
        + " ON CONFLICT (thread_id, sender_id, client_id) WHERE client_id IS NOT NULL DO NOTHING"
        " RETURNING id, client_id, created"
    )
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, [sender.pk, now, now, False, *params, thread.pk, sender.pk])
        # RETURNING's order is not promised: ids follow the insertion order (ORDER BY ord).
        returned = sorted(cursor.fetchall())
    stored = {pk: _from_db("created", created) for pk, _, created in returned}
    inserted_client_ids = {_from_db("client_id", client_id) for _, client_id, _ in returned if client_id is not None}
    fresh = iter(sorted(stored))
    result: list[Message | None] = []
    for text, client_id in items:
        if not returned or (client_id is not None and client_id not in inserted_client_ids):
            result.append(None)
            continue
        pk = next(fresh)
        message = Message(pk=pk, thread=thread, sender=sender, text=text, created=stored[pk], client_id=client_id)
        message._state.adding, message._state.db = False, connection.alias
        result.append(message)
    return result


def _from_db(field_name: str, value):
    """A Message column's value as raw SQL returned it, converted as the ORM
    would (SQLite gives datetimes and UUIDs back as text)."""
    field = Message._meta.get_field(field_name)
    for converter in connection.ops.get_db_converters(field.get_col(Message._meta.db_table)):
        value = converter(value, field, connection)
    return value


def _execute_after(cursor, before: tuple[str, list], statement: str, params: list) -> None:
    """Run the UPDATE `before` (SQL, parameters), then `statement`, whose
    rows the caller fetches. On PostgreSQL they are one statement, `before`
    a data-modifying WITH: one round trip fewer. SQLite has no such WITH,
    so there they are two, in the caller's transaction."""
    sql, before_params = before
    if connection.vendor == "postgresql":
        cursor.execute(f"WITH done_before AS ({sql}) {statement}", [*before_params, *params])
    else:
        cursor.execute(sql, before_params)
        cursor.execute(statement, params)


def _thread_activity_sql(thread: Thread, *, sent: int, newest: Message) -> tuple[str, list]:
    """The UPDATE of the thread's `updated`, `message_count` and
    `last_message` after `sent` new messages, `newest` the last: the ORM's
    `.update(updated=..., message_count=F(...) + sent, last_message=...)`
    as SQL written once, since compiling that queryset on every send cost
    more than the statement itself (docs/benchmarks.md)."""
    table = connection.ops.quote_name(Thread._meta.db_table)
    return (
        f"UPDATE {table} SET updated = %s, message_count = message_count + %s, last_message_id = %s WHERE id = %s",
        [connection.ops.adapt_datetimefield_value(newest.created), sent, newest.pk, thread.pk],
    )


def _count_sent_messages(
    thread: Thread, *, sender_id: int, sent: int, newest: Message
) -> tuple[dict[int, tuple[int, int]], bool, set[int]]:
    """`sent` more unread messages for every member but the sender, and the
    thread's new last activity on every member's row; in a group the
    sender's read position moves to `newest` (they have seen the thread:
    nothing before it is unread for them). Direct threads keep their
    per-message flags: the sender's own unread messages stay unread until
    marked. Returns every member's (unread count, read position) as the
    statement left them (RETURNING: no second query), whether the thread is
    a group (its memberships have no direct_slot), and (safety) the members
    who block the sender: their count stays as it was and they get no event.

    The thread's own row gets its new activity (`_thread_activity_sql`)
    first, in the same statement on PostgreSQL (`_execute_after`; the
    send's INSERT holds the thread's lock already).
    """
    table = connection.ops.quote_name(Membership._meta.db_table)
    blocks_sender = safety_rules.blocks_sender_sql(f"{table}.user_id")  # safety: in the same statement
    created = connection.ops.adapt_datetimefield_value(newest.created)
    with prepared_cursor(connection) as cursor:
        _execute_after(
            cursor,
            _thread_activity_sql(thread, sent=sent, newest=newest),
            f"UPDATE {table} SET thread_updated = %s,"
            " unread_count = CASE WHEN user_id = %s THEN (CASE WHEN direct_slot IS NULL THEN 0 ELSE unread_count END)"
            f"  WHEN {blocks_sender} THEN unread_count ELSE unread_count + %s END,"
            " last_read_message_id = CASE WHEN user_id = %s AND direct_slot IS NULL THEN %s"
            "  ELSE last_read_message_id END"
            " WHERE thread_id = %s RETURNING user_id, unread_count, last_read_message_id, direct_slot,"
            f" CASE WHEN {blocks_sender} THEN 1 ELSE 0 END",
            [
                created, sender_id, sender_id, created, sent,
                sender_id, newest.pk, thread.pk, sender_id, created,
            ],
        )
        rows = cursor.fetchall()
    members = {user_id: (unread, position) for user_id, unread, position, _, _ in rows}
    hidden_from = {user_id for user_id, _, _, _, blocks in rows if blocks}
    return members, any(slot is None for _, _, _, slot, _ in rows), hidden_from


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
    """Delete a message: its sender, or in a group its owner and admins."""
    locked = _lock_as_member(message.thread, actor)
    if not can_delete_message(user=actor, message=message, role=locked["role"]):
        raise PermissionDenied("Only the sender of a message (or a group's owner and admins) may delete it.")
    _delete_messages_of_locked_thread(message.thread, [message.pk])


@transaction.atomic
def messages_delete(*, messages: QuerySet[Message]) -> int:
    """Delete `messages` and keep their threads' counters exact; returns how
    many were deleted. No permission check: the API checks first
    (message_delete), the admin lets staff delete any message."""
    thread_ids = sorted(messages.order_by().values_list("thread_id", flat=True).distinct())
    # Lock the threads in id order, as every write locks one, so that counts
    # and concurrent sends stay consistent and locks never deadlock.
    locked = Thread.objects.select_for_update().filter(pk__in=thread_ids).order_by("pk").only("kind")
    deleted = 0
    for thread in locked:
        message_ids = list(messages.filter(thread_id=thread.pk).values_list("pk", flat=True))
        deleted += _delete_messages_of_locked_thread(thread, message_ids)
    return deleted


def _delete_messages_of_locked_thread(thread: Thread, message_ids: list[int]) -> int:
    """Delete these messages of a thread whose row the caller has locked."""
    # Before the rows go: each member loses the doomed messages that were unread for them.
    unread_for_member = Message.objects.filter(pk__in=message_ids).exclude(sender_id=OuterRef("user_id"))
    # safety: a message hidden from a member (they block its sender) was never unread for them.
    unread_for_member = unread_for_member.exclude(safety_rules.hidden_from(OuterRef(OuterRef("user_id"))))
    if thread.is_group:
        unread_for_member = unread_for_member.filter(pk__gt=OuterRef("last_read_message_id"))
    else:
        unread_for_member = unread_for_member.filter(is_read=False)
    gone = unread_for_member.order_by().values("thread").annotate(n=Count("id")).values("n")
    Membership.objects.filter(thread=thread).update(
        unread_count=Greatest(F("unread_count") - Coalesce(Subquery(gone), 0), 0)
    )
    deleted = Message.objects.filter(pk__in=message_ids).delete()[1].get(Message._meta.label, 0)
    Thread.objects.filter(pk=thread.pk).update(
        message_count=_decrement("message_count", deleted), last_message=Subquery(_newest(thread.pk))
    )
    events.messages_deleted(thread=thread, message_ids=message_ids)
    return deleted


def _decrement(field: str, amount: int):
    # Never below zero, even if data loaded around the services left a
    # counter short (`manage.py recount_messages` puts it right).
    return Greatest(F(field) - amount, 0)


def _newest(thread_id) -> QuerySet[Message]:
    """The id of the thread's newest message, for a subquery (`thread_id` may be an OuterRef)."""
    return Message.objects.filter(thread_id=thread_id).order_by("-created", "-id").values("pk")[:1]


# Read state.


def _caught_up_sql(thread_id: int, user_id: int, *, to: int) -> tuple[str, list]:
    """_move_position(..., unread_count=0) as SQL written once: the member
    has read everything up to `to` (never back). Marking a thread read runs
    it on every call; compiling the ORM's UPDATE cost more than running it."""
    table = connection.ops.quote_name(Membership._meta.db_table)
    return (
        f"UPDATE {table} SET unread_count = 0, last_read_message_id ="
        " CASE WHEN last_read_message_id > %s THEN last_read_message_id ELSE %s END"
        " WHERE thread_id = %s AND user_id = %s",
        [to, to, thread_id, user_id],
    )


def _move_position(thread_id: int, user_id: int, *, to: int, unread_count=None) -> None:
    """Move a member's read position forward to `to` (never back), and set
    their unread count if given."""
    if isinstance(unread_count, int) and unread_count == 0:
        with prepared_cursor(connection) as cursor:
            cursor.execute(*_caught_up_sql(thread_id, user_id, to=to))
        return
    changes = {"last_read_message_id": Greatest(F("last_read_message_id"), Value(to))}
    if unread_count is not None:
        changes["unread_count"] = unread_count
    Membership.objects.filter(thread_id=thread_id, user_id=user_id).update(**changes)


@transaction.atomic
def message_mark_read(*, message: Message, reader: AbstractBaseUser) -> Message:
    """Mark one message read for `reader`, any member but its sender. In a
    direct thread the message's flag; in a group the reader's read position
    moves forward to it (never back). Marking twice is harmless."""
    thread = message.thread
    locked = _lock_as_member(thread, reader)
    if not can_mark_message_read(user=reader, message=message, role=locked["role"]):
        raise PermissionDenied("Only a recipient of a message may mark it as read.")
    if thread.is_group:
        if message.pk > locked["last_read"]:
            marked = (
                Message.objects.filter(thread=thread, pk__gt=locked["last_read"], pk__lte=message.pk)
                .exclude(sender=reader)
                .exclude(safety_rules.hidden_from(reader.pk))  # never counted for the reader
                .count()
            )
            _move_position(thread.pk, reader.pk, to=message.pk, unread_count=_decrement("unread_count", marked))
            events.group_read(thread=thread, reader_id=reader.pk, position=message.pk)
        return message
    if Message.objects.filter(pk=message.pk, is_read=False).update(is_read=True):
        _move_position(thread.pk, reader.pk, to=message.pk, unread_count=_decrement("unread_count", 1))
        events.messages_read(thread=thread, reader_id=reader.pk, message_ids=[message.pk])
    message.is_read = True
    return message


@transaction.atomic
def messages_mark_read_by_ids(*, thread: Thread, reader: AbstractBaseUser, message_ids: list[int]) -> int:
    """Mark exactly these messages read for `reader` (1 to
    CHAT_MARK_READ_MAX_IDS ids of messages others sent in `thread`; any
    other id is a ValidationError listing it, and nothing is marked);
    returns how many became read. In a direct thread their flags; in a
    group the reader's position moves forward to the newest of them."""
    limit = settings.CHAT_MARK_READ_MAX_IDS
    wanted = sorted(set(message_ids))
    if not 1 <= len(wanted) <= limit:
        raise ValidationError({"message_ids": f"List 1 to {limit} message ids; got {len(wanted)}."})
    locked = _lock_as_member(thread, reader)
    thread.kind = locked["kind"]  # `thread` may be a bare reference (selectors.thread_for_write)
    senders = dict(Message.objects.filter(thread_id=thread.pk, pk__in=wanted).values_list("pk", "sender_id"))
    not_here = [pk for pk in wanted if pk not in senders]
    own = [pk for pk in wanted if senders.get(pk) == reader.pk]
    if not_here or own:
        problems = []
        if not_here:
            problems.append(f"not messages of this thread: {_some(not_here)}")
        if own:
            problems.append(f"sent by you: {_some(own)}")
        raise ValidationError(
            {"message_ids": ValidationError(f"Nothing was marked; {'; '.join(problems)}.", code="invalid_ids")}
        )
    newest = wanted[-1]
    if thread.is_group:
        if newest <= locked["last_read"]:
            return 0
        marked = (
            Message.objects.filter(thread_id=thread.pk, pk__gt=locked["last_read"], pk__lte=newest)
            .exclude(sender_id=reader.pk)
            .exclude(safety_rules.hidden_from(reader.pk))  # never counted for the reader
            .count()
        )
        _move_position(thread.pk, reader.pk, to=newest, unread_count=_decrement("unread_count", marked))
        events.group_read(thread=thread, reader_id=reader.pk, position=newest)
        return marked
    marked_ids = _set_read_returning_ids(
        Message.objects.filter(pk__in=wanted, is_read=False).exclude(safety_rules.hidden_from(reader.pk))  # safety
    )
    if marked_ids:
        _move_position(thread.pk, reader.pk, to=newest, unread_count=_decrement("unread_count", len(marked_ids)))
        events.messages_read(thread=thread, reader_id=reader.pk, message_ids=marked_ids)
    return len(marked_ids)


def _set_read_returning_ids(messages: QuerySet[Message]) -> list[int]:
    """Set `is_read` on `messages` (a filter of the message table alone) in
    one UPDATE with their WHERE clause; the ids of the rows it changed, in
    order (RETURNING, which the ORM's update() lacks: SQLite >= 3.35 and
    PostgreSQL both have it, and a read receipt needs exactly those ids)."""
    return _set_read_where(*messages.query.get_compiler(connection=connection).compile(messages.query.where))


def _set_read_where(
    where: str, params: list, *, before: tuple[str, list] | None = None, fixed: bool = False
) -> list[int]:
    """_set_read_returning_ids, given the WHERE clause compiled; after the
    UPDATE `before`, if given (`_execute_after`). `fixed`: the statement is
    one of a few shapes, worth preparing (`prepared_cursor`); a list of ids
    gives a new one per length."""
    table = connection.ops.quote_name(Message._meta.db_table)
    statement = f"UPDATE {table} SET is_read = %s WHERE {where} RETURNING id"
    with prepared_cursor(connection) if fixed else connection.cursor() as cursor:
        if before is None:
            cursor.execute(statement, [True, *params])
        else:
            _execute_after(cursor, before, statement, [True, *params])
        return sorted(row[0] for row in cursor.fetchall())


# Marking a direct thread read: its WHERE clause prepared once (chat_project/prepared.py).
# safety: not the messages hidden from the reader. A block closes a direct
# thread, but a send that raced it may have stored one (safety.services):
# it stays unread, to count once the reader unblocks, and tells the sender
# nothing.
_unread_from_sender = PreparedQuery(
    Message,
    lambda thread_id, sender_id, reader_id: Message.objects.filter(
        thread_id=thread_id, sender_id=sender_id, is_read=False
    ).exclude(safety_rules.hidden_from(reader_id)),
)


@transaction.atomic
def thread_mark_read(*, thread: Thread, user: AbstractBaseUser) -> int:
    """Mark everything others sent in `thread` read for `user`; returns how
    many messages became read.

    Sends to the thread wait for its row lock, taken first: a message that
    arrives meanwhile is left unread and not counted. In a direct thread the
    marking is one UPDATE of the flags (`marked` is exactly what changed); in
    a group the member's position moves to the newest message and `marked`
    is their unread count (exact under the same lock). At most 3 queries
    with the user's: nothing to mark, 2 (3 on SQLite); a group, 3 (2 on
    SQLite); a direct thread, 3.
    """
    caught_up = connection.vendor == "sqlite"  # the member's position moves in the first statement
    if caught_up:
        locked = _catch_up_on_sqlite(thread, user)
        if locked is None:
            _lock_as_member(thread, user)  # the access check: 404 for a non-member
            return 0  # a member with nothing to mark
    else:
        locked = _lock_as_member_to_mark_read(thread, user)
    thread.kind = locked["kind"]  # `thread` may be a bare reference (selectors.thread_for_write)
    newest = locked["last_message_id"] or 0
    if not locked["unread_count"] and newest <= locked["last_read"]:
        return 0  # nothing unread, position current (exact counters): nothing to write
    if thread.is_group:
        if not caught_up:
            _move_position(thread.pk, user.pk, to=newest, unread_count=0)
        events.group_read(thread=thread, reader_id=user.pk, position=newest)
        return locked["unread_count"]
    # "sent by the other participant", not "not sent by me": equality on
    # both columns of message_unread_idx, so that the planner takes that
    # partial index (O(unread)) even on a database never analysed, where
    # SQLite would otherwise walk every message of the thread by
    # message_thread_id_idx.
    other_id = locked["user_high_id"] if user.pk == locked["user_low_id"] else locked["user_low_id"]
    marked_ids = _set_read_where(
        *_unread_from_sender.where(thread_id=thread.pk, sender_id=other_id, reader_id=user.pk),
        before=None if caught_up else _caught_up_sql(thread.pk, user.pk, to=newest),
        fixed=True,
    )
    if marked_ids:
        events.messages_read(thread=thread, reader_id=user.pk, message_ids=marked_ids)
    return len(marked_ids)


@transaction.atomic
def messages_set_read(*, messages: QuerySet[Message], is_read: bool) -> int:
    """Staff bulk action: set the read flag of direct messages (a group's
    read state is its members' positions); returns how many changed."""
    thread_ids = sorted(messages.order_by().values_list("thread_id", flat=True).distinct())
    list(Thread.objects.select_for_update().filter(pk__in=thread_ids).order_by("pk").values_list("pk"))
    # Only messages of the threads now locked: rows of other threads (sent
    # since the ids were read) could change under us.
    changing = list(
        messages.filter(thread_id__in=thread_ids, is_read=not is_read)
        .order_by("thread_id", "pk")
        .values_list("pk", "thread_id", "sender_id", "thread__user_low_id", "thread__user_high_id")
    )
    changed = 0
    for start in range(0, len(changing), 500):  # bounded IN lists, whatever the selection
        changed += Message.objects.filter(
            pk__in=[row[0] for row in changing[start : start + 500]], is_read=not is_read
        ).update(is_read=is_read)
    by_thread_and_reader: dict[tuple[int, int], list[int]] = {}
    for pk, thread_id, sender_id, low, high in changing:
        reader_id = high if sender_id == low else low
        by_thread_and_reader.setdefault((thread_id, reader_id), []).append(pk)
    notify = events.messages_read if is_read else events.messages_marked_unread
    for (thread_id, reader_id), message_ids in by_thread_and_reader.items():
        if is_read:
            _move_position(
                thread_id, reader_id, to=max(message_ids), unread_count=_decrement("unread_count", len(message_ids))
            )
        else:
            Membership.objects.filter(thread_id=thread_id, user_id=reader_id).update(
                unread_count=F("unread_count") + len(message_ids)
            )
        notify(thread=Thread(pk=thread_id), reader_id=reader_id, message_ids=message_ids)
    return changed


@transaction.atomic
def threads_recount_messages(*, threads: QuerySet[Thread]) -> int:
    """Set each thread's `message_count`, `member_count`, `last_message` and
    its members' unread counts and copies of `updated` from the rows (after
    data was loaded around the services); returns how many threads were wrong."""
    per_thread = Message.objects.filter(thread=OuterRef("pk")).order_by().values("thread").annotate(n=Count("id"))
    members = Membership.objects.filter(thread=OuterRef("pk")).order_by().values("thread").annotate(n=Count("id"))
    actual = {
        "message_count": Coalesce(Subquery(per_thread.values("n")), 0),
        "member_count": Coalesce(Subquery(members.values("n")), 0),
        "last_message": Subquery(_newest(OuterRef("pk"))),
    }
    # Lock the threads first (in id order, as every write does), so that no
    # write lands between reading the messages and storing the counts.
    locked = dict(
        Thread.objects.select_for_update()
        .filter(pk__in=Subquery(threads.order_by().values("pk")))
        .order_by("pk")
        .values_list("pk", "kind")
    )
    annotated = Thread.objects.filter(pk__in=locked).annotate(
        **{f"actual_{name}": value for name, value in actual.items()}, last_message_or_none=Coalesce("last_message", 0)
    )
    # NULL never equals NULL in SQL: compare 0 for "no last message".
    right = Q(
        message_count=F("actual_message_count"),
        member_count=F("actual_member_count"),
        last_message_or_none=Coalesce("actual_last_message", 0),
    )
    wrong = set(annotated.exclude(right).values_list("pk", flat=True))
    Thread.objects.filter(pk__in=wrong).update(**actual)

    # Each member's copy of the thread's last activity (the thread list's order).
    stale = Membership.objects.filter(thread_id__in=locked).exclude(thread_updated=F("thread__updated"))
    wrong.update(stale.values_list("thread_id", flat=True))
    Membership.objects.filter(pk__in=stale.values("pk")).update(
        thread_updated=Subquery(Thread.objects.filter(pk=OuterRef("thread_id")).values("updated"))
    )

    unread = Message.objects.filter(thread=OuterRef("thread_id")).exclude(sender_id=OuterRef("user_id"))
    unread = unread.exclude(safety_rules.hidden_from(OuterRef(OuterRef("user_id"))))  # safety: never counted
    unread = unread.order_by().values("thread").annotate(n=Count("id")).values("n")
    for kind, unread_of_kind in (
        (Thread.Kind.DIRECT, unread.filter(is_read=False)),
        (Thread.Kind.GROUP, unread.filter(pk__gt=OuterRef("last_read_message_id"))),
    ):
        of_kind = Membership.objects.filter(thread_id__in=[pk for pk, k in locked.items() if k == kind])
        off = of_kind.annotate(actual=Coalesce(Subquery(unread_of_kind), 0)).exclude(unread_count=F("actual"))
        off_ids = list(off.values_list("pk", "thread_id"))
        wrong.update(thread_id for _, thread_id in off_ids)
        Membership.objects.filter(pk__in=[pk for pk, _ in off_ids]).update(
            unread_count=Coalesce(Subquery(unread_of_kind), 0)
        )
    return len(wrong)
