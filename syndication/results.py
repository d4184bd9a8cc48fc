"""What a launch achieved: its emails, the people who clicked them, and the leads they became.

Read from the delivery ledger, the tracking links the launch's emails carry (``source_type``
"launch", ``source_id`` the launch's public id) and the leads whose click ids came from
those links. Counts are the ones reports show everywhere else: human clicks (bots, link
previews, scanners and prefetches left out), unique clicks (a person's first on a link), and
opens, which stay approximate because image proxies and privacy features fetch pixels for
the reader. Queries run in the caller's session, so tenancy scopes a partner user's reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, case, func, or_, select, true, type_coerce

from campaigns.models import Launch
from syndication.email.models import Delivery, DeliveryStatus
from syndication.leads.models import Lead, LeadStatus
from syndication.links.models import Click, TrackingLink
from tcma.extensions import db
from tcma.models import UTCDateTime


@dataclass(frozen=True)
class StepResult:
    """One step of the launch: its email's ledger and the clicks that came back from it."""

    number: int
    name: str
    sent: int
    failed: int
    suppressed: int
    #: Approximate: a pixel fetched by something other than a known machine.
    opened: int
    human_clicks: int
    unique_clicks: int
    first_sent_at: datetime | None
    last_sent_at: datetime | None


@dataclass(frozen=True)
class LaunchResults:
    """A launch's figures up to a moment (``until``), as a proof of performance quotes them."""

    launch_id: str
    kit_name: str
    partner_name: str
    started_at: datetime | None
    finished_at: datetime | None
    steps: list[StepResult]
    emails_sent: int
    human_clicks: int
    unique_clicks: int
    #: Human clicks on the launch's links that lead to one of our landing pages (``/p/``).
    landing_visits: int
    #: Leads brought by the launch's links (first or last touch), rejected ones left out.
    leads: int
    #: (UTC day, count) for every day from the first with activity (or the launch's start)
    #: to the last with activity, zeros included: the two series line up day by day.
    leads_by_day: list[tuple[date, int]]
    #: Human clicks per day, over the same days.
    clicks_by_day: list[tuple[date, int]]


def launch_results(launch: Launch, *, until: datetime | None = None) -> LaunchResults:
    """Everything ``launch`` achieved (up to ``until``, when given: a claim's activity end)."""
    names = {i["key"]: i.get("name", i["key"])
             for i in (launch.version.content or {}).get("items", [])}
    ledger = _ledger(launch, until)
    step_clicks = _clicks_per_step(launch, until)
    steps = []
    for step in launch.steps:
        sent, failed, suppressed, opened, first, last = ledger.get(
            step.id, (0, 0, 0, 0, None, None))
        human, unique = step_clicks.get(step.id, (0, 0))
        steps.append(StepResult(
            number=step.number, name=names.get(step.item, step.item), sent=sent,
            failed=failed, suppressed=suppressed, opened=opened, human_clicks=human,
            unique_clicks=unique, first_sent_at=first, last_sent_at=last))
    human, unique, landing = _click_totals(launch, until)
    clicks_by_day = _clicks_by_day(launch, until)
    leads_by_day = _leads_by_day(launch, until)
    started = [s.started_at for s in launch.steps if s.started_at is not None
               and (until is None or s.started_at <= until)]
    started_at = min(started) if started else None
    finished_at = launch.finished_at
    if until is not None and finished_at is not None and finished_at > until:
        finished_at = None  # as of ``until`` it was still running
    first_day = started_at.date() if started_at else None
    return LaunchResults(
        launch_id=launch.public_id, kit_name=launch.kit.name, partner_name=launch.partner.name,
        started_at=started_at, finished_at=finished_at, steps=steps,
        emails_sent=sum(s.sent for s in steps), human_clicks=human, unique_clicks=unique,
        landing_visits=landing, leads=sum(n for _, n in leads_by_day),
        leads_by_day=_series(leads_by_day, clicks_by_day, first_day),
        clicks_by_day=_series(clicks_by_day, leads_by_day, first_day))


# --- the queries -------------------------------------------------------------------------------


