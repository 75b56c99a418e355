"""Real-time events: what each write tells the users it concerns.

The services call these functions inside their transaction. Nothing is sent
then: each event goes out after the transaction commits
(`transaction.on_commit`), so a write that rolls back sends nothing and one
that commits is never announced before others can read it. Events travel over
the Channels layer to the group of each user concerned (`user_group`): a
thread's current members, read when the event is built, after the commit, so
a member who was removed gets nothing more. `consumers.ChatConsumer` forwards
them to that user's open WebSockets.

Every event is a JSON object with a `type`; messages, threads and members are
rendered by `rendering`, as the REST API renders them. Sending is best
effort: a channel layer that is down is logged and never fails the write
that already committed.
"""

import logging
from collections.abc import Callable, Iterable

from channels.layers import get_channel_layer
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from safety import selectors as safety_selectors
from webhooks import hooks as webhook_hooks

from . import presence, selectors
from .event_loop import run_coroutine
from .models import Membership, Message, Thread
from .rendering import render_membership, render_message, render_thread, render_user_summary

logger = logging.getLogger(__name__)

# One event for one user: (user id, event).
Delivery = tuple[int, dict]


def user_group(user_id: int) -> str:
    """The channel-layer group of every open WebSocket of one user."""
    return f"user.{user_id}"


def send_on_commit(
    build: Callable[..., Iterable[Delivery]], *, audience: Iterable[int] | None = None, shown: Iterable[int] = ()
) -> None:
    """After the current transaction commits, build the deliveries and send them.

    Built after the commit, so that what they read (members, unread counts)
    is what the commit left behind. When a webhook endpoint is active, they
    are built now instead, at the end of the write, and its webhooks stored
    in the same transaction (webhooks/hooks.py); no endpoint, no query.

    `audience`: the users the deliveries go to, when the write knows them.
    Then `build` takes the set of those to build for: after the commit, only
    the ones with an open socket, so nothing is read for the others, and
    nothing at all is built when none of them listens.

    `shown`: users whose presence the request's answer shows (a message's
    sender): looked up in the same Redis round trip as who listens
    (presence.Rider), so that rendering the answer costs no round trip.
    """
    if audience is not None:
        audience = set(audience)
    if webhook_hooks.wanted():
        built = list(build() if audience is None else build(audience))
        webhook_hooks.store(built)
        build = lambda *_: built  # noqa: E731

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        listening = None  # the users with an open socket; None: not known
        if audience is not None:
            listening = _listening(layer, audience, rider=presence.rider(shown))
            if listening == set():
                return
        deliveries = build() if audience is None else build(audience if listening is None else listening)
        # One channel-layer message per user, carrying that user's events in
        # order, and one hop into the event loop for all of them.
        events_by_user: dict[int, list[dict]] = {}
        for user_id, event in deliveries:
            events_by_user.setdefault(user_id, []).append(event)
        if listening is None:
            listening = _listening(layer, events_by_user)
        messages = {
            user_group(user_id): {"type": "chat.events", "events": events}
            for user_id, events in events_by_user.items()
            if listening is None or user_id in listening
        }
        if not messages:
            return
        presence.annotate(messages)  # the users shown carry is_online and last_seen: one lookup for all

        async def send_all() -> None:
            if listening is None and hasattr(layer, "group_send_many"):
                await layer.group_send_many(messages)
            else:
                for group, message in messages.items():
                    await layer.group_send(group, message)

        run_coroutine(send_all)

    # robust: an error here is logged and does not reach the caller, whose
    # write has committed already.
    transaction.on_commit(send, robust=True)


def _listening(layer, user_ids: Iterable[int], *, rider: presence.Rider | None = None) -> set[int] | None:
    """Of these users, those with an open socket, asked from this thread
    (threads/channel_layers.py: Redis in one round trip, memory in none),
    with `rider` on the same round trip; None when the layer cannot tell."""
    if not hasattr(layer, "listening_groups"):
        return None
    groups = {user_group(user_id): user_id for user_id in user_ids}
    found = layer.listening_groups(groups, rider=rider)
    return None if found is None else {groups[group] for group in found}


