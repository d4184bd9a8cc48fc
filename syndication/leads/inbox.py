"""Working leads: the inbox's lists and filters, status changes, notes, and CSV export.

Tenancy does the scoping: a partner's session only ever loads that partner's leads, so the
same functions serve the partner's inbox and the vendor's view of every lead.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from syndication.leads.models import Lead, LeadEvent, LeadEventKind, LeadStatus, Routing
from syndication.leads.service import _lead_event
from tcma import audit
from tcma.auth.models import User
from tcma.errors import Conflict, FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner

S = LeadStatus
#: The one state machine: what each status may become. Won, lost and rejected are final.
TRANSITIONS: dict[LeadStatus, frozenset[LeadStatus]] = {
    S.NEW: frozenset({S.ACCEPTED, S.REJECTED}),
    S.ACCEPTED: frozenset({S.WORKING, S.QUALIFIED, S.LOST, S.REJECTED}),
    S.WORKING: frozenset({S.QUALIFIED, S.LOST}),
    S.QUALIFIED: frozenset({S.WON, S.LOST}),
    S.WON: frozenset(),
    S.LOST: frozenset(),
    S.REJECTED: frozenset(),
}
MAX_NOTE = 5000
UNROUTED = "unrouted"


def get_lead(public_id: str) -> Lead:
    """A lead the current user may see (tenancy applies), or NotFound."""
    lead = db.session.execute(
        select(Lead).where(Lead.public_id == public_id)).scalar_one_or_none()
    if lead is None:
        raise NotFound("No such lead.")
    return lead


def next_statuses(lead: Lead) -> list[LeadStatus]:
    return [s for s in LeadStatus if s in TRANSITIONS[lead.status]]


def change_status(lead: Lead, new: LeadStatus | str, *, by: User | None, reason: str = "",
                  note: str = "") -> Lead:
    """Move a lead along new → accepted → working → qualified → won/lost, or reject it.

    An illegal move is a Conflict naming both statuses; rejecting needs a reason.
    """
    try:
        new = LeadStatus(new)
    except ValueError:
        raise ValidationFailed([FieldError("status", "Use one of "
                                           + ", ".join(s.value for s in LeadStatus))]) from None
    reason, note = (reason or "").strip(), (note or "").strip()
    if lead.routing in (Routing.OFFERED, Routing.PULLED_BACK):
        raise Conflict("The lead is offered to a partner: it is accepted or declined first "
                       "(or assigned by hand).", field="status")
    if new not in TRANSITIONS[lead.status]:
        allowed = ", ".join(s.value for s in next_statuses(lead)) or "nothing (it is final)"
        raise Conflict(f"The lead is {lead.status.value}; it cannot become {new.value}. "
                       f"It can become: {allowed}.", field="status")
    if new is LeadStatus.REJECTED and not reason:
        raise ValidationFailed([FieldError("reason", "Say why the lead is rejected.")])
    if len(reason) > 1000:
        raise ValidationFailed([FieldError("reason", "Keep the reason to 1,000 characters.")])
    _check_note(note, required=False)
    before = lead.status
    lead.status = new
    lead.status_reason = reason or None
    lead.status_changed_at = utcnow()
    db.session.add(LeadEvent(lead=lead, kind=LeadEventKind.STATUS_CHANGED, actor_id=_id(by),
                             actor_label=_label(by), from_status=before.value,
                             to_status=new.value, text=reason or None,
                             partner_id=lead.partner_id))
    if note:
        db.session.add(LeadEvent(lead=lead, kind=LeadEventKind.NOTE_ADDED, actor_id=_id(by),
                                 actor_label=_label(by), text=note,
                                 partner_id=lead.partner_id))
    db.session.flush()
    audit.record("lead.status", target=lead, actor=by, before={"status": before.value},
                 after={"status": new.value, "reason": reason or None})
    _lead_event("lead.updated", lead)
    return lead


def add_note(lead: Lead, text: str, *, by: User | None) -> LeadEvent:
    text = (text or "").strip()
    _check_note(text, required=True)
    event = LeadEvent(lead=lead, kind=LeadEventKind.NOTE_ADDED, actor_id=_id(by),
                      actor_label=_label(by), text=text, partner_id=lead.partner_id)
    db.session.add(event)
    lead.updated_at = utcnow()
    db.session.flush()
    _lead_event("lead.updated", lead)
    return event


def _check_note(text: str, *, required: bool) -> None:
    if required and not text:
        raise ValidationFailed([FieldError("note", "Write a note first.")])
    if len(text) > MAX_NOTE:
        raise ValidationFailed([FieldError("note", f"Keep a note to {MAX_NOTE:,} characters.")])


def _id(user: User | None) -> int | None:
    return user.id if user is not None else None


def _label(user: User | None) -> str:
    return f"{user.name} <{user.email}>" if user is not None else "system"


def touch_links(lead: Lead) -> dict:
    """The tracking links behind the lead's first and last touch, as the links service
    resolves their click ids (None where unknown or deleted)."""
    from syndication.links.service import link_of_click

    return {"first": link_of_click(lead.first_click_id),
            "last": link_of_click(lead.last_click_id)}


# --- lists ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadFilter:
    status: LeadStatus | None = None
    search: str | None = None
    #: A partner's public id, or ``"unrouted"`` (vendor staff only see the difference).
    partner: str | None = None
    page_id: str | None = None


def _query(f: LeadFilter):
    query = select(Lead)
    if f.status is not None:
        query = query.where(Lead.status == f.status)
    if f.search and f.search.strip():
        like = f"%{f.search.strip().lower()[:100]}%"
        query = query.where(or_(*(func.lower(col).like(like) for col in (
            Lead.first_name, Lead.last_name, Lead.email, Lead.company))))
    if f.partner == UNROUTED:
        query = query.where(Lead.partner_id.is_(None))
    elif f.partner:
        query = query.where(Lead.partner_id == select(Partner.id).where(
            Partner.public_id == f.partner).scalar_subquery())
    if f.page_id:
        from syndication.pages.models import LandingPage

        query = query.where(Lead.page_id == select(LandingPage.id).where(
            LandingPage.public_id == f.page_id).scalar_subquery())
    return query


def list_leads(f: LeadFilter, *, limit: int = 50, offset: int = 0) -> tuple[list[Lead], int]:
    """Newest first, with the total for pagination."""
    query = _query(f)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = db.session.execute(
        query.order_by(Lead.created_at.desc(), Lead.id.desc()).limit(limit).offset(offset)
    ).scalars()
    return list(rows), total


def lead_counts_by_page() -> dict[int, int]:
    """Leads per landing page (id), as the current user may see them."""
    return dict(db.session.execute(
        select(Lead.page_id, func.count()).where(Lead.page_id.is_not(None))
        .group_by(Lead.page_id)).all())


def pages_with_leads() -> list:
    """The landing pages the current user's visible leads came from (retired ones too)."""
    from syndication.pages.models import LandingPage

    return list(db.session.execute(
        select(LandingPage).where(LandingPage.id.in_(
            select(Lead.page_id).where(Lead.page_id.is_not(None))))
        .order_by(LandingPage.title)).scalars())


