"""Who may do what. Each rule is written once, as a predicate, and used by the
services (which refuse to act against it), the API (DRF permission classes
below) and the admin."""

from rest_framework.permissions import BasePermission

from .models import Message


def can_edit_message(*, user, message: Message) -> bool:
    """Only the sender may edit or delete a message."""
    return user is not None and message.sender_id == user.pk


def can_mark_message_read(*, user, message: Message) -> bool:
    """Only the recipient (the participant who did not send it) may mark a message read."""
    return user is not None and message.sender_id != user.pk and message.thread.has_participant(user)


def can_list_threads_of(*, user, owner_id: int) -> bool:
    """Everyone may list their own threads; another user's only with the
    `threads.view_thread` permission (superusers have every permission).
    `is_staff` alone is not enough: it opens the admin, which then shows
    such a user nothing, so the API must not show more."""
    return owner_id == user.pk or user.has_perm("threads.view_thread")


class IsMessageSender(BasePermission):
    message = "Only the sender of a message may change or delete it."

    def has_object_permission(self, request, view, obj):
        return can_edit_message(user=request.user, message=obj)


class IsMessageRecipient(BasePermission):
    message = "Only the recipient of a message may mark it as read."

    def has_object_permission(self, request, view, obj):
        return can_mark_message_read(user=request.user, message=obj)
