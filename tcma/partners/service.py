"""Partners: onboarding, status changes and brand profiles.

Services flush but never commit; the caller owns the transaction.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from flask import current_app
from pydantic import ValidationError
from sqlalchemy import func, select

from tcma import audit
from tcma.auth import service as accounts
from tcma.auth.models import Role, User, UserStatus
from tcma.errors import Conflict, FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import BRAND_TEXT_FIELDS, BrandProfile, Partner, PartnerStatus
from tcma.partners.schemas import BrandProfileFields, PartnerCreate, PartnerUpdate
from tcma.signals import brand_profile_saved

PARTNER_FIELDS = ("name", "slug", "tier", "region", "language", "type")


def choices_context() -> dict[str, list[str]]:
    cfg = current_app.config
    return {
        "tiers": list(cfg["PARTNER_TIERS"]),
        "regions": list(cfg["PARTNER_REGIONS"]),
        "types": list(cfg["PARTNER_TYPES"]),
    }


def parse(schema, data: dict[str, Any]):
    """Validate input with a schema; raise ValidationFailed naming each bad field."""
    try:
        return schema.model_validate(data, context=choices_context())
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic(exc) from exc


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:60].strip("-") or "partner"


def _unique_slug(base: str) -> str:
    slug, n = base, 2
    while db.session.execute(select(Partner.id).where(Partner.slug == slug)).first():
        slug = f"{base[:58]}-{n}"
        n += 1
    return slug


def get_partner(public_id: str) -> Partner:
    partner = db.session.execute(
        select(Partner).where(Partner.public_id == public_id)
    ).scalar_one_or_none()
    if partner is None:
        raise NotFound("No such partner.")
    return partner


def list_partners(
    *, search: str | None = None, tier: str | None = None, region: str | None = None,
    status: str | None = None, limit: int = 100, offset: int = 0,
) -> tuple[list[Partner], int]:
    query = select(Partner)
    if search:
        like = f"%{search.strip().lower()}%"
        query = query.where(func.lower(Partner.name).like(like) | Partner.slug.like(like))
    if tier:
        query = query.where(Partner.tier == tier)
    if region:
        query = query.where(Partner.region == region)
    if status:
        query = query.where(Partner.status == PartnerStatus(status))
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = db.session.execute(
        query.order_by(func.lower(Partner.name)).limit(limit).offset(offset)
    ).scalars()
    return list(rows), total


def create_partner(data: dict[str, Any], *, by: User | None) -> Partner:
    """Create a partner, its first (empty) brand profile, and invite its admin if named."""
    fields = parse(PartnerCreate, data)
    if fields.slug and db.session.execute(
        select(Partner.id).where(Partner.slug == fields.slug)
    ).first():
        raise ValidationFailed([FieldError("slug", "Another partner already uses this slug.")])
    if fields.admin_email and accounts.find_user_by_email(fields.admin_email):
        raise ValidationFailed(
            [FieldError("admin_email", "A user with this email already exists.")]
        )
    partner = Partner(
        name=fields.name,
        slug=fields.slug or _unique_slug(slugify(fields.name)),
        tier=fields.tier,
        region=fields.region,
        language=fields.language,
        type=fields.type,
        status=PartnerStatus.ACTIVE,
    )
    db.session.add(partner)
    db.session.flush()
    db.session.add(BrandProfile(partner_id=partner.id, version=1, display_name=partner.name,
                                created_by_id=by.id if by else None))
    audit.record("partner.create", target=partner, actor=by,
                 after=audit.snapshot(partner, PARTNER_FIELDS))
    if fields.admin_email:
        accounts.invite_user(
            email=str(fields.admin_email),
            name=fields.admin_name or str(fields.admin_email).split("@")[0],
            role=Role.PARTNER_ADMIN,
            partner=partner,
            invited_by=by,
        )
    db.session.flush()
    return partner


def update_partner(partner: Partner, data: dict[str, Any], *, by: User) -> Partner:
    fields = parse(PartnerUpdate, data)
    before = audit.snapshot(partner, PARTNER_FIELDS)
    for name in ("name", "tier", "region", "language", "type"):
        setattr(partner, name, getattr(fields, name))
    db.session.flush()
    after = audit.snapshot(partner, PARTNER_FIELDS)
    if after != before:
        audit.record("partner.update", target=partner, actor=by, before=before, after=after)
    return partner


#: Allowed status changes: suspension is reversible, offboarding is final.
TRANSITIONS = {
    PartnerStatus.ACTIVE: {PartnerStatus.SUSPENDED, PartnerStatus.OFFBOARDED},
    PartnerStatus.SUSPENDED: {PartnerStatus.ACTIVE, PartnerStatus.OFFBOARDED},
    PartnerStatus.OFFBOARDED: set(),
}


STATUS_ACTIONS = {
    PartnerStatus.ACTIVE: "partner.reactivate",
    PartnerStatus.SUSPENDED: "partner.suspend",
    PartnerStatus.OFFBOARDED: "partner.offboard",
}


def change_status(partner: Partner, new: PartnerStatus, *, by: User, reason: str = "") -> None:
    """Suspend, reactivate or offboard. Access ends at once; history stays."""
    if new not in TRANSITIONS[partner.status]:
        raise Conflict(f"{partner.name} is {partner.status.value}; it cannot become "
                       f"{new.value}.")
    before = {"status": partner.status.value}
    partner.status = new
    partner.status_changed_at = utcnow()
    users = db.session.execute(select(User).where(User.partner_id == partner.id)).scalars()
    for user in users:
        user.rotate_security_stamp()  # ends open sessions and outstanding links now
        if new is PartnerStatus.OFFBOARDED and user.status is not UserStatus.DISABLED:
            user.status = UserStatus.DISABLED
    audit.record(STATUS_ACTIONS[new], target=partner, actor=by, before=before,
                 after={"status": new.value, "reason": reason.strip() or None})


# --- brand profiles -------------------------------------------------------------------------


def current_brand_profile(partner: Partner) -> BrandProfile:
    profile = db.session.execute(
        select(BrandProfile)
        .where(BrandProfile.partner_id == partner.id)
        .order_by(BrandProfile.version.desc())
        .limit(1)
    ).scalar_one_or_none()
    if profile is None:  # partners created before profiles existed; never left without one
        profile = BrandProfile(partner_id=partner.id, version=1, display_name=partner.name)
        db.session.add(profile)
        db.session.flush()
    return profile


def brand_history(partner: Partner, limit: int = 50) -> list[BrandProfile]:
    return list(db.session.execute(
        select(BrandProfile).where(BrandProfile.partner_id == partner.id)
        .order_by(BrandProfile.version.desc()).limit(limit)
    ).scalars())


def _new_version(partner: Partner, changes: dict[str, Any], *, by: User | None) -> BrandProfile:
    """Copy the current version with ``changes`` applied; no change, no new version. A new
    version is announced with ``brand_profile_saved`` (co-branding prepares a new logo)."""
    current = current_brand_profile(partner)
    carried = {name: getattr(current, name) for name in BRAND_TEXT_FIELDS}
    carried.update(logo_key=current.logo_key, logo_width=current.logo_width,
                   logo_height=current.logo_height)
    merged = {**carried, **changes}
    if merged == carried:
        return current
    profile = BrandProfile(partner_id=partner.id, version=current.version + 1,
                           created_by_id=by.id if by else None, **merged)
    db.session.add(profile)
    db.session.flush()
    diff_before = {k: carried[k] for k in merged if merged[k] != carried[k]}
    diff_after = {k: merged[k] for k in diff_before}
    audit.record("brand_profile.update", target=partner, actor=by,
                 before={"version": current.version, **diff_before},
                 after={"version": profile.version, **diff_after})
    brand_profile_saved.send(partner, profile=profile, previous=current)
    return profile


def update_brand_profile(partner: Partner, data: dict[str, Any], *, by: User | None,
                         logo: tuple[bytes, str] | None = None) -> BrandProfile:
    """Replace the text fields of the brand profile, creating a new version if anything changed.

    ``logo`` (bytes, filename) saved with the text makes one version, not two; text and logo
    problems are reported together.
    """
    from tcma.partners.logo import normalise_logo

    errors: list[FieldError] = []
    changes: dict[str, Any] = {}
    try:
        fields = parse(BrandProfileFields, data)
        changes = {name: getattr(fields, name) for name in BRAND_TEXT_FIELDS}
        if changes.get("email") is not None:
            changes["email"] = str(changes["email"])
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    normalised = None
    if logo is not None:
        try:
            normalised = normalise_logo(logo[0], logo[1],
                                        max_bytes=current_app.config["LOGO_MAX_BYTES"])
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    if normalised is not None:
        changes.update(_store_logo(partner, normalised))
    return _new_version(partner, changes, by=by)


def _store_logo(partner: Partner, logo) -> dict[str, Any]:
    from tcma.storage import storage

    key = f"partners/{partner.public_id}/logo/{logo.sha256}.png"
    backend = storage()
    if not backend.exists(key):
        backend.put(key, logo.png, "image/png")
    return {"logo_key": key, "logo_width": logo.width, "logo_height": logo.height}


def set_brand_logo(partner: Partner, upload: bytes, filename: str, *, by: User | None
                   ) -> BrandProfile:
    """Validate, normalise and store a logo; the brand profile gets a new version."""
    from tcma.partners.logo import normalise_logo

    logo = normalise_logo(upload, filename, max_bytes=current_app.config["LOGO_MAX_BYTES"])
    return _new_version(partner, _store_logo(partner, logo), by=by)


def remove_brand_logo(partner: Partner, *, by: User | None) -> BrandProfile:
    return _new_version(partner, {"logo_key": None, "logo_width": None, "logo_height": None},
                        by=by)


@dataclass(frozen=True)
class Completeness:
    percent: int
    missing: list[str]  # human labels, in form order


#: What a partner must fill for co-branded material to look finished.
REQUIRED_BRAND_FIELDS = (
    ("logo_key", "Logo"),
    ("display_name", "Display name"),
    ("contact_name", "Contact name"),
    ("email", "Contact email"),
    ("phone", "Phone"),
    ("website", "Website"),
    ("address_line1", "Street address"),
    ("city", "City"),
    ("postal_code", "Postal code"),
    ("country", "Country"),
    ("primary_color", "Brand colour"),
    ("timezone", "Time zone"),
)


def completeness(profile: BrandProfile) -> Completeness:
    missing = [label for name, label in REQUIRED_BRAND_FIELDS if not getattr(profile, name)]
    done = len(REQUIRED_BRAND_FIELDS) - len(missing)
    return Completeness(percent=round(100 * done / len(REQUIRED_BRAND_FIELDS)), missing=missing)


def logo_url(profile: BrandProfile, expires_in: int = 3600) -> str | None:
    from tcma.storage import storage

    if not profile.logo_key:
        return None
    return storage().url(profile.logo_key, expires_in=expires_in)


def partner_users(partner: Partner) -> list[User]:
    return accounts.list_users(partner_id=partner.id)
