"""Funds, partners' allocations of them, requests (with their claims), proof files, ledger.

Amounts are integers of the fund currency's minor unit (``mdf.money``). An allocation carries
the running balances of its partner in its fund; every change to them is one conditional
UPDATE (``mdf.balances``), and a CHECK constraint makes over-commitment impossible even for
code that forgets to ask.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
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
from tcma.partners.models import Partner, PartnerOwned

ACTIVITY_TYPES = ("event", "webinar", "digital_advertising", "print", "trade_show",
                  "content_syndication", "other")


class FundStatus(enum.Enum):
    OPEN = "open"  # takes requests until its period ends
    CLOSED = "closed"  # closed by hand or past its period: claims of approved requests go on


class Fund(PublicIdMixin, TimestampMixin, db.Model):
    __tablename__ = "mdf_funds"
    __table_args__ = (CheckConstraint("budget >= 0", name="budget_not_negative"),
                      CheckConstraint("vendor_share_bp BETWEEN 1 AND 10000",
                                      name="vendor_share_range"))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    #: The total that may be allocated to partners, in minor units.
    budget: Mapped[int] = mapped_column(BigInteger)
    #: A claim is due this many days after the activity ends.
    claim_days: Mapped[int] = mapped_column(Integer, default=60)
    activity_types: Mapped[list] = mapped_column(JSON, default=lambda: list(ACTIVITY_TYPES))
    #: The vendor pays at most this share of an activity's cost, in basis points (5000: 50%).
    vendor_share_bp: Mapped[int] = mapped_column(Integer, default=10_000)
    #: Requests above this amount need a second approval by finance or an admin; None: never.
    approval_threshold: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[FundStatus] = mapped_column(enum_type(FundStatus), default=FundStatus.OPEN)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Allocation(PartnerOwned, db.Model):
    """One partner's share of a fund and where that money stands now.

    available = amount - committed - claimed - approved - paid. ``expired`` only counts what
    returned to ``available`` when approved requests went unclaimed.
    """

    __tablename__ = "mdf_allocations"
    __table_args__ = (
        UniqueConstraint("fund_id", "partner_id"),
        CheckConstraint("committed >= 0 AND claimed >= 0 AND approved >= 0 AND paid >= 0 "
                        "AND expired >= 0", name="balances_not_negative"),
        CheckConstraint("committed + claimed + approved + paid <= amount",
                        name="never_over_committed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("mdf_funds.id", ondelete="CASCADE"),
                                         index=True)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Approved requests not yet claimed.
    committed: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Claims under review.
    claimed: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Claims approved, waiting for payment.
    approved: Mapped[int] = mapped_column(BigInteger, default=0)
    paid: Mapped[int] = mapped_column(BigInteger, default=0)
    expired: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    fund: Mapped[Fund] = relationship()
    partner: Mapped[Partner] = relationship()

    @property
    def available(self) -> int:
        return self.amount - self.committed - self.claimed - self.approved - self.paid


class RequestStatus(enum.Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    NEEDS_INFO = "needs_info"
    APPROVED = "approved"  # funds committed; the partner runs the activity, then claims
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    CLAIM_SUBMITTED = "claim_submitted"
    CLAIM_NEEDS_INFO = "claim_needs_info"
    CLAIM_APPROVED = "claim_approved"  # waiting for payment
    CLAIM_REJECTED = "claim_rejected"
    PAID = "paid"
    EXPIRED = "expired"  # approved but not claimed by the deadline: the money went back


class FundRequest(PublicIdMixin, PartnerOwned, TimestampMixin, db.Model):
    """A partner's request for funds and, once approved, its claim: one row, one state
    machine (``mdf.workflow``)."""

    __tablename__ = "mdf_requests"
    __table_args__ = (Index("ix_mdf_requests_status_deadline", "status", "claim_deadline"),
                      Index("ix_mdf_requests_fund_status", "fund_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("mdf_funds.id", ondelete="CASCADE"))
    allocation_id: Mapped[int] = mapped_column(
        ForeignKey("mdf_allocations.id", ondelete="CASCADE"), index=True)
    status: Mapped[RequestStatus] = mapped_column(enum_type(RequestStatus),
                                                  default=RequestStatus.DRAFT)
    activity_type: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    estimated_cost: Mapped[int] = mapped_column(BigInteger)
    requested: Mapped[int] = mapped_column(BigInteger)
    expected_leads: Mapped[int | None] = mapped_column(Integer)
    expected_attendees: Mapped[int | None] = mapped_column(Integer)
    #: The kit launch this activity is (its results become automatic proof of performance).
    launch_id: Mapped[int | None] = mapped_column(ForeignKey("launches.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    #: Above the fund's threshold: who gave the first of the two approvals, and how much.
    first_approved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    first_approved_amount: Mapped[int | None] = mapped_column(BigInteger)
    approved_amount: Mapped[int | None] = mapped_column(BigInteger)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_deadline: Mapped[date | None] = mapped_column(Date)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    actual_cost: Mapped[int | None] = mapped_column(BigInteger)
    claimed_amount: Mapped[int | None] = mapped_column(BigInteger)
    results_leads: Mapped[int | None] = mapped_column(Integer)
    results_attendees: Mapped[int | None] = mapped_column(Integer)
    results_notes: Mapped[str] = mapped_column(Text, default="")
    #: What this claim holds in the allocation's ``claimed`` balance while it is reviewed
    #: (``claimed_amount`` may be edited meanwhile, when more information was asked for).
    claim_in_review: Mapped[int | None] = mapped_column(BigInteger)
    claim_submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_approved_amount: Mapped[int | None] = mapped_column(BigInteger)
    claim_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payment_reference: Mapped[str | None] = mapped_column(String(100))
    paid_on: Mapped[date | None] = mapped_column(Date)
    #: The last comment from the reviewer (why lower, what information is needed, why not).
    review_comment: Mapped[str] = mapped_column(Text, default="")

    fund: Mapped[Fund] = relationship()
    allocation: Mapped[Allocation] = relationship()
    partner: Mapped[Partner] = relationship()
    files: Mapped[list[ProofFile]] = relationship(
        back_populates="request", order_by="ProofFile.id", cascade="all, delete-orphan",
        passive_deletes=True)


class ProofFile(PublicIdMixin, PartnerOwned, db.Model):
    """An invoice, photo, attendee list or screenshot behind a claim (or the automatic
    proof-of-performance report), kept in storage."""

    __tablename__ = "mdf_proof_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("mdf_requests.id", ondelete="CASCADE"),
                                            index=True)
    storage_key: Mapped[str] = mapped_column(String(300))
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    mimetype: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    #: What the check found ("3 pages", "1200×800", "154 rows").
    detail: Mapped[str] = mapped_column(String(200), default="")
    #: Made by tcma from a linked launch's results, not uploaded.
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    request: Mapped[FundRequest] = relationship(back_populates="files")


class LedgerEntry(PartnerOwned, db.Model):
    """One transition or amount change of a request, allocation or fund: who, when, from
    which state to which, how much. Append-only (database triggers refuse changes)."""

    __tablename__ = "mdf_ledger"
    __table_args__ = (Index("ix_mdf_ledger_request", "request_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Plain references without ON DELETE actions: a SET NULL would be an UPDATE, which the
    # append-only triggers refuse. Requests, funds and partners are closed, never deleted.
    fund_id: Mapped[int | None] = mapped_column(ForeignKey("mdf_funds.id"), index=True)
    partner_id: Mapped[int | None] = mapped_column(  # type: ignore[assignment]
        ForeignKey("partners.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("mdf_requests.id"))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    #: Kept as text: the name outlives the user row.
    actor_name: Mapped[str] = mapped_column(String(200), default="tcma")
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    comment: Mapped[str] = mapped_column(Text, default="")
