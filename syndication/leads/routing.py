"""Routing vendor leads (generic pages, imports) to partners: rules, offers with an acceptance
window, pull-back, and hand assignment (``history`` says who may see which step).

A rule offers a lead to one partner at a time. The partner accepts or declines (with a
reason); a decline, or no answer within the rule's window, pulls the lead back and offers it
to the rule's next eligible partner, never the same partner twice. With nobody left the lead
is unrouted and the channel managers are told.

Concurrency: every change of hands is a conditional UPDATE on the lead row (its expected
partner, routing state and, for expiry, deadline), so two processes never both move one lead;
a rule's round-robin pointer is read and advanced only after writing the rule's row, which
holds the row lock (PostgreSQL) or the write lock (SQLite) until commit. Locks are always
taken lead first, rule second. Services flush; callers commit. ``now`` is a parameter so
tests (and the scheduler) control time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import exists, select, update
from sqlalchemy.orm import lazyload

from syndication.leads import regions, rules
from syndication.leads.models import Lead, LeadEvent, LeadEventKind, LeadStatus, Routing
from syndication.leads.routing_models import LeadOffer, OfferOutcome, RoutingRule
from syndication.leads.routing_schemas import MAX_REASON
from syndication.leads.service import _lead_event
from tcma import audit, mail, queue
from tcma.auth.models import Role, User, UserStatus
from tcma.errors import Conflict, FieldError, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner, PartnerStatus

ROUTER = "Lead routing"


# --- which rule ----------------------------------------------------------------------------


def matches(rule: RoutingRule, lead: Lead) -> bool:
    """Does the rule take this lead? Geography: its country listed or its country's region
    listed (when either list is given); language: listed (when the list is given)."""
    country = (lead.country or "").upper()
    if rule.countries or rule.regions:
        if country not in rule.countries and regions.region_of(country) not in rule.regions:
            return False
    if rule.languages:
        wanted = {regions.primary(lang) for lang in rule.languages}
        if regions.language_of(lead.language, country) not in wanted:
            return False
    return True


def matching_rule(lead: Lead) -> RoutingRule | None:
    """The first enabled rule, in order, that takes the lead."""
    return next((r for r in rules.list_rules() if r.enabled and matches(r, lead)), None)


# --- offering ------------------------------------------------------------------------------


def _locked(lead_id: int) -> Lead | None:
    """The lead as committed now, its row locked where the database can (PostgreSQL)."""
    return db.session.execute(
        select(Lead).where(Lead.id == lead_id)
        .options(lazyload(Lead.page), lazyload(Lead.partner))
        .with_for_update(of=Lead).execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _move(lead: Lead, *, expect_partner: int | None, expect_routing: Routing,
          expect_deadline: datetime | None = None, **values: Any) -> bool:
    """Change the lead's hands only if it is still where we saw it; True if we did."""
    query = update(Lead).where(Lead.id == lead.id, Lead.routing == expect_routing)
    query = query.where(Lead.partner_id.is_(None) if expect_partner is None
                        else Lead.partner_id == expect_partner)
    if expect_deadline is not None:
        query = query.where(Lead.offer_expires_at == expect_deadline)
    result = db.session.execute(query.values(updated_at=utcnow(), **values)
                                .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _has_routing_history(lead_id: int) -> bool:
    return bool(db.session.execute(select(exists().where(
        LeadEvent.lead_id == lead_id,
        LeadEvent.kind.in_([LeadEventKind.OFFERED, LeadEventKind.UNROUTED,
                            LeadEventKind.ASSIGNED])))).scalar())


def route_new(lead_id: int, *, now: datetime | None = None) -> bool:
    """First routing of a vendor lead (the actor after capture or import). Idempotent: a lead
    that already has a partner or a routing step is left alone. True if it was offered."""
    lead = _locked(lead_id)
    if lead is None or lead.partner_id is not None or lead.routing is not Routing.UNROUTED:
        return False
    if _has_routing_history(lead.id):
        return False
    return _route(lead, matching_rule(lead), now or utcnow(), expected=Routing.UNROUTED)


def route_again(lead: Lead, *, by: User | None, now: datetime | None = None) -> bool:
    """Vendor staff run the current rules on an unrouted lead (rules or partners changed)."""
    lead = _locked(lead.id)
    if lead is None or lead.partner_id is not None or lead.routing is not Routing.UNROUTED:
        raise Conflict("Only an unrouted lead can be routed by the rules.")
    if lead.status is not LeadStatus.NEW:
        raise Conflict(f"The lead is {lead.status.value}; only a new lead is offered to "
                       "partners (assign it by hand instead).")
    return _route(lead, matching_rule(lead), now or utcnow(), expected=Routing.UNROUTED,
                  by=by)


def reoffer(lead_id: int, *, now: datetime | None = None) -> bool:
    """Offer a pulled-back lead to its rule's next partner (after a decline or expiry)."""
    lead = _locked(lead_id)
    if lead is None or lead.partner_id is not None or lead.routing is not Routing.PULLED_BACK:
        return False
    rule = db.session.get(RoutingRule, lead.routing_rule_id) if lead.routing_rule_id else None
    if rule is None or not rule.enabled:  # the rule went away meanwhile: the others decide
        rule = matching_rule(lead)
    return _route(lead, rule, now or utcnow(), expected=Routing.PULLED_BACK)


def _route(lead: Lead, rule: RoutingRule | None, now: datetime, *, expected: Routing,
           by: User | None = None) -> bool:
    if rule is None:
        _unrouted(lead, expected, "No routing rule matched this lead.", rule=None, by=by)
        return False
    if not rules.touch(rule.id, now):
        _unrouted(lead, expected, "The routing rule was deleted meanwhile.", rule=None, by=by)
        return False
    db.session.refresh(rule)  # the pointer as it is now that we hold the rule's lock
    tried = set(db.session.execute(
        select(LeadOffer.partner_id).where(LeadOffer.lead_id == lead.id)).scalars())
    eligible = rules.eligible_partners(rule, lead_region=regions.region_of(lead.country),
                                       use_lead_region=True)
    candidates = [p for p in eligible if p.id not in tried]
    if not candidates:
        text = (f"No eligible partner is left after {len(tried)} offer"
                f"{'' if len(tried) == 1 else 's'}." if tried
                else "The matching rule has no eligible active partner.")
        _unrouted(lead, expected, text, rule=rule, by=by, tell_vendor=True)
        return False
    after = rule.last_partner_id or 0
    partner = next((p for p in candidates if p.id > after), candidates[0])
    expires = now + timedelta(hours=rule.window_hours)
    if not _move(lead, expect_partner=None, expect_routing=expected, partner_id=partner.id,
                 routing=Routing.OFFERED, routing_rule_id=rule.id, offer_expires_at=expires,
                 notified_at=None):
        return False  # another process routed it first
    rule.last_partner_id = partner.id
    rule.offers_made = rule.offers_made + 1
    db.session.add(LeadOffer(lead_id=lead.id, partner_id=partner.id, rule_id=rule.id,
                             offered_at=now, expires_at=expires))
    db.session.add(LeadEvent(
        lead_id=lead.id, kind=LeadEventKind.OFFERED, occurred_at=now, partner_id=partner.id,
        actor_id=by.id if by else None, actor_label=_label(by) if by else ROUTER,
        data={"partner": partner.public_id, "partner_name": partner.name,
              "rule": rule.public_id, "rule_name": rule.name,
              "expires_at": expires.isoformat()}))
    db.session.flush()
    db.session.refresh(lead)
    from syndication.leads.tasks import notify_new_lead

    queue.enqueue(notify_new_lead, lead.id)  # the usual new-lead email, to this partner
    _lead_event("lead.updated", lead)
    return True


def _unrouted(lead: Lead, expected: Routing, text: str, *, rule: RoutingRule | None,
              by: User | None, tell_vendor: bool = False) -> None:
    if not _move(lead, expect_partner=None, expect_routing=expected, routing=Routing.UNROUTED,
                 offer_expires_at=None):
        return
    db.session.add(LeadEvent(
        lead_id=lead.id, kind=LeadEventKind.UNROUTED, text=text,
        actor_id=by.id if by else None, actor_label=_label(by) if by else ROUTER,
        data={"rule": rule.public_id, "rule_name": rule.name} if rule else None))
    db.session.flush()
    db.session.refresh(lead)
    if tell_vendor:
        _tell_channel_managers(lead, text, rule)
    if expected is not Routing.UNROUTED:
        _lead_event("lead.updated", lead)


def _tell_channel_managers(lead: Lead, text: str, rule: RoutingRule | None) -> list[str]:
    """Email the active channel managers (the admins when there are none) that a lead needs
    a partner by hand."""
    def active(role: Role) -> list[str]:
        return list(db.session.execute(select(User.email).where(
            User.role == role, User.status == UserStatus.ACTIVE).order_by(User.email)).scalars())

    recipients = active(Role.CHANNEL_MANAGER) or active(Role.ADMIN)
    link = f"{current_app.config['BASE_URL'].rstrip('/')}/leads/{lead.public_id}"
    for address in recipients:
        mail.send_template(address, "lead_unrouted", lead=lead, reason=text, rule=rule,
                           link=link)
    return recipients


# --- the partner's answer ------------------------------------------------------------------


def _check_offer(lead: Lead, by: User | None) -> None:
    if by is None or by.is_vendor or by.partner_id != lead.partner_id:
        raise Conflict("Only the partner the lead is offered to can answer the offer; vendor "
                       "staff can assign the lead by hand instead.")
    if lead.routing is not Routing.OFFERED:
        raise Conflict("This lead is not waiting for your answer.")


def _offer(lead_id: int, partner_id: int) -> LeadOffer | None:
    return db.session.execute(select(LeadOffer).where(
        LeadOffer.lead_id == lead_id, LeadOffer.partner_id == partner_id)).scalar_one_or_none()


def _decide(lead_id: int, partner_id: int, outcome: OfferOutcome, now: datetime,
            by: User | None = None, reason: str | None = None) -> LeadOffer | None:
    offer = _offer(lead_id, partner_id)
    if offer is not None and offer.outcome is OfferOutcome.PENDING:
        offer.outcome, offer.decided_at, offer.reason = outcome, now, reason
        offer.decided_by_id = by.id if by else None
    return offer


def accept(lead: Lead, *, by: User, now: datetime | None = None) -> Lead:
    """The partner takes the lead: routing accepted, status new -> accepted."""
    now = now or utcnow()
    _check_offer(lead, by)
    if lead.offer_expires_at is not None and lead.offer_expires_at <= now:
        raise Conflict("The offer expired; the lead goes to the next partner.")
    if not _move(lead, expect_partner=by.partner_id, expect_routing=Routing.OFFERED,
                 routing=Routing.ACCEPTED, status=LeadStatus.ACCEPTED, status_reason=None,
                 status_changed_at=now, offer_expires_at=None):
        raise Conflict("The offer is no longer open.")
    _decide(lead.id, by.partner_id, OfferOutcome.ACCEPTED, now, by)
    db.session.add(LeadEvent(lead_id=lead.id, kind=LeadEventKind.OFFER_ACCEPTED,
                             occurred_at=now, partner_id=by.partner_id, actor_id=by.id,
                             actor_label=_label(by), from_status=LeadStatus.NEW.value,
                             to_status=LeadStatus.ACCEPTED.value))
    db.session.flush()
    db.session.refresh(lead)
    audit.record("lead.offer_accepted", target=lead, actor=by)
    _lead_event("lead.updated", lead)
    return lead


def decline(lead: Lead, reason: str, *, by: User, now: datetime | None = None) -> LeadOffer:
    """The partner passes: the lead leaves their inbox at once and goes to the rule's next
    partner (a queued message does that, outside the partner's scoped session)."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed([FieldError("reason", "Say why you decline the lead.")])
    if len(reason) > MAX_REASON:
        raise ValidationFailed([FieldError("reason", f"Keep the reason to {MAX_REASON:,} "
                                                     "characters.")])
    _check_offer(lead, by)
    lead_id, partner_id = lead.id, by.partner_id
    audit.record("lead.offer_declined", target=lead, actor=by, after={"reason": reason})
    if not _move(lead, expect_partner=partner_id, expect_routing=Routing.OFFERED,
                 partner_id=None, routing=Routing.PULLED_BACK, offer_expires_at=None):
        raise Conflict("The offer is no longer open.")
    db.session.expunge(lead)  # no longer this partner's: nothing may load or write it here
    offer = _decide(lead_id, partner_id, OfferOutcome.DECLINED, now, by, reason)
    db.session.add(LeadEvent(lead_id=lead_id, kind=LeadEventKind.OFFER_DECLINED,
                             occurred_at=now, partner_id=partner_id, actor_id=by.id,
                             actor_label=_label(by), text=reason))
    db.session.flush()
    from syndication.leads.tasks import reoffer_lead

    queue.enqueue(reoffer_lead, lead_id)
    return offer


def expired_offers(now: datetime, limit: int = 200) -> list[tuple[int, int, datetime]]:
    """(lead id, partner id, deadline) of offers past their deadline, oldest first."""
    return [tuple(row) for row in db.session.execute(
        select(Lead.id, Lead.partner_id, Lead.offer_expires_at)
        .where(Lead.routing == Routing.OFFERED, Lead.offer_expires_at <= now)
        .order_by(Lead.offer_expires_at).limit(limit))]


def waiting_for_reoffer(limit: int = 200) -> list[int]:
    """Pulled-back leads whose re-offer message was lost (or has not run yet)."""
    return list(db.session.execute(select(Lead.id).where(
        Lead.routing == Routing.PULLED_BACK).order_by(Lead.id).limit(limit)).scalars())


def pull_back(lead_id: int, partner_id: int, deadline: datetime, *, now: datetime) -> bool:
    """Take back an offer that was not answered in time and offer the lead to the next
    partner. Only one process wins: the UPDATE names the offer's partner and deadline."""
    lead = db.session.get(Lead, lead_id)
    if lead is None or deadline > now:
        return False
    if not _move(lead, expect_partner=partner_id, expect_routing=Routing.OFFERED,
                 expect_deadline=deadline, partner_id=None, routing=Routing.PULLED_BACK,
                 offer_expires_at=None):
        return False
    _decide(lead_id, partner_id, OfferOutcome.EXPIRED, now)
    partner = db.session.get(Partner, partner_id)
    db.session.add(LeadEvent(lead_id=lead_id, kind=LeadEventKind.OFFER_EXPIRED, occurred_at=now,
                             partner_id=partner_id, actor_label=ROUTER,
                             data={"expired_at": deadline.isoformat(),
                                   "partner_name": partner.name if partner else None}))
    db.session.flush()
    reoffer(lead_id, now=now)
    return True


# --- by hand -------------------------------------------------------------------------------


def assign(lead: Lead, partner: Partner, *, by: User | None, note: str = "",
           now: datetime | None = None) -> Lead:
    """Vendor staff give the lead to a partner directly (no acceptance window). A pending
    offer is withdrawn; a lead that was with another partner starts again as new."""
    now = now or utcnow()
    note = (note or "").strip()
    if len(note) > 5000:
        raise ValidationFailed([FieldError("note", "Keep the note to 5,000 characters.")])
    if partner.status is not PartnerStatus.ACTIVE:
        raise ValidationFailed([FieldError("partner_id", f"{partner.name} is "
                                                         f"{partner.status.value}.")])
    lead = _locked(lead.id) or lead
    if lead.partner_id == partner.id:
        raise Conflict(f"The lead is already with {partner.name}.")
    if lead.status in (LeadStatus.WON, LeadStatus.LOST):
        raise Conflict(f"The lead is {lead.status.value}; it is closed.")
    before_partner = lead.partner.public_id if lead.partner else None
    pending = db.session.execute(select(LeadOffer).where(
        LeadOffer.lead_id == lead.id, LeadOffer.outcome == OfferOutcome.PENDING)).scalars()
    for offer in pending:
        offer.outcome, offer.decided_at = OfferOutcome.WITHDRAWN, now
        offer.decided_by_id = by.id if by else None
    before_status = lead.status
    if lead.partner_id is not None and lead.status is not LeadStatus.NEW:
        lead.status, lead.status_reason, lead.status_changed_at = LeadStatus.NEW, None, now
    lead.partner = partner
    lead.routing, lead.offer_expires_at, lead.notified_at = Routing.ROUTED, None, None
    changed = before_status is not lead.status
    db.session.add(LeadEvent(
        lead=lead, kind=LeadEventKind.ASSIGNED, occurred_at=now, partner_id=partner.id,
        actor_id=by.id if by else None, actor_label=_label(by), text=note or None,
        from_status=before_status.value if changed else None,
        to_status=lead.status.value if changed else None,
        data={"partner": partner.public_id, "partner_name": partner.name}))
    db.session.flush()
    audit.record("lead.assigned", target=lead, actor=by, before={"partner": before_partner},
                 after={"partner": partner.public_id})
    from syndication.leads.tasks import notify_new_lead

    queue.enqueue(notify_new_lead, lead.id)
    _lead_event("lead.updated", lead)
    return lead


def partner_named(public_id: str | None) -> Partner:
    """The partner a vendor form or API body names, or a validation error on partner_id."""
    partner = db.session.execute(select(Partner).where(
        Partner.public_id == (public_id or ""))).scalar_one_or_none()
    if partner is None:
        raise ValidationFailed([FieldError("partner_id", "Choose a partner.")])
    return partner


def _label(user: User | None) -> str:
    return f"{user.name} <{user.email}>" if user is not None else "system"


def open_offer(lead: Lead) -> LeadOffer | None:
    """The lead's pending offer, as the current session may see it."""
    return db.session.execute(select(LeadOffer).where(
        LeadOffer.lead_id == lead.id, LeadOffer.outcome == OfferOutcome.PENDING)
    ).scalar_one_or_none()
