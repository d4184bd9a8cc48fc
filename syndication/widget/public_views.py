"""The public embed: the widget's frame, its reader pages, and the impression beacon.

Visitors of partners' sites have no session here and get no cookie: these endpoints skip
the user lookup, and nothing they render touches the session.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, abort, current_app, render_template, request, send_file, url_for
from markupsafe import Markup

from syndication.leads.countries import COUNTRIES
from syndication.pages.render import branding
from syndication.widget import cache, content, embed, fast_path, impressions, oembed
from syndication.widget import leads as widget_leads
from syndication.widget import service as widgets
from syndication.widget.models import ItemKind, Widget
from tcma import web
from tcma.errors import NotFound, TooManyRequests, ValidationFailed
from tcma.extensions import db

blueprint = Blueprint("widget_embed", __name__)

web.ANONYMOUS_ENDPOINTS.update({"widget_embed.frame", "widget_embed.reader",
                                "widget_embed.reader_index", "widget_embed.seen",
                                "widget_embed.loader", "widget_embed.oembed",
                                "widget_embed.lead"})
CACHE_SECONDS = 60
#: The loader's URL names its version, and a pasted snippet keeps its URL for years: what v1
#: does is frozen, so browsers may keep it a year without asking (a change is a v2.js).
LOADER_CACHE = "public, max-age=31536000, immutable"


def _widget_or_404(token: str) -> Widget:
    widget = widgets.widget_by_token(token)
    if widget is None:
        abort(404)
    return widget


def _parent(widget: Widget) -> str | None:
    """The registered origin of the page framing us: the loader's ``parent`` parameter,
    refused when the request's Referer names another origin. Without the parameter (an
    oEmbed iframe, written by the CMS), the Referer's origin."""
    referrer_url = request.headers.get("Referer")
    parent = widgets.allowed_origin(widget, request.args.get("parent") or referrer_url)
    referrer = widgets.origin_of(referrer_url)
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


@blueprint.get("/embed/v1.js")
def loader():
    """The snippet's loader script, cached by browsers and proxies for a year."""
    path = Path(current_app.static_folder or "") / "widget" / "v1.js"
    response = send_file(path, mimetype="text/javascript", conditional=True, etag=True,
                         max_age=31536000)
    response.headers["Cache-Control"] = LOADER_CACHE
    return response


@blueprint.get("/embed/oembed")
def oembed_endpoint():
    """oEmbed for a widget's or article's URL: JSON only (501 for XML), 404 for other URLs."""
    if request.args.get("format", "json") != "json":
        return "Only format=json is offered.", 501, {"Content-Type": "text/plain"}
    url = request.args.get("url", "")
    if not url:
        return "Say which URL to embed (url=...).", 400, {"Content-Type": "text/plain"}
    answer = oembed.oembed_for(url, maxwidth=_positive(request.args.get("maxwidth")),
                               maxheight=_positive(request.args.get("maxheight")))
    response = current_app.json.response(answer)
    response.headers["Cache-Control"] = f"public, max-age={oembed.CACHE_AGE}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _positive(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and int(value) > 0 else None


@blueprint.get("/embed/w/<token>")
def frame(token: str):
    """The widget's HTML for the frame the loader inserts (blank when it may not show).

    A warm frame is answered from this process's copy, 304 when the browser already holds
    it (by ``fast_path`` before Flask; here when it was not kept yet)."""
    key = fast_path.frame_key(token, request.args.get("parent"), request.headers.get("Referer"))
    kept = cache.cached_frame(key)
    if kept is None:
        kept = _render_frame(token, key)
    if request.if_none_match.contains(kept.etag):
        response = current_app.response_class(status=304)
    else:
        response = current_app.response_class(kept.body, mimetype="text/html")
    response.headers.extend(fast_path.frame_headers(kept, CACHE_SECONDS))
    return response


def init_app(app) -> None:
    """Put the frame's fast path in front of the app (called by the app factory)."""
    app.wsgi_app = fast_path.FrameFastPath(app.wsgi_app, app, CACHE_SECONDS)


