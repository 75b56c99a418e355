"""Sending webhooks: what the worker (`manage.py webhooks_worker`) runs.

A worker takes one due delivery at a time (`claim`): in a short transaction
it picks the oldest pending delivery whose `next_attempt_at` has come
(PostgreSQL: `FOR UPDATE SKIP LOCKED`, so workers never take the same one;
SQLite: the write lock every transaction takes) and moves `next_attempt_at`
forward by the lease (CHAT_WEBHOOK_LEASE_SECONDS). Then it sends, outside
any transaction, and records the attempt. A worker killed mid-send never
records it: the delivery is due again when the lease ends and another
worker (or the restarted one) sends it again with the same `webhook-id`.
Delivery is at least once; receivers deduplicate on `webhook-id`.

An attempt fails on a refused address, a network error, a timeout
(CHAT_WEBHOOK_TIMEOUT_SECONDS) or an answer other than 2xx (redirects are
not followed). Retries wait CHAT_WEBHOOK_RETRY_DELAYS (5 s, 30 s, 2 min,
10 min, 20 min, 40 min, 80 min, then every 2 h) for CHAT_WEBHOOK_RETRY_FOR
(3 days) after the first attempt, then the delivery is `failed`. An
endpoint whose attempts have all failed for CHAT_WEBHOOK_DISABLE_AFTER (3
days) is disabled, with the reason, and its pending deliveries cancelled.
"""

import http.client
import logging
import signal
import socket
import ssl
import time
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from . import addresses
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

# How much of an answer is read (and kept in the attempt's error on failure).
MAX_ANSWER_BYTES = 4096
USER_AGENT = "chat-webhooks/1.0"


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever the name resolves to now."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address; the certificate is checked against the URL's host name."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def sign(endpoint_secret: str, webhook_id: str, body: str, at) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(endpoint_secret).sign(webhook_id, at, body),
    }


def post(url: str, body: str, headers: dict[str, str]) -> tuple[int, str, str]:
    """POST `body` to `url`: (status, answer excerpt, address connected to).
    AddressRefused, OSError (network, timeout) or http.client errors on failure."""
    scheme, host, port = addresses.split_url(url)
    address = addresses.resolve(host, port)[0]
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    conn = connection_class(host, port, address=address, timeout=settings.CHAT_WEBHOOK_TIMEOUT_SECONDS)
    try:
        conn.request(
            "POST", target, body=body.encode(),
            headers={**headers, "Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        response = conn.getresponse()
        answer = response.read(MAX_ANSWER_BYTES).decode(errors="replace")
        return response.status, answer, address
    finally:
        conn.close()


def retry_delay(round_attempts: int) -> timedelta:
    """The wait after the `round_attempts`-th failed attempt of a round (1 = the first)."""
    delays = settings.CHAT_WEBHOOK_RETRY_DELAYS
    return timedelta(seconds=delays[min(round_attempts, len(delays)) - 1])


def claim(now=None) -> WebhookDelivery | None:
    """Take the next due delivery for this worker (see the module), or None."""
    now = now or timezone.now()
    lease = timedelta(seconds=settings.CHAT_WEBHOOK_LEASE_SECONDS)
    with transaction.atomic():
        due = WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        ).order_by("next_attempt_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        delivery = due.first()
        if delivery is None:
            return None
        delivery.next_attempt_at = now + lease
        delivery.save(update_fields=["next_attempt_at"])
    return delivery


def attempt(delivery: WebhookDelivery, now=None) -> WebhookAttempt | None:
    """Send a claimed delivery once and record the outcome (None: not sent, the
    endpoint is gone or inactive and the delivery was dropped or cancelled)."""
    endpoint = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).first()
    if endpoint is None:  # deleted a moment before the write that queued this
        delivery.delete()
        return None
    if not endpoint.is_active:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.CANCELLED, next_attempt_at=None, last_error="The endpoint is not active."
        )
        return None

    started = now or timezone.now()
    clock = time.monotonic()
    status_code, error, address = None, "", ""
    try:
        headers = sign(endpoint.secret, delivery.webhook_id, delivery.payload, started)
        status_code, answer, address = post(endpoint.url, delivery.payload, headers)
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}: {answer[:500]}".strip()
    except addresses.AddressRefused as refused:
        error = f"Refused: {refused}"
    except TimeoutError:
        error = f"Timed out after {settings.CHAT_WEBHOOK_TIMEOUT_SECONDS} s."
    except (OSError, http.client.HTTPException, ValueError) as failure:
        error = f"{type(failure).__name__}: {failure}"
    duration_ms = int((time.monotonic() - clock) * 1000)
    return record(delivery, endpoint, started=started, duration_ms=duration_ms, status_code=status_code,
                  error=error, address=address)


