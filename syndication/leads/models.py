"""Leads from landing-page forms, and each lead's history."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from syndication.pages.models import LandingPage
from tcma.extensions import db
from tcma.models import PublicIdMixin, TimestampMixin, UTCDateTime, enum_type, utcnow
from tcma.partners.models import Partner, PartnerOwned


class LeadStatus(enum.Enum):
    NEW = "new"
    ACCEPTED = "accepted"
    WORKING = "working"
    QUALIFIED = "qualified"
    WON = "won"
    LOST = "lost"
    REJECTED = "rejected"  # with a reason: spam, not a fit, duplicate...


class Routing(enum.Enum):
    DIRECT = "direct"  # came through the partner's own page: theirs from the start
    UNROUTED = "unrouted"  # a generic page's lead, waiting for the routing rules
    ROUTED = "routed"  # given to a partner by a rule or by hand


class Lead(PublicIdMixin, PartnerOwned, TimestampMixin, db.Model):
    """A person who filled a landing-page form, attributed to a partner.

    ``partner_id`` is NULL while a generic page's lead waits to be routed; tenancy shows such
    rows to vendor staff only.
    """

    __tablename__ = "leads"
    __table_args__ = (Index("ix_leads_partner_created", "partner_id", "created_at"),)

    partner_id: Mapped[int | None] = mapped_column(  # type: ignore[assignment]
        ForeignKey("partners.id", ondelete="SET NULL"), index=True)
    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int | None] = mapped_column(
        ForeignKey("landing_pages.id", ondelete="SET NULL"), index=True)
    routing: Mapped[Routing] = mapped_column(enum_type(Routing))
    status: Mapped[LeadStatus] = mapped_column(enum_type(LeadStatus), default=LeadStatus.NEW,
                                               index=True)
    #: Why the lead was rejected (required then), or lost.
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(254), index=True)
    company: Mapped[str] = mapped_column(String(200), default="")
    job_title: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    #: ISO 3166 two-letter code.
    country: Mapped[str] = mapped_column(String(2), default="")
    message: Mapped[str] = mapped_column(Text, default="")

    consent_given: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The exact wording the person saw beside the box, and the page's consent version.
    consent_text: Mapped[str] = mapped_column(Text, default="")
    consent_version: Mapped[int] = mapped_column(Integer, default=0)

    #: ``utm_medium`` when it names a channel (email, social, web, qr, asset), else web.
    channel: Mapped[str] = mapped_column(String(16), default="web")
    #: Tracking-link click ids (``<code>.<random>``): the first and the latest that brought
    #: this person; the links service resolves them to links and partners.
    first_click_id: Mapped[str | None] = mapped_column(String(40), index=True)
    last_click_id: Mapped[str | None] = mapped_column(String(40), index=True)
    #: UTM values of the first submission: {"source", "medium", "campaign", "content", "term"}.
    utm: Mapped[dict] = mapped_column(JSON, default=dict)
    #: A keyed SHA-256 of the address (never the address itself).
    ip_hash: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")

    submissions: Mapped[int] = mapped_column(Integer, default=1)
    last_submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Digest of (page, partner, email) while this lead is the one a new submission of the
    #: same person updates; unique, so two parallel submissions cannot both create a lead.
    dedup_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: When the partner's lead contacts were emailed (once per lead, however often the
    #: message is delivered).
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    page: Mapped[LandingPage | None] = relationship(lazy="joined")
    partner: Mapped[Partner | None] = relationship(lazy="joined")
    events: Mapped[list[LeadEvent]] = relationship(
        back_populates="lead", order_by="LeadEvent.id", cascade="all, delete-orphan",
        passive_deletes=True)

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


class LeadEventKind(enum.Enum):
    CREATED = "created"
    RESUBMITTED = "resubmitted"
    STATUS_CHANGED = "status_changed"
    NOTE_ADDED = "note_added"


class LeadEvent(db.Model):
    """One thing that happened to a lead; never changed afterwards."""

    __tablename__ = "lead_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    kind: Mapped[LeadEventKind] = mapped_column(enum_type(LeadEventKind))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: Who, as a person reads it, kept if the user is removed ("the visitor" for the form).
    actor_label: Mapped[str] = mapped_column(String(300))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    #: The note, or the reason given with a status change.
    text: Mapped[str | None] = mapped_column(Text)
    #: Details: the fields a resubmission changed, its click id and UTM values.
    data: Mapped[dict | None] = mapped_column(JSON)

    lead: Mapped[Lead] = relationship(back_populates="events")