def _unread_counts(thread_id: int, thread_unread: dict[int, int]) -> list[Delivery]:
    """Each user's new unread counts: `thread_unread` (user id -> their count
    in the thread) and their total, read in one query for all of them."""
    totals = selectors.unread_counts_for_user_ids(user_ids=list(thread_unread))
    return [
        (user_id, {"type": "unread_count", "unread_count": totals[user_id], "thread": thread_id,
                   "thread_unread_count": count})
        for user_id, count in thread_unread.items()
    ]


def messages_created(
    messages: list[Message], *, members: dict[int, tuple[int, int]], hidden_from: Iterable[int] = ()
) -> None:
    """To every member, one `message.created` per message in order; then the
    others get their new unread counts once. `members`: each member's (unread
    count, read position) as the send left them (the writer holds the
    thread's lock, so they are exact); `hidden_from`: members who block the
    sender, who get nothing (safety)."""
    thread = messages[0].thread
    positions = {user_id: position for user_id, (_, position) in members.items()} if thread.is_group else None
    payloads = [{"type": "message.created", "message": render_message(message, positions)} for message in messages]
    sender_id = messages[0].sender_id
    hidden_from = set(hidden_from)
    recipients = {
        user_id: unread
        for user_id, (unread, _) in members.items()
        if user_id != sender_id and user_id not in hidden_from
    }
    # Built only for the members listening: the others' totals are not read.
    send_on_commit(
        lambda listening: [
            *((user_id, payload) for payload in payloads for user_id in members if user_id in listening),
            *_unread_counts(thread.pk, {user_id: recipients[user_id] for user_id in listening & recipients.keys()}),
        ],
        audience=[user_id for user_id in members if user_id not in hidden_from],
        shown=[sender_id],  # the answer to the send shows its sender
    )
    # For push and email: the recipients with no open socket (no query unless an endpoint wants it).
    webhook_hooks.offline_recipients(payloads, thread_id=thread.pk, recipient_ids=recipients)


def message_updated(message: Message) -> None:
    def build() -> list[Delivery]:
        # safety: members who block the sender are left out (same query).
        positions, blockers = safety_selectors.read_positions_and_blockers(
            thread_id=message.thread_id, sender_id=message.sender_id
        )
        payload = {
            "type": "message.updated",
            "message": render_message(message, positions if message.thread.is_group else None),
        }
        return [(user_id, payload) for user_id in positions if user_id not in blockers]

    send_on_commit(build)


def messages_deleted(*, thread: Thread, message_ids: list[int]) -> None:
    """To every member, with fresh unread counts for all (an unread message may be gone)."""
    payload = {"type": "message.deleted", "thread": thread.pk, "message_ids": message_ids}

    def build() -> list[Delivery]:
        unread = selectors.thread_unread_counts(thread_id=thread.pk)
        return [*((user_id, payload) for user_id in unread), *_unread_counts(thread.pk, unread)]

    send_on_commit(build)


def _read_receipt(thread_id: int, reader_id: int, payload: dict) -> None:
    """A read receipt to every member (the senders, and the reader's other
    devices), and the reader's new unread counts."""

    def build() -> list[Delivery]:
        unread = selectors.thread_unread_counts(thread_id=thread_id)
        reader = {reader_id: unread[reader_id]} if reader_id in unread else {}
        return [*((user_id, payload) for user_id in unread), *_unread_counts(thread_id, reader)]

    send_on_commit(build)


def messages_read(*, thread: Thread, reader_id: int, message_ids: list[int]) -> None:
    """Direct thread: the reader marked these messages read."""
    payload = {"type": "message.read", "thread": thread.pk, "reader": reader_id, "message_ids": message_ids}
    _read_receipt(thread.pk, reader_id, payload)


def group_read(*, thread: Thread, reader_id: int, position: int) -> None:
    """Group: the reader's read position moved forward to `position`."""
    payload = {"type": "message.read", "thread": thread.pk, "reader": reader_id, "last_read_message": position}
    _read_receipt(thread.pk, reader_id, payload)


def messages_marked_unread(*, thread: Thread, reader_id: int, message_ids: list[int]) -> None:
    """Staff marked messages unread again (admin): the reader's counts change."""
    payload = {"type": "message.unread", "thread": thread.pk, "reader": reader_id, "message_ids": message_ids}
    _read_receipt(thread.pk, reader_id, payload)


