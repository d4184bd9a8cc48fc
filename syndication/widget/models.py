"""Syndicated content as the vendor authors it, partners' widgets, and their daily counts."""

from __future__ import annotations

import enum
import secrets
from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tcma.extensions import db
from tcma.models import PublicIdMixin, TimestampMixin, UTCDateTime, enum_type
from tcma.partners.models import PartnerOwned


class ItemKind(enum.Enum):
    ARTICLE = "article"  # opens in the partner-branded reader page
    VIDEO = "video"  # a video URL, through the partner's tracking link
    ASSET = "asset"  # a co-brandable asset from the library
    CTA = "cta"  # a call to action: the partner's copy of a landing page


class WidgetLayout(enum.Enum):
    GRID = "grid"
    LIST = "list"
    BANNER = "banner"  # one call to action, the newest item


class SyndicatedItem(PublicIdMixin, TimestampMixin, db.Model):
    """One piece of vendor content every matching partner's widgets show while it is live."""

    __tablename__ = "syndicated_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ItemKind] = mapped_column(enum_type(ItemKind))
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500), default="")
    #: Sanitised HTML (an allow-list of tags, http(s) links only); sanitised again on output.
    body: Mapped[str] = mapped_column(Text, default="")
    #: Public ids of library assets: the card's image, and the asset a download offers.
    hero_asset_id: Mapped[str | None] = mapped_column(String(24))
    asset_id: Mapped[str | None] = mapped_column(String(24))
    video_url: Mapped[str | None] = mapped_column(String(500))
    #: Public id of the landing page a call to action opens (the partner's copy of it).
    landing_page_id: Mapped[str | None] = mapped_column(String(24))
    category: Mapped[str] = mapped_column(String(60), default="", index=True)
    language: Mapped[str] = mapped_column(String(16), default="en")
    #: Audience like kits': empty lists mean every tier / region / partner type.
    allowed_tiers: Mapped[list] = mapped_column(JSON, default=list)
    allowed_regions: Mapped[list] = mapped_column(JSON, default=list)
    allowed_types: Mapped[list] = mapped_column(JSON, default=list)
    #: Live from ``publish_at`` (None: not yet scheduled, a draft) until ``expires_at``.
    publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Taken down by the vendor for good; counts stay.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


def new_widget_token() -> str:
    """128 random bits, URL-safe: the widget's name in every embed URL."""
    return secrets.token_urlsafe(16)


class Widget(PartnerOwned, PublicIdMixin, TimestampMixin, db.Model):
    """A partner's widget: what it shows, how it looks, and the sites allowed to show it."""

    __tablename__ = "widgets"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The embed token (in the snippet); ``public_id`` names the widget in the portal and API.
    token: Mapped[str] = mapped_column(String(32), unique=True, default=new_widget_token)
    name: Mapped[str] = mapped_column(String(120))
    #: Empty: every category.
    categories: Mapped[list] = mapped_column(JSON, default=list)
    layout: Mapped[WidgetLayout] = mapped_column(enum_type(WidgetLayout),
                                                 default=WidgetLayout.GRID)
    item_count: Mapped[int] = mapped_column(Integer, default=6)
    color: Mapped[str] = mapped_column(String(7))
    accent: Mapped[str] = mapped_column(String(7))
    #: A CSS font-family list; system fonts, so the widget reads well before any font loads.
    font: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(16), default="en")
    #: Host names (with ``:port`` when not the default) allowed to frame the widget.
    domains: Mapped[list] = mapped_column(JSON, default=list)


class WidgetImpression(PartnerOwned, db.Model):
    """Deduplicated impressions per widget, item and day; rows outlive the widget and item."""

    __tablename__ = "widget_impressions"
    __table_args__ = (UniqueConstraint("widget_id", "item_key", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    widget_id: Mapped[int | None] = mapped_column(
        ForeignKey("widgets.id", ondelete="SET NULL"), index=True)
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("syndicated_items.id", ondelete="SET NULL"))
    #: The item's public id, or "" for the widget as a whole (NULL-free, so unique works).
    item_key: Mapped[str] = mapped_column(String(24), default="")
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer, default=0)
    #: The site (``host[:port]``) the latest counted view of that day came from.
    domain: Mapped[str] = mapped_column(String(260), default="", server_default="")
