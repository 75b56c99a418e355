"""Reads of the safety features: who blocks whom, who muted what. Each one
query, whatever the sizes."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import OuterRef, QuerySet

from threads.models import Membership
from threads.rendering import ReadPositions
from threads.selectors import USER_SUMMARY_FIELDS

from . import rules

User = get_user_model()


def blocked_users(*, user: AbstractBaseUser) -> QuerySet:
    """The users `user` blocks, most recently blocked first (deactivated
    accounts too: they can still be unblocked)."""
    return (
        User.objects.filter(blocks_received__blocker=user)
        .only(*USER_SUMMARY_FIELDS)
        .order_by("-blocks_received__created", "-blocks_received__id")
    )


def read_positions_and_blockers(*, thread_id: int, sender_id: int) -> tuple[ReadPositions, set[int]]:
    """A thread's members' read positions (as `threads.selectors.read_positions`)
    and which of them block `sender_id`: one query."""
    rows = (
        Membership.objects.filter(thread_id=thread_id)
        .annotate(blocks_sender=rules.blocks(OuterRef("user_id"), sender_id))
        .values_list("user_id", "last_read_message_id", "blocks_sender")
    )
    positions, blockers = {}, set()
    for user_id, position, blocks_sender in rows:
        positions[user_id] = position
        if blocks_sender:
            blockers.add(user_id)
    return positions, blockers


def typing_audience(*, thread_id: int, user_id: int) -> list[int]:
    """Who hears `user_id` typing in a thread: the other members, except
    those who block them; nobody if `user_id` is not a member. One query."""
    rows = list(
        Membership.objects.filter(thread_id=thread_id)
        .annotate(blocks_typist=rules.blocks(OuterRef("user_id"), user_id))
        .values_list("user_id", "blocks_typist")
    )
    if not any(member == user_id for member, _ in rows):
        return []
    return [member for member, blocks_typist in rows if member != user_id and not blocks_typist]


def muted_member_ids(*, thread_id: int, user_ids=None) -> set[int]:
    """The members of a thread who muted it (among `user_ids` if given): for
    the webhook payloads' "muted" flag. One query."""
    rows = Membership.objects.filter(thread_id=thread_id, muted=True)
    if user_ids is not None:
        rows = rows.filter(user_id__in=list(user_ids))
    return set(rows.values_list("user_id", flat=True))


def blocks_between(*, blocker_id: int, blocked_id: int) -> bool:
    """Whether `blocker_id` blocks `blocked_id` (for the webhook session and tests)."""
    return User.objects.filter(pk=blocker_id).filter(rules.blocks(OuterRef("pk"), blocked_id)).exists()