@transaction.atomic
def record(delivery: WebhookDelivery, endpoint: WebhookEndpoint, *, started, duration_ms: int,
           status_code: int | None, error: str, address: str) -> WebhookAttempt:
    """Store an attempt and what follows from it: delivered, retried later,
    given up; the endpoint's failing streak, and disabling it."""
    attempt = WebhookAttempt.objects.create(delivery=delivery, started=started, duration_ms=duration_ms,
                                            status_code=status_code, error=error, address=address)
    # As it is now, locked: a worker that outlived its lease may have
    # delivered it meanwhile, and a delivered one stays delivered.
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    if delivery.status != WebhookDelivery.Status.PENDING:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(attempt_count=F("attempt_count") + 1)
        return attempt
    delivery.attempt_count += 1
    delivery.round_attempts += 1
    delivery.last_status_code = status_code
    delivery.last_error = error
    if not error:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = started
        delivery.next_attempt_at = None
        if endpoint.failing_since is not None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
    else:
        retry_at = started + retry_delay(delivery.round_attempts)
        if retry_at - delivery.round_started > settings.CHAT_WEBHOOK_RETRY_FOR:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = retry_at
    delivery.save(update_fields=["attempt_count", "round_attempts", "last_status_code", "last_error", "status",
                                 "delivered_at", "next_attempt_at"])
    if error:
        _endpoint_failed(endpoint, started, error)
    return attempt


def _endpoint_failed(endpoint: WebhookEndpoint, at, error: str) -> None:
    # Only the first failure of a streak sets it; a success in another
    # worker meanwhile cleared it (the UPDATE then sets it afresh: right).
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=at)
    endpoint.refresh_from_db(fields=["failing_since", "is_active"])
    if endpoint.is_active and at - endpoint.failing_since >= settings.CHAT_WEBHOOK_DISABLE_AFTER:
        disable(endpoint, at=at, reason=(
            f"Disabled automatically on {at:%Y-%m-%d %H:%M} UTC: every attempt failed since "
            f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC. Last error: {error[:500]}"
        ))


def disable(endpoint: WebhookEndpoint, *, at, reason: str) -> None:
    endpoint.is_active = False
    endpoint.disabled_at = at
    endpoint.disabled_reason = reason
    endpoint.save(update_fields=["is_active", "disabled_at", "disabled_reason"])  # tells every process (endpoints.py)
    WebhookDelivery.objects.filter(endpoint=endpoint, status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.CANCELLED, next_attempt_at=None, last_error="The endpoint was disabled."
    )


@transaction.atomic
def redeliver(*, delivery_ids: list[int]) -> int:
    """Staff: send these deliveries again, as a new round of retries, with the same webhook-id."""
    now = timezone.now()
    return WebhookDelivery.objects.filter(pk__in=delivery_ids).update(
        status=WebhookDelivery.Status.PENDING, next_attempt_at=now, round_started=now, round_attempts=0,
        delivered_at=None,
    )


def prune(now=None, batch: int = 1000) -> int:
    """Delete finished deliveries (and their attempts) older than
    CHAT_WEBHOOK_KEEP_DAYS, a batch at a time; how many went."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.CHAT_WEBHOOK_KEEP_DAYS)
    finished = WebhookDelivery.objects.filter(created__lt=cutoff).exclude(status=WebhookDelivery.Status.PENDING)
    removed = 0
    while ids := list(finished.order_by("id").values_list("id", flat=True)[:batch]):
        with transaction.atomic():
            WebhookAttempt.objects.filter(delivery_id__in=ids).delete()
            removed += WebhookDelivery.objects.filter(pk__in=ids).delete()[1].get("webhooks.WebhookDelivery", 0)
    return removed


def run_due(limit: int | None = None) -> int:
    """Send every delivery due now (or `limit` of them); how many were tried."""
    done = 0
    while limit is None or done < limit:
        delivery = claim()
        if delivery is None:
            break
        attempt(delivery)
        done += 1
    return done


class Worker:
    """The worker loop: send what is due, sleep `interval` seconds when nothing is."""

    def __init__(self, *, interval: float = 1.0):
        self.interval = interval
        self.running = True

    def stop(self, signum=None, frame=None) -> None:
        logger.info("Webhook worker stopping after the current attempt")
        self.running = False

    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def run(self) -> None:
        next_prune = 0.0
        while self.running:
            close_old_connections()
            try:
                if time.monotonic() >= next_prune:  # at start, then hourly
                    next_prune = time.monotonic() + 3600
                    if pruned := prune():
                        logger.info("Pruned %d finished webhook deliveries", pruned)
                delivery = claim()
                if delivery is not None:
                    attempt(delivery)
                    continue
            except Exception:  # the database is down, for instance: try again later
                logger.exception("Webhook worker: could not run a delivery")
            close_old_connections()
            deadline = time.monotonic() + self.interval
            while self.running and time.monotonic() < deadline:
                time.sleep(min(0.2, self.interval))
