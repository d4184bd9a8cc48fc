"""A partner's contacts: adding (with duplicates merged), editing, unsubscribing, deleting,
and finding them.

Services flush but never commit. A partner user's session is scoped to their partner by
tenancy, so lookups by public id cannot reach another partner's contacts; the functions that
write take the partner explicitly, because imports run in workers, unscoped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from syndication.email import lists
from syndication.email.fields import (
    MAX_CUSTOM_FIELDS,
    TEXT_FIELDS,
    ContactValues,
    clean,
    merge_tags,
)
from syndication.email.models import (
    Contact,
    ContactList,
    ContactStatus,
    ContactTag,
    ListMembership,
    Suppression,
    SuppressionReason,
)
from syndication.email.suppression import (
    CHUNK,
    among,
    digest,
    partner_key,
    reasons_by_hash,
    suppress,
)
from tcma import audit
from tcma.errors import Conflict, FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.models import new_public_id, utcnow
from tcma.partners.models import Partner

log = logging.getLogger(__name__)

#: What the contacts page can filter on besides the contact's own status.
SUPPRESSED = "suppressed"
STATUS_FILTERS = tuple(s.value for s in ContactStatus) + (SUPPRESSED,)
VIAS = ("hand", "import", "api")


@dataclass(frozen=True)
class Upserted:
    contact_id: int
    created: bool
    status: ContactStatus
    email_hash: str


def upsert_many(partner_id: int, rows: Iterable[ContactValues], *, via: str,
                list_ids: Iterable[int] = (), _again: bool = False) -> dict[str, Upserted]:
    """Add or merge many contacts of one partner (an import batch) in a handful of queries.

    Records of one address merge: the newer record's non-empty values win and tags add up;
    an unsubscribe sticks (nothing here subscribes anyone again). Every contact joins the
    default list and ``list_ids``. Idempotent: the same rows again change nothing.
    """
    list_ids = list(list_ids)
    default = lists.default_list(partner_id)
    # One writer per partner at a time (a row lock on its default list): two imports, or an
    # import and a form, never race to create the same address. On SQLite this also opens
    # the transaction before the savepoint below, whose release would otherwise commit.
    db.session.execute(update(ContactList).where(ContactList.id == default.id)
                       .values(updated_at=ContactList.updated_at)
                       .execution_options(synchronize_session=False))
    merged: dict[str, ContactValues] = {}
    for row in rows:
        merged[row.email] = merged[row.email].merged_with(row) if row.email in merged else row
    keys = [partner_key(partner_id, e) for e in merged]
    existing: dict[str, Contact] = {}
    for start in range(0, len(keys), CHUNK):
        existing.update({c.email: c for c in db.session.execute(
            select(Contact).where(among(Contact.partner_key, keys[start:start + CHUNK])))
            .scalars()})
    result: dict[str, Upserted] = {}
    fresh: list[dict[str, Any]] = []
    for email, values in merged.items():
        contact = existing.get(email)
        if contact is None:
            fresh.append(_new_row(partner_id, values, via))
        else:
            _merge_into(contact, values)
            result[email] = Upserted(contact.id, False, contact.status, contact.email_hash)
    db.session.flush()
    if fresh:
        # Bulk INSERT ... RETURNING: a 1,000-row batch in one round trip, no ORM objects.
        try:
            with db.session.begin_nested():
                made = dict(db.session.execute(
                    insert(Contact).returning(Contact.email, Contact.id), fresh).all())
        except IntegrityError:
            if _again:
                raise
            log.info("partner %s: addresses added meanwhile elsewhere; merging them", partner_id)
            # Another import or request added some of these addresses a moment ago: they
            # exist now, so this time they merge.
            return upsert_many(partner_id, list(merged.values()), via=via, list_ids=list_ids,
                               _again=True)
        tags = [{"contact_id": made[row["email"]], "name": tag}
                for row in fresh for tag in merged[row["email"]].tags]
        if tags:
            db.session.execute(insert(ContactTag), tags)
        for row in fresh:
            result[row["email"]] = Upserted(made[row["email"]], True, row["status"],
                                            row["email_hash"])
    for list_id in dict.fromkeys([default.id, *list_ids]):
        target = db.session.get(ContactList, list_id)
        lists.add_members(target, [u.contact_id for u in result.values() if not u.created])
        lists.add_members(target, [u.contact_id for u in result.values() if u.created],
                          fresh=True)
    return result


def _new_row(partner_id: int, values: ContactValues, via: str) -> dict[str, Any]:
    if not (values.consent_source and values.consent_at):
        raise ValidationFailed([FieldError("consent_source",
                                           "Every contact needs a consent source and date.")])
    now = utcnow()
    row = {"public_id": new_public_id(), "partner_id": partner_id, "email": values.email,
           "email_hash": digest(values.email),
           "partner_key": partner_key(partner_id, values.email), **dict.fromkeys(TEXT_FIELDS, ""),
           **values.fields, "custom_fields": dict(list(values.custom.items())[:MAX_CUSTOM_FIELDS]),
           "consent_source": values.consent_source, "consent_at": values.consent_at,
           "consent_text": values.consent_text, "created_via": via,
           "status": ContactStatus.SUBSCRIBED, "status_changed_at": None,
           "status_reason": None, "created_at": now, "updated_at": now}
    if values.unsubscribed:
        row.update(status=ContactStatus.UNSUBSCRIBED, status_changed_at=now,
                   status_reason=f"{'imported' if via == 'import' else 'added'} as unsubscribed")
    return row


def _merge_into(contact: Contact, values: ContactValues) -> None:
    for name, value in values.fields.items():
        if getattr(contact, name) != value:
            setattr(contact, name, value)
    if values.custom:
        custom = dict(contact.custom_fields or {})
        for key, value in values.custom.items():
            if key in custom or len(custom) < MAX_CUSTOM_FIELDS:
                custom[key] = value
        if custom != contact.custom_fields:
            contact.custom_fields = custom
    if values.consent_source and values.consent_at:
        contact.consent_source = values.consent_source
        contact.consent_at = values.consent_at
        if values.consent_text:
            contact.consent_text = values.consent_text
    have = contact.tag_names
    for tag in merge_tags(have, values.tags)[len(have):]:
        contact.tags.append(ContactTag(name=tag))
    if values.unsubscribed and contact.status is ContactStatus.SUBSCRIBED:
        _set_status(contact, ContactStatus.UNSUBSCRIBED, "imported as unsubscribed")


def _set_status(contact: Contact, status: ContactStatus, how: str) -> None:
    contact.status = status
    contact.status_changed_at = utcnow()
    contact.status_reason = how


# --- one contact: the form and the API -----------------------------------------------------------


@dataclass(frozen=True)
class Added:
    contact: Contact
    created: bool


def add_contact(partner: Partner, data: dict[str, Any], *, custom: dict[str, str] | None = None,
                list_ids: Iterable[int] = (), via: str = "hand", by=None) -> Added:
    """Add one contact, or merge into the partner's contact with the same address."""
    cleaned = clean(data, custom=custom)
    if cleaned.errors:
        raise ValidationFailed(cleaned.errors)
    done = upsert_many(partner.id, [cleaned.values], via=via, list_ids=list_ids)[
        cleaned.values.email]
    contact = db.session.get(Contact, done.contact_id)
    audit.record("contact.created" if done.created else "contact.merged", target=contact,
                 actor=by, after={"via": via})
    return Added(contact, done.created)


