"""What the landing-page API accepts and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from syndication.pages import service as pages
from syndication.pages.models import LandingPage, PageKind, PageStatus
from syndication.pages.render import media_url
from syndication.pages.service import FormField, PageFields
from tcma.partners.models import Partner


def _no_default(schema: dict[str, Any]) -> None:
    """A PATCH field left out keeps its value; its ``None`` default is not a value to show."""
    schema.pop("default", None)


class PagePatch(PageFields):
    """PATCH semantics: only the fields sent change; none of them may be null."""

    slug: str = Field(default=None, min_length=1, max_length=64, json_schema_extra=_no_default)
    kind: PageKind = Field(default=None, json_schema_extra=_no_default)
    title: str = Field(default=None, min_length=1, max_length=200, json_schema_extra=_no_default)
    headline: str = Field(default=None, min_length=1, max_length=200,
                          json_schema_extra=_no_default)
    summary: str = Field(default=None, max_length=300, json_schema_extra=_no_default)
    body: str = Field(default=None, max_length=10_000, json_schema_extra=_no_default)
    bullets: list[str] = Field(default=None, max_length=pages.MAX_BULLETS,
                               json_schema_extra=_no_default)
    cta_label: str = Field(default=None, min_length=1, max_length=60,
                           json_schema_extra=_no_default)
    hero_alt: str = Field(default=None, max_length=200, json_schema_extra=_no_default)
    form_fields: dict[str, FormField] = Field(default=None, json_schema_extra=_no_default)
    consent_text: str = Field(default=None, max_length=1000, json_schema_extra=_no_default)
    consent_required: bool = Field(default=None, json_schema_extra=_no_default)
    thank_you: str = Field(default=None, min_length=1, max_length=1000,
                           json_schema_extra=_no_default)
    allowed_tiers: list[str] = Field(default=None, json_schema_extra=_no_default)
    allowed_regions: list[str] = Field(default=None, json_schema_extra=_no_default)

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("Leave the field out to keep it; it cannot be null")
        return v


class PageStatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: PageStatus = Field(description="published puts the page online; retired takes it "
                                           "off. Neither goes back to draft.")


class PageOut(BaseModel):
    id: str
    slug: str
    kind: PageKind
    status: PageStatus
    title: str
    headline: str
    summary: str
    body: str
    bullets: list[str]
    cta_label: str
    hero_url: str | None
    hero_alt: str
    form_fields: dict[str, FormField]
    consent_text: str
    consent_version: int
    consent_required: bool
    thank_you: str
    allowed_tiers: list[str] = Field(description="Empty: every tier")
    allowed_regions: list[str] = Field(description="Empty: every region")
    url: str = Field(description="For a partner: your page's address. For vendor staff: the "
                                 "generic page's address, or the pattern with <partner-slug>")
    leads: int = Field(description="Leads from this page that you can see")
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, page: LandingPage, *, partner: Partner | None, leads: int) -> PageOut:
        if page.kind is PageKind.GENERIC or partner is not None:
            url = pages.public_url(page, partner)
        else:
            url = f"{pages.base_url()}/p/<partner-slug>/{page.slug}"
        return cls(
            id=page.public_id, slug=page.slug, kind=page.kind, status=page.status,
            title=page.title, headline=page.headline, summary=page.summary, body=page.body,
            bullets=page.bullets or [], cta_label=page.cta_label,
            hero_url=media_url(page.hero_key) if page.hero_key else None,
            hero_alt=page.hero_alt, form_fields={k: FormField(**v) for k, v in
                                                 (page.form_fields or {}).items()},
            consent_text=page.consent_text, consent_version=page.consent_version,
            consent_required=page.consent_required, thank_you=page.thank_you,
            allowed_tiers=page.allowed_tiers or [], allowed_regions=page.allowed_regions or [],
            url=url, leads=leads, published_at=page.published_at, created_at=page.created_at,
            updated_at=page.updated_at)
