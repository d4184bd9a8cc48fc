"""Emitting events and what people do with deliveries: the ledger rows, resend, the sweeper.

``emit`` writes one ``WebhookDelivery`` per subscribed active endpoint in the caller's
transaction and queues a ``deliver_webhook(delivery_id, attempt)`` message for after the
commit; ``attempts.deliver`` makes each attempt. The rows, not the messages, are the truth:
``resend_due`` (a sweeper; nothing calls it on a timer yet) re-sends the messages of rows that
are due and were forgotten (a lost message, or a worker killed mid-POST, which leaves a row
"sending" for longer than ``STALE_SENDING``).

Settings: ``WEBHOOKS_RETRY_DELAYS``, seconds before attempts 2, 3, ... (its length + 1 is the
number of attempts; a short list lets tests run the whole schedule in a second).
"""

from __future__ import annotations

import enum
import json
import logging
import secrets
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from flask import current_app
from sqlalchemy import func, select

from tcma import audit, queue
from tcma.errors import Conflict, NotFound
from tcma.extensions import db
from tcma.models import utcnow
from tcma.webhooks import events
from tcma.webhooks.models import (
    WAITING,
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
    WebhookEndpoint,
)

log = logging.getLogger(__name__)

#: Seconds before attempts 2..8: 30 s, 2 min, 10 min, 1 h, 6 h, 12 h, 24 h (~1.8 days in all).
DEFAULT_RETRY_DELAYS = (30, 120, 600, 3600, 6 * 3600, 12 * 3600, 24 * 3600)
#: A "sending" row claimed this long ago lost its worker (an attempt takes at most the total
#: timeout, and the actor's time limit is one minute).
STALE_SENDING = timedelta(minutes=2)
#: The largest ``data`` an event may carry, as JSON.
MAX_PAYLOAD_BYTES = 256 * 1024


# --- settings -------------------------------------------------------------------------------


def retry_delays() -> list[float]:
    """Pauses before attempts 2, 3, ...; an empty list means one attempt only."""
    configured = current_app.config.get("WEBHOOKS_RETRY_DELAYS")
    return [float(d) for d in (DEFAULT_RETRY_DELAYS if configured is None else configured)]


def max_attempts() -> int:
    return len(retry_delays()) + 1


def delay_after(attempt: int) -> float:
    """The pause after failed attempt ``attempt`` (the last pause repeats for attempts a
    resend added beyond the schedule)."""
    delays = retry_delays() or [float(DEFAULT_RETRY_DELAYS[0])]
    return delays[min(attempt, len(delays)) - 1]


# --- emitting ---------------------------------------------------------------------------------


def emit(event: str, payload: Mapping[str, Any], *,
         occurred_at: datetime | None = None) -> list[WebhookDelivery]:
    """Announce ``event`` to every active endpoint subscribed to it.

    ``payload`` becomes the body's ``data``, snapshotted now (datetimes, decimals, enums and
    UUIDs become strings). Deliveries are added to the caller's transaction and sent only if
    it commits. ``event`` must have been registered with ``register_event``.
    """
    if event == events.TEST_EVENT:
        raise ValueError("the test event is sent with send_test(endpoint)")
    if not events.is_registered(event):
        raise ValueError(f"unknown webhook event {event!r}: call register_event first")
    data = _snapshot(payload)
    when = occurred_at or utcnow()
    event_id = new_event_id()
    endpoints = db.session.execute(
        select(WebhookEndpoint).where(WebhookEndpoint.status == EndpointStatus.ACTIVE)
        .order_by(WebhookEndpoint.id)).scalars()
    return [_add_delivery(e, event, data, when, event_id) for e in endpoints
            if event in (e.events or [])]


def send_test(endpoint: WebhookEndpoint, *, by=None) -> WebhookDelivery:
    """Send the endpoint a ``webhook.test`` event now, whatever it subscribes to."""
    if not endpoint.active:
        raise Conflict("This endpoint is paused: resume it to send it a test event.")
    from tcma.program import current_program

    data = {"message": f"A test event from {current_program().name}. It needs no action.",
            "webhook_id": endpoint.public_id}
    delivery = _add_delivery(endpoint, events.TEST_EVENT, data, utcnow(), new_event_id())
    audit.record("webhook.test", target=endpoint, actor=by,
                 after={"event_id": delivery.event_id})
    return delivery


def new_event_id() -> str:
    return "evt_" + secrets.token_urlsafe(18)


def _add_delivery(endpoint: WebhookEndpoint, event: str, data: dict, when: datetime,
                  event_id: str) -> WebhookDelivery:
    delivery = WebhookDelivery(endpoint_id=endpoint.id, event_id=event_id, event=event,
                               payload=data, occurred_at=when, status=DeliveryStatus.PENDING,
                               attempts=0, max_attempts=max_attempts(), next_attempt_at=utcnow())
    db.session.add(delivery)
    db.session.flush()
    queue.enqueue(deliver_actor(), delivery.id, 1)
    return delivery


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} cannot go in a webhook payload")


