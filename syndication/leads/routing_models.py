"""Routing vendor leads to partners: the channel manager's ordered rules, and each offer a
rule makes to a partner."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tcma.extensions import db
from tcma.models import PublicIdMixin, TimestampMixin, UTCDateTime, enum_type, utcnow
from tcma.partners.models import Partner, PartnerOwned

DEFAULT_WINDOW_HOURS = 48


class RoutingStrategy(enum.Enum):
    ROUND_ROBIN = "round_robin"  # each eligible partner in turn
    FIXED = "fixed"  # always the one named partner


class RoutingRule(PublicIdMixin, TimestampMixin, db.Model):
    """One rule: which leads it takes (empty lists match any lead) and which partners may get
    them (empty lists: any active partner). The first enabled rule, by position, that matches
    a lead routes it."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    #: Order of evaluation, 1 first; kept dense (1..n) by the service.
    position: Mapped[int] = mapped_column(Integer, index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    #: Lead side. A lead matches its geography when its country is listed or its country's
    #: region is (either list given), and its language when listed (or none are).
    countries: Mapped[list] = mapped_column(JSON, default=list)
    regions: Mapped[list] = mapped_column(JSON, default=list)
    languages: Mapped[list] = mapped_column(JSON, default=list)

    #: Partner side: who is eligible among active partners.
    partner_tiers: Mapped[list] = mapped_column(JSON, default=list)
    partner_regions: Mapped[list] = mapped_column(JSON, default=list)
    partner_languages: Mapped[list] = mapped_column(JSON, default=list)
    partner_types: Mapped[list] = mapped_column(JSON, default=list)
    #: Only partners of the lead's own region (from its country).
    same_region: Mapped[bool] = mapped_column(Boolean, default=False)

    strategy: Mapped[RoutingStrategy] = mapped_column(enum_type(RoutingStrategy),
                                                      default=RoutingStrategy.ROUND_ROBIN)
    fixed_partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("partners.id", ondelete="SET NULL"))
    #: How long a partner has to accept an offer before it moves on.
    window_hours: Mapped[int] = mapped_column(Integer, default=DEFAULT_WINDOW_HOURS)

    #: Round robin's pointer: the partner that got this rule's latest offer; the next offer
    #: goes to the next eligible partner after it (by id, wrapping round).
    last_partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("partners.id", ondelete="SET NULL"))
    offers_made: Mapped[int] = mapped_column(Integer, default=0)
    #: Written first whenever the rule routes a lead: the row lock that makes concurrent
    #: routings take their turns one after the other.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    fixed_partner: Mapped[Partner | None] = relationship(foreign_keys=[fixed_partner_id],
                                                         lazy="joined")


class OfferOutcome(enum.Enum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # vendor staff gave the lead to someone by hand meanwhile


class LeadOffer(PartnerOwned, db.Model):
    """A lead offered to one partner by a rule, and what became of it. One per (lead,
    partner): a lead is never offered to the same partner twice."""

    __tablename__ = "lead_offers"
    __table_args__ = (UniqueConstraint("lead_id", "partner_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("routing_rules.id",
                                                           ondelete="SET NULL"))
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[OfferOutcome] = mapped_column(enum_type(OfferOutcome),
                                                  default=OfferOutcome.PENDING)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))
    #: Why the partner declined.
    reason: Mapped[str | None] = mapped_column(Text)
