"""Syndicated content: the vendor's items, their audience, and which are live for a partner.

An item is live from ``publish_at`` until ``expires_at`` unless retired; a partner sees it
when their tier, region and type match its audience (empty lists: everyone), exactly as kits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import nh3
from flask import current_app
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func, or_, select

from syndication.widget.models import ItemKind, SyndicatedItem
from tcma import audit
from tcma.errors import Conflict, FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner

LANGUAGE = re.compile(r"^[a-z]{2}(?:-[A-Z]{2})?$")
ITEM_FIELDS = ("kind", "title", "summary", "body", "hero_asset_id", "asset_id", "video_url",
               "landing_page_id", "category", "language", "allowed_tiers", "allowed_regions",
               "allowed_types", "publish_at", "expires_at")

#: What an article body may hold: text structure and links, nothing that runs or loads.
BODY_TAGS = {"p", "br", "strong", "b", "em", "i", "u", "ul", "ol", "li", "h2", "h3", "h4",
             "blockquote", "a", "code", "pre"}
BODY_ATTRIBUTES = {"a": {"href", "title"}}


def sanitise(html: str, *, link: Callable[[str], str | None] | None = None) -> str:
    """Rich text reduced to ``BODY_TAGS``: scripts, styles, event handlers and non-http(s)
    links are dropped (ammonia, through nh3); links get ``rel="noopener noreferrer"``.

    ``link``: rewrites each http(s) link's address (None drops the address), e.g. into a
    partner's tracking link when the article is shown for them.
    """
    def rewrite(element: str, attribute: str, value: str) -> str | None:
        if element == "a" and attribute == "href" and value.lower().startswith(
                ("http://", "https://")):
            return link(value)  # type: ignore[misc]
        return value

    return nh3.clean(html or "", tags=BODY_TAGS, attributes=BODY_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer nofollow",
                     attribute_filter=rewrite if link is not None else None)


class ItemFields(BaseModel):
    """What a marketer says about an item, from the form or the API."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    kind: ItemKind
    title: str = Field(min_length=1, max_length=200)
    summary: str = Field(default="", max_length=500)
    body: str = Field(default="", max_length=100_000)
    hero_asset_id: str | None = Field(default=None, max_length=24)
    asset_id: str | None = Field(default=None, max_length=24)
    video_url: str | None = Field(default=None, max_length=500)
    landing_page_id: str | None = Field(default=None, max_length=24)
    category: str = Field(default="", max_length=60)
    language: str = "en"
    allowed_tiers: list[str] = Field(default_factory=list)
    allowed_regions: list[str] = Field(default_factory=list)
    allowed_types: list[str] = Field(default_factory=list)
    publish_at: datetime | None = None
    expires_at: datetime | None = None

    @field_validator("allowed_tiers", "allowed_regions", "allowed_types", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):  # "a, b" from a form field
            return [part.strip() for part in v.split(",") if part.strip()]
        return v

    @field_validator("hero_asset_id", "asset_id", "video_url", "landing_page_id", mode="before")
    @classmethod
    def _blank_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("category")
    @classmethod
    def _category(cls, v: str) -> str:
        return v.lower()

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


def audience_choices() -> dict[str, list[str]]:
    """The program's tiers, regions and partner types, as ``create_item`` checks them."""
    cfg = current_app.config
    return {"tiers": list(cfg["PARTNER_TIERS"]), "regions": list(cfg["PARTNER_REGIONS"]),
            "types": list(cfg["PARTNER_TYPES"])}


def parse_fields(data: dict[str, Any], *, tiers: list[str], regions: list[str],
                 types: list[str]) -> ItemFields:
    """Validate an item; each kind needs what it points at (a video URL, an asset, a page)."""
    from syndication.links.service import check_destination

    try:
        fields = ItemFields.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic(exc) from exc
    errors: list[FieldError] = []
    for name, allowed in (("allowed_tiers", tiers), ("allowed_regions", regions),
                          ("allowed_types", types)):
        unknown = [v for v in getattr(fields, name) if v not in allowed]
        if unknown:
            errors.append(FieldError(name, f"Unknown value(s) {', '.join(unknown)}; use "
                                           f"{', '.join(allowed)}."))
    if fields.publish_at and fields.expires_at and fields.expires_at <= fields.publish_at:
        errors.append(FieldError("expires_at", "Expiry must come after the publish date."))
    if fields.kind is ItemKind.VIDEO:
        if not fields.video_url:
            errors.append(FieldError("video_url", "Enter the video's address."))
        else:
            try:
                check_destination(fields.video_url, field="video_url")
            except ValidationFailed as exc:
                errors.extend(exc.errors)
    if fields.kind is ItemKind.ASSET and not _asset_exists(fields.asset_id):
        errors.append(FieldError("asset_id", "Choose an asset from the library."))
    if fields.hero_asset_id and not _asset_exists(fields.hero_asset_id):
        errors.append(FieldError("hero_asset_id", "No asset has this id."))
    if fields.kind is ItemKind.CTA and not _page_exists(fields.landing_page_id):
        errors.append(FieldError("landing_page_id", "Choose a partner landing page."))
    if fields.kind is ItemKind.ARTICLE and not (fields.body or fields.summary):
        errors.append(FieldError("body", "Write the article (or at least a summary)."))
    if errors:
        raise ValidationFailed(errors)
    return fields


def _asset_exists(public_id: str | None) -> bool:
    from assets.library import get_asset

    if not public_id:
        return False
    try:
        get_asset(public_id)
    except NotFound:
        return False
    return True


