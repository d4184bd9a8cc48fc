"""What a widget's embed shows: the live items as cards, each through the partner's
tracking link (``utm_medium=web``), and the cache key of that HTML."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from syndication.widget import content
from syndication.widget.leads import LeadForm, lead_form
from syndication.widget.models import ItemKind, SyndicatedItem, Widget, WidgetLayout
from syndication.widget.service import base_url, reader_url
from tcma.errors import NotFound
from tcma.extensions import db
from tcma.partners.models import Partner, PartnerStatus


@dataclass(frozen=True)
class Card:
    item_id: str
    kind: str
    title: str
    summary: str
    url: str  # the partner's tracking link (utm_medium=web)
    action: str  # the button's words
    lead_form: LeadForm | None = None  # a call to action's inline form


@dataclass(frozen=True)
class Showing:
    """The items a widget shows now and the cache key of its HTML."""

    widget: Widget
    partner: Partner
    items: list[SyndicatedItem]
    etag: str
    live: bool  # False: the partner is not active; the widget is blank but for a link


def showing(widget: Widget, *, parent: str | None) -> Showing:
    """What the widget shows now; cheap (no tracking links made yet), so a cached copy is
    answered 304 before any card is built."""
    from tcma.partners.service import current_brand_profile

    partner = db.session.get(Partner, widget.partner_id)
    live = partner.status is PartnerStatus.ACTIVE
    items = (content.live_items(partner, categories=widget.categories,
                                language=widget.language)[:_slots(widget)] if live else [])
    profile = current_brand_profile(partner)
    newest = max((i.updated_at for i in items), default=None)
    key = json.dumps([widget.id, widget.updated_at.isoformat(), newest and newest.isoformat(),
                      [i.id for i in items], profile.id, widget.language, live, parent])
    etag = hashlib.sha256(key.encode()).hexdigest()[:32]
    return Showing(widget, partner, items, etag, live)


def _slots(widget: Widget) -> int:
    return 1 if widget.layout is WidgetLayout.BANNER else widget.item_count


ACTIONS = {ItemKind.ARTICLE: "Read", ItemKind.VIDEO: "Watch", ItemKind.ASSET: "Download",
           ItemKind.CTA: "Learn more"}


def cards(shown: Showing) -> list[Card]:
    """Cards for the items, each linking through the partner's tracking link. Makes the links
    on first use (flushes; the caller commits)."""
    result = []
    for item in shown.items:
        destination = destination_of(shown.widget, shown.partner, item)
        if destination is None:
            continue
        result.append(Card(item.public_id, item.kind.value, item.title, item.summary,
                           tracked(shown.partner, shown.widget, item, destination),
                           ACTIONS[item.kind], lead_form(shown.partner, item)))
    return result


def destination_of(widget: Widget, partner: Partner, item: SyndicatedItem) -> str | None:
    """Where an item's card goes before tracking; None when its target is gone."""
    if item.kind is ItemKind.ARTICLE:
        return reader_url(widget, item)
    if item.kind is ItemKind.VIDEO:
        return item.video_url
    if item.kind is ItemKind.ASSET:
        from assets import library, renditions

        try:
            asset = library.get_asset(item.asset_id or "")
        except NotFound:
            return None
        if not library.visible_to(partner, asset):
            return None
        return f"{base_url()}/a/{renditions.link_for(partner, asset).token}"
    from syndication.pages import service as pages
    from syndication.pages.models import PageStatus

    try:
        page = pages.get_page(item.landing_page_id or "")
    except NotFound:
        return None
    if page.status is not PageStatus.PUBLISHED or not pages.visible_to(partner, page):
        return None
    return pages.public_url(page, partner)


def tracked(partner: Partner, widget: Widget, item: SyndicatedItem, destination: str) -> str:
    """The partner's short tracking link to ``destination`` for this widget and item
    (flushes a new link on first use)."""
    from syndication.links.models import Channel
    from syndication.links.service import LinkSource, kit_slug, link_for, short_url

    source = LinkSource(campaign=kit_slug(widget.name), content=kit_slug(item.title),
                        type="widget", id=widget.public_id)
    return short_url(link_for(partner, destination, Channel.WEB, source))


def article_body(partner: Partner, widget: Widget, item: SyndicatedItem) -> str:
    """An article's sanitised body with every web link turned into the partner's tracking
    link; a link the vendor's link settings refuse loses its address."""
    from tcma.errors import ValidationFailed

    def track(url: str) -> str | None:
        try:
            return tracked(partner, widget, item, url)
        except ValidationFailed:
            return None

    return content.sanitise(item.body, link=track)
