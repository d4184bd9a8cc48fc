"""The vendor's asset library: uploads, versions, zones, audience and publishing.

Services flush but never commit; the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import or_, select

from assets.cobrand import parse_zones, zones_to_json
from assets.models import Asset, AssetKind, AssetStatus, AssetVersion, ZoneSet
from tcma import audit
from tcma.auth.models import User
from tcma.errors import Conflict, FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner
from tcma.storage import storage

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
LANGUAGE = re.compile(r"^[a-z]{2}(?:-[A-Z]{2})?$")
ASSET_FIELDS = ("title", "description", "tags", "language", "allowed_tiers", "allowed_regions",
                "publish_at", "expires_at")


class AssetFields(BaseModel):
    """What a marketer says about an asset, from the upload form or the API."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    tags: list[str] = Field(default_factory=list, max_length=30)
    language: str = "en"
    allowed_tiers: list[str] = Field(default_factory=list)
    allowed_regions: list[str] = Field(default_factory=list)
    publish_at: datetime | None = None
    expires_at: datetime | None = None

    @field_validator("tags", "allowed_tiers", "allowed_regions", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):  # "a, b" from a form field
            return [part.strip() for part in v.split(",") if part.strip()]
        return v

    @field_validator("language")
    @classmethod
    def _language(cls, v: str) -> str:
        if not LANGUAGE.match(v or ""):
            raise ValueError("Use a language code like en, de or pt-BR")
        return v

    @field_validator("publish_at", "expires_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("Give a time zone, e.g. 2026-12-01T09:00:00Z")
        return v


def unit_of(asset: Asset) -> str:
    """Zones are in PDF points on PDFs and in pixels on images; messages say which."""
    return "pt" if asset.kind is AssetKind.PDF else "px"


def parse_fields(data: dict[str, Any], *, tiers: list[str], regions: list[str]) -> AssetFields:
    try:
        fields = AssetFields.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic(exc) from exc
    errors = []
    unknown_tiers = [t for t in fields.allowed_tiers if t not in tiers]
    if unknown_tiers:
        errors.append(FieldError("allowed_tiers", f"Unknown tier(s) {', '.join(unknown_tiers)}; "
                                                  f"use {', '.join(tiers)}."))
    unknown_regions = [r for r in fields.allowed_regions if r not in regions]
    if unknown_regions:
        errors.append(FieldError("allowed_regions",
                                 f"Unknown region(s) {', '.join(unknown_regions)}; "
                                 f"use {', '.join(regions)}."))
    if fields.publish_at and fields.expires_at and fields.expires_at <= fields.publish_at:
        errors.append(FieldError("expires_at", "Expiry must come after the publish date."))
    if errors:
        raise ValidationFailed(errors)
    return fields


def inspect_upload(data: bytes, filename: str) -> tuple[AssetKind, str, list[list[float]]]:
    """Sniff an upload by its content: PDF or PNG/JPEG/WebP, checked under a bound."""
    from assets.cobrand.image import inspect_image
    from assets.cobrand.pdf import inspect_pdf

    if not data:
        raise ValidationFailed([FieldError("file", "Choose a file to upload.")])
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationFailed([FieldError("file", f"The file is larger than "
                                                   f"{MAX_UPLOAD_BYTES // 1_048_576} MB.")])
    suffix = PurePath(filename or "").suffix.lower().lstrip(".")
    if data[:1024].lstrip().startswith(b"%PDF") or b"%PDF-" in data[:1024]:
        if suffix and suffix != "pdf":
            raise ValidationFailed([FieldError("file", f"This is a PDF, but its name ends in "
                                                       f".{suffix}. Rename it and upload again.")])
        info = inspect_pdf(data)
        return AssetKind.PDF, "application/pdf", [list(size) for size in info.page_sizes]
    info = inspect_image(data, suffix or None)
    return AssetKind.IMAGE, info.mime, [list(size) for size in info.page_sizes]


def _store_version(asset: Asset, data: bytes, filename: str, content_type: str,
                   page_sizes: list[list[float]], by: User | None) -> AssetVersion:
    number = (asset.versions[0].version + 1) if asset.versions else 1
    digest = hashlib.sha256(data).hexdigest()
    suffix = PurePath(filename).suffix.lower() or (".pdf" if asset.kind is AssetKind.PDF else "")
    key = f"assets/{asset.public_id}/v{number}-{digest[:16]}{suffix}"
    storage().put(key, data, content_type)
    version = AssetVersion(asset=asset, version=number, file_key=key,
                           filename=PurePath(filename).name[:255] or f"asset{suffix}",
                           content_type=content_type, size=len(data), sha256=digest,
                           page_sizes=page_sizes, created_by_id=by.id if by else None)
    db.session.add(version)
    db.session.flush()
    return version


def create_asset(data: dict[str, Any], upload: bytes, filename: str, *, by: User | None,
                 tiers: list[str], regions: list[str]) -> Asset:
    """Create a draft asset from its first file, with an empty zone set."""
    fields = parse_fields(data, tiers=tiers, regions=regions)
    kind, content_type, page_sizes = inspect_upload(upload, filename)
    asset = Asset(kind=kind, status=AssetStatus.DRAFT, created_by_id=by.id if by else None,
                  **fields.model_dump())
    db.session.add(asset)
    db.session.flush()
    _store_version(asset, upload, filename, content_type, page_sizes, by)
    db.session.add(ZoneSet(asset_id=asset.id, version=1, zones=[],
                           created_by_id=by.id if by else None))
    db.session.flush()
    audit.record("asset.create", target=asset, actor=by,
                 after={"title": asset.title, "kind": kind.value, "file": filename})
    return asset


def update_asset(asset: Asset, data: dict[str, Any], *, by: User, tiers: list[str],
                 regions: list[str]) -> Asset:
    fields = parse_fields(data, tiers=tiers, regions=regions)
    before = audit.snapshot(asset, ASSET_FIELDS)
    for name, value in fields.model_dump().items():
        setattr(asset, name, value)
    db.session.flush()
    after = audit.snapshot(asset, ASSET_FIELDS)
    if after != before:
        audit.record("asset.update", target=asset, actor=by, before=before, after=after)
    return asset


def add_version(asset: Asset, upload: bytes, filename: str, *, by: User | None) -> AssetVersion:
    """Upload a new file for an asset; zones must still fit its pages."""
    kind, content_type, page_sizes = inspect_upload(upload, filename)
    if kind is not asset.kind:
        raise ValidationFailed([FieldError("file", f"This asset is a {asset.kind.value}; "
                                                   f"upload a {asset.kind.value} file.")])
    zones = current_zone_set(asset).zones
    if zones:
        try:
            parse_zones(zones, [tuple(s) for s in page_sizes], unit=unit_of(asset))
        except ValidationFailed as exc:
            raise ValidationFailed([FieldError("file", "The new file's pages do not fit the "
                                                       "zones: " + exc.message)]) from exc
    version = _store_version(asset, upload, filename, content_type, page_sizes, by)
    audit.record("asset.new_version", target=asset, actor=by,
                 after={"version": version.version, "file": version.filename})
    return version


def current_version(asset: Asset) -> AssetVersion:
    return asset.versions[0]


def current_zone_set(asset: Asset) -> ZoneSet:
    zone_set = db.session.execute(
        select(ZoneSet).where(ZoneSet.asset_id == asset.id).order_by(ZoneSet.version.desc())
        .limit(1)
    ).scalar_one_or_none()
    if zone_set is None:
        raise NotFound("This asset has no zone set.")
    return zone_set


def set_zones(asset: Asset, zones: list[dict[str, Any]], *, by: User | None) -> ZoneSet:
    """Save the zones (validated against the newest file's pages) as a new zone-set version."""
    if not isinstance(zones, list):
        raise ValidationFailed([FieldError("zones", "Send a list of zones.")])
    version = current_version(asset)
    parsed = parse_zones(zones, [tuple(s) for s in version.page_sizes], unit=unit_of(asset))
    current = current_zone_set(asset)
    normalised = zones_to_json(parsed)
    if normalised == current.zones:
        return current
    zone_set = ZoneSet(asset_id=asset.id, version=current.version + 1, zones=normalised,
                       created_by_id=by.id if by else None)
    db.session.add(zone_set)
    db.session.flush()
    audit.record("asset.zones", target=asset, actor=by,
                 before={"zone_set": current.version, "zones": len(current.zones)},
                 after={"zone_set": zone_set.version, "zones": len(normalised)})
    return zone_set


def set_status(asset: Asset, status: AssetStatus, *, by: User) -> None:
    if asset.status is status:
        return
    if status is AssetStatus.DRAFT and asset.status is not AssetStatus.DRAFT:
        raise Conflict("A published or retired asset cannot go back to draft; retire it.")
    before = {"status": asset.status.value}
    asset.status = status
    action = "asset.publish" if status is AssetStatus.PUBLISHED else "asset.retire"
    audit.record(action, target=asset, actor=by, before=before, after={"status": status.value})


def get_asset(public_id: str) -> Asset:
    asset = db.session.execute(
        select(Asset).where(Asset.public_id == public_id)).scalar_one_or_none()
    if asset is None:
        raise NotFound("No such asset.")
    return asset


def list_assets(*, search: str | None = None, status: AssetStatus | None = None) -> list[Asset]:
    query = select(Asset).order_by(Asset.updated_at.desc())
    if search:
        query = query.where(Asset.title.ilike(f"%{search.strip()}%"))
    if status:
        query = query.where(Asset.status == status)
    return list(db.session.execute(query).scalars())


def _audience_filter(partner: Partner, now: datetime):
    return (
        Asset.status == AssetStatus.PUBLISHED,
        or_(Asset.publish_at.is_(None), Asset.publish_at <= now),
        or_(Asset.expires_at.is_(None), Asset.expires_at > now),
    )


def visible_to(partner: Partner, asset: Asset, now: datetime | None = None) -> bool:
    """Is ``asset`` in ``partner``'s library right now (published, in date, in audience)?"""
    now = now or utcnow()
    return (
        asset.status is AssetStatus.PUBLISHED
        and (asset.publish_at is None or asset.publish_at <= now)
        and (asset.expires_at is None or asset.expires_at > now)
        and (not asset.allowed_tiers or partner.tier in asset.allowed_tiers)
        and (not asset.allowed_regions or partner.region in asset.allowed_regions)
    )


def partner_library(partner: Partner, now: datetime | None = None) -> list[Asset]:
    """The assets a partner may use now; expired ones drop out by themselves.

    Tier and region lists are JSON, so they are checked in Python over the (small) set of
    published, in-date assets rather than in SQL that differs between databases.
    """
    now = now or utcnow()
    rows = db.session.execute(
        select(Asset).where(*_audience_filter(partner, now)).order_by(Asset.title)
    ).scalars()
    return [a for a in rows if visible_to(partner, a, now)]
