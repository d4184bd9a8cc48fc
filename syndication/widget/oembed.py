"""oEmbed (https://oembed.com): a CMS given a widget's or an article's URL embeds the widget
as an iframe, without the partner pasting a script.

The iframe needs no ``parent`` parameter: the frame takes the framing page's origin from the
Referer browsers send, and ``frame-ancestors`` still limits it to the registered domains.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

from markupsafe import escape

from syndication.widget import content
from syndication.widget import service as widgets
from syndication.widget.models import ItemKind, Widget, WidgetLayout
from tcma.errors import NotFound

#: The widget's URL, its items page, or one article of it, on our own origin.
EMBEDDABLE = re.compile(r"^/embed/w/(?P<token>[A-Za-z0-9_-]{16,32})"
                        r"(?:/items(?:/(?P<item>[A-Za-z0-9_-]{1,32}))?)?/?$")
DEFAULT_WIDTH = 600
HEIGHTS = {WidgetLayout.GRID: 520, WidgetLayout.LIST: 480, WidgetLayout.BANNER: 120}
#: How long a consumer may keep our answer (seconds).
CACHE_AGE = 3600


def discovery_url(url: str) -> str:
    """Where a consumer asks about ``url`` (the ``<link rel="alternate">`` href)."""
    return f"{widgets.base_url()}/embed/oembed?url={quote(url, safe='')}&format=json"


def _widget_of(url: str) -> tuple[Widget, str | None]:
    base = urlsplit(widgets.base_url())
    parts = urlsplit(url.strip())
    match = EMBEDDABLE.match(parts.path)
    if (parts.scheme not in ("http", "https") or parts.netloc.lower() != base.netloc.lower()
            or match is None):
        raise NotFound("We have nothing to embed at that address.")
    widget = widgets.widget_by_token(match["token"])
    if widget is None:
        raise NotFound("We have nothing to embed at that address.")
    return widget, match["item"]


def oembed_for(url: str, *, maxwidth: int | None = None,
               maxheight: int | None = None) -> dict[str, Any]:
    """The oEmbed ``rich`` answer for a widget or article URL; NotFound for any other URL.
    Width and height respect the consumer's maxima."""
    from syndication.pages.render import branding
    from tcma.extensions import db
    from tcma.partners.models import Partner

    widget, item_id = _widget_of(url)
    partner = db.session.get(Partner, widget.partner_id)
    brand = branding(partner).name
    title = f"News and resources from {brand}"
    if item_id is not None:
        item = next((i for i in content.live_items(partner, categories=widget.categories,
                                                   language=widget.language)
                     if i.public_id == item_id and i.kind is ItemKind.ARTICLE), None)
        if item is None:
            raise NotFound("We have nothing to embed at that address.")
        title = item.title
    width = DEFAULT_WIDTH if not maxwidth or maxwidth <= 0 else min(DEFAULT_WIDTH, maxwidth)
    height = HEIGHTS[widget.layout]
    if maxheight and maxheight > 0:
        height = min(height, maxheight)
    html = (f'<iframe src="{escape(widgets.embed_url(widget))}" title="{escape(title)}" '
            f'width="{width}" height="{height}" loading="lazy" '
            f'style="border:0;margin:0;padding:0;display:block;max-width:100%"></iframe>')
    return {"version": "1.0", "type": "rich", "title": title, "html": html,
            "width": width, "height": height, "author_name": brand,
            "provider_name": branding(None).name, "provider_url": widgets.base_url(),
            "cache_age": CACHE_AGE}
