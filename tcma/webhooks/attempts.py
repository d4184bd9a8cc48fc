"""Making one attempt of a webhook delivery: the claim, the signed POST, the outcome.

A worker claims attempt N with a conditional UPDATE (the row must still be waiting with
N - 1 attempts made, or be "sending" attempt N for longer than ``STALE_SENDING``, its worker
lost), so a redelivered or duplicated message finds nothing to claim and two workers never
POST the same attempt. The claim is committed before the POST and the outcome after it; a
failed attempt schedules the next one with a delayed message (``deliveries.retry_delays``).

Settings: ``WEBHOOKS_CONNECT_TIMEOUT`` (3 s) and ``WEBHOOKS_TIMEOUT`` (10 s in all).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from tcma.extensions import db
from tcma.models import utcnow
from tcma.webhooks import destinations, signing, transport
from tcma.webhooks.deliveries import STALE_SENDING, delay_after, deliver_actor, iso
from tcma.webhooks.models import (
    WAITING,
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

log = logging.getLogger(__name__)
USER_AGENT = "tcma-webhooks/1"


def request_body(delivery: WebhookDelivery) -> bytes:
    """The exact bytes POSTed (the same for every attempt of a delivery)."""
    return json.dumps({"id": delivery.event_id, "type": delivery.event,
                       "created_at": iso(delivery.occurred_at), "data": delivery.payload},
                      separators=(",", ":"), ensure_ascii=False).encode()


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets that sign a request now: the current one, and the previous one during a
    rotation's overlap."""
    found = [signing.decrypt(endpoint.secret_encrypted)]
    if (endpoint.previous_secret_encrypted and endpoint.previous_secret_expires_at
            and endpoint.previous_secret_expires_at > now):
        found.append(signing.decrypt(endpoint.previous_secret_encrypted))
    return found


def deliver(delivery_id: int, attempt: int) -> None:
    """Make attempt number ``attempt`` of a delivery (the ``deliver_webhook`` actor's body).

    Commits: the claim must be visible before the POST, and the outcome durable before the
    message is acknowledged. A message for an attempt that is made, under way, or no longer
    due (a duplicate, a redelivery, a succeeded delivery, a paused endpoint) does nothing.
    """
    claimed_at = utcnow()
    if not _claim(delivery_id, attempt, claimed_at):
        log.info("webhook delivery %s attempt %s: not due, made already, or gone",
                 delivery_id, attempt)
        return
    try:
        delivery = db.session.get(WebhookDelivery, delivery_id)
        endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
        body = request_body(delivery)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json", "User-Agent": USER_AGENT,
            "Tcma-Webhook-Id": delivery.event_id, "Tcma-Webhook-Timestamp": str(timestamp),
            "Tcma-Webhook-Attempt": str(attempt),
            "Tcma-Signature": signing.signature(signing_secrets(endpoint, claimed_at),
                                                timestamp, body),
        }
        url, manual, limit = endpoint.url, delivery.manual, delivery.max_attempts
        db.session.rollback()  # hold no transaction open during the POST
    except Exception:
        db.session.rollback()
        _release(delivery_id, attempt, claimed_at)  # nothing was sent: let the retry claim it
        raise
    config = current_app.config
    try:
        destination = destinations.vet(url)
    except destinations.Refused as exc:
        outcome = transport.Outcome(None, exc.message, "", 0)
    else:
        outcome = transport.post(destination, body, headers,
                                 connect_timeout=float(config.get("WEBHOOKS_CONNECT_TIMEOUT", 3)),
                                 total_timeout=float(config.get("WEBHOOKS_TIMEOUT", 10)))
    _record(delivery_id, attempt, claimed_at, outcome, manual=manual, limit=limit)


def _claim(delivery_id: int, attempt: int, now: datetime) -> bool:
    active = select(WebhookEndpoint.id).where(WebhookEndpoint.status == EndpointStatus.ACTIVE)
    claimable = (
        (WebhookDelivery.status.in_(WAITING) & (WebhookDelivery.attempts == attempt - 1))
        | ((WebhookDelivery.status == DeliveryStatus.SENDING)
           & (WebhookDelivery.attempts == attempt)
           & (WebhookDelivery.claimed_at < now - STALE_SENDING)))
    claimed = db.session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).where(claimable)
        .where(WebhookDelivery.endpoint_id.in_(active))
        .values(status=DeliveryStatus.SENDING, claimed_at=now, attempts=attempt)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(claimed)


def _release(delivery_id: int, attempt: int, claimed_at: datetime) -> None:
    db.session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
        .where(WebhookDelivery.status == DeliveryStatus.SENDING)
        .where(WebhookDelivery.claimed_at == claimed_at)
        .values(status=DeliveryStatus.RETRYING, attempts=attempt - 1)
        .execution_options(synchronize_session=False))
    db.session.commit()


def _record(delivery_id: int, attempt: int, claimed_at: datetime, outcome: transport.Outcome,
            *, manual: bool, limit: int) -> None:
    now = utcnow()
    error = outcome.error
    if error is None and not outcome.succeeded:
        error = f"The endpoint answered {outcome.status_code}; only a 2xx answer counts."
    values: dict[str, Any] = dict(
        last_attempt_at=claimed_at, last_status_code=outcome.status_code, last_error=error,
        last_response_body=outcome.body, last_duration_ms=outcome.duration_ms, manual=False)
    delay = None
    if outcome.succeeded:
        values.update(status=DeliveryStatus.SUCCEEDED, succeeded_at=now, next_attempt_at=None)
    elif attempt >= limit:
        values.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    else:
        delay = delay_after(attempt)
        values.update(status=DeliveryStatus.RETRYING,
                      next_attempt_at=now + timedelta(seconds=delay))
    updated = db.session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
        .where(WebhookDelivery.status == DeliveryStatus.SENDING)
        .where(WebhookDelivery.claimed_at == claimed_at)
        .values(**values).execution_options(synchronize_session=False)).rowcount
    if not updated:
        # Reclaimed as stale meanwhile (this worker stalled): the new owner records the outcome.
        db.session.rollback()
        log.warning("webhook delivery %s attempt %s: reclaimed before its outcome was recorded",
                    delivery_id, attempt)
        return
    db.session.add(WebhookAttempt(
        delivery_id=delivery_id, number=attempt, started_at=claimed_at,
        duration_ms=outcome.duration_ms, status_code=outcome.status_code, error=error,
        response_body=outcome.body, succeeded=outcome.succeeded, manual=manual))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        log.warning("webhook delivery %s attempt %s was recorded already", delivery_id, attempt)
        return
    if delay is not None:
        try:
            deliver_actor().actor.send_with_options(args=(delivery_id, attempt + 1),
                                             delay=int(delay * 1000))
        except Exception:  # noqa: BLE001  (the row is due: resend_due finds it)
            log.exception("webhook delivery %s: could not queue attempt %s", delivery_id,
                          attempt + 1)
