"""Webhook endpoints, the deliveries of events to them, and every attempt at each delivery.

A delivery is a ledger row written in the same transaction as the change that emitted the
event, before any message is sent: the row, not the message, is the source of truth, so a lost
message is found again by ``deliveries.resend_due`` and a redelivered one finds the row done.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tcma.extensions import db
from tcma.models import PublicIdMixin, TimestampMixin, UTCDateTime, enum_type, utcnow


class EndpointStatus(enum.Enum):
    ACTIVE = "active"
    PAUSED = "paused"  # gets no new events; its waiting deliveries wait until it is resumed


class DeliveryStatus(enum.Enum):
    PENDING = "pending"  # written, its first attempt not made yet
    SENDING = "sending"  # claimed by a worker, the POST under way
    RETRYING = "retrying"  # an attempt failed; the next one is due at ``next_attempt_at``
    SUCCEEDED = "succeeded"  # the endpoint answered 2xx
    FAILED = "failed"  # every attempt failed; a person may resend it


#: Statuses a worker may still claim (after their due time), and the sweeper re-sends.
WAITING = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)


class WebhookEndpoint(PublicIdMixin, TimestampMixin, db.Model):
    """A URL the vendor registered to receive signed events (the vendor's CRM, usually)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500), default="")
    #: Names of the subscribed event types (``tcma.webhooks.events``).
    events: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[EndpointStatus] = mapped_column(enum_type(EndpointStatus),
                                                   default=EndpointStatus.ACTIVE)
    #: The signing secret, Fernet-encrypted (``signing.encrypt``); never stored in plain text.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    #: Its last characters, so people can tell secrets apart without revealing them.
    secret_hint: Mapped[str] = mapped_column(String(16))
    #: After a rotation, the old secret keeps signing (a second ``v1=``) until this time.
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))

    @property
    def active(self) -> bool:
        return self.status is EndpointStatus.ACTIVE


class WebhookDelivery(PublicIdMixin, db.Model):
    """One event for one endpoint: the body's snapshot and the state of its attempts.

    A manual resend makes a new attempt on this same row: the receiver sees the same event id
    (``Tcma-Webhook-Id``) and body again, with a fresh timestamp and signature.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: (Indexed by the unique key below, whose first column it is.)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    #: The event's id, the same for every endpoint that got this event: receivers dedupe on it.
    event_id: Mapped[str] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(100))
    #: The ``data`` of the body, as it was when the event happened.
    payload: Mapped[dict] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[DeliveryStatus] = mapped_column(enum_type(DeliveryStatus),
                                                   default=DeliveryStatus.PENDING)
    #: Attempts made (or under way): a worker claims attempt ``attempts + 1``.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: When ``attempts`` reaches this, a failed attempt ends the delivery as failed.
    max_attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the current attempt was claimed: a "sending" row claimed long ago lost its worker.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The next attempt was asked for by a person (Resend), not by the retry schedule.
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: The start of the last answer's body (at most 2 kB).
    last_response_body: Mapped[str | None] = mapped_column(Text)
    last_duration_ms: Mapped[int | None] = mapped_column(Integer)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    endpoint: Mapped[WebhookEndpoint] = relationship()
    attempt_log: Mapped[list[WebhookAttempt]] = relationship(
        order_by="WebhookAttempt.number", lazy="selectin", passive_deletes=True,
        back_populates="delivery")


class WebhookAttempt(db.Model):
    """One POST of a delivery: when, how long, what came back. Written once, never changed."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (UniqueConstraint("delivery_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    #: 1 for the first attempt; the unique key makes a second record of one attempt fail.
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    #: Why the attempt failed when the answer says nothing (timeout, refused, TLS...).
    error: Mapped[str | None] = mapped_column(Text)
    response_body: Mapped[str] = mapped_column(Text, default="")
    succeeded: Mapped[bool] = mapped_column(Boolean)
    manual: Mapped[bool] = mapped_column(Boolean, default=False)

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="attempt_log")
