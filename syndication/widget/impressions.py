"""Impressions: the frame's beacon, counted once per visitor, widget and day; bots and
floods are not counted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from syndication.widget.embed import showing
from syndication.widget.models import SyndicatedItem, Widget, WidgetImpression
from tcma import ratelimit
from tcma.extensions import db
from tcma.models import utcnow
from tcma.redis import current_redis

#: A visitor is counted once per widget per day; the counting key lives this long in Redis
#: (a day, plus the hours a time zone can shift it).
SEEN_KEY_SECONDS = 2 * 24 * 3600


def record_impression(widget: Widget, item_ids: list[str], *, ip: str, user_agent: str,
                      today: date | None = None, domain: str = "") -> bool:
    """Count one visitor's view of the widget (and of the items it showed them) once a day.

    Bots are not counted; a flood from one address is refused with TooManyRequests before
    anything is counted. Returns whether this view was counted (False: a repeat or a bot).
    Flushes; the caller commits.
    """
    from syndication.links.classify import RawClick, by_request
    from syndication.links.clicks import visitor_hashes

    cfg = current_app.config
    ratelimit.hit("widget-seen", ip or "-", limit=int(cfg.get("WIDGET_SEEN_IP_LIMIT", 60)),
                  window=60)
    now = utcnow()
    probe = RawClick(click_id="", code="", at=now, visitor="", ip_hash="",
                     user_agent=user_agent, referrer="", prefetch=False, delivery_ref=None)
    by_request(probe)
    if not probe.human:
        return False
    today = today or now.date()
    _, visitor = visitor_hashes(ip, user_agent)
    key = f"{cfg['REDIS_NAMESPACE']}:widget-seen:{widget.id}:{visitor}:{today.isoformat()}"
    if not current_redis().set(key, 1, nx=True, ex=SEEN_KEY_SECONDS):
        return False
    shown = {i.public_id: i for i in showing(widget, parent=None).items}
    _add(widget, None, today, domain=domain)
    for public_id in dict.fromkeys(item_ids):
        if public_id in shown:
            _add(widget, shown[public_id], today)
    return True


def _add(widget: Widget, item: SyndicatedItem | None, day: date, *, domain: str = "") -> None:
    item_key = item.public_id if item is not None else ""
    where = (WidgetImpression.widget_id == widget.id, WidgetImpression.item_key == item_key,
             WidgetImpression.day == day)
    seen = {"domain": domain} if domain else {}
    bumped = db.session.execute(update(WidgetImpression).where(*where).values(
        count=WidgetImpression.count + 1, **seen).execution_options(synchronize_session=False))
    if bumped.rowcount:
        return
    try:
        with db.session.begin_nested():
            db.session.add(WidgetImpression(partner_id=widget.partner_id, widget_id=widget.id,
                                            item_id=item.id if item is not None else None,
                                            item_key=item_key, day=day, count=1,
                                            domain=domain))
    except IntegrityError:  # a parallel beacon made the row first
        db.session.execute(update(WidgetImpression).where(*where).values(
            count=WidgetImpression.count + 1, **seen).execution_options(
            synchronize_session=False))


@dataclass(frozen=True)
class Stats:
    impressions: int  # the widget's, over the period
    by_item: dict[str, int]  # item public id -> impressions
    days: int


def impression_stats(widget: Widget, *, days: int = 30, today: date | None = None) -> Stats:
    """Impressions of the widget and of each item over the last ``days`` days."""
    since = (today or utcnow().date()) - timedelta(days=days - 1)
    rows = db.session.execute(
        select(WidgetImpression.item_key, WidgetImpression.count)
        .where(WidgetImpression.widget_id == widget.id, WidgetImpression.day >= since)).all()
    total, by_item = 0, {}
    for item_key, count in rows:
        if item_key:
            by_item[item_key] = by_item.get(item_key, 0) + count
        else:
            total += count
    return Stats(total, by_item, days)
