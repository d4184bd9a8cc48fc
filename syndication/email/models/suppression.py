"""The global suppression list: addresses no partner may email, whoever imports them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from tcma.extensions import db
from tcma.models import UTCDateTime, enum_type, utcnow


class SuppressionReason(enum.Enum):
    UNSUBSCRIBED_ALL = "unsubscribed_all"  # the person opted out of every partner's email
    HARD_BOUNCE = "hard_bounce"  # the address does not exist
    COMPLAINT = "complaint"  # the person marked a message as spam
    ERASED = "erased"  # the person asked to be forgotten; only this digest remains


class Suppression(db.Model):
    """One suppressed address, kept as a keyed digest only (never the address), so the list
    can outlive the contacts it came from, erasure requests included.

    Deliberately not partner-owned: every partner's sends are checked against every row.
    """

    __tablename__ = "email_suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[SuppressionReason] = mapped_column(enum_type(SuppressionReason))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The partner whose contact caused it (a bounce of their send), if any.
    source_partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("partners.id", ondelete="SET NULL"))
