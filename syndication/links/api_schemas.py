"""What the tracking-link API accepts and answers."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from syndication.links.models import Channel, TrackingLink
from syndication.links.reports import Day, Totals

CHANNELS = [c.value for c in Channel]


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partner_id: str | None = Field(
        default=None, description="Vendor tokens: whose link. Partner tokens: omit (own).")
    destination: str = Field(max_length=2000, description="An absolute http(s) URL")
    channel: str = Field(default="web", json_schema_extra={"enum": CHANNELS})
    campaign: str | None = Field(default=None, max_length=100,
                                 description="utm_campaign: a kit or asset slug")
    content: str | None = Field(default=None, max_length=100,
                                description="utm_content: the step or post")


class LinkPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disabled: bool = Field(description="A disabled link answers 404 (or the fallback URL)")


class ClickTotals(BaseModel):
    unique: int = Field(description="People: first click per visitor and link in 24 h")
    repeats: int = Field(description="The same people again")
    human: int
    filtered: dict[str, int] = Field(
        description="Left out of the counts, by reason: bot, preview, scanner, prefetch")

    @classmethod
    def of(cls, t: Totals) -> ClickTotals:
        return cls(unique=t.unique, repeats=t.repeats, human=t.human, filtered=t.filtered)


class LinkOut(BaseModel):
    code: str
    short_url: str
    partner_id: str
    destination: str
    channel: str
    campaign: str | None
    content: str | None
    source_type: str
    source_id: str | None
    created_at: datetime
    disabled: bool
    clicks: ClickTotals

    @classmethod
    def of(cls, link: TrackingLink, partner_public_id: str, short_url: str,
           totals: Totals) -> LinkOut:
        return cls(code=link.code, short_url=short_url, partner_id=partner_public_id,
                   destination=link.destination, channel=link.channel.value,
                   campaign=link.campaign, content=link.content,
                   source_type=link.source_type, source_id=link.source_id,
                   created_at=link.created_at, disabled=link.disabled_at is not None,
                   clicks=ClickTotals.of(totals))


class DayOut(BaseModel):
    day: date
    unique: int
    repeats: int
    filtered: int

    @classmethod
    def of(cls, d: Day) -> DayOut:
        return cls(day=d.day, unique=d.unique, repeats=d.repeats, filtered=d.filtered)


class LinkStats(BaseModel):
    code: str
    totals: ClickTotals
    days: list[DayOut]
