"""Landing pages: authoring, publishing, audience, and finding the page a public URL names.

Services flush but never commit; the caller owns the transaction. Setting: ``HERO_MAX_BYTES``
(8 MB), the largest hero image upload.
"""

from __future__ import annotations

import re
from typing import Any

from flask import current_app
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func, select

from syndication.pages.models import FORM_FIELDS, LandingPage, PageKind, PageStatus
from tcma import audit
from tcma.auth.models import User
from tcma.errors import Conflict, FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner, PartnerStatus

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_BULLETS = 8
PAGE_FIELDS = ("slug", "kind", "title", "headline", "summary", "body", "bullets", "cta_label",
               "hero_alt", "form_fields", "consent_text", "consent_required", "thank_you",
               "allowed_tiers", "allowed_regions")

DEFAULT_LABELS = {
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Work email",
    "company": "Company",
    "job_title": "Job title",
    "phone": "Phone",
    "country": "Country",
    "message": "How can we help?",
}
#: What a new page asks for until the marketer changes it.
DEFAULT_FORM = {"first_name": "required", "last_name": "required", "email": "required",
                "company": "optional"}
DEFAULT_THANK_YOU = "Thank you! We have your details and will be in touch shortly."


class FormField(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    enabled: bool = False
    required: bool = False
    label: str = Field(default="", max_length=80, description="Empty: the default label")


class PageFields(BaseModel):
    """What a marketer says about a landing page, from the page editor or the API."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    slug: str = Field(min_length=1, max_length=64,
                      description="Lower-case letters, digits and dashes; part of the URL")
    kind: PageKind = Field(default=PageKind.PARTNER,
                           description="partner: one co-branded page per partner; generic: "
                                       "the vendor's own page, leads routed later")
    title: str = Field(min_length=1, max_length=200, description="Browser tab and share title")
    headline: str = Field(min_length=1, max_length=200)
    summary: str = Field(default="", max_length=300,
                         description="One or two sentences: the search and share description")
    body: str = Field(default="", max_length=10_000,
                      description="Paragraphs separated by blank lines; **bold** and "
                                  "[text](https://...) links")
    bullets: list[str] = Field(default_factory=list, max_length=MAX_BULLETS)
    cta_label: str = Field(default="Send", min_length=1, max_length=60)
    hero_alt: str = Field(default="", max_length=200, description="Describes the hero image")
    form_fields: dict[str, FormField] = Field(
        default_factory=dict, description=f"Per field ({', '.join(FORM_FIELDS)}); email is "
                                          "always asked for and required")
    consent_text: str = Field(default="", max_length=1000,
                              description="Consent checkbox wording; {partner} becomes the "
                                          "partner's name. Empty: no checkbox")
    consent_required: bool = True
    thank_you: str = Field(default=DEFAULT_THANK_YOU, min_length=1, max_length=1000)
    allowed_tiers: list[str] = Field(default_factory=list, description="Empty: every tier")
    allowed_regions: list[str] = Field(default_factory=list, description="Empty: every region")

    @field_validator("slug")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not SLUG.match(v):
            raise ValueError("Use lower-case letters, digits and single dashes, e.g. cloud-backup")
        return v

    @field_validator("bullets")
    @classmethod
    def _bullets(cls, v: list[str]) -> list[str]:
        cleaned = [b.strip() for b in v if b.strip()]
        if any(len(b) > 200 for b in cleaned):
            raise ValueError("Keep each bullet point to 200 characters")
        return cleaned

    @field_validator("form_fields")
    @classmethod
    def _form_fields(cls, v: dict[str, FormField]) -> dict[str, FormField]:
        unknown = sorted(set(v) - set(FORM_FIELDS))
        if unknown:
            raise ValueError(f"Unknown field(s) {', '.join(unknown)}; use "
                             f"{', '.join(FORM_FIELDS)}")
        return v


def default_form_fields() -> dict[str, dict[str, Any]]:
    return {name: {"enabled": name in DEFAULT_FORM, "required": DEFAULT_FORM.get(name) ==
                   "required", "label": ""} for name in FORM_FIELDS}


def form_config(page: LandingPage) -> list[dict[str, Any]]:
    """The fields the page's form shows, in order: ``name``, ``label``, ``required``."""
    shown = []
    for name in FORM_FIELDS:
        spec = (page.form_fields or {}).get(name) or {}
        if name == "email":
            spec = {**spec, "enabled": True, "required": True}
        if spec.get("enabled"):
            shown.append({"name": name, "label": spec.get("label") or DEFAULT_LABELS[name],
                          "required": bool(spec.get("required"))})
    return shown


def parse_fields(data: dict[str, Any]) -> PageFields:
    cfg = current_app.config
    try:
        fields = PageFields.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic(exc) from exc
    errors = []
    tiers, regions = list(cfg["PARTNER_TIERS"]), list(cfg["PARTNER_REGIONS"])
    if unknown := [t for t in fields.allowed_tiers if t not in tiers]:
        errors.append(FieldError("allowed_tiers", f"Unknown tier(s) {', '.join(unknown)}; "
                                                  f"use {', '.join(tiers)}."))
    if unknown := [r for r in fields.allowed_regions if r not in regions]:
        errors.append(FieldError("allowed_regions", f"Unknown region(s) {', '.join(unknown)}; "
                                                    f"use {', '.join(regions)}."))
    if errors:
        raise ValidationFailed(errors)
    return fields


def _normalised_form(fields: PageFields) -> dict[str, dict[str, Any]]:
    out = {}
    for name in FORM_FIELDS:
        spec = fields.form_fields.get(name) or FormField()
        enabled = spec.enabled or name == "email"
        out[name] = {"enabled": enabled, "required": enabled and (spec.required or
                                                                  name == "email"),
                     "label": spec.label}
    return out


def _slug_taken(slug: str, page: LandingPage | None) -> bool:
    query = select(LandingPage.id).where(LandingPage.slug == slug)
    if page is not None:
        query = query.where(LandingPage.id != page.id)
    return db.session.execute(query).first() is not None


def _apply(page: LandingPage, fields: PageFields) -> None:
    for name in ("slug", "kind", "title", "headline", "summary", "body", "bullets", "cta_label",
                 "hero_alt", "consent_required", "thank_you", "allowed_tiers",
                 "allowed_regions"):
        setattr(page, name, getattr(fields, name))
    page.form_fields = _normalised_form(fields)
    if fields.consent_text != (page.consent_text or ""):
        # Leads keep the wording they agreed to; the version tells wordings apart at a glance.
        page.consent_text = fields.consent_text
        page.consent_version = (page.consent_version or 0) + 1


def create_page(data: dict[str, Any], *, by: User | None) -> LandingPage:
    """A new draft page."""
    fields = parse_fields(data)
    if _slug_taken(fields.slug, None):
        raise ValidationFailed([FieldError("slug", "Another page already uses this address.")])
    page = LandingPage(status=PageStatus.DRAFT, consent_text="", consent_version=0,
                       created_by_id=by.id if by else None)
    _apply(page, fields)
    db.session.add(page)
    db.session.flush()
    audit.record("landing_page.create", target=page, actor=by,
                 after={"slug": page.slug, "kind": page.kind.value, "title": page.title})
    return page


def update_page(page: LandingPage, data: dict[str, Any], *, by: User | None) -> LandingPage:
    """Change a page; its address and kind are fixed once it has been published (links to it
    are out in emails and posts)."""
    fields = parse_fields(data)
    errors = []
    if page.published_at is not None and fields.slug != page.slug:
        errors.append(FieldError("slug", "This page has been published: its address cannot "
                                         "change (shared links would break)."))
    elif _slug_taken(fields.slug, page):
        errors.append(FieldError("slug", "Another page already uses this address."))
    if page.published_at is not None and fields.kind is not page.kind:
        errors.append(FieldError("kind", "This page has been published: its kind cannot "
                                         "change."))
    if errors:
        raise ValidationFailed(errors)
    before = audit.snapshot(page, PAGE_FIELDS)
    _apply(page, fields)
    db.session.flush()
    after = audit.snapshot(page, PAGE_FIELDS)
    changed = {k for k in after if after[k] != before[k]}
    if changed:
        audit.record("landing_page.update", target=page, actor=by,
                     before={k: before[k] for k in changed}, after={k: after[k] for k in changed})
    return page


#: Allowed status changes: a retired page can come back; nothing goes back to draft.
TRANSITIONS = {
    PageStatus.DRAFT: {PageStatus.PUBLISHED},
    PageStatus.PUBLISHED: {PageStatus.RETIRED},
    PageStatus.RETIRED: {PageStatus.PUBLISHED},
}


def set_status(page: LandingPage, status: PageStatus | str, *, by: User | None) -> LandingPage:
    """Publish or retire a page."""
    status = PageStatus(status)
    if status not in TRANSITIONS[page.status]:
        raise Conflict(f"The page is {page.status.value}; it cannot become {status.value}.")
    before = page.status
    page.status = status
    if status is PageStatus.PUBLISHED and page.published_at is None:
        page.published_at = utcnow()
    db.session.flush()
    audit.record(f"landing_page.{'publish' if status is PageStatus.PUBLISHED else 'retire'}",
                 target=page, actor=by, before={"status": before.value},
                 after={"status": status.value})
    return page


def set_hero(page: LandingPage, data: bytes, filename: str, *, by: User | None) -> LandingPage:
    """Validate, normalise and store a hero image for the page."""
    from syndication.pages.hero import normalise_hero
    from tcma.storage import storage

    hero = normalise_hero(data, filename, max_bytes=current_app.config.get(
        "HERO_MAX_BYTES", 8 * 1024 * 1024))
    key = f"pages/{page.public_id}/hero/{hero.sha256}.{hero.extension}"
    backend = storage()
    if not backend.exists(key):
        backend.put(key, hero.data, hero.mime)
    before = page.hero_key
    page.hero_key, page.hero_width, page.hero_height = key, hero.width, hero.height
    db.session.flush()
    audit.record("landing_page.hero", target=page, actor=by, before={"hero": before},
                 after={"hero": key})
    return page


def remove_hero(page: LandingPage, *, by: User | None) -> LandingPage:
    if page.hero_key:
        audit.record("landing_page.hero", target=page, actor=by, before={"hero": page.hero_key},
                     after={"hero": None})
    page.hero_key = page.hero_width = page.hero_height = None
    db.session.flush()
    return page


# --- finding pages ---------------------------------------------------------------------------


def get_page(public_id: str) -> LandingPage:
    page = db.session.execute(
        select(LandingPage).where(LandingPage.public_id == public_id)).scalar_one_or_none()
    if page is None:
        raise NotFound("No such landing page.")
    return page


def list_pages(*, search: str | None = None, status: PageStatus | None = None,
               kind: PageKind | None = None) -> list[LandingPage]:
    query = select(LandingPage).order_by(LandingPage.updated_at.desc())
    if search:
        like = f"%{search.strip().lower()}%"
        query = query.where(func.lower(LandingPage.title).like(like)
                            | LandingPage.slug.like(like))
    if status is not None:
        query = query.where(LandingPage.status == status)
    if kind is not None:
        query = query.where(LandingPage.kind == kind)
    return list(db.session.execute(query).scalars())


def in_audience(partner: Partner, page: LandingPage) -> bool:
    return ((not page.allowed_tiers or partner.tier in page.allowed_tiers)
            and (not page.allowed_regions or partner.region in page.allowed_regions))


def visible_to(partner: Partner, page: LandingPage) -> bool:
    """Is the page live at this partner's address?"""
    return (page.kind is PageKind.PARTNER and page.status is PageStatus.PUBLISHED
            and partner.status is PartnerStatus.ACTIVE and in_audience(partner, page))


def pages_for_partner(partner: Partner) -> list[LandingPage]:
    """The published partner pages live at this partner's addresses, newest first."""
    pages = db.session.execute(
        select(LandingPage).where(LandingPage.kind == PageKind.PARTNER,
                                  LandingPage.status == PageStatus.PUBLISHED)
        .order_by(LandingPage.published_at.desc())).scalars()
    return [p for p in pages if visible_to(partner, p)]


def public_page(page_slug: str, partner_slug: str | None) -> tuple[LandingPage, Partner | None]:
    """The live page a public URL names, with its partner; NotFound for anything else
    (unknown, unpublished, wrong kind, partner inactive or outside the page's audience)."""
    page = db.session.execute(
        select(LandingPage).where(LandingPage.slug == page_slug,
                                  LandingPage.status == PageStatus.PUBLISHED)
    ).scalar_one_or_none()
    if partner_slug is None:
        if page is None or page.kind is not PageKind.GENERIC:
            raise NotFound("This page does not exist or is no longer available.")
        return page, None
    partner = db.session.execute(
        select(Partner).where(Partner.slug == partner_slug)).scalar_one_or_none()
    if page is None or partner is None or not visible_to(partner, page):
        raise NotFound("This page does not exist or is no longer available.")
    return page, partner


def base_url() -> str:
    return current_app.config["BASE_URL"].rstrip("/")


def public_url(page: LandingPage, partner: Partner | None) -> str:
    """The page's canonical address (for a partner page, that partner's copy)."""
    if page.kind is PageKind.GENERIC or partner is None:
        return f"{base_url()}/p/{page.slug}"
    return f"{base_url()}/p/{partner.slug}/{page.slug}"
