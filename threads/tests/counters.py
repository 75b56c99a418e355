"""A thread's denormalized columns and its members' unread counts,
recomputed from its messages and read positions."""

from safety.rules import hidden_from
from threads.models import Membership, Message, Thread


def actual_counters(thread: Thread) -> dict:
    thread.refresh_from_db()
    messages = Message.objects.filter(thread=thread)
    newest = messages.order_by("-created", "-id").first()
    unread = {}
    for user_id, position in Membership.objects.filter(thread=thread).values_list("user_id", "last_read_message_id"):
        # Messages hidden from a member (they block the sender) are never unread for them.
        from_others = messages.exclude(sender_id=user_id).exclude(hidden_from(user_id))
        unread[user_id] = (
            from_others.filter(pk__gt=position) if thread.is_group else from_others.filter(is_read=False)
        ).count()
    return {
        "message_count": messages.count(),
        "member_count": len(unread),
        "last_message_id": newest.pk if newest else None,
        "unread": unread,
        # Every member's copy of the thread's last activity (the thread list's order).
        "member_activity": {thread.updated},
    }


def stored_counters(thread: Thread) -> dict:
    thread.refresh_from_db()
    return {
        **{name: getattr(thread, name) for name in ("message_count", "member_count", "last_message_id")},
        "unread": dict(Membership.objects.filter(thread=thread).values_list("user_id", "unread_count")),
        "member_activity": set(Membership.objects.filter(thread=thread).values_list("thread_updated", flat=True)),
    }


def assert_counters_exact(thread: Thread) -> None:
    assert stored_counters(thread) == actual_counters(thread)
