"""The thread's denormalized columns, recomputed from its messages."""

from threads.models import Message, Thread


def actual_counters(thread: Thread) -> dict:
    messages = Message.objects.filter(thread=thread)
    newest = messages.order_by("-created", "-id").first()
    low, high = thread.pair_ids
    return {
        "message_count": messages.count(),
        "last_message_id": newest.pk if newest else None,
        "unread_low": messages.filter(is_read=False).exclude(sender_id=low).count(),
        "unread_high": messages.filter(is_read=False).exclude(sender_id=high).count(),
    }


def stored_counters(thread: Thread) -> dict:
    thread.refresh_from_db()
    return {name: getattr(thread, name) for name in ("message_count", "last_message_id", "unread_low", "unread_high")}


def assert_counters_exact(thread: Thread) -> None:
    assert stored_counters(thread) == actual_counters(thread)
