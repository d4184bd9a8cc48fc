"""What the widget API accepts and answers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from syndication.widget.content import ItemFields
from syndication.widget.models import ItemKind, SyndicatedItem, Widget, WidgetLayout
from syndication.widget.service import FONTS, WidgetFields
from syndication.widget.stats import WidgetStats


def _no_default(schema: dict[str, Any]) -> None:
    """A PATCH field left out keeps its value; its ``None`` default is not a value to show."""
    schema.pop("default", None)


class _NotNull(BaseModel):
    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("Leave the field out to keep it; it cannot be null")
        return v


class SyndicatedItemPatch(_NotNull, ItemFields):
    """PATCH semantics: only the fields sent change; none of them may be null."""

    kind: ItemKind = Field(default=None, json_schema_extra=_no_default)
    title: str = Field(default=None, min_length=1, max_length=200, json_schema_extra=_no_default)
    summary: str = Field(default=None, max_length=500, json_schema_extra=_no_default)
    body: str = Field(default=None, max_length=100_000, json_schema_extra=_no_default)
    category: str = Field(default=None, max_length=60, json_schema_extra=_no_default)
    language: str = Field(default=None, json_schema_extra=_no_default)
    allowed_tiers: list[str] = Field(default=None, json_schema_extra=_no_default)
    allowed_regions: list[str] = Field(default=None, json_schema_extra=_no_default)
    allowed_types: list[str] = Field(default=None, json_schema_extra=_no_default)


class SyndicatedItemOut(BaseModel):
    id: str
    kind: str = Field(json_schema_extra={"enum": [k.value for k in ItemKind]})
    title: str
    summary: str
    body: str = Field(description="Sanitised HTML")
    hero_asset_id: str | None
    asset_id: str | None
    video_url: str | None
    landing_page_id: str | None
    category: str
    language: str
    allowed_tiers: list[str] = Field(description="Empty: every tier")
    allowed_regions: list[str] = Field(description="Empty: every region")
    allowed_types: list[str] = Field(description="Empty: every partner type")
    publish_at: datetime | None = Field(description="Null: a draft no widget shows")
    expires_at: datetime | None
    retired_at: datetime | None
    status: str = Field(json_schema_extra={"enum": ["draft", "scheduled", "live", "expired",
                                                    "retired"]})
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, item: SyndicatedItem, status: str) -> SyndicatedItemOut:
        return cls(id=item.public_id, kind=item.kind.value, title=item.title,
                   summary=item.summary, body=item.body, hero_asset_id=item.hero_asset_id,
                   asset_id=item.asset_id, video_url=item.video_url,
                   landing_page_id=item.landing_page_id, category=item.category,
                   language=item.language, allowed_tiers=item.allowed_tiers,
                   allowed_regions=item.allowed_regions, allowed_types=item.allowed_types,
                   publish_at=item.publish_at, expires_at=item.expires_at,
                   retired_at=item.retired_at, status=status, created_at=item.created_at,
                   updated_at=item.updated_at)


class WidgetPatch(_NotNull, WidgetFields):
    """PATCH semantics: only the fields sent change; none of them may be null."""

    name: str = Field(default=None, min_length=1, max_length=120, json_schema_extra=_no_default)
    categories: list[str] = Field(default=None, json_schema_extra=_no_default)
    layout: WidgetLayout = Field(default=None, json_schema_extra=_no_default)
    item_count: int = Field(default=None, ge=1, le=12, json_schema_extra=_no_default)
    font: str = Field(default=None, json_schema_extra=_no_default)
    domains: list[str] = Field(default=None, json_schema_extra=_no_default)


class WidgetOut(BaseModel):
    id: str
    partner_id: str
    name: str
    categories: list[str] = Field(description="Empty: every category")
    layout: str = Field(json_schema_extra={"enum": [layout.value for layout in WidgetLayout]})
    item_count: int
    color: str
    accent: str
    font: str = Field(json_schema_extra={"enum": list(FONTS)})
    language: str
    domains: list[str] = Field(description="Sites (host[:port]) allowed to show the widget")
    impressions_30_days: int = Field(description="One per visitor per day, bots left out")
    clicks_30_days: int = Field(description="People's clicks on the widget's tracking links")
    leads_30_days: int = Field(description="New leads from the widget's inline forms")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, widget: Widget, partner_public_id: str, stats: WidgetStats) -> WidgetOut:
        return cls(id=widget.public_id, partner_id=partner_public_id, name=widget.name,
                   categories=widget.categories, layout=widget.layout.value,
                   item_count=widget.item_count, color=widget.color, accent=widget.accent,
                   font=widget.font, language=widget.language, domains=widget.domains,
                   impressions_30_days=stats.impressions, clicks_30_days=stats.clicks,
                   leads_30_days=stats.leads, created_at=widget.created_at,
                   updated_at=widget.updated_at)


class WidgetSnippetOut(BaseModel):
    widget_id: str
    html: str = Field(description="The loader script and its fallback link, to paste as is")
    loader_url: str
    fallback_url: str = Field(description="The partner-branded page of the widget's items")


class ItemStatsOut(BaseModel):
    item_id: str
    title: str
    impressions: int
    clicks: int
    leads: int


class WidgetStatsOut(BaseModel):
    widget_id: str
    days: int
    impressions: int = Field(description="One per visitor per day, bots left out")
    clicks: int = Field(description="People's clicks on the widget's tracking links")
    unique_clicks: int = Field(description="The first click of each person per link")
    leads: int = Field(description="New leads from the widget's inline forms")
    items: list[ItemStatsOut]

    @classmethod
    def of(cls, widget: Widget, stats: WidgetStats) -> WidgetStatsOut:
        return cls(widget_id=widget.public_id, days=stats.days, impressions=stats.impressions,
                   clicks=stats.clicks, unique_clicks=stats.unique_clicks, leads=stats.leads,
                   items=[ItemStatsOut(item_id=r.item_id, title=r.title,
                                       impressions=r.impressions, clicks=r.clicks,
                                       leads=r.leads) for r in stats.by_item])


class PartnerAdoptionOut(BaseModel):
    partner_id: str
    partner_name: str
    widgets: int
    live_widgets: int = Field(description="Widgets seen on a partner's site in the last 7 days")
    last_seen: date | None
    last_domain: str = Field(description="The site (host[:port]) of the latest counted view")


class AdoptionOut(BaseModel):
    partners_with_widgets: int
    partners_live: int = Field(description="Partners with a widget seen in the last 7 days")
    partners: list[PartnerAdoptionOut]
