"""The public embed: the widget's frame, its reader pages, and the impression beacon.

Visitors of partners' sites have no session here and get no cookie: these endpoints skip
the user lookup, and nothing they render touches the session.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, abort, current_app, render_template, request, url_for
from markupsafe import Markup

from syndication.pages.render import branding
from syndication.widget import content, embed, impressions
from syndication.widget import service as widgets
from syndication.widget.models import ItemKind, Widget
from tcma import web
from tcma.errors import TooManyRequests
from tcma.extensions import db

blueprint = Blueprint("widget_embed", __name__)

web.ANONYMOUS_ENDPOINTS.update({"widget_embed.frame", "widget_embed.reader",
                                "widget_embed.reader_index", "widget_embed.seen"})
CACHE_SECONDS = 60


def _widget_or_404(token: str) -> Widget:
    widget = widgets.widget_by_token(token)
    if widget is None:
        abort(404)
    return widget


def _parent(widget: Widget) -> str | None:
    """The registered origin of the page framing us: the loader's ``parent`` parameter,
    refused when the request's Referer names another origin."""
    parent = widgets.allowed_origin(widget, request.args.get("parent"))
    referrer = widgets.origin_of(request.headers.get("Referer"))
    if parent is None or (referrer is not None and referrer != parent):
        return None
    return parent


def _headers(response, widget: Widget, etag: str | None = None):
    response.headers["Content-Security-Policy"] = widgets.frame_ancestors(widget)
    if etag is not None:
        response.set_etag(etag)
        response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    else:
        response.headers["Cache-Control"] = "no-store"
    return response


def style_of(widget, partner) -> dict[str, str]:
    """The CSS values a widget is drawn with (validated colours, a known font list)."""
    return {"color": widget.color, "accent": widget.accent,
            "on_color": widgets.on_color(widget.color),
            "font": widgets.FONTS.get(widget.font, widgets.FONTS["system"]),
            "brand": branding(partner).name}


@blueprint.get("/embed/w/<token>")
def frame(token: str):
    """The widget's HTML for the frame the loader inserts (blank when it may not show)."""
    widget = _widget_or_404(token)
    parent = _parent(widget)
    shown = embed.showing(widget, parent=parent)
    if request.if_none_match.contains(shown.etag):
        response = current_app.response_class(status=304)
        return _headers(response, widget, shown.etag)
    if not shown.live or parent is None:
        html = render_template("widget/blank.html", partner_live=shown.live,
                               vendor_url=widgets.base_url(), widget=widget,
                               vendor=branding(None).name)
    else:
        html = render_template(
            "widget/embed.html", widget=widget, cards=embed.cards(shown),
            style=style_of(widget, shown.partner), parent=parent,
            beacon=url_for("widget_embed.seen", token=widget.token), preview=False)
        db.session.commit()  # tracking links made on first use
    return _headers(current_app.make_response(html), widget, shown.etag)


@blueprint.get("/embed/w/<token>/items")
def reader_index(token: str):
    """Every item of the widget as a page of its own: where the snippet's fallback link
    goes (pages blocking scripts) and where a suspended partner's visitors land."""
    widget = _widget_or_404(token)
    shown = embed.showing(widget, parent=None)
    cards = embed.cards(shown) if shown.live else []
    db.session.commit()
    html = render_template("widget/reader.html", widget=widget, item=None, body=None,
                           cards=cards, brand=branding(shown.partner if shown.live else None),
                           style=style_of(widget, shown.partner))
    return _headers(current_app.make_response(html), widget)


@blueprint.get("/embed/w/<token>/items/<item_id>")
def reader(token: str, item_id: str):
    """One article, in the partner's branding."""
    widget = _widget_or_404(token)
    shown = embed.showing(widget, parent=None)
    if not shown.live:
        abort(404)
    item = next((i for i in content.live_items(shown.partner, categories=widget.categories,
                                               language=widget.language)
                 if i.public_id == item_id and i.kind is ItemKind.ARTICLE), None)
    if item is None:
        abort(404)
    body = Markup(embed.article_body(shown.partner, widget, item))
    db.session.commit()  # tracking links made on first use
    html = render_template("widget/reader.html", widget=widget, item=item, body=body, cards=[],
                           brand=branding(shown.partner), style=style_of(widget, shown.partner))
    return _headers(current_app.make_response(html), widget)


@blueprint.post("/embed/w/<token>/seen")
def seen(token: str):
    """The frame's impression beacon: counted once per visitor and day, from registered
    domains only. 204 when accepted (counted or not), 403 from anywhere else."""
    widget = _widget_or_404(token)
    if not _beacon_from_registered_site(widget, token):
        return "", 403
    payload = request.get_json(force=True, silent=True)
    items = payload.get("items") if isinstance(payload, dict) else None
    item_ids = [i for i in items if isinstance(i, str)][:widgets.MAX_ITEMS] if isinstance(
        items, list) else []
    try:
        impressions.record_impression(widget, item_ids, ip=request.remote_addr or "",
                                  user_agent=request.user_agent.string)
    except TooManyRequests as exc:
        return "", 429, {"Retry-After": str(exc.retry_after)}
    db.session.commit()
    return "", 204


def _beacon_from_registered_site(widget: Widget, token: str) -> bool:
    """The beacon comes from a registered site: its Origin is one, or it comes from our frame
    (the Referer is this widget's frame URL) whose ``parent`` is one."""
    if widgets.allowed_origin(widget, request.headers.get("Origin")):
        return True
    referrer = request.headers.get("Referer") or ""
    parts = urlsplit(referrer)
    if parts.path.rstrip("/") != f"/embed/w/{token}":
        return False
    parent = parse_qs(parts.query).get("parent", [None])[0]
    return widgets.allowed_origin(widget, parent) is not None