def _snapshot(payload: Mapping[str, Any]) -> dict:
    raw = json.dumps(dict(payload), default=_jsonable, ensure_ascii=False)
    if len(raw.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"webhook payload over {MAX_PAYLOAD_BYTES} bytes; send ids and let "
                         "the receiver fetch the rest from the API")
    return json.loads(raw)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as the body's timestamps are written."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def deliver_actor():
    from tcma.webhooks.tasks import deliver_webhook

    return deliver_webhook


# --- people's actions on deliveries -----------------------------------------------------------


def resend(delivery: WebhookDelivery, *, by=None) -> WebhookDelivery:
    """A new attempt of the same delivery, now: same event id and body, new timestamp and
    signature. If it fails, the automatic retries left continue; one attempt is always made,
    even when they were used up."""
    if delivery.status is DeliveryStatus.SENDING and not _lost(delivery):
        raise Conflict("An attempt is under way: wait for its result, then resend.")
    endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
    if not endpoint.active:
        raise Conflict("This endpoint is paused: resume it to resend its deliveries.")
    before = {"status": delivery.status.value, "attempts": delivery.attempts}
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = utcnow()
    delivery.manual = True
    delivery.max_attempts = max(delivery.max_attempts, delivery.attempts + 1)
    audit.record("webhook_delivery.resend", target=delivery, actor=by, before=before,
                 after={"event_id": delivery.event_id, "attempt": delivery.attempts + 1})
    db.session.flush()
    queue.enqueue(deliver_actor(), delivery.id, delivery.attempts + 1)
    return delivery


def _lost(delivery: WebhookDelivery) -> bool:
    """Was this delivery's attempt claimed by a worker that died (it never reported back)?"""
    return delivery.claimed_at is not None and delivery.claimed_at < utcnow() - STALE_SENDING


def wake(endpoint: WebhookEndpoint) -> int:
    """On resume: the endpoint's waiting deliveries are attempted now. Returns how many."""
    waiting = list(db.session.execute(
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id,
                                      WebhookDelivery.status.in_(WAITING))).scalars())
    now = utcnow()
    for delivery in waiting:
        delivery.next_attempt_at = now
        queue.enqueue(deliver_actor(), delivery.id, delivery.attempts + 1)
    return len(waiting)


def resend_due(*, now: datetime | None = None, grace: timedelta = timedelta(minutes=1),
               limit: int = 500) -> int:
    """Re-send the messages of deliveries that should have been attempted by now (their
    message was lost with a broker, or their worker died mid-attempt). Duplicates of
    messages still in flight are harmless: only one claims the attempt. The caller commits;
    the messages leave then. Returns how many were re-sent."""
    now = now or utcnow()
    active = select(WebhookEndpoint.id).where(WebhookEndpoint.status == EndpointStatus.ACTIVE)
    waiting = ((WebhookDelivery.status.in_(WAITING))
               & (WebhookDelivery.next_attempt_at <= now - grace))
    stale = ((WebhookDelivery.status == DeliveryStatus.SENDING)
             & (WebhookDelivery.claimed_at < now - STALE_SENDING))
    due = list(db.session.execute(
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id.in_(active))
        .where(waiting | stale).order_by(WebhookDelivery.next_attempt_at).limit(limit)
    ).scalars())
    for delivery in due:
        if delivery.status is DeliveryStatus.SENDING:  # redo the attempt its worker lost
            queue.enqueue(deliver_actor(), delivery.id, delivery.attempts)
        else:
            delivery.next_attempt_at = now  # spaces out re-sends while this one is queued
            queue.enqueue(deliver_actor(), delivery.id, delivery.attempts + 1)
    return len(due)


# --- reading the log --------------------------------------------------------------------------


def list_deliveries(endpoint: WebhookEndpoint, *, status: DeliveryStatus | None = None,
                    before: str | None = None, limit: int = 50) -> list[WebhookDelivery]:
    """An endpoint's deliveries, newest first; ``before`` (a delivery id) pages on."""
    query = (select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
             .order_by(WebhookDelivery.id.desc()).limit(limit))
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if before:
        anchor = select(WebhookDelivery.id).where(WebhookDelivery.public_id == before)
        query = query.where(WebhookDelivery.id < anchor.scalar_subquery())
    return list(db.session.execute(query).scalars())


def get_delivery(public_id: str) -> WebhookDelivery:
    delivery = db.session.execute(
        select(WebhookDelivery).where(WebhookDelivery.public_id == public_id)
    ).scalar_one_or_none()
    if delivery is None:
        raise NotFound("No such webhook delivery.")
    return delivery


def recent_counts(since: datetime) -> dict[int, dict[str, int]]:
    """Deliveries per endpoint and status since ``since``, for the endpoints list."""
    rows = db.session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count())
        .where(WebhookDelivery.created_at >= since)
        .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status))
    counts: dict[int, dict[str, int]] = {}
    for endpoint_id, status, count in rows:
        counts.setdefault(endpoint_id, {})[status.value] = count
    return counts
