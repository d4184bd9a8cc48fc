"""What links did: human, unique clicks first; everything filtered out shown apart.

Queries run in the caller's session, so a partner user's are scoped to their partner by
tenancy like every other read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, or_, select

from syndication.links.models import Channel, Click, ClickKind, TrackingLink
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner

PAGE_SIZE = 50


@dataclass
class Totals:
    unique: int = 0  # people: first click per visitor and link within the repeat window
    repeats: int = 0  # the same people again
    filtered: dict[str, int] = field(default_factory=dict)  # bot / preview / scanner...

    @property
    def human(self) -> int:
        return self.unique + self.repeats

    @property
    def filtered_total(self) -> int:
        return sum(self.filtered.values())


@dataclass
class Day:
    day: date
    unique: int = 0
    repeats: int = 0
    filtered: int = 0


@dataclass
class Listing:
    rows: list[tuple[TrackingLink, Partner, Totals]]
    total: int
    page: int
    pages: int


def totals(link_ids: list[int], since=None) -> dict[int, Totals]:
    """Click counts per link, by kind; every id asked for is in the answer."""
    found = {link_id: Totals() for link_id in link_ids}
    if not link_ids:
        return found
    query = (select(Click.link_id, Click.kind, func.count())
             .where(Click.link_id.in_(link_ids)).group_by(Click.link_id, Click.kind))
    if since is not None:
        query = query.where(Click.occurred_at >= since)
    for link_id, kind, count in db.session.execute(query):
        _add(found[link_id], kind, count)
    return found


def _add(into: Totals, kind: ClickKind | None, count: int) -> None:
    if kind is None:
        into.unique += count
    elif kind is ClickKind.REPEAT:
        into.repeats += count
    else:
        into.filtered[kind.value] = into.filtered.get(kind.value, 0) + count


def _day(column):
    if db.engine.dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def daily(link_id: int, days: int = 30) -> list[Day]:
    """One row per UTC day of the last ``days`` (today included), gaps filled with zeros."""
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    series = {first + timedelta(days=n): Day(first + timedelta(days=n)) for n in range(days)}
    day = _day(Click.occurred_at)
    query = (select(day, Click.kind, func.count())
             .where(Click.link_id == link_id, Click.occurred_at >= _midnight(first))
             .group_by(day, Click.kind))
    for raw_day, kind, count in db.session.execute(query):
        when = raw_day if isinstance(raw_day, date) else date.fromisoformat(str(raw_day))
        row = series.get(when)
        if row is None:
            continue
        if kind is None:
            row.unique += count
        elif kind is ClickKind.REPEAT:
            row.repeats += count
        else:
            row.filtered += count
    return list(series.values())


def _midnight(day: date):
    from datetime import UTC, datetime

    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def recent_clicks(link_id: int, limit: int = 50) -> list[Click]:
    return list(db.session.execute(
        select(Click).where(Click.link_id == link_id)
        .order_by(Click.occurred_at.desc()).limit(limit)).scalars())


def list_links(*, partner_public_id: str | None = None, channel: str | None = None,
               search: str | None = None, page: int = 1) -> Listing:
    """Links newest first with their totals; filters by partner, channel, destination or
    campaign text."""
    query = select(TrackingLink, Partner).join(Partner, Partner.id == TrackingLink.partner_id)
    if partner_public_id:
        query = query.where(Partner.public_id == partner_public_id)
    if channel:
        try:
            query = query.where(TrackingLink.channel == Channel(channel))
        except ValueError:
            pass
    if search:
        pattern = f"%{search}%"
        query = query.where(or_(TrackingLink.destination.ilike(pattern),
                                TrackingLink.campaign.ilike(pattern),
                                TrackingLink.code == search))
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages)
    rows = db.session.execute(query.order_by(TrackingLink.id.desc())
                              .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    counts = totals([link.id for link, _ in rows])
    return Listing([(link, partner, counts[link.id]) for link, partner in rows], total, page,
                   pages)
