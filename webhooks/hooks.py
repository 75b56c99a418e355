"""From real-time events to webhook deliveries, in the write's transaction.

threads/events.py calls `wanted()` for every event it is about to send; only
when an endpoint is active (webhooks/endpoints.py: no query to know) does it
build the event's deliveries inside the transaction and hand them to
`store()`, which inserts one `WebhookDelivery` per event and subscribed
endpoint in one bulk INSERT. The rows commit or roll back with the write.

The WebSocket sends one event to each user concerned; a webhook gets each
distinct event once, with the ids of the users it went to as `recipients`
(an `unread_count` is different for each user, so it is one webhook per user).
"""

import json
from collections.abc import Iterable

from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone

from threads.rendering import render_datetime

from . import endpoints
from .models import EVENT_TYPES, WebhookDelivery

_KNOWN = frozenset(EVENT_TYPES)
OFFLINE = "message.created.offline"


def wanted() -> bool:
    """Whether any endpoint is active. Reads no table."""
    return bool(endpoints.active())


def payload(event_type: str, data: dict, *, at=None) -> str:
    """The request body: the Standard Webhooks envelope around the event."""
    return json.dumps(
        {"type": event_type, "timestamp": render_datetime(at or timezone.now()), "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _annotate(events: list[dict]) -> None:
    """The users shown carry is_online and last_seen, as in the API's answers
    (threads.presence: one lookup, no query)."""
    from threads import presence

    presence.annotate(events)


def store(deliveries: Iterable[tuple[int, dict]]) -> list[WebhookDelivery]:
    """Queue the webhooks of these (user id, event) deliveries, in the current transaction."""
    active = endpoints.active()
    if not active:
        return []
    # Distinct events in order, each with the users it goes to. The events
    # module shares one dict among the users of an event; equal dicts are
    # one event too.
    recipients: dict[int, list[int]] = {}
    events: dict[int, dict] = {}
    by_text: dict[str, int] = {}
    for user_id, event in deliveries:
        key = id(event)
        if key not in events:
            text = json.dumps(event, sort_keys=True, default=str)
            key = by_text.setdefault(text, key)
            events.setdefault(key, event)
        recipients.setdefault(key, [])
        if user_id not in recipients[key]:
            recipients[key].append(user_id)
    wanted_events = [event for event in events.values() if event.get("type") in _KNOWN and any(
        endpoint.subscribes_to(event["type"]) for endpoint in active)]
    if not wanted_events:
        return []
    _annotate(wanted_events)
    now = timezone.now()
    rows = []
    for key, event in events.items():
        event_type = event.get("type")
        if event_type not in _KNOWN:
            continue
        subscribed = [endpoint for endpoint in active if endpoint.subscribes_to(event_type)]
        if not subscribed:
            continue
        data = {name: value for name, value in event.items() if name != "type"}
        data["recipients"] = sorted(recipients[key])
        body = payload(event_type, data, at=now)
        rows.extend(
            WebhookDelivery(endpoint_id=endpoint.id, event_type=event_type, payload=body, created=now,
                            next_attempt_at=now, round_started=now)
            for endpoint in subscribed
        )
    if rows:
        WebhookDelivery.objects.bulk_create(rows)
    return rows


def _muted_user_ids(thread_id: int, user_ids: list[int]) -> set[int] | None:
    """Which of these members muted the thread; None while the codebase has
    no muting (threads.Membership.muted)."""
    from threads.models import Membership

    try:
        Membership._meta.get_field("muted")
    except FieldDoesNotExist:
        return None
    return set(
        Membership.objects.filter(thread_id=thread_id, user_id__in=user_ids, muted=True).values_list(
            "user_id", flat=True
        )
    )


def offline_recipients(events: list[dict], *, thread_id: int, recipient_ids: Iterable[int]) -> None:
    """`message.created.offline`: each new message again for each recipient
    with no open WebSocket (threads.presence), for push or email, saying
    whether they muted the thread. Costs nothing unless an endpoint wants
    this type; then one presence lookup (Redis, no query), one query for the
    mutes and one INSERT, whatever the number of recipients."""
    subscribed = [endpoint for endpoint in endpoints.active() if endpoint.subscribes_to(OFFLINE)]
    recipient_ids = list(recipient_ids)
    if not subscribed or not recipient_ids:
        return
    from threads import presence

    online = presence.users_online(recipient_ids)
    offline = sorted(user_id for user_id in recipient_ids if user_id not in online)
    if not offline:
        return
    muted = _muted_user_ids(thread_id, offline)
    _annotate(events)
    now = timezone.now()
    rows = []
    for event in events:
        for user_id in offline:
            data = {"message": event["message"], "recipient": user_id, "recipient_online": False}
            if muted is not None:
                data["muted"] = user_id in muted
            data["recipients"] = [user_id]
            body = payload(OFFLINE, data, at=now)
            rows.extend(
                WebhookDelivery(endpoint_id=endpoint.id, event_type=OFFLINE, payload=body, created=now,
                                next_attempt_at=now, round_started=now)
                for endpoint in subscribed
            )
    WebhookDelivery.objects.bulk_create(rows)
