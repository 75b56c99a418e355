"""The block rules as query expressions, for the thread services, selectors
and events to fold into the statements they already run (no query of their
own). Imports only models, so `threads` can import it freely."""

from django.db import connection
from django.db.models import Exists, OuterRef, Q, Subquery

from .models import Block

# The one answer to a blocked user, whatever they tried (it does not say "blocked").
CANT_MESSAGE = "You can't message this user."
# To the blocker, who knows: sending in the direct thread needs an unblock first.
YOU_BLOCKED = "You blocked this user; unblock them to send messages here."


def blocks(blocker, blocked) -> Exists:
    """Whether `blocker` blocks `blocked` (ids or OuterRefs)."""
    return Exists(Block.objects.filter(blocker_id=blocker, blocked_id=blocked))


def hidden_from(viewer) -> Exists:
    """For a Message queryset: the message is hidden from `viewer` (an id or
    an OuterRef), because the viewer blocks its sender and it was sent after
    the block."""
    return Exists(
        Block.objects.filter(blocker_id=viewer, blocked_id=OuterRef("sender_id"), created__lte=OuterRef("created"))
    )


def last_message_hidden(viewer) -> Exists:
    """For a Thread queryset: its last message is hidden from `viewer` (see `hidden_from`)."""
    return Exists(
        Block.objects.filter(
            blocker_id=viewer,
            blocked_id=OuterRef("last_message__sender_id"),
            created__lte=OuterRef("last_message__created"),
        )
    )


def direct_blocker() -> Subquery:
    """For an annotation of a Thread queryset: in a direct thread, the id of
    a participant who blocks the other (null if neither does); always null
    in a group (no pair)."""
    low, high = OuterRef("user_low_id"), OuterRef("user_high_id")
    pair = Q(blocker_id=low, blocked_id=high) | Q(blocker_id=high, blocked_id=low)
    return Subquery(Block.objects.filter(pair).order_by().values("blocker_id")[:1])


def pair_blocked_sql(thread_alias: str) -> str:
    """Raw SQL: whether either participant of the direct thread `thread_alias`
    blocks the other (never true in a group: no pair). No parameters."""
    table = connection.ops.quote_name(Block._meta.db_table)
    return (
        f"EXISTS (SELECT 1 FROM {table} b WHERE (b.blocker_id = {thread_alias}.user_low_id"
        f" AND b.blocked_id = {thread_alias}.user_high_id) OR (b.blocker_id = {thread_alias}.user_high_id"
        f" AND b.blocked_id = {thread_alias}.user_low_id))"
    )


def refusal(*, blocker_id: int, sender_id: int) -> str:
    return YOU_BLOCKED if blocker_id == sender_id else CANT_MESSAGE


def blocks_sender_sql(member_column: str) -> str:
    """Raw SQL for the send's counting UPDATE: whether the member in
    `member_column` blocks the sender and so does not see the message (two
    %s parameters: the sender's id and the message's `created`). The same
    rule as `hidden_from`, by time, so that what a member is counted and
    what they are shown agree even for a send that raced the block."""
    table = connection.ops.quote_name(Block._meta.db_table)
    return (
        f"EXISTS (SELECT 1 FROM {table} b WHERE b.blocker_id = {member_column} AND b.blocked_id = %s"
        " AND b.created <= %s)"
    )