#: What an edit replaces (empty values clear the field); status and consent history aside.
EDITABLE = ("email", *TEXT_FIELDS, "consent_source", "consent_date", "consent_text", "tags")


def update_contact(contact: Contact, data: dict[str, Any], *,
                   custom: dict[str, str] | None = None, by=None) -> Contact:
    """Replace a contact's values with ``data`` (fields left out keep theirs)."""
    current: dict[str, Any] = {
        "email": contact.email, **{n: getattr(contact, n) for n in TEXT_FIELDS},
        "consent_source": contact.consent_source, "consent_date": contact.consent_at,
        "consent_text": contact.consent_text or "", "tags": contact.tag_names}
    merged = {**current, **{k: v for k, v in data.items() if k in EDITABLE}}
    cleaned = clean(merged, custom=contact.custom_fields if custom is None else custom)
    if cleaned.errors:
        raise ValidationFailed(cleaned.errors)
    values = cleaned.values
    if values.email != contact.email:
        taken = db.session.execute(select(Contact.id).where(
            Contact.partner_key == partner_key(contact.partner_id, values.email))).first()
        if taken:
            raise Conflict("Another of your contacts has this address.", field="email")
        contact.email, contact.email_hash = values.email, digest(values.email)
        contact.partner_key = partner_key(contact.partner_id, values.email)
    changed = [n for n in TEXT_FIELDS if getattr(contact, n) != values.fields.get(n, "")]
    for name in TEXT_FIELDS:
        setattr(contact, name, values.fields.get(name, ""))
    contact.custom_fields = values.custom
    contact.consent_source, contact.consent_at = values.consent_source, values.consent_at
    contact.consent_text = values.consent_text
    keep = set(values.tags)
    contact.tags = [t for t in contact.tags if t.name in keep] + [
        ContactTag(name=t) for t in values.tags if t not in contact.tag_names]
    db.session.flush()
    audit.record("contact.updated", target=contact, actor=by, after={"fields": changed})
    return contact


