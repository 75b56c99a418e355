"""Real-time events: what each write tells the users it concerns.

The services call these functions inside their transaction. Nothing is sent
then: each event goes out after the transaction commits
(`transaction.on_commit`), so a write that rolls back sends nothing and one
that commits is never announced before others can read it. Events travel over
the Channels layer to the group of each user concerned (`user_group`), where
`consumers.ChatConsumer` forwards them to that user's open WebSockets.

Every event is a JSON object with a `type`; messages and threads are rendered
by the REST API's own serializers. Sending is best effort: a channel layer
that is down is logged and never fails the write that already committed.
"""

from collections.abc import Callable, Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from .models import Message, Thread

# One event for one user: (user id, event).
Delivery = tuple[int, dict]


def user_group(user_id: int) -> str:
    """The channel-layer group of every open WebSocket of one user."""
    return f"user.{user_id}"


def send_on_commit(build: Callable[[], Iterable[Delivery]]) -> None:
    """After the current transaction commits, build the deliveries and send them.

    Built after the commit, so that what they read (unread counts, say) is
    what the commit left behind.
    """

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        # One channel-layer message per user, carrying that user's events in
        # order, and one hop into the event loop for all of them.
        events_by_user: dict[int, list[dict]] = {}
        for user_id, event in build():
            events_by_user.setdefault(user_id, []).append(event)

        async def send_all() -> None:
            for user_id, events in events_by_user.items():
                await layer.group_send(user_group(user_id), {"type": "chat.events", "events": events})

        async_to_sync(send_all)()

    # robust: an error here is logged and does not reach the caller, whose
    # write has committed already.
    transaction.on_commit(send, robust=True)


def _unread_counts(user_id: int, thread_id: int, thread_unread: int | None = None) -> Delivery:
    """The user's unread counts; `thread_unread` if the writer knows it (saves a query)."""
    from .selectors import thread_unread_count_for_user_id, unread_count_for_user_id

    if thread_unread is None:
        thread_unread = thread_unread_count_for_user_id(user_id=user_id, thread_id=thread_id)
    return user_id, {
        "type": "unread_count",
        "unread_count": unread_count_for_user_id(user_id=user_id),
        "thread": thread_id,
        "thread_unread_count": thread_unread,
    }


def message_created(message: Message, *, recipient_thread_unread: int | None = None) -> None:
    """To both participants; the recipient also gets their new unread counts.
    `recipient_thread_unread`: the recipient's unread count in the thread as
    this write left it (the writer holds the thread's lock, so it is exact)."""
    from .serializers import MessageSerializer

    payload = {"type": "message.created", "message": MessageSerializer(message).data}
    pair, recipient = message.thread.pair_ids, _other(message.thread, message.sender_id)
    send_on_commit(
        lambda: [
            *((user_id, payload) for user_id in pair),
            _unread_counts(recipient, message.thread_id, recipient_thread_unread),
        ]
    )


def message_updated(message: Message) -> None:
    from .serializers import MessageSerializer

    payload = {"type": "message.updated", "message": MessageSerializer(message).data}
    send_on_commit(lambda: [(user_id, payload) for user_id in message.thread.pair_ids])


def messages_deleted(*, thread: Thread, message_ids: list[int]) -> None:
    """To both participants, with fresh unread counts for both (an unread message may be gone)."""
    payload = {"type": "message.deleted", "thread": thread.pk, "message_ids": message_ids}
    send_on_commit(
        lambda: [
            *((user_id, payload) for user_id in thread.pair_ids),
            *(_unread_counts(user_id, thread.pk) for user_id in thread.pair_ids),
        ]
    )


def messages_read(*, thread: Thread, reader_id: int, message_ids: list[int]) -> None:
    """The read receipt: to both participants (the sender, and the reader's
    other devices), and the reader's new unread counts."""
    payload = {"type": "message.read", "thread": thread.pk, "reader": reader_id, "message_ids": message_ids}
    send_on_commit(
        lambda: [*((user_id, payload) for user_id in thread.pair_ids), _unread_counts(reader_id, thread.pk)]
    )


def messages_marked_unread(*, thread: Thread, reader_id: int, message_ids: list[int]) -> None:
    """Staff marked messages unread again (admin): the reader's counts change."""
    payload = {"type": "message.unread", "thread": thread.pk, "reader": reader_id, "message_ids": message_ids}
    send_on_commit(
        lambda: [*((user_id, payload) for user_id in thread.pair_ids), _unread_counts(reader_id, thread.pk)]
    )


def thread_created(thread: Thread) -> None:
    """To both participants, each with the thread as their own thread list shows it."""
    from .selectors import thread_get_for_user
    from .serializers import ThreadSerializer

    def build() -> list[Delivery]:
        deliveries = []
        for user in thread.pair:
            rendered = ThreadSerializer(thread_get_for_user(user=user, thread_id=thread.pk, annotated=True)).data
            deliveries.append((user.pk, {"type": "thread.created", "thread": rendered}))
        return deliveries

    send_on_commit(build)


def threads_deleted(pairs: Iterable[tuple[int, int, int]]) -> None:
    """`pairs`: (thread id, user_low id, user_high id) of each deleted thread.
    Both participants also get their unread counts: unread messages may be gone."""
    pairs = list(pairs)

    def build() -> list[Delivery]:
        deliveries = []
        for thread_id, low, high in pairs:
            for user_id in (low, high):
                deliveries.append((user_id, {"type": "thread.deleted", "thread": thread_id}))
                deliveries.append(_unread_counts(user_id, thread_id, thread_unread=0))
        return deliveries

    send_on_commit(build)


def typing(*, thread_id: int, user: AbstractBaseUser) -> dict:
    """The typing notice a participant's client asked to send (see the consumer)."""
    return {"type": "typing", "thread": thread_id, "user": {"id": user.pk, "username": user.get_username()}}


def _other(thread: Thread, user_id: int) -> int:
    low, high = thread.pair_ids
    return high if user_id == low else low


def user_sessions_ended(user_id: int) -> None:
    """After the current transaction commits, close every open WebSocket of the
    user, on every server process (the consumer closes with 4401): the user
    was deactivated, changed password or logged out everywhere
    (accounts/signals.py, accounts/services.py)."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(user_group(user_id), {"type": "session.end"})

    transaction.on_commit(send, robust=True)
