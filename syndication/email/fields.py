"""A contact's values, checked one way for every door they come in by: the form, the API and
each CSV row.

``clean`` returns the values with two kinds of problems: errors (the record cannot be kept:
an invalid address, missing consent, a value too long) and, when ``lenient``, warnings (a
value we cannot use, such as an unknown country, is left out and the rest is kept). Imports
are lenient; a person typing into a form or an API client is told about everything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email

from syndication.leads.countries import COUNTRIES
from tcma.errors import FieldError
from tcma.models import utcnow

#: The plain text fields a contact has, with the longest value each may hold.
TEXT_FIELDS: dict[str, int] = {
    "first_name": 100, "last_name": 100, "company": 200, "job_title": 200, "phone": 50,
    "country": 60, "language": 16,
}
LABELS = {
    "email": "Email", "first_name": "First name", "last_name": "Last name",
    "company": "Company", "job_title": "Job title", "phone": "Phone", "country": "Country",
    "language": "Language", "tags": "Tags", "consent_source": "Consent source",
    "consent_date": "Consent date", "consent_text": "Consent text",
    "unsubscribed": "Unsubscribed",
}
MAX_SOURCE = 200
MAX_CONSENT_TEXT = 2000
MAX_TAGS = 30
MAX_TAG = 50
MAX_CUSTOM_FIELDS = 25
MAX_CUSTOM_NAME = 50
MAX_CUSTOM_VALUE = 500
DATE_ORDERS = ("dmy", "mdy")

_LANGUAGE = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")
_DATE = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_TAG_SPLIT = re.compile(r"[,;|]")
_COUNTRY_NAMES = {name.casefold(): code for code, name in COUNTRIES.items()}
_COUNTRY_NAMES.update({
    "usa": "US", "united states of america": "US", "u.s.a.": "US", "uk": "GB",
    "great britain": "GB", "england": "GB", "deutschland": "DE", "österreich": "AT",
    "schweiz": "CH", "suisse": "CH", "españa": "ES", "italia": "IT", "nederland": "NL",
    "holland": "NL", "belgique": "BE", "belgië": "BE", "polska": "PL", "brasil": "BR",
    "méxico": "MX", "sverige": "SE", "norge": "NO", "danmark": "DK", "suomi": "FI",
})
_TRUE = {"yes", "y", "true", "1", "x", "unsubscribed", "opted out", "opt-out", "ja", "oui",
         "si", "sí"}
_FALSE = {"", "no", "n", "false", "0", "subscribed", "nein", "non"}


@dataclass
class ContactValues:
    """One contact's values, clean. ``fields`` holds non-empty text fields only."""

    email: str
    fields: dict[str, str] = field(default_factory=dict)
    custom: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    consent_source: str | None = None
    consent_at: datetime | None = None
    consent_text: str | None = None
    unsubscribed: bool = False

    def merged_with(self, newer: ContactValues) -> ContactValues:
        """Two records of one person: the newer one's non-empty values win, tags add up."""
        consent = newer if newer.consent_source and newer.consent_at else self
        return ContactValues(
            email=self.email, fields={**self.fields, **newer.fields},
            custom={**self.custom, **newer.custom}, tags=merge_tags(self.tags, newer.tags),
            consent_source=consent.consent_source, consent_at=consent.consent_at,
            consent_text=newer.consent_text or self.consent_text,
            unsubscribed=self.unsubscribed or newer.unsubscribed)


@dataclass
class Cleaned:
    values: ContactValues | None  # None when there are errors
    errors: list[FieldError]
    warnings: list[FieldError]


def normalise_email(raw: str) -> str:
    """A valid address, trimmed and lower-case; ValueError with a reason otherwise."""
    text = (raw or "").strip()
    if not text:
        raise ValueError("An email address is required.")
    if len(text) > 254:
        raise ValueError("Too long for an email address.")
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"Not a valid email address: {exc}") from None


def country_code(raw: str) -> str:
    """An ISO code from a code or a country's name; ValueError if unknown."""
    text = (raw or "").strip()
    if not text:
        return ""
    if len(text) == 2 and text.upper() in COUNTRIES:
        return text.upper()
    code = _COUNTRY_NAMES.get(text.casefold())
    if code is None:
        raise ValueError("Unknown country; use a two-letter code such as DE or a name.")
    return code


def language_tag(raw: str) -> str:
    text = (raw or "").strip().replace("_", "-")
    if text and not _LANGUAGE.match(text):
        raise ValueError("Use a language code such as en, de or pt-BR.")
    if not text:
        return ""
    head, _, rest = text.partition("-")
    return head.lower() + (f"-{rest}" if rest else "")


def split_tags(raw: str | list[str] | None) -> list[str]:
    """Tags from a list or from text separated by commas, semicolons or bars."""
    items = raw if isinstance(raw, list) else _TAG_SPLIT.split(raw or "")
    return merge_tags([], items)


def merge_tags(old: list[str], new: list[str]) -> list[str]:
    out = list(old)
    for item in new:
        tag = " ".join(str(item).split()).lower()
        if tag and tag not in out:
            out.append(tag)
    return out


