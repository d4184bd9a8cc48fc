"""What routing rules, offers and vendor lead imports accept and answer (pages, CSV and API
say the same thing about the same mistake)."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from syndication.leads.countries import COUNTRIES
from syndication.leads.form import MAX_LENGTHS, PHONE
from syndication.leads.routing_models import DEFAULT_WINDOW_HOURS, RoutingStrategy
from tcma.errors import FieldError, ValidationFailed

LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")
MAX_IMPORT = 1000
MAX_REASON = 1000


def _choices(values: list[str], info: ValidationInfo, key: str, what: str) -> list[str]:
    """Each value one of the program's configured choices (as configured), no repeats."""
    allowed = (info.context or {}).get(key)
    out: list[str] = []
    for value in (v.strip() for v in values if v and v.strip()):
        if allowed is not None:
            lookup = {a.lower(): a for a in allowed}
            if value.lower() not in lookup:
                raise ValueError(f"{value!r} is not a {what}; use: {', '.join(allowed)}")
            value = lookup[value.lower()]
        if value not in out:
            out.append(value)
    return out


def _languages(values: list[str]) -> list[str]:
    out: list[str] = []
    for value in (v.strip() for v in values if v and v.strip()):
        if not LANGUAGE.match(value):
            raise ValueError(f"{value!r} is not a language code; use codes like en, de, pt-BR")
        if value not in out:
            out.append(value)
    return out


class RoutingRuleIn(BaseModel):
    """A whole rule. Empty lists match any lead / any active partner."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=120)
    enabled: bool = True
    countries: list[str] = Field(default=[], max_length=300,
                                 description="Lead countries (ISO 3166 codes)")
    regions: list[str] = Field(default=[], description="Lead regions (from the lead's country)")
    languages: list[str] = Field(default=[], max_length=50, description="Lead languages")
    partner_tiers: list[str] = []
    partner_regions: list[str] = []
    partner_languages: list[str] = Field(default=[], max_length=50)
    partner_types: list[str] = []
    same_region: bool = Field(default=False,
                              description="Only partners in the lead's own region")
    strategy: RoutingStrategy = RoutingStrategy.ROUND_ROBIN
    fixed_partner_id: str | None = Field(default=None, max_length=24,
                                         description="The partner of a 'fixed' rule")
    window_hours: int = Field(default=DEFAULT_WINDOW_HOURS, ge=1, le=720,
                              description="Hours a partner has to accept an offer")

    @field_validator("countries")
    @classmethod
    def _countries(cls, values: list[str]) -> list[str]:
        out = []
        for value in (v.strip().upper() for v in values if v and v.strip()):
            if value not in COUNTRIES:
                raise ValueError(f"{value!r} is not an ISO country code (like DE, US, BR)")
            if value not in out:
                out.append(value)
        return out

    @field_validator("regions", "partner_regions")
    @classmethod
    def _regions(cls, values: list[str], info: ValidationInfo) -> list[str]:
        return _choices(values, info, "regions", "region")

    @field_validator("partner_tiers")
    @classmethod
    def _tiers(cls, values: list[str], info: ValidationInfo) -> list[str]:
        return _choices(values, info, "tiers", "tier")

    @field_validator("partner_types")
    @classmethod
    def _types(cls, values: list[str], info: ValidationInfo) -> list[str]:
        return _choices(values, info, "types", "partner type")

    @field_validator("languages", "partner_languages")
    @classmethod
    def _langs(cls, values: list[str]) -> list[str]:
        return _languages(values)

    @field_validator("fixed_partner_id", mode="before")
    @classmethod
    def _blank(cls, value):
        return value or None

    @model_validator(mode="after")
    def _fixed_needs_partner(self) -> RoutingRuleIn:
        if self.strategy is RoutingStrategy.FIXED and not self.fixed_partner_id:
            raise ValueError("A 'fixed' rule needs a partner (fixed_partner_id)")
        return self


class RoutingRulePatch(BaseModel):
    """Some of a rule's fields; ``position`` moves it (1 is evaluated first)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    enabled: bool | None = None
    countries: list[str] | None = None
    regions: list[str] | None = None
    languages: list[str] | None = None
    partner_tiers: list[str] | None = None
    partner_regions: list[str] | None = None
    partner_languages: list[str] | None = None
    partner_types: list[str] | None = None
    same_region: bool | None = None
    strategy: RoutingStrategy | None = None
    fixed_partner_id: str | None = None
    window_hours: int | None = None
    position: int | None = Field(default=None, ge=1)