def _render_frame(token: str, key: tuple) -> cache.Frame:
    version = cache.content_version()  # before reading: a change made meanwhile wins
    widget = _widget_or_404(token)
    parent = _parent(widget)
    shown = embed.showing(widget, parent=parent)
    if not shown.live or parent is None:
        html = render_template("widget/blank.html", partner_live=shown.live,
                               vendor_url=widgets.base_url(), widget=widget,
                               vendor=branding(None).name)
    else:
        html = render_template(
            "widget/embed.html", widget=widget, cards=embed.cards(shown),
            style=style_of(widget, shown.partner), parent=parent,
            beacon=url_for("widget_embed.seen", token=widget.token, parent=parent),
            preview=False,
            lead_url=url_for("widget_embed.lead", token=widget.token), countries=COUNTRIES)
        db.session.commit()  # tracking links made on first use
    frame = cache.Frame(shown.etag, html.encode(), widgets.frame_ancestors(widget), version, 0)
    if parent is not None:  # blank frames are not kept: made-up parents cannot fill the cache
        cache.keep_frame(key, etag=frame.etag, body=frame.body, csp=frame.csp, version=version,
                         next_change=content.next_change())
    return frame


@blueprint.get("/embed/w/<token>/items")
def reader_index(token: str):
    """Every item of the widget as a page of its own: where the snippet's fallback link
    goes (pages blocking scripts) and where a suspended partner's visitors land."""
    widget = _widget_or_404(token)
    shown = embed.showing(widget, parent=None)
    cards = embed.cards(shown) if shown.live else []
    db.session.commit()
    html = render_template("widget/reader.html", widget=widget, item=None, body=None,
                           cards=cards, oembed_url=oembed.discovery_url(widgets.reader_url(
                               widget)), brand=branding(shown.partner if shown.live else None),
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
                           oembed_url=oembed.discovery_url(widgets.reader_url(widget, item)),
                           brand=branding(shown.partner), style=style_of(widget, shown.partner))
    return _headers(current_app.make_response(html), widget)


@blueprint.post("/embed/w/<token>/seen")
def seen(token: str):
    """The frame's impression beacon: counted once per visitor and day, from registered
    domains only. 204 when accepted (counted or not), 403 from anywhere else."""
    widget = _widget_or_404(token)
    site = _beacon_from_registered_site(widget, token)
    if site is None:
        return "", 403
    payload = request.get_json(force=True, silent=True)
    items = payload.get("items") if isinstance(payload, dict) else None
    item_ids = [i for i in items if isinstance(i, str)][:widgets.MAX_ITEMS] if isinstance(
        items, list) else []
    try:
        impressions.record_impression(widget, item_ids, ip=request.remote_addr or "",
                                      user_agent=request.user_agent.string,
                                      domain=site.split("://", 1)[1])
    except TooManyRequests as exc:
        return "", 429, {"Retry-After": str(exc.retry_after)}
    db.session.commit()
    return "", 204


@blueprint.post("/embed/w/<token>/lead")
def lead(token: str):
    """The inline lead form of a call-to-action card, sent by the frame's script.

    Only our frame, shown on a registered site, may send it: the Origin is ours and the
    frame's ``parent`` is registered. 201 when received (or a bot was ignored), 422 with each
    field's error, 404 for an offer the widget does not have, 429 when rate-limited."""
    widget = _widget_or_404(token)
    if (widgets.origin_of(request.headers.get("Origin")) != widgets.origin_of(
            widgets.base_url()) or widgets.allowed_origin(
            widget, request.form.get("parent")) is None):
        return _problem(403, "This form can only be sent from the partner's site.")
    try:
        widget_leads.capture_widget_lead(widget, request.form, ip=request.remote_addr,
                                         user_agent=request.user_agent.string)
    except TooManyRequests as exc:
        return _problem(429, exc.message, {"Retry-After": str(exc.retry_after)})
    except NotFound as exc:
        return _problem(404, exc.message)
    except ValidationFailed as exc:
        db.session.rollback()
        response = current_app.json.response(
            {"errors": {e.field: e.message for e in exc.errors}})
        response.status_code = 422
        response.headers["Cache-Control"] = "no-store"
        return response
    db.session.commit()
    response = current_app.json.response({"status": "received"})
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


def _problem(status: int, message: str, headers: dict | None = None):
    response = current_app.json.response({"message": message})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers or {})
    return response


def _beacon_from_registered_site(widget: Widget, token: str) -> str | None:
    """The registered site the beacon comes from: its Origin, or the ``parent`` of our frame
    sending it (the Referer is this widget's frame URL); None from anywhere else."""
    origin = widgets.allowed_origin(widget, request.headers.get("Origin"))
    if origin:
        return origin
    referrer = request.headers.get("Referer") or ""
    parts = urlsplit(referrer)
    if parts.path.rstrip("/") != f"/embed/w/{token}":
        return None
    # An oEmbed frame's URL has no ``parent``: the frame names it in the beacon's URL.
    parent = parse_qs(parts.query).get("parent", [None])[0] or request.args.get("parent")
    return widgets.allowed_origin(widget, parent)
