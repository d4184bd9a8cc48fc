"""Input rules for partners and brand profiles, shared by the pages, the CSV import and the API.

Pydantic validates; errors come back through ``ValidationFailed.from_pydantic`` naming the
field, so a form, a CSV row and an API call all say the same thing about the same mistake.
"""

from __future__ import annotations

import re
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationInfo, field_validator

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
LANGUAGE = re.compile(r"^[a-z]{2}(?:-[A-Z]{2})?$")
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
PHONE = re.compile(r"^\+?[0-9 ()./-]{6,30}$")
X_HANDLE = re.compile(r"^@?[A-Za-z0-9_]{1,15}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")


def _choice(value: str, info: ValidationInfo, key: str, what: str) -> str:
    allowed = (info.context or {}).get(key)
    value = (value or "").strip()
    if allowed is not None:
        lookup = {a.lower(): a for a in allowed}
        if value.lower() not in lookup:
            raise ValueError(f"{what} must be one of: {', '.join(allowed)}")
        return lookup[value.lower()]
    return value


class PartnerFields(BaseModel):
    """The vendor-managed facts about a partner."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    tier: str
    region: str
    language: str = "en"
    type: str

    @field_validator("tier")
    @classmethod
    def _tier(cls, v: str, info: ValidationInfo) -> str:
        return _choice(v, info, "tiers", "Tier")

    @field_validator("region")
    @classmethod
    def _region(cls, v: str, info: ValidationInfo) -> str:
        return _choice(v, info, "regions", "Region")

    @field_validator("type")
    @classmethod
    def _type(cls, v: str, info: ValidationInfo) -> str:
        return _choice(v, info, "types", "Partner type")

    @field_validator("language")
    @classmethod
    def _language(cls, v: str) -> str:
        if not LANGUAGE.match(v or ""):
            raise ValueError("Use a language code like en, de or pt-BR")
        return v


class PartnerCreate(PartnerFields):
    slug: str | None = Field(default=None, max_length=64)
    admin_email: EmailStr | None = None
    admin_name: str | None = Field(default=None, max_length=200)

    @field_validator("admin_email", mode="before")
    @classmethod
    def _admin_email_blank(cls, v):
        return _none_if_blank(v)

    @field_validator("slug")
    @classmethod
    def _slug(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        v = v.lower()
        if not SLUG.match(v):
            raise ValueError("Use lowercase letters, digits and hyphens (e.g. northwind-it)")
        return v

    @field_validator("admin_name")
    @classmethod
    def _admin_name(cls, v: str | None) -> str | None:
        return v or None


class PartnerUpdate(PartnerFields):
    pass


def _none_if_blank(v):
    if isinstance(v, str):
        v = v.strip()
        return v or None
    return v


class BrandProfileFields(BaseModel):
    """What a partner says about itself; every field optional, the meter shows what is missing."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    display_name: str | None = Field(default=None, max_length=200)
    contact_name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=50)
    website: str | None = Field(default=None, max_length=500)
    address_line1: str | None = Field(default=None, max_length=200)
    address_line2: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, max_length=20)
    state: str | None = Field(default=None, max_length=100)
    country: str | None = None
    primary_color: str | None = None
    secondary_color: str | None = None
    linkedin_url: str | None = Field(default=None, max_length=500)
    x_handle: str | None = None
    facebook_url: str | None = Field(default=None, max_length=500)
    timezone: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, v):
        return _none_if_blank(v)

    @field_validator("phone")
    @classmethod
    def _phone(cls, v):
        if v is not None and not PHONE.match(v):
            raise ValueError("Use digits, spaces and + ( ) - . only, e.g. +44 20 7946 0000")
        return v

    @field_validator("website", "linkedin_url", "facebook_url")
    @classmethod
    def _url(cls, v):
        if v is None:
            return v
        if not re.match(r"^https?://[^\s/$.?#][^\s]*\.[^\s]+$", v):
            raise ValueError("Use a full address starting with https://")
        return v

    @field_validator("primary_color", "secondary_color")
    @classmethod
    def _color(cls, v):
        if v is not None and not COLOR.match(v):
            raise ValueError("Use a colour like #1f5fbf")
        return v.lower() if v else v

    @field_validator("country")
    @classmethod
    def _country(cls, v):
        if v is None:
            return v
        v = v.upper()
        if not COUNTRY.match(v):
            raise ValueError("Use the two-letter country code, e.g. DE or US")
        return v

    @field_validator("x_handle")
    @classmethod
    def _x(cls, v):
        if v is None:
            return v
        if not X_HANDLE.match(v):
            raise ValueError("Use the handle, e.g. @northwind (letters, digits, _; 15 at most)")
        return "@" + v.lstrip("@")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v):
        if v is not None and v not in _timezones():
            raise ValueError("Pick a time zone from the list, e.g. Europe/Berlin")
        return v


_TZ: set[str] = set()


def _timezones() -> set[str]:
    if not _TZ:
        _TZ.update(available_timezones())
    return _TZ


def timezone_choices() -> list[str]:
    return sorted(tz for tz in _timezones() if "/" in tz and not tz.startswith("Etc/"))
