"""Telling a partner about a new lead: one email to each of its lead contacts."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from syndication.leads.models import Lead
from tcma import mail
from tcma.auth.models import Role, User, UserStatus
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner, PartnerStatus


def lead_contacts(partner: Partner) -> list[str]:
    """Who hears about a partner's new leads: its active partner admins, and the brand
    profile's contact email when it has one. Each address once."""
    from tcma.partners.service import current_brand_profile

    admins = db.session.execute(
        select(User.email).where(User.partner_id == partner.id,
                                 User.role == Role.PARTNER_ADMIN,
                                 User.status == UserStatus.ACTIVE).order_by(User.email)
    ).scalars()
    found: list[str] = []
    for address in [*admins, current_brand_profile(partner).email]:
        if address and address.lower() not in {a.lower() for a in found}:
            found.append(address)
    return found


def announce_new_lead(lead_id: int) -> list[str]:
    """Email the partner's lead contacts about a lead, once: a redelivered message finds
    ``notified_at`` set and sends nothing. Returns the addresses written to."""
    lead = db.session.execute(
        select(Lead).where(Lead.id == lead_id).with_for_update(of=Lead)
    ).unique().scalar_one_or_none()
    if lead is None or lead.notified_at is not None or lead.partner is None:
        return []
    if lead.partner.status is not PartnerStatus.ACTIVE:
        return []
    lead.notified_at = utcnow()
    base = current_app.config["BASE_URL"].rstrip("/")
    recipients = lead_contacts(lead.partner)
    for address in recipients:
        mail.send_template(address, "new_lead", lead=lead, partner=lead.partner,
                           page=lead.page, link=f"{base}/leads/{lead.public_id}")
    return recipients
