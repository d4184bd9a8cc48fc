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
    UNROUTED = "unrouted"  # a vendor lead no partner has: no rule matched, or nobody was left
    ROUTED = "routed"  # given to a partner by hand (or by an import naming the partner)
    OFFERED = "offered"  # offered by a routing rule; the partner accepts or declines in time
    ACCEPTED = "accepted"  # the partner accepted the rule's offer
    #: Declined or expired: waiting (a moment) to be offered to the rule's next partner.
    PULLED_BACK = "pulled_back"


class Lead(PublicIdMixin, PartnerOwned, TimestampMixin, db.Model):
    """A person who filled a landing-page form (or whom the vendor imported), attributed to a
    partner.

    ``partner_id`` is NULL while a vendor lead (generic page, import) has no partner; tenancy
    shows such rows to vendor staff only. While a rule's offer is open it names the partner
    the lead is offered to, who sees it until the offer is declined or expires.
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
    #: The person's language (``de``, ``pt-BR``) when known (imports); rules match on it.
    language: Mapped[str] = mapped_column(String(16), default="")
    #: Where an imported lead came from, in the vendor's words ("website", "crm", "event").
    source: Mapped[str] = mapped_column(String(100), default="")
    #: The vendor system's id of an imported lead: importing it again updates this lead.
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)

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
    #: The routing rule that offers (or offered) the lead; its next partner gets it on a
    #: decline or expiry.
    routing_rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("routing_rules.id", ondelete="SET NULL"))
    #: While ``routing`` is offered: when the offer lapses and the lead is pulled back.
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

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
    UPDATED = "updated"  # an import sent the lead again with changed fields
    OFFERED = "offered"  # a routing rule offered the lead to a partner
    OFFER_ACCEPTED = "offer_accepted"
    OFFER_DECLINED = "offer_declined"  # with the partner's reason
    OFFER_EXPIRED = "offer_expired"  # not accepted in time: pulled back
    ASSIGNED = "assigned"  # given to a partner by vendor staff (or by an import)
    UNROUTED = "unrouted"  # no rule matched, or no eligible partner was left


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
    #: The partner whose time with the lead this event belongs to (the one offered, declining,
    #: working it); NULL for what the visitor or the vendor did while no partner had it.
    #: Partners see the NULL ones and their own, never another partner's (so a deleted
    #: partner's events go with it rather than becoming everyone's).
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id",
                                                              ondelete="CASCADE"))

    lead: Mapped[Lead] = relationship(back_populates="events")


# The routing tables the lead table refers to, registered with the leads' models.
from syndication.leads.routing_models import LeadOffer, RoutingRule  # noqa: E402,F401