def thread_created(thread: Thread, *, member_ids: list[int]) -> None:
    """To each initial member, the thread as their thread list shows it (the
    same for all of them: nothing is unread yet)."""

    def build() -> list[Delivery]:
        loaded = (
            Thread.objects.select_related("user_low", "user_high", "last_message__sender").filter(pk=thread.pk).first()
        )
        if loaded is None:
            return []
        loaded.unread_count, loaded.muted = 0, False
        selectors.load_member_previews([loaded])
        payload = {"type": "thread.created", "thread": render_thread(loaded)}
        return [(user_id, payload) for user_id in member_ids]

    send_on_commit(build)


def thread_updated(thread: Thread) -> None:
    """A group's title changed: to every member."""
    payload = {"type": "thread.updated", "thread": thread.pk, "title": thread.title}
    send_on_commit(lambda: [(user_id, payload) for user_id in selectors.member_ids_of_thread(thread_id=thread.pk)])


def threads_deleted(members: dict[int, list[int]]) -> None:
    """`members`: each deleted thread's id -> its members' ids. Each member
    also gets their unread counts: unread messages may be gone."""

    def build() -> list[Delivery]:
        totals = selectors.unread_counts_for_user_ids(user_ids={u for ids in members.values() for u in ids})
        deliveries = []
        for thread_id, user_ids in members.items():
            for user_id in user_ids:
                deliveries.append((user_id, {"type": "thread.deleted", "thread": thread_id}))
                deliveries.append((user_id, {"type": "unread_count", "unread_count": totals[user_id],
                                             "thread": thread_id, "thread_unread_count": 0}))
        return deliveries

    send_on_commit(build)


def member_added(thread: Thread, membership: Membership) -> None:
    """To every member, the new one included."""
    payload = {"type": "member.added", "thread": thread.pk, "member": render_membership(membership),
               "member_count": thread.member_count}
    send_on_commit(lambda: [(user_id, payload) for user_id in selectors.member_ids_of_thread(thread_id=thread.pk)])


def member_removed(thread: Thread, membership: Membership) -> None:
    """To the remaining members and to the one removed (who also gets their
    new total: their unread messages there are gone)."""
    removed_id = membership.user_id
    payload = {"type": "member.removed", "thread": thread.pk, "user": render_user_summary(membership.user),
               "member_count": thread.member_count}

    def build() -> list[Delivery]:
        total = selectors.unread_count_for_user_id(user_id=removed_id)
        return [
            *((user_id, payload) for user_id in selectors.member_ids_of_thread(thread_id=thread.pk)),
            (removed_id, payload),
            (removed_id, {"type": "unread_count", "unread_count": total, "thread": thread.pk,
                          "thread_unread_count": 0}),
        ]

    send_on_commit(build)


def members_updated(thread: Thread, memberships: list[Membership]) -> None:
    """Roles changed: to every member, one event per changed membership."""
    payloads = [
        {"type": "member.updated", "thread": thread.pk, "member": render_membership(membership)}
        for membership in memberships
    ]
    send_on_commit(
        lambda: [
            (user_id, payload)
            for user_id in selectors.member_ids_of_thread(thread_id=thread.pk)
            for payload in payloads
        ]
    )


def typing(*, thread_id: int, user: AbstractBaseUser) -> dict:
    """The typing notice a member's client asked to send (see the consumer)."""
    return {"type": "typing", "thread": thread_id, "user": render_user_summary(user)}


def sent_directly(event: dict, *, user_ids: list[int]) -> None:
    """An event that goes to these users without a write (a typing notice
    from the consumer, presence): its webhooks, if an endpoint is active.
    Never raises: the event itself still goes out."""
    try:
        if user_ids and webhook_hooks.wanted():
            webhook_hooks.store([(user_id, event) for user_id in user_ids])
    except Exception:
        logger.exception("Webhooks of a %s event not stored", event.get("type"))


def user_sessions_ended(user_id: int) -> None:
    """After the current transaction commits, close every open WebSocket of the
    user, on every server process (the consumer closes with 4401): the user
    was deactivated, changed password or logged out everywhere
    (accounts/signals.py, accounts/services.py)."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:

            async def end() -> None:
                await layer.group_send(user_group(user_id), {"type": "session.end"})

            run_coroutine(end)

    transaction.on_commit(send, robust=True)
