"""The delivery ledger: one row per (launch step, contact), the truth of who got what.

A row exists before anything is sent. A batch claims its rows (``sending`` with a lease)
in one commit, then marks each ``sent`` in its own commit right after the mail server
accepted it, so a retried or redelivered batch skips what went out, and a batch whose worker
died leaves ``sending`` rows whose lease runs out and a sweeper queues again.
"""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tcma.extensions import db
from tcma.models import UTCDateTime, enum_type, utcnow
from tcma.partners.models import PartnerOwned


class DeliveryStatus(enum.Enum):
    QUEUED = "queued"  # waiting for its batch
    SENDING = "sending"  # claimed by a batch (see ``lease_until``)
    SENT = "sent"  # the mail server accepted it
    FAILED = "failed"  # refused for good (``error`` says why), or out of attempts
    SUPPRESSED = "suppressed"  # never sent: unsubscribed, bounced, complained (``error``)
    CANCELLED = "cancelled"  # the launch was cancelled before it went out


#: Statuses a delivery never leaves.
FINAL = (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SUPPRESSED,
         DeliveryStatus.CANCELLED)


def new_ref() -> str:
    """128 random bits, URL-safe: the delivery's public reference (unsubscribe, ``?d=``)."""
    return secrets.token_urlsafe(16)


class Delivery(PartnerOwned, db.Model):
    __tablename__ = "email_deliveries"
    __table_args__ = (UniqueConstraint("step_id", "contact_id"),
                      Index("ix_email_deliveries_step_status", "step_id", "status"),
                      Index("ix_email_deliveries_lease", "status", "lease_until"))

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Public, unguessable: the unsubscribe link, the ``d`` of tracked links, the Message-ID.
    ref: Mapped[str] = mapped_column(String(32), unique=True, default=new_ref)
    step_id: Mapped[int] = mapped_column(ForeignKey("launch_steps.id", ondelete="CASCADE"))
    launch_id: Mapped[int] = mapped_column(ForeignKey("launches.id", ondelete="CASCADE"),
                                           index=True)
    #: NULL once the contact is deleted; the row stays for the launch's counts.
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    status: Mapped[DeliveryStatus] = mapped_column(enum_type(DeliveryStatus),
                                                   default=DeliveryStatus.QUEUED)
    #: Sends tried (a claim counts one); past the limit the row fails instead of retrying.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: The claiming batch's random token: a batch writes only the rows it claimed.
    claim: Mapped[str | None] = mapped_column(String(16))
    #: A claimed row whose lease has passed belongs to a batch that died: queue it again.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Why it failed or was suppressed, in words (the mail server's reply when it refused).
    error: Mapped[str | None] = mapped_column(Text)
    #: Later news from the mail server: "hard_bounce", "soft_bounce", "complaint".
    feedback: Mapped[str | None] = mapped_column(String(16))
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Set when the only opens seen came from machines (privacy proxies, scanners).
    machine_open: Mapped[bool | None] = mapped_column(db.Boolean)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
