"""A public lead form's submission: its signed token, its fields, and where the visitor
came from.

The form token replaces the session CSRF token on public pages (visitors have no session):
it is signed with ``SECRET_KEY``, names the page and the partner it was issued for, and
expires, so a form cannot be posted to another partner's page or replayed forever.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from syndication.leads.countries import COUNTRIES
from tcma.errors import DomainError, FieldError, ValidationFailed

#: Longest value kept per field; longer input is refused with a message, never truncated.
MAX_LENGTHS = {"first_name": 100, "last_name": 100, "email": 254, "company": 200,
               "job_title": 200, "phone": 50, "country": 2, "message": 5000}
#: The hidden field that must stay empty: people never see it, form-filling bots do.
HONEYPOT = "website_url"
#: Hidden fields carrying where the visitor came from (from the page URL's query string).
UTM_KEYS = ("source", "medium", "campaign", "content", "term")
MAX_UTM = 200
CLICK_ID = re.compile(r"^[A-Za-z0-9_-]{1,24}\.[A-Za-z0-9_-]{1,24}$")
PHONE = re.compile(r"^\+?[0-9 ()./-]{5,40}(?:\s*(?:x|ext\.?)\s*[0-9]{1,6})?$", re.IGNORECASE)
#: Channels a tracking link names in ``utm_medium``; anything else counts as web.
CHANNELS = ("email", "social", "web", "qr", "asset")


class FormTokenInvalid(DomainError):
    """The form was not issued by us for this page, or is too old."""

    status = 400
    title = "This form has expired"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="tcma.lead-form")


def form_token(page_id: str, partner_id: str | None) -> str:
    return _serializer().dumps({"page": page_id, "partner": partner_id})


def check_token(token: str, page_id: str, partner_id: str | None) -> None:
    """Raise FormTokenInvalid unless ``token`` was issued for this page and partner and is
    younger than ``LEAD_FORM_MAX_AGE_SECONDS``."""
    max_age = int(current_app.config.get("LEAD_FORM_MAX_AGE_SECONDS", 24 * 3600))
    try:
        data = _serializer().loads(token or "", max_age=max_age)
    except SignatureExpired as exc:
        raise FormTokenInvalid("This form was open for too long. We kept your answers: "
                               "please send it again.") from exc
    except BadSignature as exc:
        raise FormTokenInvalid("We could not verify this form. We kept your answers: please "
                               "send it again.") from exc
    if not isinstance(data, dict) or data.get("page") != page_id or \
            data.get("partner") != partner_id:
        raise FormTokenInvalid("We could not verify this form. We kept your answers: please "
                               "send it again.")


@dataclass
class Submission:
    """A valid submission: the contact fields the page asks for, and the consent answer."""

    values: dict[str, str]
    consent_given: bool
    utm: dict[str, str] = field(default_factory=dict)
    click_id: str | None = None

    @property
    def channel(self) -> str:
        medium = (self.utm.get("medium") or "").lower()
        return medium if medium in CHANNELS else "web"


def _clean(value: str, *, multiline: bool = False) -> str:
    """Strip and drop control characters (a newline survives only in multi-line fields)."""
    value = unicodedata.normalize("NFC", value or "").replace("\r\n", "\n").strip()
    keep = "\n\t" if multiline else ""
    return "".join(c for c in value if c in keep or unicodedata.category(c)[0] != "C")


def parse_submission(form: Mapping[str, str], fields: list[dict], *, consent_text: str,
                     consent_required: bool) -> Submission:
    """Validate what a visitor sent against the page's form; every problem names its field."""
    errors: list[FieldError] = []
    values: dict[str, str] = {}
    for spec in fields:
        name, label = spec["name"], spec["label"]
        value = _clean(form.get(name, ""), multiline=name == "message")
        if name == "country":
            value = value.upper()
        if not value:
            if spec["required"]:
                errors.append(FieldError(name, f"Please fill in {label.lower()}."))
            values[name] = ""
            continue
        if len(value) > MAX_LENGTHS[name]:
            errors.append(FieldError(name, f"Please keep this to {MAX_LENGTHS[name]:,} "
                                           "characters."))
        elif name == "email":
            try:
                value = validate_email(value, check_deliverability=False).normalized
            except EmailNotValidError:
                errors.append(FieldError(name, "Please enter a valid email address, like "
                                               "name@company.com."))
        elif name == "phone" and not PHONE.match(value):
            errors.append(FieldError(name, "Please enter a phone number with digits only "
                                           "(spaces, +, brackets and dashes are fine)."))
        elif name == "country" and value not in COUNTRIES:
            errors.append(FieldError(name, "Please choose a country from the list."))
        values[name] = value
    consent_given = bool(form.get("consent"))
    if consent_text and consent_required and not consent_given:
        errors.append(FieldError("consent", "Please tick the box to agree before sending."))
    if errors:
        raise ValidationFailed(errors)
    return Submission(values=values, consent_given=consent_given and bool(consent_text),
                      utm=utm_from(form, prefix="utm_"), click_id=click_id(form.get("cid")))


def utm_from(params: Mapping[str, str], *, prefix: str = "utm_",
             names: Mapping[str, str] | None = None) -> dict[str, str]:
    """UTM values from a query string or hidden fields, bounded; ``names`` maps our keys to
    the vendor's parameter names when they differ from ``utm_<key>``."""
    found = {}
    for key in UTM_KEYS:
        value = _clean(params.get((names or {}).get(key) or f"{prefix}{key}", ""))[:MAX_UTM]
        if value:
            found[key] = value
    return found


def click_id(value: str | None) -> str | None:
    """A tracking link's click id (``<code>.<random>``), or None for anything else."""
    value = (value or "").strip()
    return value if len(value) <= 40 and CLICK_ID.match(value) else None