class RoutingRuleOut(BaseModel):
    id: str
    name: str
    position: int
    enabled: bool
    countries: list[str]
    regions: list[str]
    languages: list[str]
    partner_tiers: list[str]
    partner_regions: list[str]
    partner_languages: list[str]
    partner_types: list[str]
    same_region: bool
    strategy: RoutingStrategy
    fixed_partner_id: str | None
    fixed_partner_name: str | None
    window_hours: int
    eligible_partners: int = Field(description="Active partners the rule can offer leads to "
                                               "now (before 'same region' narrows it per lead)")
    offers_made: int
    created_at: datetime
    updated_at: datetime


class LeadDeclineIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=MAX_REASON,
                        description="Why (not our region, no capacity, not a fit...)")


class LeadAssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    partner_id: str = Field(min_length=1, max_length=24)
    note: str = Field(default="", max_length=5000, description="Why, for the lead's history")


class LeadOfferOut(BaseModel):
    """A partner's answer to an offer, as that partner sees it."""

    lead_id: str
    outcome: str = Field(description="pending | accepted | declined | expired | withdrawn")
    offered_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    reason: str | None


class LeadImportItem(BaseModel):
    """One lead from the vendor's own site or CRM."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: EmailStr
    first_name: str = Field(default="", max_length=MAX_LENGTHS["first_name"])
    last_name: str = Field(default="", max_length=MAX_LENGTHS["last_name"])
    company: str = Field(default="", max_length=MAX_LENGTHS["company"])
    job_title: str = Field(default="", max_length=MAX_LENGTHS["job_title"])
    phone: str = Field(default="", max_length=MAX_LENGTHS["phone"])
    country: str = Field(default="", description="ISO 3166 two-letter code")
    language: str = Field(default="", description="Language code, like en, de or pt-BR")
    message: str = Field(default="", max_length=MAX_LENGTHS["message"])
    source: str = Field(default="", max_length=100, description="Where it came from")
    external_id: str | None = Field(default=None, max_length=100,
                                    description="Your id: sending it again updates the lead")
    consent_given: bool = False
    consent_text: str = Field(default="", max_length=5000,
                              description="The exact wording the person agreed to")
    partner_id: str | None = Field(default=None, max_length=24,
                                   description="Give the lead to this partner (no routing)")

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        value = value.upper()
        if value and value not in COUNTRIES:
            raise ValueError("Use an ISO country code like DE, US or BR")
        return value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value and not LANGUAGE.match(value):
            raise ValueError("Use a language code like en, de or pt-BR")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        if value and not PHONE.match(value):
            raise ValueError("Use digits (spaces, +, brackets and dashes are fine)")
        return value

    @field_validator("external_id", "partner_id", mode="before")
    @classmethod
    def _blank(cls, value):
        return value.strip() or None if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consent_wording(self) -> LeadImportItem:
        if self.consent_given and not self.consent_text:
            raise ValueError("consent_text: give the wording the person agreed to")
        return self


class LeadImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[LeadImportItem] = Field(min_length=1, max_length=MAX_IMPORT)

    @field_validator("items", mode="wrap")
    @classmethod
    def _name_items(cls, value, handler):
        """Errors name ``items[i].field``, so the sender can find the line to fix."""
        try:
            return handler(value)
        except ValidationError as exc:
            raise ValidationFailed(item_errors(exc)) from None


def located(err: dict) -> tuple[int | None, str, str]:
    """(item index or None, field or "", message) of one pydantic error."""
    loc = list(err["loc"])
    message = err["msg"].removeprefix("Value error, ")
    index = loc.pop(0) if loc and isinstance(loc[0], int) else None
    name = ".".join(str(p) for p in loc)
    head, sep, rest = message.partition(": ")
    if not name and sep and head.isidentifier() and head in LeadImportItem.model_fields:
        name, message = head, rest  # a whole-item check naming its field
    return index, name, message


def item_errors(exc: ValidationError) -> list[FieldError]:
    """A list's errors, each naming ``items[i].field`` (or ``items`` for the list itself)."""
    errors = []
    for err in exc.errors():
        index, name, message = located(err)
        where = "items" if index is None else f"items[{index}]"
        errors.append(FieldError(f"{where}.{name}" if name and index is not None else where,
                                 message))
    return errors


class LeadImportResult(BaseModel):
    imported: bool = Field(description="False for a dry run: nothing was written")
    created: int
    updated: int
    assigned: int = Field(description="Given straight to the partner the item named")
    routed: int = Field(description="Queued for the routing rules")
    leads: list[str] = Field(description="The leads' ids, in the order of the items "
                                         "(empty for a dry run)")
