"""Unsubscribing from a campaign email: the link in the message, and RFC 8058 one-click.

Every email carries its delivery's public ``ref`` three ways: the visible link
``{BASE_URL}/u/{ref}``, the ``List-Unsubscribe`` header (that URL and
``mailto:unsubscribe+{ref}@{domain}``) and its Message-ID. Following the link only shows a
page (mail scanners follow links); a POST to it unsubscribes, with no sign-in and no
confirmation, because that is what mail clients' one-click POST expects.

An unsubscribe stops the delivery's partner emailing the person; "everywhere" also puts the
address on the global list, so no partner of the program emails it again.

Services flush but never commit; the view commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from campaigns.models import Launch
from syndication.email import contacts, suppression
from syndication.email.models import Contact, Delivery, SuppressionReason
from tcma import audit
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner
from tcma.partners.service import current_brand_profile
from tcma.webhooks import emit, register_event

UNSUBSCRIBED_EVENT = "contact.unsubscribed"
register_event(UNSUBSCRIBED_EVENT, "A contact unsubscribed from a partner's emails (or from "
                                   "every partner's) through the link or one-click header "
                                   "of a campaign email")

#: What a delivery ref can look like (``secrets.token_urlsafe``): anything else is not looked up.
REF = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

#: Who the audit log says acted: the person, who has no user account.
RECIPIENT = "the email's recipient"

#: ``how`` values the public page records, as the contact's status reason and in the audit log.
BY_LINK = "unsubscribe link"
BY_ONE_CLICK = "one-click unsubscribe"


def unsubscribe_url(ref: str) -> str:
    """The page a message's unsubscribe link and ``List-Unsubscribe`` header point to."""
    return f"{current_app.config['BASE_URL'].rstrip('/')}/u/{ref}"


def mailto_unsubscribe(ref: str, domain: str) -> str:
    """The ``mailto:`` half of ``List-Unsubscribe``, for clients that only send mail."""
    return f"mailto:unsubscribe+{ref}@{domain}"


def delivery_by_ref(ref: str) -> Delivery | None:
    """The delivery a public ref names, or None (malformed refs are not even looked up)."""
    if not ref or not REF.match(ref):
        return None
    return db.session.execute(
        select(Delivery).where(Delivery.ref == ref)).scalar_one_or_none()


@dataclass(frozen=True)
class Recipient:
    """What the unsubscribe page shows: whose emails, to which (masked) address."""

    delivery: Delivery
    brand_name: str
    brand_color: str | None
    masked_email: str | None
    unsubscribed: bool


def recipient(ref: str) -> Recipient | None:
    """What the page for ``ref`` shows, or None for an unknown ref. Changes nothing."""
    delivery = delivery_by_ref(ref)
    if delivery is None:
        return None
    partner = db.session.get(Partner, delivery.partner_id)
    profile = current_brand_profile(partner)
    contact = db.session.get(Contact, delivery.contact_id) if delivery.contact_id else None
    return Recipient(
        delivery=delivery,
        brand_name=profile.display_name or partner.name,
        brand_color=profile.primary_color,
        masked_email=mask(contact.email) if contact else None,
        unsubscribed=delivery.unsubscribed_at is not None)


def mask(email: str) -> str:
    """``k***@example.com``: enough for the person to recognise, little for anyone else."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def unsubscribe(ref: str, *, everywhere: bool = False, how: str) -> Delivery | None:
    """Unsubscribe the person a delivery went to from its partner's emails, and with
    ``everywhere`` from every partner's. None for an unknown ref.

    Idempotent: a second call (a mail client retrying, a person clicking twice) changes
    nothing already done, though it may add "everywhere" to an earlier plain unsubscribe.
    ``how`` ("unsubscribe link", "one-click unsubscribe") becomes the contact's status reason.
    """
    delivery = delivery_by_ref(ref)
    if delivery is None:
        return None
    first_time = delivery.unsubscribed_at is None
    if first_time:
        delivery.unsubscribed_at = utcnow()
    contact = db.session.get(Contact, delivery.contact_id) if delivery.contact_id else None
    if contact is None:
        # The partner deleted the contact since: nobody is left to email, and without an
        # address there is nothing to put on the global list.
        db.session.flush()
        return delivery
    was = contact.status
    contacts.unsubscribe(contact, how=how, by=RECIPIENT)
    newly_global = False
    if everywhere and suppression.global_reason(contact.email) is None:
        partner = db.session.get(Partner, delivery.partner_id)
        suppression.suppress(contact.email, SuppressionReason.UNSUBSCRIBED_ALL, partner=partner)
        newly_global = True
        audit.record("contact.unsubscribed_everywhere", target=contact, actor=RECIPIENT,
                     after={"how": how})
    db.session.flush()
    if contact.status is not was or newly_global:
        emit(UNSUBSCRIBED_EVENT, _payload(delivery, contact, everywhere=newly_global, how=how))
    return delivery


def _payload(delivery: Delivery, contact: Contact, *, everywhere: bool, how: str) -> dict:
    # Ids only: an integration that needs the address asks the API, which checks its token.
    launch = db.session.get(Launch, delivery.launch_id)
    partner = db.session.get(Partner, delivery.partner_id)
    return {"contact_id": contact.public_id, "partner_id": partner.public_id,
            "launch_id": launch.public_id if launch else None,
            "scope": "everywhere" if everywhere else "partner", "how": how,
            "unsubscribed_at": delivery.unsubscribed_at}
