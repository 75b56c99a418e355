"""Webhook endpoints, and the deliveries to them: the durable queue.

A `WebhookDelivery` row is one event for one endpoint. It is inserted in the
same transaction as the write that caused it (webhooks/hooks.py), so a
rolled-back write sends nothing and a committed one is never lost; the
worker (`manage.py webhooks_worker`, webhooks/delivery.py) sends it and
records each try as a `WebhookAttempt`.
"""

import base64
import secrets

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from . import addresses

# Every event type an endpoint can receive: those the WebSocket carries
# (threads/events.py, the consumer's typing notices, presence), plus
# `message.created.offline`: a new message, once per recipient with no open
# WebSocket (webhooks/hooks.py).
EVENT_TYPES = [
    "message.created",
    "message.updated",
    "message.deleted",
    "message.read",
    "message.unread",
    "thread.created",
    "thread.updated",
    "thread.deleted",
    "member.added",
    "member.removed",
    "member.updated",
    "unread_count",
    "typing",
    "presence",
    "message.created.offline",
]


def generate_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and 32 random bytes, base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def generate_webhook_id() -> str:
    """The `webhook-id` header: unique per event and endpoint, the same on every retry."""
    return "msg_" + secrets.token_hex(16)


class WebhookEndpoint(models.Model):
    url = models.URLField("URL", max_length=2000, help_text="Where events are POSTed. https:// on a public address "
                          "(http:// and private addresses only with CHAT_WEBHOOK_ALLOW_INSECURE=1).")
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=100, default=generate_secret, editable=False,
                              help_text="Signs every request (Standard Webhooks). Give it to the receiver.")
    event_types = models.JSONField(default=list, blank=True,
                                   help_text="The event types sent here; none selected means all of them.")
    is_active = models.BooleanField("active", default=True)
    created = models.DateTimeField(default=timezone.now, editable=False)
    # Set by the first failed attempt after a success, cleared by a success:
    # failing for CHAT_WEBHOOK_DISABLE_AFTER disables the endpoint.
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.description or self.url

    def clean(self) -> None:
        super().clean()
        if self.url:
            try:
                addresses.check_url(self.url)
            except addresses.AddressRefused as refused:
                raise ValidationError({"url": str(refused)}) from None
        unknown = set(self.event_types or []) - set(EVENT_TYPES)
        if unknown:
            raise ValidationError({"event_types": f"Unknown event types: {', '.join(sorted(unknown))}."})

    def subscribes_to(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        DELIVERED = "delivered", "delivered"
        FAILED = "failed", "failed (gave up)"
        CANCELLED = "cancelled", "cancelled"

    # No database constraint: a write in another process may still insert a
    # delivery for an endpoint deleted a moment ago (the endpoint cache,
    # webhooks/endpoints.py), and that must not fail the write. The worker
    # drops such orphans; deleting an endpoint deletes its deliveries.
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries",
                                 db_constraint=False)
    webhook_id = models.CharField("webhook-id", max_length=40, unique=True, default=generate_webhook_id)
    event_type = models.CharField(max_length=40)
    # The exact request body, signed as it is.
    payload = models.TextField()
    created = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # When the next attempt is due (pending only). A worker claims a delivery
    # by moving this forward by its lease: a worker killed mid-send leaves it
    # due again when the lease ends.
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    # The retry schedule counts from the first attempt of the current round:
    # the original send, or staff's redelivery.
    round_started = models.DateTimeField(default=timezone.now)
    round_attempts = models.PositiveIntegerField(default=0)
    attempt_count = models.PositiveIntegerField("attempts", default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # The worker's queue: pending deliveries by due time.
            models.Index(fields=["next_attempt_at", "id"], condition=Q(status="pending"),
                         name="webhooks_delivery_due_idx"),
            models.Index(fields=["endpoint", "-id"], name="webhooks_delivery_endpoint_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_id}"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    started = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    # The answer's status, or null when there was none (refused address,
    # network error, timeout: see `error`).
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    address = models.CharField(max_length=64, blank=True, help_text="The IP address connected to.")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.started:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
