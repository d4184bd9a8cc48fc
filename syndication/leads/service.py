"""Capturing leads from landing-page forms: attribution, deduplication, announcement.

The form endpoint does the least possible work: one lookup, one insert or update, and a
message queued for the notification email. Services flush but never commit; the caller
owns the transaction.

Setting: ``LEAD_DEDUP_WINDOW_DAYS`` (30), how long after a person's last submission the same
email on the same partner's page updates their lead instead of making a new one.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from syndication.leads.form import Submission, click_id
from syndication.leads.models import Lead, LeadEvent, LeadEventKind, LeadStatus, Routing
from syndication.pages.models import LandingPage
from tcma import queue, webhooks
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner

VISITOR = "the visitor"
CONTACT_FIELDS = ("first_name", "last_name", "email", "company", "job_title", "phone",
                  "country", "message")
#: First-party cookies the tracking-link redirect sets on our host.
FIRST_TOUCH_COOKIE = "tcma_ft"
LAST_TOUCH_COOKIE = "tcma_lt"


def ip_hash(ip: str | None) -> str:
    """A keyed digest of the visitor's address: the same address is recognisable (abuse,
    duplicates), the address itself is never stored."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, (ip or "").encode(), hashlib.sha256).hexdigest()


def touches(page_click_id: str | None, first_cookie: str | None,
            last_cookie: str | None) -> tuple[str | None, str | None]:
    """(first touch, last touch) click ids: the cookies the redirect set, and the click id
    the page was opened with, which is the latest touch of all."""
    cid, first, last = click_id(page_click_id), click_id(first_cookie), click_id(last_cookie)
    return first or cid or last, cid or last or first


def dedup_key(page: LandingPage, partner: Partner | None, email: str) -> str:
    raw = f"{page.id}|{partner.id if partner else '-'}|{email.strip().lower()}"
    return hashlib.sha256(raw.encode()).hexdigest()


def dedup_window() -> timedelta:
    return timedelta(days=float(current_app.config.get("LEAD_DEDUP_WINDOW_DAYS", 30)))


def capture(page: LandingPage, partner: Partner | None, submission: Submission, *,
            consent_text: str, first_click_id: str | None, last_click_id: str | None,
            ip: str | None, user_agent: str | None, source: str = "") -> tuple[Lead, bool]:
    """Store a form submission as a lead; return (lead, created). ``source`` names what the
    form was embedded in when it was not the page itself (e.g. a partner's web widget).

    The same email on the same partner's same page within ``LEAD_DEDUP_WINDOW_DAYS`` of its
    last submission updates that lead (a "resubmitted" event, no second notification). Two
    parallel submissions cannot both create one: the dedup key is unique, and the loser of
    the race updates the winner's lead.
    """
    key = dedup_key(page, partner, submission.values["email"])
    details = dict(
        consent_text=consent_text if submission.consent_given else "",
        first_click_id=first_click_id, last_click_id=last_click_id,
        ip_hash=ip_hash(ip), user_agent=(user_agent or "")[:300],
    )
    existing = _holder_of(key)
    if existing is not None:
        if existing.last_submitted_at >= utcnow() - dedup_window():
            return _resubmitted(existing, page, submission, **details), False
        existing.dedup_key = None  # too old: the new lead takes the key over
        db.session.flush()
    lead = Lead(
        partner_id=partner.id if partner else None, page_id=page.id,
        routing=Routing.DIRECT if partner else Routing.UNROUTED, status=LeadStatus.NEW,
        channel=submission.channel, utm=submission.utm, submissions=1,
        last_submitted_at=utcnow(), dedup_key=key,
        consent_given=submission.consent_given,
        consent_version=page.consent_version if submission.consent_given else 0,
        source=source[:100],
        **{name: submission.values.get(name, "") for name in CONTACT_FIELDS}, **details,
    )
    try:
        with db.session.begin_nested():
            db.session.add(lead)
    except IntegrityError:
        winner = _holder_of(key)
        if winner is None:
            raise
        return _resubmitted(winner, page, submission, **details), False
    db.session.add(LeadEvent(lead=lead, kind=LeadEventKind.CREATED, actor_label=VISITOR,
                             to_status=LeadStatus.NEW.value,
                             data={"click_id": last_click_id, "utm": submission.utm}))
    db.session.flush()
    from syndication.leads.tasks import notify_new_lead, route_new_leads

    if lead.partner_id is not None:
        queue.enqueue(notify_new_lead, lead.id)
    else:
        queue.enqueue(route_new_leads, [lead.id])  # a generic page's lead: the rules decide
    _lead_event("lead.created", lead)
    return lead, True


