"""The active endpoints, as every write needs to know them: without a query.

Each process keeps a snapshot of the active endpoints (id and event types).
A write asks `active()`, which reads no table: with no endpoint configured,
webhooks cost a request nothing. The snapshot is loaded from the database
once, at the process's first event, and again only after an endpoint
changed:

- Saving or deleting an endpoint (the admin, the worker disabling one, any
  ORM save) drops this process's snapshot and puts a new random version
  token in the Django cache, at once and again when the transaction commits
  (so no process keeps a version read before the commit).
- Other processes compare their snapshot's token with the cache's at most
  once every CHAT_WEBHOOK_ENDPOINTS_CHECK_SECONDS (1): one cache read (Redis
  with REDIS_URL, never the database), and a reload only when it changed.
  A cache without the key (restarted, flushed, or the in-process cache of a
  single-process deployment) keeps the snapshot as it is.

So a change reaches every process within about a second. Events of writes in
that second go by the old list: a new endpoint misses them, a deleted or
deactivated one has them dropped by the worker (it checks the endpoint
before sending).
"""

import logging
import threading
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

VERSION_KEY = "webhooks:endpoints-version"


@dataclass(frozen=True)
class ActiveEndpoint:
    id: int
    # Empty: every event type.
    event_types: frozenset[str]

    def subscribes_to(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


@dataclass
class _Snapshot:
    version: str | None
    checked: float
    endpoints: tuple[ActiveEndpoint, ...]


_lock = threading.Lock()
_snapshot: _Snapshot | None = None


def _cached_version() -> str | None:
    try:
        return cache.get(VERSION_KEY)
    except Exception:  # Redis down: keep what we have (logged by the cache's user, the throttles, too)
        logger.warning("Could not read the webhook endpoints' version from the cache", exc_info=True)
        return None


def _load(version: str | None) -> _Snapshot:
    from .models import WebhookEndpoint

    rows = WebhookEndpoint.objects.filter(is_active=True).values_list("id", "event_types")
    endpoints = tuple(ActiveEndpoint(id=pk, event_types=frozenset(types or ())) for pk, types in rows)
    return _Snapshot(version=version, checked=time.monotonic(), endpoints=endpoints)


def active() -> tuple[ActiveEndpoint, ...]:
    """The active endpoints, from this process's snapshot (see the module)."""
    global _snapshot
    snapshot = _snapshot
    now = time.monotonic()
    if snapshot is not None and now - snapshot.checked < settings.CHAT_WEBHOOK_ENDPOINTS_CHECK_SECONDS:
        return snapshot.endpoints
    version = _cached_version()
    with _lock:
        snapshot = _snapshot
        if snapshot is None or (version is not None and version != snapshot.version):
            snapshot = _snapshot = _load(version)
        else:
            snapshot.checked = now
        return snapshot.endpoints


def _bump() -> None:
    global _snapshot
    _snapshot = None
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:
        logger.warning("Could not tell other processes that webhook endpoints changed", exc_info=True)


def endpoints_changed(**kwargs) -> None:
    """post_save / post_delete of an endpoint."""
    _bump()
    transaction.on_commit(_bump, robust=True)


def reset(endpoints: tuple[ActiveEndpoint, ...] | None = None) -> None:
    """Tests: forget the snapshot; with `endpoints`, take them as the loaded list."""
    global _snapshot
    _snapshot = None if endpoints is None else _Snapshot(version=None, checked=time.monotonic(), endpoints=endpoints)
