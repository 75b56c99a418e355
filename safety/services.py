"""Writes of the safety features (issue 16): blocking, muting, reporting and
the report queue's actions. Keyword-only, one transaction each; events go
out on commit through `threads.events`, like every other write.

Blocking and unblocking lock every thread the two users share (in id order,
as every write locks threads), so that a message sent in one of them is
either wholly before the block (visible to the blocker and counted) or
wholly after it (hidden and never counted): counters stay exact when a block
races a send.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.services import deactivate_user
from threads import events
from threads import selectors as thread_selectors
from threads import services as thread_services
from threads.models import Membership, Message, Thread

from . import rules
from .models import Block, Report

User = get_user_model()

NOTE_MAX_LENGTH = 1000


# Blocking.


def _lock_shared_threads(user_id: int, other_id: int) -> dict[int, str]:
    """Lock every thread both users are members of, in id order; return their kinds."""
    both = Thread.objects.filter(pk__in=Membership.objects.filter(user_id=user_id).values("thread_id")).filter(
        pk__in=Membership.objects.filter(user_id=other_id).values("thread_id")
    )
    return dict(both.select_for_update(of=("self",)).order_by("pk").values_list("pk", "kind"))


@transaction.atomic
def block_user(*, blocker: AbstractBaseUser, blocked: AbstractBaseUser) -> None:
    """`blocker` stops hearing from `blocked` (idempotent: blocking again keeps
    the first block and its time). Nobody is told."""
    if blocker.pk == blocked.pk:
        raise ValidationError("You cannot block yourself.")
    _lock_shared_threads(blocker.pk, blocked.pk)
    # The time is taken under the locks: see the module's docstring.
    Block.objects.bulk_create(
        [Block(blocker_id=blocker.pk, blocked_id=blocked.pk, created=timezone.now())], ignore_conflicts=True
    )


@transaction.atomic
def unblock_user(*, blocker: AbstractBaseUser, blocked: AbstractBaseUser) -> None:
    """Lift a block (idempotent). What `blocked` sent in shared threads
    during the block shows again, and the blocker's unread counts there are
    recounted to include it (and they get `unread_count` events).

    The direct thread is recounted too: a block closes it, but a send that
    raced the block (it started before the block committed, and waited for
    the thread's lock) may have stored a message there, hidden from the
    blocker and not counted (the module's docstring)."""
    shared = _lock_shared_threads(blocker.pk, blocked.pk)
    deleted, _ = Block.objects.filter(blocker_id=blocker.pk, blocked_id=blocked.pk).delete()
    if not deleted or not shared:
        return
    # The member's unread messages: from others, not hidden from them
    # (other blocks may stand), and in a group past the member's read
    # position, in a direct thread not flagged read (a group's messages
    # have no flag: is_read is null).
    unread = (
        Message.objects.filter(thread=OuterRef("thread_id"))
        .filter(Q(is_read=False) | Q(is_read=None, pk__gt=OuterRef("last_read_message_id")))
        .exclude(sender_id=OuterRef("user_id"))
        .exclude(rules.hidden_from(OuterRef(OuterRef("user_id"))))
        .order_by()
        .values("thread")
        .annotate(n=Count("id"))
        .values("n")
    )
    Membership.objects.filter(user_id=blocker.pk, thread_id__in=list(shared)).update(
        unread_count=Coalesce(Subquery(unread), 0)
    )
    _announce_unread_counts(blocker.pk, list(shared))


def _announce_unread_counts(user_id: int, thread_ids: list[int]) -> None:
    """After commit: the user's `unread_count` event for each of these threads."""

    def build():
        counts = dict(
            Membership.objects.filter(user_id=user_id, thread_id__in=thread_ids).values_list(
                "thread_id", "unread_count"
            )
        )
        total = thread_selectors.unread_count_for_user_id(user_id=user_id)
        return [
            (user_id, {"type": "unread_count", "unread_count": total, "thread": thread_id,
                       "thread_unread_count": count})
            for thread_id, count in counts.items()
        ]

    events.send_on_commit(build)


# Muting.


@transaction.atomic
def thread_set_muted(*, thread: Thread, user: AbstractBaseUser, muted: bool) -> bool:
    """Mute or unmute a thread for one member (idempotent); returns whether
    it changed. The caller fetched `thread` through `thread_get_for_user`.
    A change moves the member's total: their devices get `unread_count`."""
    changed = Membership.objects.filter(thread_id=thread.pk, user_id=user.pk).exclude(muted=muted).update(muted=muted)
    if changed:
        _announce_unread_counts(user.pk, [thread.pk])
    return bool(changed)


# Reporting.


def check_report(*, reason, note) -> tuple[str, str]:
    if reason not in Report.Reason.values:
        raise ValidationError({"reason": f"A reason is one of {', '.join(Report.Reason.values)}."})
    note = note or ""
    if not isinstance(note, str) or len(note) > NOTE_MAX_LENGTH:
        raise ValidationError({"note": f"A note is text of at most {NOTE_MAX_LENGTH} characters."})
    if "\x00" in note:
        raise ValidationError({"note": "A note cannot contain NUL characters."})
    return reason, note


def message_report(
    *, message: Message, reporter: AbstractBaseUser, reason: str, note: str = ""
) -> tuple[Report, bool]:
    """Report a message to staff: any member but its sender (the caller
    fetched `message` through the thread's access check). One open report
    per reporter per message: reporting it again returns the open one
    (created=False), even when the two race (the partial unique constraint
    decides). The report keeps a copy of the text as it is now."""
    reason, note = check_report(reason=reason, note=note)
    if message.sender_id == reporter.pk:
        raise PermissionDenied("You cannot report your own message.")
    existing = Report.objects.filter(message_id=message.pk, reporter_id=reporter.pk, status=Report.Status.OPEN).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            report = Report.objects.create(
                message_id=message.pk, thread_id=message.thread_id, sender_id=message.sender_id,
                reporter_id=reporter.pk, reason=reason, note=note, text=message.text,
            )
    except IntegrityError:
        return Report.objects.get(message_id=message.pk, reporter_id=reporter.pk, status=Report.Status.OPEN), False
    return report, True


def _resolve(reports: QuerySet[Report], *, status: str, staff: AbstractBaseUser | None) -> int:
    return reports.filter(status=Report.Status.OPEN).update(
        status=status, resolved=timezone.now(), resolved_by_id=getattr(staff, "pk", None)
    )


@transaction.atomic
def reports_dismiss(*, reports: QuerySet[Report], staff: AbstractBaseUser | None = None) -> int:
    """Close open reports with no action; returns how many."""
    return _resolve(reports, status=Report.Status.DISMISSED, staff=staff)


@transaction.atomic
def reports_delete_messages(*, reports: QuerySet[Report], staff: AbstractBaseUser | None = None) -> int:
    """Delete the reported messages (through `threads.services.messages_delete`:
    counters kept exact, members told) and close every open report of them;
    returns how many messages were deleted."""
    message_ids = list(reports.exclude(message_id=None).values_list("message_id", flat=True).distinct())
    deleted = thread_services.messages_delete(messages=Message.objects.filter(pk__in=message_ids))
    _resolve(Report.objects.filter(message_id__in=message_ids), status=Report.Status.MESSAGE_DELETED, staff=staff)
    return deleted


@transaction.atomic
def reports_deactivate_senders(*, reports: QuerySet[Report], staff: AbstractBaseUser | None = None) -> int:
    """Deactivate the reported messages' senders (`accounts.services.deactivate_user`:
    their sessions end and sockets close) and close every open report of
    their messages; returns how many accounts were deactivated."""
    sender_ids = set(reports.exclude(sender_id=None).values_list("sender_id", flat=True))
    senders = list(User.objects.filter(pk__in=sender_ids, is_active=True))
    for sender in senders:
        deactivate_user(user=sender)
    _resolve(Report.objects.filter(sender_id__in=sender_ids), status=Report.Status.SENDER_DEACTIVATED, staff=staff)
    return len(senders)