def _page_exists(public_id: str | None) -> bool:
    from syndication.pages.models import PageKind
    from syndication.pages.service import get_page

    if not public_id:
        return False
    try:
        return get_page(public_id).kind is PageKind.PARTNER
    except NotFound:
        return False


def create_item(data: dict[str, Any], *, by, tiers: list[str], regions: list[str],
                types: list[str]) -> SyndicatedItem:
    """A new item; live on partners' widgets once its publish date has come."""
    fields = parse_fields(data, tiers=tiers, regions=regions, types=types)
    values = fields.model_dump()
    values["body"] = sanitise(values["body"])
    item = SyndicatedItem(created_by_id=by.id if by is not None else None, **values)
    db.session.add(item)
    db.session.flush()
    audit.record("widget_item.create", target=item, actor=by, after={"title": item.title})
    return item


def update_item(item: SyndicatedItem, data: dict[str, Any], *, by, tiers: list[str],
                regions: list[str], types: list[str]) -> SyndicatedItem:
    """Change an item; every partner's widget shows the change at its next cache expiry."""
    if item.retired_at is not None:
        raise Conflict("This item is retired; create a new one instead.")
    merged = {name: getattr(item, name) for name in ITEM_FIELDS} | dict(data)
    fields = parse_fields(merged, tiers=tiers, regions=regions, types=types)
    before = audit.snapshot(item, ITEM_FIELDS)
    values = fields.model_dump()
    values["body"] = sanitise(values["body"])
    for name, value in values.items():
        setattr(item, name, value)
    item.updated_at = utcnow()  # the widgets' cache key, even when only the audience changed
    db.session.flush()
    after = audit.snapshot(item, ITEM_FIELDS)
    if after != before:
        audit.record("widget_item.update", target=item, actor=by,
                     before={k: v for k, v in before.items() if k != "body"},
                     after={k: v for k, v in after.items() if k != "body"})
    return item


def retire_item(item: SyndicatedItem, *, by) -> None:
    """Take an item off every widget for good; its counts stay."""
    if item.retired_at is None:
        item.retired_at = utcnow()
        db.session.flush()
        audit.record("widget_item.retire", target=item, actor=by)


def get_item(public_id: str) -> SyndicatedItem:
    item = db.session.execute(select(SyndicatedItem).where(
        SyndicatedItem.public_id == public_id)).scalar_one_or_none()
    if item is None:
        raise NotFound("No such item.")
    return item


def list_items(*, include_retired: bool = False) -> list[SyndicatedItem]:
    query = select(SyndicatedItem).order_by(SyndicatedItem.updated_at.desc())
    if not include_retired:
        query = query.where(SyndicatedItem.retired_at.is_(None))
    return list(db.session.execute(query).scalars())


def categories() -> list[str]:
    """Every category used by an item that is not retired, for the widget builder."""
    rows = db.session.execute(select(SyndicatedItem.category).where(
        SyndicatedItem.retired_at.is_(None), SyndicatedItem.category != "").distinct())
    return sorted(rows.scalars())


def is_live(item: SyndicatedItem, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return (item.retired_at is None and item.publish_at is not None and item.publish_at <= now
            and (item.expires_at is None or now < item.expires_at))


def status_of(item: SyndicatedItem, now: datetime | None = None) -> str:
    """draft (no publish date) | scheduled | live | expired | retired."""
    now = now or utcnow()
    if item.retired_at is not None:
        return "retired"
    if item.publish_at is None:
        return "draft"
    if item.publish_at > now:
        return "scheduled"
    return "live" if item.expires_at is None or now < item.expires_at else "expired"


def in_audience(partner: Partner, item: SyndicatedItem) -> bool:
    return ((not item.allowed_tiers or partner.tier in item.allowed_tiers)
            and (not item.allowed_regions or partner.region in item.allowed_regions)
            and (not item.allowed_types or partner.type in item.allowed_types))


def visible_to(partner: Partner, item: SyndicatedItem, now: datetime | None = None) -> bool:
    """Whether the partner's widgets may show the item now."""
    return is_live(item, now) and in_audience(partner, item)


def live_items(partner: Partner, *, categories: list[str], language: str,
               now: datetime | None = None) -> list[SyndicatedItem]:
    """The items a partner's widget shows: live, in the audience, in one of ``categories``
    (empty: all) and in ``language``; newest first."""
    now = now or utcnow()
    query = (select(SyndicatedItem)
             .where(SyndicatedItem.retired_at.is_(None), SyndicatedItem.publish_at <= now,
                    or_(SyndicatedItem.expires_at.is_(None), SyndicatedItem.expires_at > now),
                    SyndicatedItem.language == language)
             .order_by(SyndicatedItem.publish_at.desc(), SyndicatedItem.id.desc()))
    if categories:
        query = query.where(SyndicatedItem.category.in_(categories))
    return [i for i in db.session.execute(query).scalars() if in_audience(partner, i)]


def next_change(now: datetime | None = None) -> datetime | None:
    """The next moment an item goes live or expires: until then, what widgets show stays."""
    now = now or utcnow()
    live = SyndicatedItem.retired_at.is_(None)
    publish = db.session.execute(select(func.min(SyndicatedItem.publish_at)).where(
        live, SyndicatedItem.publish_at > now)).scalar()
    expiry = db.session.execute(select(func.min(SyndicatedItem.expires_at)).where(
        live, SyndicatedItem.expires_at > now)).scalar()
    moments = [m for m in (publish, expiry) if m is not None]
    return min(moments) if moments else None
