"""API routes for leads: a partner's token sees that partner's leads only (tenancy); vendor
staff see every lead with its partner, and can filter by partner."""

from __future__ import annotations

from flask import g, request

from syndication.leads import inbox, routing
from syndication.leads.api_schemas import (
    LeadDetail,
    LeadNoteIn,
    LeadOut,
    LeadPage,
    LeadStatusIn,
)
from syndication.leads.inbox import UNROUTED, LeadFilter
from syndication.leads.models import LeadStatus
from syndication.leads.routing_schemas import LeadAssignIn, LeadDeclineIn, LeadOfferOut
from tcma.api import endpoint
from tcma.api.responses import int_arg, json_body
from tcma.errors import FieldError, ValidationFailed
from tcma.extensions import db


@endpoint("/leads", "GET", summary="Leads, newest first", tag="leads", permission="leads.view",
          response=LeadPage, query={
              "status": "new | accepted | working | qualified | won | lost | rejected",
              "q": "Search in names, email and company",
              "partner": "A partner id, or 'unrouted' (vendor staff only)",
              "page": "A landing page id",
              "limit": "1 to 500 (default 100)", "offset": "Skip this many (default 0)"})
def list_leads():
    errors: list[FieldError] = []
    status = request.args.get("status") or None
    if status and status not in {s.value for s in LeadStatus}:
        errors.append(FieldError("status", "Use " + ", ".join(s.value for s in LeadStatus)
                                 + "."))
    partner = request.args.get("partner") or None
    if partner and not g.user.is_vendor:
        errors.append(FieldError("partner", "Partners see their own leads only; leave the "
                                            "filter out."))
    limit = int_arg("limit", 100, 1, 500, errors)
    offset = int_arg("offset", 0, 0, None, errors)
    if errors:
        raise ValidationFailed(errors)
    leads, total = inbox.list_leads(
        LeadFilter(status=LeadStatus(status) if status else None,
                   search=request.args.get("q") or None,
                   partner=UNROUTED if partner == UNROUTED else partner,
                   page_id=request.args.get("page") or None),
        limit=limit, offset=offset)
    return json_body(LeadPage(total=total, items=[LeadOut.of(lead) for lead in leads]))


@endpoint("/leads/<lead_id>", "GET", summary="One lead with its history", tag="leads",
          permission="leads.view", response=LeadDetail)
def get_lead(lead_id: str):
    return json_body(LeadDetail.of(inbox.get_lead(lead_id), g.user))


@endpoint("/leads/<lead_id>/status", "POST", summary="Move a lead to its next status",
          tag="leads", permission="leads.manage", body=LeadStatusIn, response=LeadDetail)
def change_lead_status(lead_id: str, body: LeadStatusIn):
    """An illegal move (e.g. new → won, or anything after won, lost or rejected) is a 409
    naming the statuses the lead can take; rejecting without a reason is a 422."""
    lead = inbox.get_lead(lead_id)
    inbox.change_status(lead, body.status, by=g.user, reason=body.reason, note=body.note)
    db.session.commit()
    return json_body(LeadDetail.of(lead, g.user))


@endpoint("/leads/<lead_id>/notes", "POST", summary="Add a note to a lead's history",
          tag="leads", permission="leads.manage", body=LeadNoteIn, response=LeadDetail,
          status=201)
def add_lead_note(lead_id: str, body: LeadNoteIn):
    lead = inbox.get_lead(lead_id)
    inbox.add_note(lead, body.text, by=g.user)
    db.session.commit()
    return json_body(LeadDetail.of(lead, g.user), 201)


# --- routed leads: the partner's answer to an offer, the vendor's hand ----------------------


@endpoint("/leads/<lead_id>/accept", "POST", summary="Accept a lead offered to your partner",
          tag="leads", permission="leads.manage", response=LeadDetail)
def accept_lead(lead_id: str):
    """The lead becomes yours (status accepted). 409 when it is not offered to you, or the
    offer's window has passed."""
    lead = inbox.get_lead(lead_id)
    routing.accept(lead, by=g.user)
    db.session.commit()
    return json_body(LeadDetail.of(lead, g.user))


@endpoint("/leads/<lead_id>/decline", "POST", summary="Decline a lead offered to your partner",
          tag="leads", permission="leads.manage", body=LeadDeclineIn, response=LeadOfferOut)
def decline_lead(lead_id: str, body: LeadDeclineIn):
    """The lead leaves your inbox at once (later requests for it answer 404) and is offered
    to the next eligible partner; the answer is your declined offer."""
    lead = inbox.get_lead(lead_id)
    public_id = lead.public_id
    offer = routing.decline(lead, body.reason, by=g.user)
    db.session.commit()
    return json_body(LeadOfferOut(lead_id=public_id, outcome=offer.outcome.value,
                                  offered_at=offer.offered_at, expires_at=offer.expires_at,
                                  decided_at=offer.decided_at, reason=offer.reason))


@endpoint("/leads/<lead_id>/assign", "POST", summary="Give a lead to a partner by hand",
          tag="leads", permission="leads.route", body=LeadAssignIn, response=LeadDetail)
def assign_lead(lead_id: str, body: LeadAssignIn):
    """No acceptance window; a pending offer is withdrawn. 422 for an unknown or inactive
    partner, 409 when the lead is already with it or is won or lost."""
    lead = inbox.get_lead(lead_id)
    routing.assign(lead, routing.partner_named(body.partner_id), by=g.user, note=body.note)
    db.session.commit()
    return json_body(LeadDetail.of(lead, g.user))
