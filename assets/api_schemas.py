"""What the asset API accepts and answers: request and response models.

Zones are validated by the co-branding engine, not here; ``ZoneSpec`` only describes their
shape in the OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from flask import url_for
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from assets import library
from assets.bundles import MAX_ASSETS as MAX_BUNDLE_ASSETS
from assets.bundles import BundleSummary
from assets.cobrand.zones import ALIGNS, FONTS, KINDS, MAX_ZONES, VALIGNS
from assets.library import AssetFields
from assets.models import (
    Asset,
    AssetKind,
    AssetStatus,
    AssetVersion,
    BundleStatus,
    Rendition,
    RenditionStatus,
)

# --- zones as the document describes them ---------------------------------------------------


class ZoneSpec(BaseModel):
    """One box on one page, in page units (PDF points or image pixels), origin top-left."""

    model_config = ConfigDict(extra="forbid", title="Zone")

    page: int = Field(ge=0, description="Page index, counted from 0")
    x: float = Field(ge=0, description="Left edge, from the page's left")
    y: float = Field(ge=0, description="Top edge, from the page's top")
    width: float = Field(gt=0)
    height: float = Field(gt=0)
    kind: str = Field(json_schema_extra={"enum": list(KINDS)})
    template: str = Field(default="", description="Text zones: e.g. 'Call {{ partner.phone }}'")
    font: str = Field(default="sans", json_schema_extra={"enum": list(FONTS)})
    size: float = Field(default=12.0, gt=0, description="Text zones: font size in page units")
    min_size: float = Field(default=6.0, ge=1,
                            description="Text zones: shrink-to-fit stops here, then text wraps")
    color: str = Field(default="#000000", pattern=r"^#[0-9a-fA-F]{6}$")
    align: str = Field(default="left", json_schema_extra={"enum": list(ALIGNS)})
    valign: str = Field(default="top", json_schema_extra={"enum": list(VALIGNS)})


#: Zones are checked by the co-branding engine (which names errors ``zones[i].field``), not by
#: pydantic; the document still shows their exact shape.
_ZONE_LIST = WithJsonSchema({"type": "array", "maxItems": MAX_ZONES,
                             "items": ZoneSpec.model_json_schema()})


# --- request models -------------------------------------------------------------------------


def _no_default(schema: dict[str, Any]) -> None:
    """A PATCH field left out keeps its value; its ``None`` default is not a value to show."""
    schema.pop("default", None)


class AssetPatch(AssetFields):
    """PATCH semantics: only the fields sent change. ``publish_at``/``expires_at`` may be
    null (no date); the other fields cannot."""

    # Typed without None (the validator below refuses null with a clear message); the None
    # default only means "left out" and is kept out of the document.
    title: str = Field(default=None, min_length=1, max_length=200, json_schema_extra=_no_default)
    description: str = Field(default=None, max_length=5000, json_schema_extra=_no_default)
    tags: list[str] = Field(default=None, max_length=30, json_schema_extra=_no_default)
    language: str = Field(default=None, json_schema_extra=_no_default)
    allowed_tiers: list[str] = Field(default=None, json_schema_extra=_no_default)
    allowed_regions: list[str] = Field(default=None, json_schema_extra=_no_default)

    @field_validator("title", "description", "tags", "language", "allowed_tiers",
                     "allowed_regions", mode="before")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("Leave the field out to keep it; it cannot be null")
        return v


class ZonesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zones: Annotated[list[Any], _ZONE_LIST] = Field(
        description="Every zone of the asset; an empty list removes them all")


class AssetStatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: AssetStatus = Field(description="published shows it to its audience; retired "
                                            "hides it. Neither goes back to draft.")


# --- response models ------------------------------------------------------------------------


class AssetVersionOut(BaseModel):
    version: int
    filename: str
    content_type: str
    size: int
    sha256: str
    pages: int
    created_at: datetime

    @classmethod
    def of(cls, v: AssetVersion) -> AssetVersionOut:
        return cls(version=v.version, filename=v.filename, content_type=v.content_type,
                   size=v.size, sha256=v.sha256, pages=len(v.page_sizes), created_at=v.created_at)


class ZoneSetOut(BaseModel):
    version: int
    zones: Annotated[list[dict[str, Any]], _ZONE_LIST]
    created_at: datetime


class AssetOut(BaseModel):
    id: str
    title: str
    description: str
    tags: list[str]
    language: str
    kind: AssetKind
    status: AssetStatus
    allowed_tiers: list[str] = Field(description="Empty: every tier")
    allowed_regions: list[str] = Field(description="Empty: every region")
    publish_at: datetime | None
    expires_at: datetime | None
    version: int = Field(description="The newest file version")
    pages: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def fields_of(cls, a: Asset) -> dict[str, Any]:
        newest = library.current_version(a)
        return dict(id=a.public_id, title=a.title, description=a.description, tags=a.tags,
                    language=a.language, kind=a.kind, status=a.status,
                    allowed_tiers=a.allowed_tiers, allowed_regions=a.allowed_regions,
                    publish_at=a.publish_at, expires_at=a.expires_at, version=newest.version,
                    pages=len(newest.page_sizes), created_at=a.created_at,
                    updated_at=a.updated_at)

    @classmethod
    def of(cls, a: Asset) -> AssetOut:
        return cls(**cls.fields_of(a))


class AssetDetail(AssetOut):
    unit: str = Field(description="Zone units: pt on PDFs, px on images",
                      json_schema_extra={"enum": ["pt", "px"]})
    page_sizes: list[list[float]] = Field(description="[width, height] of each page of the "
                                                      "newest version, in zone units")
    versions: list[AssetVersionOut] = Field(description="Newest first")
    zone_set: ZoneSetOut

    @classmethod
    def of(cls, a: Asset) -> AssetDetail:
        zone_set = library.current_zone_set(a)
        return cls(**cls.fields_of(a), unit=library.unit_of(a),
                   page_sizes=library.current_version(a).page_sizes,
                   versions=[AssetVersionOut.of(v) for v in a.versions],
                   zone_set=ZoneSetOut(version=zone_set.version, zones=zone_set.zones,
                                       created_at=zone_set.created_at))


class AssetWarning(BaseModel):
    zone: int | None = Field(description="Index in the zone list; null for the whole set")
    message: str


class LibraryAssetOut(BaseModel):
    id: str
    title: str
    description: str
    tags: list[str]
    language: str
    kind: AssetKind
    version: int
    pages: int
    expires_at: datetime | None

    @classmethod
    def of(cls, a: Asset) -> LibraryAssetOut:
        newest = library.current_version(a)
        return cls(id=a.public_id, title=a.title, description=a.description, tags=a.tags,
                   language=a.language, kind=a.kind, version=newest.version,
                   pages=len(newest.page_sizes), expires_at=a.expires_at)


class CopyOut(BaseModel):
    """A partner's co-branded copy of an asset version (a rendition)."""

    id: str
    asset_id: str
    asset_version: int
    status: RenditionStatus
    error: str | None = Field(description="Why the render failed; asking again retries it")
    size: int | None
    requested_at: datetime
    finished_at: datetime | None
    download_url: str | None = Field(description="Set when done: GET it with your token")

    @classmethod
    def of(cls, r: Rendition) -> CopyOut:
        done = r.status is RenditionStatus.DONE
        return cls(id=r.public_id, asset_id=r.asset.public_id,
                   asset_version=r.asset_version.version, status=r.status, error=r.error,
                   size=r.size, requested_at=r.requested_at, finished_at=r.finished_at,
                   download_url=url_for("api.download_copy", asset_id=r.asset.public_id,
                                        _external=True) if done else None)


