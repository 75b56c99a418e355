"""The API's shapes, rendered from model instances: one home for every
representation that the REST API (serializers) and the real-time events
(events) share. Depends on the models only.

Rendered by hand: DRF's field machinery costs more than the queries behind a
page. The serializers in `serializers` declare the same fields for the
OpenAPI schema, and a test holds each rendering equal to what they declare.
"""

from collections.abc import Mapping
from datetime import UTC

from .models import Membership, Message, Thread

# A group's read positions: member user id -> id of the newest message they have read.
ReadPositions = Mapping[int, int]


def render_datetime(value) -> str:
    """As DRF's DateTimeField renders a UTC time: ISO 8601 with a Z."""
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def display_name(first_name: str, last_name: str, username: str) -> str:
    """How a user is shown to others: first and last name, or the username
    when both are empty."""
    return f"{first_name} {last_name}".strip() or username


class UserSummary(dict):
    """A user as others see them. `presence.annotate` finds these in a
    response or an event and adds `is_online` and `last_seen` to all of them
    with one lookup (the renderer of every API response and the event sender
    call it)."""


def render_user_fields(user_id: int, username: str, first_name: str, last_name: str) -> UserSummary:
    return UserSummary(id=user_id, username=username, display_name=display_name(first_name, last_name, username))


def render_user_summary(user) -> UserSummary:
    """A user as others see them. Reads first_name and last_name: a query that
    loads users with `.only(...)` must name them (USER_SUMMARY_FIELDS)."""
    return render_user_fields(user.pk, user.username, user.first_name, user.last_name)


def group_read_state(message: Message, positions: ReadPositions) -> tuple[bool, int]:
    """(is_read, read_count) of a group message: how many current members
    other than its sender have read up to it, and whether all of them have."""
    others = [position for user_id, position in positions.items() if user_id != message.sender_id]
    read_count = sum(1 for position in others if position >= message.pk)
    return read_count == len(others), read_count


def render_message(message: Message, positions: ReadPositions | None = None) -> dict:
    """A message; a group's (`positions` given) also carries `read_count`."""
    rendered = {
        "id": message.pk,
        "thread": message.thread_id,
        "sender": render_user_summary(message.sender),
        "text": message.text,
        "created": render_datetime(message.created),
        "is_read": message.is_read,
        "client_id": None if message.client_id is None else str(message.client_id),
    }
    if positions is not None:
        rendered["is_read"], rendered["read_count"] = group_read_state(message, positions)
    return rendered


def render_thread(thread: Thread) -> dict:
    """A thread as its member lists it: expects `unread_count` annotated, and
    for a group `member_preview` and `last_message_read`
    (selectors.threads_for_user and selectors.load_member_previews give
    them)."""
    if thread.is_group:
        participants = [render_user_fields(*member) for member in thread.member_preview]
    else:
        participants = [render_user_summary(thread.user_low), render_user_summary(thread.user_high)]
    last_message = thread.last_message
    if getattr(thread, "last_message_hidden", False):  # safety: sent by someone the caller blocks
        last_message = None
    if last_message is not None:
        last_message = render_message(last_message)
        if thread.is_group:
            read_count, others = thread.last_message_read
            last_message["is_read"], last_message["read_count"] = read_count == others, read_count
    return {
        "id": thread.pk,
        "kind": thread.kind,
        "title": thread.title,
        "participants": participants,
        "member_count": thread.member_count,
        "created": render_datetime(thread.created),
        "updated": render_datetime(thread.updated),
        "last_message": last_message,
        "unread_count": thread.unread_count,
        "muted": thread.muted,
    }


def render_membership(membership: Membership) -> dict:
    return {
        "user": render_user_summary(membership.user),
        "role": membership.role,
        "joined": render_datetime(membership.joined),
        "last_read_message": membership.last_read_message_id or None,
    }


def render_reader(membership: Membership) -> dict:
    return {"user": render_user_summary(membership.user), "last_read_message": membership.last_read_message_id}
