"""The asset library: vendor files, their versions and zones, and partners' co-branded copies."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tcma.extensions import db
from tcma.models import PublicIdMixin, TimestampMixin, UTCDateTime, enum_type, utcnow
from tcma.partners.models import PartnerOwned


class AssetKind(enum.Enum):
    PDF = "pdf"
    IMAGE = "image"


class AssetStatus(enum.Enum):
    DRAFT = "draft"  # only the vendor sees it
    PUBLISHED = "published"  # partners in its audience see it between publish and expiry
    RETIRED = "retired"  # hidden from partners; renditions stay for audit


class Asset(PublicIdMixin, TimestampMixin, db.Model):
    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(16), default="en")
    kind: Mapped[AssetKind] = mapped_column(enum_type(AssetKind))
    status: Mapped[AssetStatus] = mapped_column(enum_type(AssetStatus), default=AssetStatus.DRAFT)
    #: Audience: empty lists mean every tier / every region.
    allowed_tiers: Mapped[list] = mapped_column(JSON, default=list)
    allowed_regions: Mapped[list] = mapped_column(JSON, default=list)
    publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    versions: Mapped[list[AssetVersion]] = relationship(
        back_populates="asset", order_by="AssetVersion.version.desc()", lazy="selectin")


class AssetVersion(db.Model):
    """One uploaded file. A new upload adds a version; old renditions keep pointing at theirs."""

    __tablename__ = "asset_versions"
    __table_args__ = (UniqueConstraint("asset_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    file_key: Mapped[str] = mapped_column(String(300))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    #: [[width, height], ...] per page, in PDF points or image pixels.
    page_sizes: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    asset: Mapped[Asset] = relationship(back_populates="versions")


class ZoneSet(db.Model):
    """The zones of an asset as saved at one moment; saving zones adds a version."""

    __tablename__ = "zone_sets"
    __table_args__ = (UniqueConstraint("asset_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    zones: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class RenditionStatus(enum.Enum):
    QUEUED = "queued"
    RENDERING = "rendering"
    DONE = "done"
    FAILED = "failed"


class Rendition(PublicIdMixin, PartnerOwned, db.Model):
    """One asset version co-branded for one brand-profile version with one zone set.

    The unique key is what makes it a cache: the same three inputs are rendered once, however
    many requests arrive at the same moment.
    """

    __tablename__ = "renditions"
    __table_args__ = (UniqueConstraint("asset_version_id", "zone_set_id", "brand_profile_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    asset_version_id: Mapped[int] = mapped_column(
        ForeignKey("asset_versions.id", ondelete="CASCADE"))
    zone_set_id: Mapped[int] = mapped_column(ForeignKey("zone_sets.id", ondelete="CASCADE"))
    brand_profile_id: Mapped[int] = mapped_column(
        ForeignKey("brand_profiles.id", ondelete="CASCADE"))
    status: Mapped[RenditionStatus] = mapped_column(
        enum_type(RenditionStatus), default=RenditionStatus.QUEUED)
    file_key: Mapped[str | None] = mapped_column(String(300))
    size: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    asset: Mapped[Asset] = relationship()
    asset_version: Mapped[AssetVersion] = relationship()


def new_link_token() -> str:
    return secrets.token_urlsafe(16)  # 128 bits: a download link is a capability


class AssetLink(PartnerOwned, db.Model):
    """A partner's stable download URL for an asset (``/a/<token>``): always the newest
    version, co-branded with the partner's current brand profile."""

    __tablename__ = "asset_links"
    __table_args__ = (UniqueConstraint("partner_id", "asset_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(32), unique=True, default=new_link_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    asset: Mapped[Asset] = relationship()


class AssetDownload(PartnerOwned, db.Model):
    """One download of a partner's copy, counted for that partner."""

    __tablename__ = "asset_downloads"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    rendition_id: Mapped[int | None] = mapped_column(
        ForeignKey("renditions.id", ondelete="SET NULL"))
    #: portal | link | api | bundle
    via: Mapped[str] = mapped_column(String(16))
    downloaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class BundleStatus(enum.Enum):
    QUEUED = "queued"  # waiting for its copies, or for a builder to pick it up
    BUILDING = "building"  # a builder holds it (claimed with a conditional UPDATE)
    DONE = "done"  # the ZIP is stored
    FAILED = "failed"  # a copy failed, an asset left the library, or waiting ran out


class CopyBundle(PublicIdMixin, PartnerOwned, db.Model):
    """A partner's co-branded copies of several assets as one ZIP ("download all").

    Built from a list of assets so anything that groups assets (the library's tick boxes,
    a kit) can ask for one. The builder waits for the copies by re-sending itself with a
    delay, never by blocking a worker.
    """

    __tablename__ = "copy_bundles"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Asset ids in the order the partner chose them (the ZIP keeps that order).
    asset_ids: Mapped[list] = mapped_column(JSON)
    #: The copies (rendition ids) as last looked up, in the same order: the progress count
    #: reads them, and once done they are the files in the ZIP.
    rendition_ids: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[BundleStatus] = mapped_column(enum_type(BundleStatus),
                                                 default=BundleStatus.QUEUED)
    file_key: Mapped[str | None] = mapped_column(String(300))
    size: Mapped[int | None] = mapped_column(BigInteger)
    #: Why it failed, naming the assets, for the partner to read.
    error: Mapped[str | None] = mapped_column(Text)
    #: How many times a builder has looked at it; waiting stops at ``bundles.MAX_CHECKS``.
    checks: Mapped[int] = mapped_column(Integer, default=0)
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the current builder claimed it (with ``status`` building).
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the next builder message is due; long past it with the bundle still queued, the
    #: message was lost and the next look at the bundle sends a new one.
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