class AssetLinkOut(BaseModel):
    asset_id: str
    url: str = Field(description="Public, permanent, counted; always the newest version "
                                 "co-branded with the current brand profile")


# --- bundles (one ZIP of many copies) --------------------------------------------------------


class BundleIn(BaseModel):
    """Which assets go in the ZIP."""

    model_config = ConfigDict(extra="forbid")

    asset_ids: list[str] | None = Field(
        default=None, max_length=MAX_BUNDLE_ASSETS,
        description="Ids of assets in your library; leave out (or null) for all of them")


class BundleItemOut(BaseModel):
    asset_id: str | None = Field(description="Null once the vendor deleted the asset")
    title: str
    status: str = Field(description="The copy's state",
                        json_schema_extra={"enum": ["queued", "rendering", "done", "failed",
                                                    "gone"]})


class BundleOut(BaseModel):
    """A ZIP of a partner's co-branded copies, built in the background."""

    id: str
    status: BundleStatus
    ready: int = Field(description="Copies rendered so far")
    total: int = Field(description="Copies the ZIP will hold")
    items: list[BundleItemOut] = Field(description="In the order they were asked for")
    error: str | None = Field(description="Why it failed, naming the assets")
    size: int | None = Field(description="Bytes of the ZIP, once done")
    requested_at: datetime
    finished_at: datetime | None
    download_url: str | None = Field(description="Set when done: GET it with your token")

    @classmethod
    def of(cls, s: BundleSummary) -> BundleOut:
        b = s.bundle
        return cls(id=b.public_id, status=b.status, ready=s.ready, total=s.total,
                   items=[BundleItemOut(asset_id=i.asset_id, title=i.title, status=i.status)
                          for i in s.items],
                   error=b.error, size=b.size, requested_at=b.requested_at,
                   finished_at=b.finished_at,
                   download_url=url_for("api.download_bundle", bundle_id=b.public_id,
                                        _external=True)
                   if b.status is BundleStatus.DONE else None)
