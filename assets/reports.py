"""Read-only views of how partners use an asset, for the vendor's asset page.

Kept apart from ``renditions`` (which writes) so reporting queries can grow without touching
the render path. Nothing here writes or commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from assets.models import (
    Asset,
    AssetDownload,
    AssetVersion,
    Rendition,
    RenditionStatus,
    ZoneSet,
)
from tcma.extensions import db
from tcma.partners.models import Partner


@dataclass(frozen=True)
class RenditionRow:
    """One partner's co-branded copy of one version of the asset, with its download count."""

    rendition_id: str
    partner_id: str
    partner_name: str
    version: int
    zone_set: int
    status: RenditionStatus
    error: str | None
    requested_at: datetime
    finished_at: datetime | None
    downloads: int

    @property
    def when(self) -> datetime:
        """When the copy was made, or asked for if it is not made yet."""
        return self.finished_at or self.requested_at


@dataclass(frozen=True)
class AssetUsage:
    """The renditions of one asset and their totals."""

    rows: list[RenditionRow]
    partners: int
    downloads: int


def asset_usage(asset: Asset, *, limit: int = 200) -> AssetUsage:
    """Partners' copies of ``asset``, newest first, each with how often it was downloaded.

    Downloads are counted per rendition in one grouped subquery, so the list costs one query
    however many partners have a copy (and the totals two more).
    """
    downloads = (
        select(AssetDownload.rendition_id, func.count(AssetDownload.id).label("n"))
        .where(AssetDownload.asset_id == asset.id)
        .group_by(AssetDownload.rendition_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Rendition.public_id, Partner.public_id, Partner.name, AssetVersion.version,
               ZoneSet.version, Rendition.status, Rendition.error, Rendition.requested_at,
               Rendition.finished_at, func.coalesce(downloads.c.n, 0))
        .join(Partner, Partner.id == Rendition.partner_id)
        .join(AssetVersion, AssetVersion.id == Rendition.asset_version_id)
        .join(ZoneSet, ZoneSet.id == Rendition.zone_set_id)
        .outerjoin(downloads, downloads.c.rendition_id == Rendition.id)
        .where(Rendition.asset_id == asset.id)
        .order_by(Rendition.requested_at.desc(), Rendition.id.desc())
        .limit(limit)
    ).all()
    items = [RenditionRow(*row) for row in rows]
    totals = db.session.execute(
        select(func.count(func.distinct(Rendition.partner_id)))
        .where(Rendition.asset_id == asset.id)
    ).scalar_one()
    total_downloads = db.session.execute(
        select(func.count(AssetDownload.id)).where(AssetDownload.asset_id == asset.id)
    ).scalar_one()
    return AssetUsage(rows=items, partners=totals, downloads=total_downloads)