def unsubscribe(contact: Contact, *, how: str, by=None) -> Contact:
    """Stop emailing this contact (this partner only). Idempotent."""
    if contact.status is ContactStatus.SUBSCRIBED:
        _set_status(contact, ContactStatus.UNSUBSCRIBED, how)
        db.session.flush()
        audit.record("contact.unsubscribed", target=contact, actor=by, after={"how": how})
    return contact


def delete_contact(contact: Contact, *, forget: bool = False, by=None) -> None:
    """Delete a contact and their personal data for good. ``forget`` (an erasure request)
    keeps only a digest on the global list, so no partner emails them again. A suppression
    already there stays whatever happens."""
    if forget:
        suppress(contact.email, SuppressionReason.ERASED,
                 partner=db.session.get(Partner, contact.partner_id))
    audit.record("contact.deleted", target=contact, actor=by,
                 after={"erasure_request": forget})
    db.session.delete(contact)
    db.session.flush()


def get_contact(public_id: str) -> Contact:
    """A contact the current user may see (tenancy applies), or NotFound."""
    found = db.session.execute(
        select(Contact).where(Contact.public_id == public_id)).scalar_one_or_none()
    if found is None:
        raise NotFound("No such contact.")
    return found


# --- finding contacts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactFilter:
    search: str | None = None
    list_id: str | None = None  # a list's public id
    tag: str | None = None
    status: str | None = None  # a ContactStatus value or "suppressed"


def _filtered(partner: Partner, f: ContactFilter):
    query = select(Contact).where(Contact.partner_id == partner.id)
    if f.search:
        like = f"%{f.search.strip().lower()}%"
        query = query.where(or_(Contact.email.like(like), func.lower(Contact.first_name).like(like),
                                func.lower(Contact.last_name).like(like),
                                func.lower(Contact.company).like(like)))
    if f.list_id:
        query = query.join(ListMembership, ListMembership.contact_id == Contact.id).join(
            ContactList, ContactList.id == ListMembership.list_id).where(
            ContactList.public_id == f.list_id)
    if f.tag:
        tagged = select(ContactTag.contact_id).where(ContactTag.name == f.tag.strip().lower())
        query = query.where(Contact.id.in_(tagged))
    listed = select(Suppression.id).where(Suppression.email_hash == Contact.email_hash).exists()
    if f.status == SUPPRESSED:
        query = query.where(listed)
    elif f.status:
        query = query.where(Contact.status == ContactStatus(f.status))
    return query


def list_contacts(partner: Partner, f: ContactFilter, *, limit: int = 50,
                  offset: int = 0) -> tuple[list[Contact], int]:
    """One page of the partner's contacts, newest first, and how many match."""
    query = _filtered(partner, f)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = list(db.session.execute(
        query.order_by(Contact.created_at.desc(), Contact.id.desc()).limit(limit).offset(offset))
        .scalars())
    return rows, total


def suppression_states(contacts: Iterable[Contact]) -> dict[int, SuppressionReason]:
    """{contact id: global reason} for those of ``contacts`` on the global list."""
    contacts = list(contacts)
    found = reasons_by_hash(c.email_hash for c in contacts)
    return {c.id: found[c.email_hash] for c in contacts if c.email_hash in found}


def tags_in_use(partner: Partner, limit: int = 200) -> list[str]:
    return list(db.session.execute(
        select(ContactTag.name).join(Contact, Contact.id == ContactTag.contact_id)
        .where(Contact.partner_id == partner.id).group_by(ContactTag.name)
        .order_by(ContactTag.name).limit(limit)).scalars())


def contact_count(partner: Partner) -> int:
    return db.session.execute(
        select(func.count()).select_from(Contact).where(Contact.partner_id == partner.id)
    ).scalar_one()
