"""Kits: details and audience, the draft, publishing, retiring and the partner catalogue.

Services flush but never commit; the caller owns the transaction. Content (emails, steps,
references) is edited in ``campaigns.content``; both always write the draft version.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import or_, select

from campaigns.models import Kit, KitStatus, KitVersion
from tcma import audit
from tcma.auth.models import User
from tcma.errors import Conflict, FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner

LANGUAGE = re.compile(r"^[a-z]{2}(?:-[A-Z]{2})?$")
KIT_FIELDS = ("name", "description", "goal", "tags", "language", "allowed_tiers",
              "allowed_regions", "allowed_languages", "allowed_types", "publish_at",
              "expires_at")
EMPTY_CONTENT: dict[str, Any] = {"items": [], "steps": [], "landing_page_id": None,
                                 "asset_ids": []}


class KitFields(BaseModel):
    """What a marketer says about a kit, from the form or the API."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    goal: str = Field(default="", max_length=500)
    tags: list[str] = Field(default_factory=list, max_length=30)
    language: str = "en"
    allowed_tiers: list[str] = Field(default_factory=list)
    allowed_regions: list[str] = Field(default_factory=list)
    allowed_languages: list[str] = Field(default_factory=list)
    allowed_types: list[str] = Field(default_factory=list)
    publish_at: datetime | None = None
    expires_at: datetime | None = None

    @field_validator("tags", "allowed_tiers", "allowed_regions", "allowed_languages",
                     "allowed_types", mode="before")
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

    @field_validator("allowed_languages")
    @classmethod
    def _languages(cls, v: list[str]) -> list[str]:
        bad = [code for code in v if not LANGUAGE.match(code)]
        if bad:
            raise ValueError(f"Use language codes like en, de or pt-BR (not {', '.join(bad)})")
        return v

    @field_validator("publish_at", "expires_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("Give a time zone, e.g. 2026-12-01T09:00:00Z")
        return v


def parse_fields(data: dict[str, Any], *, tiers: list[str], regions: list[str],
                 types: list[str]) -> KitFields:
    try:
        fields = KitFields.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic(exc) from exc
    errors = []
    for name, allowed in (("allowed_tiers", tiers), ("allowed_regions", regions),
                          ("allowed_types", types)):
        unknown = [v for v in getattr(fields, name) if v not in allowed]
        if unknown:
            errors.append(FieldError(name, f"Unknown value(s) {', '.join(unknown)}; use "
                                           f"{', '.join(allowed)}."))
    if fields.publish_at and fields.expires_at and fields.expires_at <= fields.publish_at:
        errors.append(FieldError("expires_at", "Expiry must come after the publish date."))
    if errors:
        raise ValidationFailed(errors)
    return fields


def create_kit(data: dict[str, Any], *, by: User | None, tiers: list[str], regions: list[str],
               types: list[str]) -> Kit:
    """A new draft kit with empty content."""
    fields = parse_fields(data, tiers=tiers, regions=regions, types=types)
    kit = Kit(status=KitStatus.DRAFT, created_by_id=by.id if by else None,
              **fields.model_dump())
    db.session.add(kit)
    db.session.flush()
    db.session.add(KitVersion(kit=kit, number=None, content=copy.deepcopy(EMPTY_CONTENT)))
    db.session.flush()
    audit.record("kit.create", target=kit, actor=by, after={"name": kit.name})
    return kit


def update_kit(kit: Kit, data: dict[str, Any], *, by: User | None, tiers: list[str],
               regions: list[str], types: list[str]) -> Kit:
    """Change details and audience. They are not versioned: the audience decides who may
    launch from now on, which is what a marketer changing it means."""
    fields = parse_fields(data, tiers=tiers, regions=regions, types=types)
    before = audit.snapshot(kit, KIT_FIELDS)
    for name, value in fields.model_dump().items():
        setattr(kit, name, value)
    db.session.flush()
    after = audit.snapshot(kit, KIT_FIELDS)
    if after != before:
        audit.record("kit.update", target=kit, actor=by, before=before, after=after)
    return kit


def get_kit(public_id: str) -> Kit:
    kit = db.session.execute(select(Kit).where(Kit.public_id == public_id)).scalar_one_or_none()
    if kit is None:
        raise NotFound("No such kit.")
    return kit


def list_kits(*, search: str | None = None, status: KitStatus | None = None) -> list[Kit]:
    query = select(Kit).order_by(Kit.updated_at.desc())
    if search:
        query = query.where(Kit.name.ilike(f"%{search.strip()}%"))
    if status:
        query = query.where(Kit.status == status)
    return list(db.session.execute(query).scalars())


# --- versions --------------------------------------------------------------------------------


def published_versions(kit: Kit) -> list[KitVersion]:
    """Published versions, newest first."""
    return sorted((v for v in kit.versions if v.number is not None),
                  key=lambda v: v.number or 0, reverse=True)


def latest_published(kit: Kit) -> KitVersion | None:
    versions = published_versions(kit)
    return versions[0] if versions else None


def get_version(kit: Kit, number: int) -> KitVersion:
    for version in kit.versions:
        if version.number == number:
            return version
    raise NotFound("No such kit version.")


def current_draft(kit: Kit) -> KitVersion | None:
    return next((v for v in kit.versions if v.number is None), None)


def draft(kit: Kit) -> KitVersion:
    """The version edits go to: the open draft, or a new one copied from the newest
    published version (which stays as it is)."""
    found = current_draft(kit)
    if found is not None:
        return found
    base = latest_published(kit)
    content = copy.deepcopy(base.content if base else EMPTY_CONTENT)
    found = KitVersion(kit=kit, number=None, content=content)
    db.session.add(found)
    db.session.flush()
    return found


def editing_version(kit: Kit) -> KitVersion:
    """What the editor shows: the draft if there is one, else the newest published version."""
    return current_draft(kit) or latest_published(kit) or draft(kit)


# --- status ----------------------------------------------------------------------------------

_TRANSITIONS = {
    (KitStatus.DRAFT, KitStatus.PUBLISHED), (KitStatus.PUBLISHED, KitStatus.PUBLISHED),
    (KitStatus.RETIRED, KitStatus.PUBLISHED), (KitStatus.PUBLISHED, KitStatus.RETIRED),
}


def check_transition(old: KitStatus, new: KitStatus) -> None:
    """The kit status machine: publish (again) from any state, retire a published kit."""
    if (old, new) not in _TRANSITIONS:
        if new is KitStatus.RETIRED:
            raise Conflict("Only a published kit can be retired.")
        raise Conflict(f"A {old.value} kit cannot become {new.value}.")


def publish(kit: Kit, *, by: User | None) -> KitVersion:
    """Freeze the draft as the next version; every problem (field and line) blocks it."""
    from campaigns.content import content_problems

    check_transition(kit.status, KitStatus.PUBLISHED)
    version = current_draft(kit)
    newest = latest_published(kit)
    if version is None and kit.status is KitStatus.RETIRED and newest is not None:
        kit.status = KitStatus.PUBLISHED  # back in the catalogue, with the same version
        db.session.flush()
        audit.record("kit.publish", target=kit, actor=by, before={"status": "retired"},
                     after={"status": "published", "version": newest.number})
        return newest
    if version is None:
        raise Conflict("There are no changes to publish: edit the kit first.")
    problems = content_problems(version.content)
    if problems:
        raise ValidationFailed([FieldError(p.field, f"line {p.line}: {p.message}"
                                           if p.line else p.message) for p in problems])
    version.number = (newest.number or 0) + 1 if newest else 1
    version.published_at = utcnow()
    version.published_by_id = by.id if by else None
    before = {"status": kit.status.value}
    kit.status = KitStatus.PUBLISHED
    kit.updated_at = utcnow()
    db.session.flush()
    audit.record("kit.publish", target=kit, actor=by, before=before,
                 after={"status": kit.status.value, "version": version.number})
    return version


def retire(kit: Kit, *, by: User | None) -> None:
    """No new launches; launches already running keep their version."""
    check_transition(kit.status, KitStatus.RETIRED)
    kit.status = KitStatus.RETIRED
    db.session.flush()
    audit.record("kit.retire", target=kit, actor=by, before={"status": "published"},
                 after={"status": "retired"})


# --- the partner catalogue ---------------------------------------------------------------------


def visible_to(partner: Partner, kit: Kit, now: datetime | None = None) -> bool:
    """May ``partner`` see and launch ``kit`` now (published, in date, in its audience)?"""
    now = now or utcnow()
    return (
        kit.status is KitStatus.PUBLISHED
        and latest_published(kit) is not None
        and (kit.publish_at is None or kit.publish_at <= now)
        and (kit.expires_at is None or kit.expires_at > now)
        and (not kit.allowed_tiers or partner.tier in kit.allowed_tiers)
        and (not kit.allowed_regions or partner.region in kit.allowed_regions)
        and (not kit.allowed_languages or partner.language in kit.allowed_languages)
        and (not kit.allowed_types or partner.type in kit.allowed_types)
    )


def catalogue(partner: Partner, now: datetime | None = None) -> list[Kit]:
    """The kits a partner may launch now. Audience lists are JSON, so they are checked in
    Python over the (small) set of published, in-date kits."""
    now = now or utcnow()
    rows = db.session.execute(
        select(Kit).where(Kit.status == KitStatus.PUBLISHED,
                          or_(Kit.publish_at.is_(None), Kit.publish_at <= now),
                          or_(Kit.expires_at.is_(None), Kit.expires_at > now))
        .order_by(Kit.name)).scalars()
    return [kit for kit in rows if visible_to(partner, kit, now)]


def catalogue_kit(partner: Partner, public_id: str) -> Kit:
    """A kit in the partner's catalogue; anything else is the same 404 as a missing one."""
    try:
        kit = get_kit(public_id)
    except NotFound:
        kit = None
    if kit is None or not visible_to(partner, kit):
        raise NotFound("No such kit.")
    return kit