def iter_leads(f: LeadFilter, batch: int = 500):
    """Every matching lead, newest first, loaded a batch at a time (exports)."""
    offset = 0
    while True:
        rows, _ = list_leads(f, limit=batch, offset=offset)
        yield from rows
        if len(rows) < batch:
            return
        offset += batch


# --- CSV -----------------------------------------------------------------------------------

CSV_COLUMNS = ("id", "created_at", "status", "status_reason", "partner", "page", "first_name",
               "last_name", "email", "company", "job_title", "phone", "country", "message",
               "consent_given", "consent_version", "consent_text", "channel", "utm_source",
               "utm_medium", "utm_campaign", "utm_content", "first_click_id", "last_click_id",
               "submissions", "last_submitted_at")
#: A spreadsheet treats a cell starting with one of these as a formula (or a DDE call).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """A value as a CSV cell that a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _row(lead: Lead) -> list[str]:
    utm = lead.utm or {}
    values = {
        "id": lead.public_id, "created_at": lead.created_at.isoformat(),
        "status": lead.status.value, "status_reason": lead.status_reason,
        "partner": lead.partner.name if lead.partner else UNROUTED,
        "page": lead.page.slug if lead.page else "",
        "consent_given": "yes" if lead.consent_given else "no",
        "utm_source": utm.get("source"), "utm_medium": utm.get("medium"),
        "utm_campaign": utm.get("campaign"), "utm_content": utm.get("content"),
        "last_submitted_at": lead.last_submitted_at.isoformat(),
    }
    return [safe_cell(values[c] if c in values else getattr(lead, c)) for c in CSV_COLUMNS]


def export_csv(f: LeadFilter) -> str:
    """The matching leads as CSV, UTF-8 with a byte-order mark so spreadsheets read accents."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for lead in iter_leads(f):
        writer.writerow(_row(lead))
    return out.getvalue()
