"""A partner's contact lists: the default "All contacts", named lists, their members and
counts. Tenancy scopes every query to the asking partner in partner sessions; the functions
also take the partner explicitly for workers, which run unscoped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from syndication.email.models import Contact, ContactList, ListMembership
from syndication.email.suppression import CHUNK, among, sendable
from tcma import audit
from tcma.errors import Conflict, FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.partners.models import Partner

DEFAULT_NAME = "All contacts"
MAX_NAME = 100
MAX_MEMBERS_PER_CALL = 1000


def default_list(partner_id: int) -> ContactList:
    """The partner's "All contacts" list, made on first use."""
    found = db.session.execute(
        select(ContactList).where(ContactList.partner_id == partner_id,
                                  ContactList.is_default.is_(True))).scalar_one_or_none()
    if found is not None:
        return found
    made = ContactList(partner_id=partner_id, name=DEFAULT_NAME, is_default=True,
                       description="Every contact joins this list.")
    try:
        with db.session.begin_nested():
            db.session.add(made)
    except IntegrityError:  # made by a parallel request a moment ago
        return default_list(partner_id)
    return made


def get_list(public_id: str) -> ContactList:
    """A list the current user may see (tenancy applies), or NotFound."""
    found = db.session.execute(
        select(ContactList).where(ContactList.public_id == public_id)).scalar_one_or_none()
    if found is None:
        raise NotFound("No such list.")
    return found


def all_lists(partner: Partner) -> list[ContactList]:
    default_list(partner.id)
    return list(db.session.execute(
        select(ContactList).where(ContactList.partner_id == partner.id)
        .order_by(ContactList.is_default.desc(), ContactList.name)).scalars())


def create_list(partner: Partner, name: str, description: str = "", *, by=None) -> ContactList:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationFailed([FieldError("name", "Give the list a name.")])
    if len(name) > MAX_NAME or len(description or "") > 300:
        raise ValidationFailed([FieldError("name", f"At most {MAX_NAME} characters (and 300 "
                                                   "for the description).")])
    default_list(partner.id)
    taken = db.session.execute(
        select(ContactList.id).where(ContactList.partner_id == partner.id,
                                     func.lower(ContactList.name) == name.lower())).first()
    if taken:
        raise Conflict(f"You already have a list named {name}.", field="name")
    made = ContactList(partner_id=partner.id, name=name, description=(description or "").strip())
    try:
        with db.session.begin_nested():
            db.session.add(made)
    except IntegrityError:
        raise Conflict(f"You already have a list named {name}.", field="name") from None
    audit.record("contact_list.created", target=made, actor=by, after={"name": name})
    return made


def delete_list(contact_list: ContactList, *, by=None) -> None:
    """Delete a list; its contacts stay (in "All contacts" and their other lists)."""
    if contact_list.is_default:
        raise Conflict("The default list holds every contact and cannot be deleted.")
    audit.record("contact_list.deleted", target=contact_list, actor=by,
                 before={"name": contact_list.name})
    db.session.delete(contact_list)
    db.session.flush()


def contacts_by_public_ids(partner: Partner, public_ids: Iterable[str]) -> list[Contact]:
    """The partner's contacts with these ids; any id not theirs is a 422 naming it."""
    wanted = list(dict.fromkeys(public_ids))
    if len(wanted) > MAX_MEMBERS_PER_CALL:
        raise ValidationFailed([FieldError(
            "contact_ids", f"At most {MAX_MEMBERS_PER_CALL:,} contacts per call.")])
    found: dict[str, Contact] = {}
    for start in range(0, len(wanted), CHUNK):
        found.update({c.public_id: c for c in db.session.execute(
            select(Contact).where(Contact.partner_id == partner.id,
                                  among(Contact.public_id, wanted[start:start + CHUNK])))
            .scalars()})
    unknown = [p for p in wanted if p not in found]
    if unknown:
        raise ValidationFailed([FieldError(
            "contact_ids", f"Not your contacts: {', '.join(unknown[:5])}"
                           f"{' …' if len(unknown) > 5 else ''}")])
    return [found[p] for p in wanted]


def add_members(contact_list: ContactList, contact_ids: Iterable[int], *,
                fresh: bool = False) -> int:
    """Add contacts (by internal id) to a list; those already in it are left alone. Returns
    how many joined. ``fresh``: contacts created in this transaction, on no list yet."""
    ids = list(dict.fromkeys(contact_ids))
    added = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        # By contact only (its own index), then by list here: a contact is on few lists,
        # and PostgreSQL cannot mis-plan this into a scan of the whole list.
        present = set() if fresh else {contact for contact, on in db.session.execute(
            select(ListMembership.contact_id, ListMembership.list_id)
            .where(among(ListMembership.contact_id, chunk))) if on == contact_list.id}
        rows = [{"list_id": contact_list.id, "contact_id": c} for c in chunk if c not in present]
        if rows:
            db.session.execute(insert(ListMembership), rows)
            added += len(rows)
    return added


def remove_members(contact_list: ContactList, contact_ids: Iterable[int]) -> int:
    """Take contacts off a named list (the default list keeps everyone)."""
    if contact_list.is_default:
        raise Conflict("Everyone stays on the default list; delete a contact to remove it.")
    ids = list(dict.fromkeys(contact_ids))
    removed = 0
    for start in range(0, len(ids), CHUNK):
        removed += db.session.execute(
            delete(ListMembership).where(ListMembership.list_id == contact_list.id,
                                         ListMembership.contact_id.in_(ids[start:start + CHUNK]))
            .execution_options(synchronize_session=False)).rowcount
    return removed


@dataclass(frozen=True)
class ListCounts:
    members: int
    sendable: int  # subscribed and not suppressed: who a launch would email


def counts(lists: list[ContactList]) -> dict[int, ListCounts]:
    """Members and emailable members per list, in two grouped queries."""
    ids = [lst.id for lst in lists]
    if not ids:
        return {}
    base = (select(ListMembership.list_id, func.count())
            .join(Contact, Contact.id == ListMembership.contact_id)
            .where(ListMembership.list_id.in_(ids)).group_by(ListMembership.list_id))
    members = dict(db.session.execute(base).all())
    reachable = dict(db.session.execute(sendable(base)).all())
    return {i: ListCounts(members.get(i, 0), reachable.get(i, 0)) for i in ids}


def sendable_contacts(contact_list: ContactList):
    """A ``select(Contact)`` of the list's members who may be emailed now (for launches)."""
    query = (select(Contact).join(ListMembership, ListMembership.contact_id == Contact.id)
             .where(ListMembership.list_id == contact_list.id))
    return sendable(query)


def memberships(contact: Contact) -> list[ContactList]:
    return list(db.session.execute(
        select(ContactList).join(ListMembership, ListMembership.list_id == ContactList.id)
        .where(ListMembership.contact_id == contact.id)
        .order_by(ContactList.is_default.desc(), ContactList.name)).scalars())