def parse_consent_date(raw: str, date_order: str = "dmy") -> datetime:
    """A consent date or time, UTC; ISO is always understood, 03/04/2026 per ``date_order``
    and 03.04.2026 as day first. ValueError if unreadable or in the future."""
    text = (raw or "").strip()
    when = None
    try:
        when = datetime.fromisoformat(text.replace("/", "-") if text[:4].isdigit() else text)
    except ValueError:
        match = _DATE.match(text)
        if match:
            a, sep, b, year, hour, minute, second = match.groups()
            day, month = (a, b) if sep == "." or date_order != "mdy" else (b, a)
            try:
                when = datetime(int(year), int(month), int(day), int(hour or 0),
                                int(minute or 0), int(second or 0))
            except ValueError:
                when = None
    if when is None:
        raise ValueError("Not a date; use 2026-03-31 (or 31.03.2026).")
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if when > utcnow() + timedelta(days=1):
        raise ValueError("The consent date is in the future.")
    if when.year < 1990:
        raise ValueError("The consent date is too far in the past.")
    return when


def parse_flag(raw: str) -> bool:
    text = (raw or "").strip().casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("Use yes or no.")


def clean(raw: dict[str, Any], *, custom: dict[str, str] | None = None,
          date_order: str = "dmy", lenient: bool = False,
          require_consent: bool = True) -> Cleaned:
    """Check one contact's values (text in, typically from a form, the API or a CSV row).

    Keys: email, the ``TEXT_FIELDS``, tags, consent_source, consent_date (text or datetime),
    consent_text, unsubscribed. ``custom`` holds the partner's own columns.
    """
    errors: list[FieldError] = []
    warnings: list[FieldError] = []
    email = ""
    try:
        email = normalise_email(str(raw.get("email") or ""))
    except ValueError as exc:
        errors.append(FieldError("email", str(exc)))

    values: dict[str, str] = {}
    for name, limit in TEXT_FIELDS.items():
        text = " ".join(str(raw.get(name) or "").split())
        if len(text) > limit:
            errors.append(FieldError(name, f"Too long: at most {limit} characters."))
            continue
        try:
            if name == "country":
                text = country_code(text)
            elif name == "language":
                text = language_tag(text)
        except ValueError as exc:
            (warnings if lenient else errors).append(FieldError(name, str(exc)))
            continue
        if text:
            values[name] = text

    tags = split_tags(raw.get("tags"))
    if len(tags) > MAX_TAGS:
        errors.append(FieldError("tags", f"At most {MAX_TAGS} tags."))
    if any(len(t) > MAX_TAG for t in tags):
        errors.append(FieldError("tags", f"A tag has at most {MAX_TAG} characters."))

    extra: dict[str, str] = {}
    for name, value in (custom or {}).items():
        name, text = " ".join(str(name).split()), str(value or "").strip()
        if not name or len(name) > MAX_CUSTOM_NAME:
            errors.append(FieldError(f"custom:{name[:20]}",
                                     f"A field name has 1 to {MAX_CUSTOM_NAME} characters."))
        elif len(text) > MAX_CUSTOM_VALUE:
            errors.append(FieldError(f"custom:{name}",
                                     f"Too long: at most {MAX_CUSTOM_VALUE} characters."))
        elif text:
            extra[name] = text
    if len(extra) > MAX_CUSTOM_FIELDS:
        errors.append(FieldError("custom_fields", f"At most {MAX_CUSTOM_FIELDS} own fields."))

    source = " ".join(str(raw.get("consent_source") or "").split())
    consent_text = str(raw.get("consent_text") or "").strip()
    if len(source) > MAX_SOURCE:
        errors.append(FieldError("consent_source", f"Too long: at most {MAX_SOURCE} characters."))
    if len(consent_text) > MAX_CONSENT_TEXT:
        errors.append(FieldError("consent_text",
                                 f"Too long: at most {MAX_CONSENT_TEXT} characters."))
    consent_at = raw.get("consent_date")
    if isinstance(consent_at, str):
        if consent_at.strip():
            try:
                consent_at = parse_consent_date(consent_at, date_order)
            except ValueError as exc:
                errors.append(FieldError("consent_date", str(exc)))
                consent_at = None
        else:
            consent_at = None
    if require_consent and not (source and consent_at):
        missing = [n for n, v in (("consent_source", source), ("consent_date", consent_at))
                   if not v and not any(e.field == n for e in errors)]
        for name in missing:
            errors.append(FieldError(name, "Every contact needs a consent source and date."))

    unsubscribed = raw.get("unsubscribed") or False
    if isinstance(unsubscribed, str):
        try:
            unsubscribed = parse_flag(unsubscribed)
        except ValueError as exc:
            (warnings if lenient else errors).append(FieldError("unsubscribed", str(exc)))
            unsubscribed = False

    if errors:
        return Cleaned(None, errors, warnings)
    return Cleaned(ContactValues(email=email, fields=values, custom=extra, tags=tags,
                                 consent_source=source or None, consent_at=consent_at,
                                 consent_text=consent_text or None,
                                 unsubscribed=bool(unsubscribed)), errors, warnings)
