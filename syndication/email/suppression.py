"""Who may not be emailed: the global suppression list and each partner's own unsubscribes.

Two layers, checked together by ``can_email`` and ``suppressed_emails`` (the sender's bulk
check):

- **Global** (vendor-wide, every partner): hard bounces, spam complaints, "unsubscribe from
  everything" and erasure requests. Stored as a keyed digest of the normalised address, never
  the address: the list outlives the contacts it came from (an erased person must stay
  unreachable) without keeping their address. The key is derived from ``SECRET_KEY``;
  rotating that key empties the list in effect, so rotate it with care.
- **Per partner**: the contact's own status (unsubscribed, bounced, complained).

Deleting a contact never removes a suppression; nothing here ever deletes one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError

from syndication.email.models import (
    Contact,
    ContactStatus,
    Suppression,
    SuppressionReason,
)
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner

#: Values per IN (...) query: well under every database's limit.
CHUNK = 500


def among(column, values: list):
    """``column IN values``; on PostgreSQL as ``= ANY(array)``, one parameter instead of
    hundreds (the driver's per-parameter cost dominated large imports)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)

#: Why an address may not be emailed, as ``can_email`` names it.
OK = "ok"
NOT_A_CONTACT = "not_a_contact"  # no consent on record with this partner


def normalise(email: str) -> str:
    """The form addresses are stored and compared in: trimmed and lower-case."""
    return (email or "").strip().lower()


def partner_key(partner_id: int, email: str) -> str:
    """The contacts table's unique key of one partner's address (``Contact.partner_key``)."""
    return hashlib.sha256(f"{partner_id}:{normalise(email)}".encode()).hexdigest()


def digest(email: str) -> str:
    """The keyed SHA-256 of a normalised address that the suppression list stores."""
    secret = current_app.config["SECRET_KEY"].encode()
    key = hmac.new(secret, b"tcma.email.suppression", hashlib.sha256).digest()
    return hmac.new(key, normalise(email).encode(), hashlib.sha256).hexdigest()


def suppress(email: str, reason: SuppressionReason | str, *,
             partner: Partner | None = None) -> Suppression:
    """Put an address on the global list (idempotent: the first reason recorded stays)."""
    reason = SuppressionReason(reason)
    key = digest(email)
    existing = _find(key)
    if existing is not None:
        return existing
    row = Suppression(email_hash=key, reason=reason,
                      source_partner_id=partner.id if partner else None)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:  # suppressed by someone else at the same moment
        return _find(key)
    return row


def _find(key: str) -> Suppression | None:
    return db.session.execute(
        select(Suppression).where(Suppression.email_hash == key)).scalar_one_or_none()


def global_reason(email: str) -> SuppressionReason | None:
    """Why the address is on the global list, or None."""
    row = _find(digest(email))
    return row.reason if row else None


def reasons_by_hash(hashes: Iterable[str]) -> dict[str, SuppressionReason]:
    """{digest: reason} for those of ``hashes`` on the global list (chunked queries)."""
    keys = list(dict.fromkeys(hashes))
    found: dict[str, SuppressionReason] = {}
    for start in range(0, len(keys), CHUNK):
        rows = db.session.execute(
            select(Suppression.email_hash, Suppression.reason)
            .where(among(Suppression.email_hash, keys[start:start + CHUNK])))
        found.update({h: r for h, r in rows})
    return found


def can_email(partner: Partner, email: str) -> tuple[bool, str]:
    """May ``partner`` email this address now? ``(True, "ok")``, or False with why:
    ``global:<reason>`` (e.g. ``global:hard_bounce``), the contact's own status
    (``unsubscribed``, ``bounced``, ``complained``) or ``not_a_contact``."""
    reason = global_reason(email)
    if reason is not None:
        return False, f"global:{reason.value}"
    status = db.session.execute(
        select(Contact.status).where(Contact.partner_key == partner_key(partner.id, email))
    ).scalar_one_or_none()
    if status is None:
        return False, NOT_A_CONTACT
    if status is not ContactStatus.SUBSCRIBED:
        return False, status.value
    return True, OK


def suppressed_emails(partner: Partner, emails: Iterable[str]) -> set[str]:
    """Those of ``emails`` (returned normalised) that ``partner`` may not email: the bulk
    form of ``can_email``, a few queries per 500 addresses."""
    wanted = list(dict.fromkeys(normalise(e) for e in emails))
    blocked: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        hashes = {digest(e): e for e in chunk}
        blocked.update(hashes[h] for h in reasons_by_hash(hashes))
        statuses = dict(db.session.execute(
            select(Contact.email, Contact.status)
            .where(among(Contact.partner_key, [partner_key(partner.id, e) for e in chunk])))
            .all())
        blocked.update(e for e in chunk
                       if statuses.get(e, None) is not ContactStatus.SUBSCRIBED)
    return blocked


def sendable(query):
    """Narrow a ``select(Contact)`` to contacts that may be emailed: subscribed and not on
    the global list. For the sender's batches, in SQL."""
    listed = select(Suppression.id).where(Suppression.email_hash == Contact.email_hash)
    return query.where(Contact.status == ContactStatus.SUBSCRIBED, ~listed.exists())


# --- recording what happened to a send ---------------------------------------------------------


def record_hard_bounce(partner: Partner | None, email: str) -> None:
    """An address does not exist: no partner emails it again; the sending partner's contact
    shows "bounced"."""
    _mark(partner, email, ContactStatus.BOUNCED, "hard bounce")
    suppress(email, SuppressionReason.HARD_BOUNCE, partner=partner)


def record_complaint(partner: Partner | None, email: str) -> None:
    """The person marked a message as spam: suppressed for every partner."""
    _mark(partner, email, ContactStatus.COMPLAINED, "marked as spam")
    suppress(email, SuppressionReason.COMPLAINT, partner=partner)


def _mark(partner: Partner | None, email: str, status: ContactStatus, why: str) -> None:
    if partner is None:
        return
    contact = db.session.execute(
        select(Contact).where(Contact.partner_key == partner_key(partner.id, email))
    ).scalar_one_or_none()
    if contact is not None and contact.status is ContactStatus.SUBSCRIBED:
        contact.status = status
        contact.status_changed_at = utcnow()
        contact.status_reason = why


# --- what the vendor sees: digests and counts, never addresses -------------------------------


@dataclass(frozen=True)
class SuppressionSummary:
    total: int
    by_reason: dict[str, int]
    recent: list[Suppression]


def summary(limit: int = 50) -> SuppressionSummary:
    counts = dict(db.session.execute(
        select(Suppression.reason, func.count()).group_by(Suppression.reason)).all())
    recent = list(db.session.execute(
        select(Suppression).order_by(Suppression.created_at.desc(), Suppression.id.desc())
        .limit(limit)).scalars())
    return SuppressionSummary(total=sum(counts.values()),
                              by_reason={r.value: counts.get(r, 0) for r in SuppressionReason},
                              recent=recent)

