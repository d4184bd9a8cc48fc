"""Partners' widgets: building them, their snippet, and where they may appear.

The embed is an iframe on our origin: the host page's CSS cannot reach into it and its own
CSS and script cannot reach out (a closed shadow root would still run our script in the
partner's page and share its fonts, globals and CSP). ``frame-ancestors`` lists the
widget's registered domains, so browsers refuse to show it anywhere else.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from markupsafe import escape
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select

from syndication.widget import content
from syndication.widget.models import (
    SyndicatedItem,
    Widget,
    WidgetLayout,
)
from tcma import audit
from tcma.errors import NotFound, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner

#: Font choices, as CSS font-family lists of fonts every system has: the widget reads well
#: before (and without) any web font, and no partner-typed CSS reaches a stylesheet.
FONTS = {
    "system": "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, "
              "sans-serif",
    "humanist": "'Trebuchet MS', 'Gill Sans', 'Noto Sans', 'DejaVu Sans', sans-serif",
    "serif": "Georgia, Cambria, 'Times New Roman', Times, serif",
    "mono": "ui-monospace, 'SFMono-Regular', Menlo, Consolas, 'DejaVu Sans Mono', monospace",
}
MAX_ITEMS = 12
MAX_DOMAINS = 20
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
#: ``host`` or ``host:port``: what an Origin's authority looks like (lower case, no scheme).
DOMAIN = re.compile(r"^(?=.{1,253}(?::\d{1,5})?$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*"
                    r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(?::\d{1,5})?$")
WIDGET_FIELDS = ("name", "categories", "layout", "item_count", "color", "accent", "font",
                 "language", "domains")


def _domain(value: str) -> str:
    """``https://www.example.com/blog`` or ``Example.com:8080`` as ``host[:port]``."""
    value = value.strip().lower().rstrip("/")
    if "://" in value:
        parts = urlsplit(value)
        value = parts.netloc
    return value.rstrip(".")


class WidgetFields(BaseModel):
    """What a partner says about a widget, from the builder or the API."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    categories: list[str] = Field(default_factory=list, max_length=30)
    layout: WidgetLayout = WidgetLayout.GRID
    item_count: int = Field(default=6, ge=1, le=MAX_ITEMS)
    color: str | None = None
    accent: str | None = None
    font: str = "system"
    language: str | None = None
    domains: list[str] = Field(default_factory=list, max_length=MAX_DOMAINS)

    @field_validator("categories", "domains", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):  # "a, b" or one per line from a form field
            return [part.strip() for part in re.split(r"[\s,]+", v) if part.strip()]
        return v

    @field_validator("categories")
    @classmethod
    def _categories(cls, v: list[str]) -> list[str]:
        return sorted({c.lower() for c in v})

    @field_validator("color", "accent", mode="before")
    @classmethod
    def _color(cls, v: Any) -> Any:
        if v in (None, ""):
            return None
        if not isinstance(v, str) or not COLOR.match(v.strip()):
            raise ValueError("Use a colour like #1f5fbf")
        return v.strip().lower()

    @field_validator("font")
    @classmethod
    def _font(cls, v: str) -> str:
        if v not in FONTS:
            raise ValueError(f"Choose one of: {', '.join(FONTS)}")
        return v

    @field_validator("language")
    @classmethod
    def _language(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if not content.LANGUAGE.match(v):
            raise ValueError("Use a language code like en, de or pt-BR")
        return v

    @field_validator("domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        domains = sorted({_domain(d) for d in v if d.strip()})
        bad = [d for d in domains if not DOMAIN.match(d)]
        if bad:
            raise ValueError(f"Not web site addresses: {', '.join(bad)} (use e.g. "
                             "www.example.com)")
        return domains


def _parse(data: dict[str, Any]) -> WidgetFields:
    try:
        return WidgetFields.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic(exc) from exc


def brand_defaults(partner: Partner) -> dict[str, str]:
    """The colours and language a new widget starts from: the partner's brand profile."""
    from syndication.pages.render import branding

    brand = branding(partner)
    return {"color": brand.color, "accent": brand.accent, "font": "system",
            "language": partner.language or "en"}