def _count_if(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _ledger(launch: Launch, until: datetime | None) -> dict[int, tuple]:
    """{step id: (sent, failed, suppressed, opened, first sent, last sent)} in one query."""
    sent = Delivery.status == DeliveryStatus.SENT
    if until is not None:
        sent = and_(sent, Delivery.sent_at <= until)
    opened = and_(sent, Delivery.opened_at.is_not(None),
                  or_(Delivery.machine_open.is_(None), Delivery.machine_open.is_(False)))
    if until is not None:
        opened = and_(opened, Delivery.opened_at <= until)
    settled = Delivery.created_at <= until if until is not None else true()
    sent_at = type_coerce(case((sent, Delivery.sent_at)), UTCDateTime)
    query = (select(Delivery.step_id, _count_if(sent),
                    _count_if(and_(Delivery.status == DeliveryStatus.FAILED, settled)),
                    _count_if(and_(Delivery.status == DeliveryStatus.SUPPRESSED, settled)),
                    _count_if(opened),
                    type_coerce(func.min(sent_at), UTCDateTime),
                    type_coerce(func.max(sent_at), UTCDateTime))
             .where(Delivery.launch_id == launch.id).group_by(Delivery.step_id))
    return {step_id: (int(sent), int(failed), int(suppressed), int(opened), first, last)
            for step_id, sent, failed, suppressed, opened, first, last
            in db.session.execute(query)}


def _launch_links(launch: Launch):
    return select(TrackingLink.id).where(TrackingLink.partner_id == launch.partner_id,
                                         TrackingLink.source_type == "launch",
                                         TrackingLink.source_id == launch.public_id)


def _clicks_per_step(launch: Launch, until: datetime | None) -> dict[int, tuple[int, int]]:
    """{step id: (human, unique)}: clicks carrying one of the step's deliveries' refs."""
    query = (select(Delivery.step_id, _count_if(Click.is_human.is_(True)),
                    _count_if(Click.is_unique.is_(True)))
             .join(Delivery, Delivery.ref == Click.delivery_ref)
             .where(Delivery.launch_id == launch.id,
                    Click.link_id.in_(_launch_links(launch)))
             .group_by(Delivery.step_id))
    if until is not None:
        query = query.where(Click.occurred_at <= until)
    return {step_id: (int(human), int(unique))
            for step_id, human, unique in db.session.execute(query)}


def landing_prefix() -> str:
    """Where our own landing pages live: destinations under it count as landing visits."""
    return current_app.config["BASE_URL"].rstrip("/") + "/p/"


def _click_totals(launch: Launch, until: datetime | None) -> tuple[int, int, int]:
    """(human, unique, human on landing pages) over every link of the launch, however the
    click arrived (a forwarded email drops its delivery ref but still counts here)."""
    human = Click.is_human.is_(True)
    landing = and_(human, TrackingLink.destination.startswith(landing_prefix(),
                                                              autoescape=True))
    query = (select(_count_if(human), _count_if(Click.is_unique.is_(True)), _count_if(landing))
             .select_from(Click).join(TrackingLink, TrackingLink.id == Click.link_id)
             .where(TrackingLink.id.in_(_launch_links(launch))))
    if until is not None:
        query = query.where(Click.occurred_at <= until)
    human_count, unique_count, landing_count = db.session.execute(query).one()
    return int(human_count), int(unique_count), int(landing_count)


def _day(column):
    """A timestamp's UTC calendar day, on either database."""
    if db.engine.dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _clicks_by_day(launch: Launch, until: datetime | None) -> list[tuple[date, int]]:
    day = _day(Click.occurred_at)
    query = (select(day, func.count())
             .where(Click.link_id.in_(_launch_links(launch)), Click.is_human.is_(True))
             .group_by(day).order_by(day))
    if until is not None:
        query = query.where(Click.occurred_at <= until)
    return [(_as_date(d), n) for d, n in db.session.execute(query)]


def _leads_by_day(launch: Launch, until: datetime | None) -> list[tuple[date, int]]:
    """Leads whose first or last touch was one of the launch's links, by day created.

    Click ids are ``<code>.<random>``; codes are URL-safe and may hold ``_``, so prefixes
    are matched with escaped LIKE patterns. A launch has a handful of links.
    """
    codes = db.session.execute(
        select(TrackingLink.code).where(TrackingLink.id.in_(_launch_links(launch)))
    ).scalars().all()
    if not codes:
        return []
    touched = or_(*(column.startswith(code + ".", autoescape=True)
                    for code in codes for column in (Lead.first_click_id, Lead.last_click_id)))
    day = _day(Lead.created_at)
    # Rejected leads are spam, duplicates or not a fit: no proof of anything.
    query = (select(day, func.count())
             .where(touched, Lead.status != LeadStatus.REJECTED)
             .group_by(day).order_by(day))
    if until is not None:
        query = query.where(Lead.created_at <= until)
    return [(_as_date(d), n) for d, n in db.session.execute(query)]


def _series(own: list[tuple[date, int]], other: list[tuple[date, int]],
            first_day: date | None) -> list[tuple[date, int]]:
    """``own`` as one row per day over the span both series and the launch's start cover,
    gaps filled with zeros, so the two series line up day by day."""
    days = [d for d, _ in own] + [d for d, _ in other]
    if not days:
        return []
    start = min(days + ([first_day] if first_day else []))
    end = max(days)
    counts = dict(own)
    return [(start + timedelta(days=n), counts.get(start + timedelta(days=n), 0))
            for n in range((end - start).days + 1)]
