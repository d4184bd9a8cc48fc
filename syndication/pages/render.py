"""What a public page shows: safe rich text, the partner's (or vendor's) branding, and stable
image URLs that share previews and crawlers can fetch.

Text is escaped first; only then do ``**bold**`` and ``[text](https://...)`` become markup,
so nothing a marketer or a partner types can inject HTML or script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup, escape

from syndication.pages.models import LandingPage
from tcma.partners.models import Partner

_BOLD = re.compile(r"\*\*(.+?)\*\*")
# Runs on escaped text: quotes and angle brackets are entities by then, so they end a URL.
_LINK = re.compile(r"\[([^\]\n]{1,200})\]\((https?://[^\s()&]+(?:&amp;[^\s()&]+)*)\)")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def inline(text: str) -> Markup:
    """One paragraph's text with bold and links; everything else escaped."""
    html = str(escape(text))
    html = _BOLD.sub(r"<strong>\1</strong>", html)
    html = _LINK.sub(r'<a href="\2" rel="nofollow noopener" target="_blank">\1</a>', html)
    return Markup(html.replace("\n", "<br>"))


def rich_text(text: str) -> Markup:
    """Paragraphs (separated by blank lines) of ``inline`` text."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", (text or "").replace("\r\n", "\n"))]
    return Markup("\n").join(Markup("<p>%s</p>") % inline(b) for b in blocks if b)


def plain(text: str) -> str:
    """The same text without the markup syntax, for meta descriptions and emails."""
    text = re.sub(r"\[([^\]\n]{1,200})\]\((https?://[^\s)]+)\)", r"\1", text or "")
    return _BOLD.sub(r"\1", text)


# --- images ------------------------------------------------------------------------------------


def _media_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="tcma.pages.media")


def media_url(key: str) -> str:
    """A stable, absolute URL of a stored public image (a hero or a partner's logo).

    Keys are content-addressed, so the URL never changes meaning and can be cached for good;
    it is signed, so it names only files we chose to show.
    """
    base = current_app.config["BASE_URL"].rstrip("/")
    return f"{base}/p/-/media/{_media_signer().dumps(key)}"


def media_key(token: str) -> str | None:
    try:
        key = _media_signer().loads(token)
    except BadSignature:
        return None
    return key if isinstance(key, str) else None


# --- branding ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Branding:
    """Who the page speaks for: a partner's brand profile, or the vendor's program."""

    name: str
    color: str
    accent: str
    on_color: str  # text colour readable on ``color``
    logo_url: str | None
    contact_name: str | None = None
    email: str | None = None
    phone: str | None = None
    website: str | None = None
    address: tuple[str, ...] = ()
    linkedin_url: str | None = None


def _on(color: str) -> str:
    r, g, b = (int(color[i:i + 2], 16) / 255 for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#111827" if luminance > 0.6 else "#ffffff"


def _color(value: str | None, default: str) -> str:
    return value if value and _COLOR.match(value) else default


def branding(partner: Partner | None) -> Branding:
    from tcma.partners.service import current_brand_profile
    from tcma.program import current_program

    program = current_program()
    vendor_color = _color(program.color, "#1f5fbf")
    if partner is None:
        return Branding(name=program.name, color=vendor_color, accent=vendor_color,
                        on_color=_on(vendor_color), logo_url=program.logo_url,
                        email=program.support_email)
    profile = current_brand_profile(partner)
    color = _color(profile.primary_color, vendor_color)
    locality = " ".join(p for p in (profile.postal_code, profile.city) if p)
    address = tuple(p for p in (profile.address_line1, profile.address_line2, locality,
                                profile.state, profile.country) if p)
    return Branding(
        name=profile.display_name or partner.name, color=color,
        accent=_color(profile.secondary_color, color), on_color=_on(color),
        logo_url=media_url(profile.logo_key) if profile.logo_key else None,
        contact_name=profile.contact_name, email=profile.email, phone=profile.phone,
        website=_web(profile.website), address=address, linkedin_url=_web(profile.linkedin_url),
    )


def _web(url: str | None) -> str | None:
    """Only http(s) addresses become links (never ``javascript:`` and the like)."""
    return url if (url or "").lower().startswith(("https://", "http://")) else None


def consent_wording(page: LandingPage, brand: Branding) -> str:
    """The consent text exactly as the visitor reads it (and as it is stored with a lead)."""
    return (page.consent_text or "").replace("{partner}", brand.name)