def create_widget(partner: Partner, data: dict[str, Any], *, by) -> Widget:
    """A new widget for ``partner``; colours not given come from the brand profile."""
    fields = _parse(data)
    defaults = brand_defaults(partner)
    values = fields.model_dump()
    for name in ("color", "accent", "language"):
        values[name] = values[name] or defaults[name]
    widget = Widget(partner_id=partner.id, **values)
    db.session.add(widget)
    db.session.flush()
    audit.record("widget.create", target=widget, actor=by, after={"name": widget.name})
    return widget


def update_widget(widget: Widget, data: dict[str, Any], *, by) -> Widget:
    """Change a widget (fields not given keep their value); sites show it within a minute."""
    merged = {name: getattr(widget, name) for name in WIDGET_FIELDS} | dict(data)
    fields = _parse(merged)
    before = audit.snapshot(widget, WIDGET_FIELDS)
    for name, value in fields.model_dump().items():
        if value is None and name in ("color", "accent", "language"):
            continue  # left blank: keep what the widget has
        setattr(widget, name, value)
    widget.updated_at = utcnow()
    db.session.flush()
    after = audit.snapshot(widget, WIDGET_FIELDS)
    if after != before:
        audit.record("widget.update", target=widget, actor=by, before=before, after=after)
    return widget


def delete_widget(widget: Widget, *, by) -> None:
    """Remove a widget: its snippet shows nothing from now on; its counts stay."""
    audit.record("widget.delete", target=widget, actor=by, before={"name": widget.name})
    db.session.delete(widget)
    db.session.flush()


def get_widget(public_id: str) -> Widget:
    """A widget the current session may see (tenancy scopes partner sessions)."""
    widget = db.session.execute(
        select(Widget).where(Widget.public_id == public_id)).scalar_one_or_none()
    if widget is None:
        raise NotFound("No such widget.")
    return widget


def list_widgets() -> list[Widget]:
    return list(db.session.execute(select(Widget).order_by(Widget.name)).scalars())


def widget_by_token(token: str) -> Widget | None:
    if not 16 <= len(token) <= 32:
        return None
    return db.session.execute(select(Widget).where(Widget.token == token)).scalar_one_or_none()


# --- URLs and the snippet --------------------------------------------------------------------


def base_url() -> str:
    return current_app.config["BASE_URL"].rstrip("/")


def loader_url() -> str:
    """The loader's versioned, long-cached URL (``public_views.loader``)."""
    return f"{base_url()}/embed/v1.js"


def embed_url(widget: Widget) -> str:
    return f"{base_url()}/embed/w/{widget.token}"


def reader_url(widget: Widget, item: SyndicatedItem | None = None) -> str:
    """The partner-branded reader: one article, or (no item) the widget's items as a page,
    which is also where the snippet's fallback link goes."""
    if item is None:
        return f"{embed_url(widget)}/items"
    return f"{embed_url(widget)}/items/{item.public_id}"


def snippet(widget: Widget, partner: Partner) -> str:
    """What a partner pastes into their site: the async loader and a plain fallback link."""
    from syndication.pages.render import branding

    label = escape(f"News and resources from {branding(partner).name}")
    return (f'<script async src="{loader_url()}" data-tcma-widget="{widget.token}"></script>\n'
            f'<a href="{reader_url(widget)}" data-tcma-fallback="{widget.token}">{label}</a>')


def on_color(color: str) -> str:
    """Text colour readable on ``color`` (dark on light colours, white on dark ones)."""
    r, g, b = (int(color[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return "#111827" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.6 else "#ffffff"


# --- where the widget may appear ---------------------------------------------------------------


def origin_of(url: str | None) -> str | None:
    """``scheme://host[:port]`` of a URL or Origin header, or None when it has none."""
    if not url or url == "null":
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc.lower()}"


def allowed_origin(widget: Widget, url: str | None) -> str | None:
    """The origin of ``url`` when it is one of the widget's registered domains, else None."""
    origin = origin_of(url)
    if origin is None:
        return None
    netloc = origin.split("://", 1)[1]
    return origin if netloc in widget.domains else None


def frame_ancestors(widget: Widget) -> str:
    """The CSP directive naming the only pages that may frame the widget."""
    if not widget.domains:
        return "frame-ancestors 'none'"
    sources = " ".join(f"https://{d} http://{d}" for d in widget.domains)
    return f"frame-ancestors {sources}"
