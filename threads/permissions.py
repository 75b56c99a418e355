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
    """Staff may list anyone's threads; everyone else only their own."""
    return user.is_staff or owner_id == user.pk


class IsMessageSender(BasePermission):
    message = "Only the sender of a message may change or delete it."

    def has_object_permission(self, request, view, obj):
        return can_edit_message(user=request.user, message=obj)


class IsMessageRecipient(BasePermission):
    message = "Only the recipient of a message may mark it as read."

    def has_object_permission(self, request, view, obj):
        return can_mark_message_read(user=request.user, message=obj)