def _holder_of(key: str) -> Lead | None:
    """The lead currently holding a dedup key, locked for this transaction where the
    database can (PostgreSQL), so parallel resubmissions update it one after the other."""
    return db.session.execute(
        select(Lead).where(Lead.dedup_key == key)
        .options(lazyload(Lead.page), lazyload(Lead.partner)).with_for_update(of=Lead)
    ).scalar_one_or_none()


def _resubmitted(lead: Lead, page: LandingPage, submission: Submission, *, consent_text: str,
                 first_click_id: str | None, last_click_id: str | None, ip_hash: str,
                 user_agent: str) -> Lead:
    """The same person sent the form again: refresh what they told us, keep the history."""
    changed = []
    for name in CONTACT_FIELDS:
        value = submission.values.get(name, "")
        if name == "email":
            continue  # the same address (the dedup key ignores case): keep it as first given
        if value and value != getattr(lead, name):
            setattr(lead, name, value)
            changed.append(name)
    lead.consent_given = submission.consent_given
    lead.consent_text = consent_text
    lead.consent_version = page.consent_version if submission.consent_given else 0
    lead.first_click_id = lead.first_click_id or first_click_id
    lead.last_click_id = last_click_id or lead.last_click_id
    lead.ip_hash, lead.user_agent = ip_hash, user_agent
    lead.submissions = Lead.submissions + 1  # in SQL: parallel updates never lose a count
    lead.last_submitted_at = utcnow()
    db.session.add(LeadEvent(lead=lead, kind=LeadEventKind.RESUBMITTED, actor_label=VISITOR,
                             data={"changed": changed, "click_id": last_click_id,
                                   "utm": submission.utm}))
    db.session.flush()
    db.session.refresh(lead, ["submissions"])
    _lead_event("lead.updated", lead)
    return lead


def _lead_event(kind: str, lead: Lead) -> None:
    """Tell integrations that a lead was created or changed (``lead.created`` /
    ``lead.updated``); called inside the transaction that made the change, after a flush.

    The one place the webhook service is called from.
    """
    webhooks.emit(kind, payload(lead))


def payload(lead: Lead) -> dict[str, Any]:
    """A lead as integrations receive it (webhooks, the API's JSON)."""
    return {
        "id": lead.public_id,
        "partner_id": lead.partner.public_id if lead.partner else None,
        "page_id": lead.page.public_id if lead.page else None,
        "routing": lead.routing.value,
        "offer_expires_at": lead.offer_expires_at.isoformat() if lead.offer_expires_at
        else None,
        "status": lead.status.value,
        "status_reason": lead.status_reason,
        **{name: getattr(lead, name) for name in CONTACT_FIELDS},
        "language": lead.language,
        "source": lead.source,
        "external_id": lead.external_id,
        "consent": {"given": lead.consent_given, "text": lead.consent_text,
                    "version": lead.consent_version},
        "channel": lead.channel,
        "first_click_id": lead.first_click_id,
        "last_click_id": lead.last_click_id,
        "utm": lead.utm or {},
        "submissions": lead.submissions,
        "created_at": lead.created_at.isoformat() if lead.created_at else None,
        "updated_at": lead.updated_at.isoformat() if lead.updated_at else None,
    }
