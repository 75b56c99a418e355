"""Who may do what. Each rule is written once, as a predicate, and used by the
services (which refuse to act against it), the API (DRF permission classes
below) and the admin.

`role` is the caller's role in the thread (`Membership.Role`), or None for
someone who is not a member; the selectors give it with the thread
(`thread.my_role`), so checking a rule costs no query.
"""

from rest_framework.permissions import BasePermission

from .models import Membership, Message, Thread

MANAGERS = {Membership.Role.OWNER, Membership.Role.ADMIN}


def can_edit_message(*, user, message: Message) -> bool:
    """Only the sender may edit a message."""
    return user is not None and message.sender_id == user.pk


def can_delete_message(*, user, message: Message, role: str | None) -> bool:
    """The sender; in a group also its owner and admins (moderation)."""
    if can_edit_message(user=user, message=message):
        return True
    return message.thread.is_group and role in MANAGERS


def can_mark_message_read(*, user, message: Message, role: str | None) -> bool:
    """Any member but the message's sender."""
    return user is not None and role is not None and message.sender_id != user.pk


def can_manage_group(*, thread: Thread, role: str | None) -> bool:
    """Rename a group and add members: its owner and admins."""
    return thread.is_group and role in MANAGERS


def can_delete_thread(*, thread: Thread, role: str | None) -> bool:
    """A direct thread: either participant; a group: its owner only (members leave instead)."""
    if thread.is_group:
        return role == Membership.Role.OWNER
    return role is not None


def can_set_role(*, role: str | None) -> bool:
    """Only a group's owner changes roles (and hands ownership on)."""
    return role == Membership.Role.OWNER


def can_remove_member(*, user, role: str | None, target: Membership) -> bool:
    """Anyone may leave; the owner removes admins and members, an admin
    removes members; nobody removes the owner (the owner leaves instead)."""
    if target.user_id == user.pk:
        return True
    if target.role == Membership.Role.OWNER:
        return False
    if role == Membership.Role.OWNER:
        return True
    return role == Membership.Role.ADMIN and target.role == Membership.Role.MEMBER


def can_list_threads_of(*, user, owner_id: int) -> bool:
    """Everyone may list their own threads; another user's only with the
    `threads.view_thread` permission (superusers have every permission).
    `is_staff` alone is not enough: it opens the admin, which then shows
    such a user nothing, so the API must not show more."""
    return owner_id == user.pk or user.has_perm("threads.view_thread")


class IsMessageSender(BasePermission):
    message = "Only the sender of a message may change it."

    def has_object_permission(self, request, view, obj):
        return can_edit_message(user=request.user, message=obj)
