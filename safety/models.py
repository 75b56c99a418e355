"""Blocks between users and reports of messages (issue 16).

Muting is a flag on each member's own `threads.Membership` row (`muted`):
the unread totals read it where they already read the membership.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Block(models.Model):
    """`blocker` no longer hears from `blocked`: see `safety.services.block_user`.

    `created` is taken while every thread the two share is locked, so a
    message in one of them was sent either before the block (its `created`
    is earlier: it stays visible) or after it (hidden from the blocker).
    """

    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_made", db_index=False
    )
    blocked = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_received")
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            # Also the index of every lookup: (blocker, blocked) pairs.
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_unique_pair"),
            models.CheckConstraint(condition=~Q(blocker=F("blocked")), name="block_not_self"),
        ]

    def __str__(self) -> str:
        return f"User {self.blocker_id} blocks user {self.blocked_id}"


class Report(models.Model):
    """A member's report of a message, for staff (the admin's report queue)."""

    class Reason(models.TextChoices):
        SPAM = "spam"
        HARASSMENT = "harassment"
        OTHER = "other"

    class Status(models.TextChoices):
        OPEN = "open"
        DISMISSED = "dismissed"
        MESSAGE_DELETED = "message_deleted", "message deleted"
        SENDER_DEACTIVATED = "sender_deactivated", "sender deactivated"

    # DO_NOTHING without a database constraint: the report outlives the
    # message and its thread (it keeps their ids and a copy of the text), and
    # deleting messages or threads stays one statement each, with no fetch of
    # the rows to update reports first (as a SET_NULL would need).
    message = models.ForeignKey(
        "threads.Message", on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    thread = models.ForeignKey(
        "threads.Thread", on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="reports_received"
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="reports_made"
    )
    reason = models.CharField(max_length=10, choices=Reason.choices)
    note = models.TextField(blank=True, max_length=1000)
    text = models.TextField("reported text", help_text="The message's text when it was reported.")
    created = models.DateTimeField(default=timezone.now, editable=False)
    status = models.CharField(max_length=18, choices=Status.choices, default=Status.OPEN)
    resolved = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created", "id"]
        constraints = [
            # One open report per reporter per message, even when reports race.
            models.UniqueConstraint(
                fields=["message", "reporter"], condition=Q(status="open"), name="report_one_open_per_reporter"
            ),
            models.CheckConstraint(condition=Q(reason__in=["spam", "harassment", "other"]), name="report_reason_valid"),
        ]
        indexes = [
            # The queue: open reports, oldest first.
            models.Index(fields=["status", "created"], name="report_queue_idx"),
        ]

    def __str__(self) -> str:
        return f"Report {self.pk} of message {self.message_id} ({self.reason})"
