"""What each widget did, beyond impressions: clicks on its tracking links and the leads its
forms brought; and, for the vendor, which partners' widgets are live and where.

Queries run in the caller's session, so a partner user sees their own widgets' numbers only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select

from syndication.widget.impressions import impression_stats
from syndication.widget.leads import source_of
from syndication.widget.models import SyndicatedItem, Widget, WidgetImpression
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner

#: A widget seen within this many days counts as live for adoption.
LIVE_DAYS = 7


@dataclass(frozen=True)
class ItemStats:
    item_id: str
    title: str
    impressions: int
    clicks: int
    leads: int


@dataclass(frozen=True)
class WidgetStats:
    days: int
    impressions: int  # one per visitor per day, bots left out
    clicks: int  # human clicks on the widget's tracking links (repeats included)
    unique_clicks: int
    leads: int  # new leads from the widget's inline forms
    by_item: list[ItemStats]


def widget_stats(widget: Widget, *, days: int = 30, today: date | None = None) -> WidgetStats:
    """Impressions, clicks and leads of the widget and of each item over the last ``days``."""
    from syndication.leads.models import Lead
    from syndication.links.models import TrackingLink
    from syndication.links.reports import totals
    from syndication.links.service import kit_slug

    today = today or utcnow().date()
    shown = impression_stats(widget, days=days, today=today)
    since = datetime.combine(today - timedelta(days=days - 1), time(), tzinfo=UTC)
    links = db.session.execute(
        select(TrackingLink.id, TrackingLink.content)
        .where(TrackingLink.source_type == "widget",
               TrackingLink.source_id == widget.public_id)).all()
    counted = totals([link_id for link_id, _ in links], since=since)
    clicks_by_content: dict[str, int] = {}
    for link_id, slug in links:
        clicks_by_content[slug or ""] = clicks_by_content.get(slug or "", 0) + \
            counted[link_id].human
    prefix = source_of(widget)
    lead_sources = db.session.execute(
        select(Lead.source, func.count()).where(Lead.source.startswith(prefix, autoescape=True),
                                                Lead.created_at >= since)
        .group_by(Lead.source)).all()
    leads_by_item = {source.removeprefix(prefix): n for source, n in lead_sources}

    keys = set(shown.by_item) | set(leads_by_item)
    items = {i.public_id: i for i in db.session.execute(
        select(SyndicatedItem).where(SyndicatedItem.public_id.in_(keys))).scalars()} if keys \
        else {}
    by_item = [ItemStats(key, item.title, shown.by_item.get(key, 0),
                         clicks_by_content.get(kit_slug(item.title), 0),
                         leads_by_item.get(key, 0))
               for key, item in items.items()]
    by_item.sort(key=lambda row: (-row.impressions, -row.clicks, row.title))
    return WidgetStats(days, shown.impressions,
                       sum(t.human for t in counted.values()),
                       sum(t.unique for t in counted.values()),
                       sum(leads_by_item.values()), by_item)


@dataclass(frozen=True)
class Adoption:
    partner_id: str
    partner_name: str
    widgets: int  # widgets the partner has
    live_widgets: int  # of which seen in the last LIVE_DAYS days
    last_seen: date | None
    last_domain: str  # the site of the latest counted view


@dataclass(frozen=True)
class AdoptionReport:
    partners_with_widgets: int
    partners_live: int
    rows: list[Adoption]


def adoption(*, today: date | None = None) -> AdoptionReport:
    """For the vendor: per partner with a widget, how many are live (seen in the last
    ``LIVE_DAYS`` days) and the site they were last seen on; live partners first."""
    today = today or utcnow().date()
    since = today - timedelta(days=LIVE_DAYS - 1)
    counts = dict(db.session.execute(
        select(Widget.partner_id, func.count()).group_by(Widget.partner_id)).all())
    seen = db.session.execute(
        select(WidgetImpression.partner_id, WidgetImpression.widget_id, WidgetImpression.day,
               WidgetImpression.domain, WidgetImpression.id)
        .where(WidgetImpression.item_key == "", WidgetImpression.day >= since,
               WidgetImpression.widget_id.is_not(None))
        .order_by(WidgetImpression.day, WidgetImpression.id)).all()
    live: dict[int, set[int]] = {}
    latest: dict[int, tuple[date, str]] = {}
    for partner_id, widget_id, day, domain, _ in seen:
        live.setdefault(partner_id, set()).add(widget_id)
        latest[partner_id] = (day, domain)
    names = dict(db.session.execute(select(Partner.id, Partner.name).where(
        Partner.id.in_(set(counts) | set(live)))).all()) if counts or live else {}
    public = dict(db.session.execute(select(Partner.id, Partner.public_id).where(
        Partner.id.in_(names))).all()) if names else {}
    rows = [Adoption(public[pid], names[pid], counts.get(pid, 0), len(live.get(pid, ())),
                     latest.get(pid, (None, ""))[0], latest.get(pid, (None, ""))[1])
            for pid in names]
    rows.sort(key=lambda r: (r.last_seen is None, -(r.last_seen or date.min).toordinal(),
                             r.partner_name))
    return AdoptionReport(len(counts), len(live), rows)

