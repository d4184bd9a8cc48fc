"""Partners and their versioned brand profiles."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from tcma.extensions import db
from tcma.models import PublicIdMixin, TimestampMixin, UTCDateTime, enum_type, utcnow


class PartnerStatus(enum.Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # users cannot sign in; everything is kept and can be reactivated
    OFFBOARDED = "offboarded"  # the partnership ended: access gone for good, history kept


class Partner(PublicIdMixin, TimestampMixin, db.Model):
    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Short, stable, URL-safe name; becomes ``utm_source`` on tracking links.
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(32), index=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    language: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[PartnerStatus] = mapped_column(
        enum_type(PartnerStatus), default=PartnerStatus.ACTIVE
    )
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PartnerOwned:
    """Mixin for rows that belong to one partner; tenancy scopes them automatically."""

    @declared_attr
    def partner_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)


class BrandProfile(PartnerOwned, db.Model):
    """One version of a partner's brand. Rows are never updated: a change adds a version,
    so co-branded renditions keyed on a version stay exact."""

    __tablename__ = "brand_profiles"
    __table_args__ = (UniqueConstraint("partner_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    display_name: Mapped[str | None] = mapped_column(String(200))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(50))
    website: Mapped[str | None] = mapped_column(String(500))
    address_line1: Mapped[str | None] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    state: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2))
    primary_color: Mapped[str | None] = mapped_column(String(7))
    secondary_color: Mapped[str | None] = mapped_column(String(7))
    linkedin_url: Mapped[str | None] = mapped_column(String(500))
    x_handle: Mapped[str | None] = mapped_column(String(50))
    facebook_url: Mapped[str | None] = mapped_column(String(500))
    timezone: Mapped[str | None] = mapped_column(String(64))
    #: Storage key of the normalised PNG logo, and its pixel size.
    logo_key: Mapped[str | None] = mapped_column(String(300))
    logo_width: Mapped[int | None] = mapped_column(Integer)
    logo_height: Mapped[int | None] = mapped_column(Integer)


#: Brand fields a partner edits as text (the logo arrives as an upload).
BRAND_TEXT_FIELDS = (
    "display_name",
    "contact_name",
    "email",
    "phone",
    "website",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "state",
    "country",
    "primary_color",
    "secondary_color",
    "linkedin_url",
    "x_handle",
    "facebook_url",
    "timezone",
)
