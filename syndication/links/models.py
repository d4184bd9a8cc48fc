"""Tracking links, the clicks on them, and the vendor's settings for both."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tcma.extensions import db
from tcma.models import UTCDateTime, enum_type, utcnow
from tcma.partners.models import PartnerOwned


class Channel(enum.Enum):
    """Where a link is shared; it becomes ``utm_medium``."""

    EMAIL = "email"
    SOCIAL = "social"
    WEB = "web"
    QR = "qr"
    ASSET = "asset"


class TrackingLink(PartnerOwned, db.Model):
    """A short code standing for one partner sharing one destination through one channel.

    ``link_for`` returns the same row for the same inputs (``key``), so an email step sent to
    5,000 contacts, or a post scheduled again, shares one link and one count.
    """

    __tablename__ = "tracking_links"
    __table_args__ = (UniqueConstraint("partner_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The public short code: 72 random bits, URL-safe.
    code: Mapped[str] = mapped_column(String(16), unique=True)
    #: A digest of (destination, channel, campaign, content, source): the "same inputs".
    key: Mapped[str] = mapped_column(String(64))
    destination: Mapped[str] = mapped_column(Text)
    channel: Mapped[Channel] = mapped_column(enum_type(Channel))
    #: The kit or asset slug (``utm_campaign``) and the step or post (``utm_content``).
    campaign: Mapped[str | None] = mapped_column(String(100))
    content: Mapped[str | None] = mapped_column(String(100))
    #: What made the link, for reports: e.g. ("asset", public id), ("launch", id), ("api", "").
    source_type: Mapped[str] = mapped_column(String(30), default="manual")
    source_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ClickKind(enum.Enum):
    """Why a click is left out of the human count (``None`` on the row: a human's first)."""

    REPEAT = "repeat"  # a human again on the same link within the repeat window
    BOT = "bot"  # crawlers, scripts, HTTP libraries, headless browsers, no user agent
    PREVIEW = "preview"  # link-preview fetchers: Slack, LinkedIn, X, Facebook, Teams...
    SCANNER = "scanner"  # email security scanners: too soon after delivery, link bursts
    PREFETCH = "prefetch"  # browsers' speculative loads (Purpose / Sec-Purpose headers)


#: Kinds that are still a person: counted as human clicks, but not as unique ones.
HUMAN_KINDS = (None, ClickKind.REPEAT)


class Click(PartnerOwned, db.Model):
    """One request for a tracking link, written by the drainer from the click buffer.

    Rows outlive their link and partner (``SET NULL``): reports are history. The partner is
    copied from the link so tenancy scopes clicks like every partner's row.
    """

    __tablename__ = "clicks"
    __table_args__ = (Index("ix_clicks_link_occurred", "link_id", "occurred_at"),
                      Index("ix_clicks_partner_occurred", "partner_id", "occurred_at"),
                      Index("ix_clicks_visitor_link_occurred", "visitor", "link_id", "occurred_at"))

    #: Overrides PartnerOwned's: kept, as NULL, if the partner row is ever deleted.
    partner_id: Mapped[int | None] = mapped_column(  # type: ignore[assignment]
        ForeignKey("partners.id", ondelete="SET NULL"))
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The click id handed to the landing page (``<code>.<random>``); unique, so a batch the
    #: drainer commits twice (killed before acknowledging it) is stored once.
    click_id: Mapped[str] = mapped_column(String(40), unique=True)
    link_id: Mapped[int | None] = mapped_column(
        ForeignKey("tracking_links.id", ondelete="SET NULL"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: A keyed hash of the IP address and user agent: who, without storing either.
    visitor: Mapped[str] = mapped_column(String(32))
    ip_hash: Mapped[str] = mapped_column(String(32))
    user_agent: Mapped[str] = mapped_column(String(400), default="")
    referrer: Mapped[str] = mapped_column(String(500), default="")
    #: The email delivery the click came from, when the link carried one (``?d=``).
    delivery_ref: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[ClickKind | None] = mapped_column(enum_type(ClickKind))
    #: Why ``kind`` was given, for whoever audits the counts ("user agent: Slackbot").
    reason: Mapped[str] = mapped_column(String(200), default="")
    is_human: Mapped[bool] = mapped_column(Boolean)
    is_unique: Mapped[bool] = mapped_column(Boolean)


class LinkSettings(db.Model):
    """One row: the vendor's choices for tracking links (defaults when absent)."""

    __tablename__ = "link_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    utm_source: Mapped[str] = mapped_column(String(40), default="utm_source")
    utm_medium: Mapped[str] = mapped_column(String(40), default="utm_medium")
    utm_campaign: Mapped[str] = mapped_column(String(40), default="utm_campaign")
    utm_content: Mapped[str] = mapped_column(String(40), default="utm_content")
    click_param: Mapped[str] = mapped_column(String(40), default="tcma_cid")
    #: Where unknown or disabled codes go instead of the friendly 404 page.
    fallback_url: Mapped[str | None] = mapped_column(Text)
    #: Hosts partners may link to (and their subdomains); empty: any http(s) host.
    allowed_hosts: Mapped[list] = mapped_column(db.JSON, default=list)
