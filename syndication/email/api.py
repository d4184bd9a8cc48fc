"""API routes for a partner's contacts, lists and CSV imports (partner tokens only: contacts
are the partner's own data). The rules live in the services; this parses and answers."""

from __future__ import annotations

import json

from flask import current_app, g, request, url_for
from pydantic import ValidationError as PydanticError

from syndication.email import contacts, importer, lists, report
from syndication.email.api_schemas import (
    ContactDetail,
    ContactImportForm,
    ContactImportOut,
    ContactIn,
    ContactListIn,
    ContactListOut,
    ContactOut,
    ContactPage,
    ContactPatch,
    ListMembersIn,
    ListMembersOut,
)
from syndication.email.contacts import ContactFilter
from syndication.email.mapping import CUSTOM
from syndication.email.models import Contact, ContactList, ContactStatus
from tcma.api import endpoint
from tcma.api.responses import int_arg, json_body
from tcma.errors import Conflict, DomainError, FieldError, NotFound, ValidationFailed
from tcma.extensions import db

TAG = "contacts"


def _out(contact: Contact, detail: bool = False):
    reason = contacts.suppression_states([contact]).get(contact.id)
    if not detail:
        return ContactOut.of(contact, reason)
    base = ContactOut.of(contact, reason).model_dump()
    return ContactDetail(**base, list_ids=[x.public_id for x in lists.memberships(contact)])


def _list_out(contact_list: ContactList) -> ContactListOut:
    return ContactListOut.of(contact_list, lists.counts([contact_list])[contact_list.id])


def _list_ids(public_ids: list[str]) -> list[int]:
    found = []
    for public_id in public_ids:
        try:
            found.append(lists.get_list(public_id).id)
        except NotFound:
            raise ValidationFailed([FieldError("list_ids", f"Not your list: {public_id}")]) \
                from None
    return found


# --- contacts ------------------------------------------------------------------------------------


@endpoint("/contacts", "GET", summary="My contacts, newest first", tag=TAG,
          permission="contacts.manage", response=ContactPage, query={
              "q": "Search in email, names and company", "list": "A list id", "tag": "A tag",
              "status": "subscribed | unsubscribed | bounced | complained | suppressed",
              "limit": "1 to 500 (default 100)", "offset": "Skip this many (default 0)"})
def list_contacts():
    errors: list[FieldError] = []
    status = request.args.get("status") or None
    if status and status not in contacts.STATUS_FILTERS:
        errors.append(FieldError("status", "Use " + ", ".join(contacts.STATUS_FILTERS) + "."))
    limit = int_arg("limit", 100, 1, 500, errors)
    offset = int_arg("offset", 0, 0, None, errors)
    if errors:
        raise ValidationFailed(errors)
    found, total = contacts.list_contacts(
        g.user.partner, ContactFilter(search=request.args.get("q") or None,
                                      list_id=request.args.get("list") or None,
                                      tag=request.args.get("tag") or None, status=status),
        limit=limit, offset=offset)
    states = contacts.suppression_states(found)
    return json_body(ContactPage(total=total,
                                 items=[ContactOut.of(c, states.get(c.id)) for c in found]))


@endpoint("/contacts", "POST", summary="Add a contact (or merge into the one I have)",
          tag=TAG, permission="contacts.manage", body=ContactIn, response=ContactDetail,
          status=201, also_status=(200,))
def create_contact(body: ContactIn):
    """A consent source and date are required. An address you have already answers 200
    with the merged contact; a suppressed address is kept but never emailed."""
    data = body.model_dump(exclude={"custom_fields", "list_ids"})
    done = contacts.add_contact(g.user.partner, data, custom=body.custom_fields,
                                list_ids=_list_ids(body.list_ids), via="api", by=g.user)
    db.session.commit()
    return json_body(_out(done.contact, detail=True), 201 if done.created else 200)


@endpoint("/contacts/<contact_id>", "GET", summary="One contact", tag=TAG,
          permission="contacts.manage", response=ContactDetail)
def get_contact(contact_id: str):
    return json_body(_out(contacts.get_contact(contact_id), detail=True))


@endpoint("/contacts/<contact_id>", "PATCH", summary="Change a contact", tag=TAG,
          permission="contacts.manage", body=ContactPatch, response=ContactDetail,
          errors={409: "The new address is another contact's, or a resubscribe was asked"})
def update_contact(contact_id: str, body: ContactPatch):
    contact = contacts.get_contact(contact_id)
    sent = body.model_dump(exclude_unset=True)
    unsubscribed = sent.pop("unsubscribed", None)
    custom = sent.pop("custom_fields", None)
    if unsubscribed is False and contact.status is not ContactStatus.SUBSCRIBED:
        raise Conflict("Only the person can subscribe again (e.g. through a form).",
                       field="unsubscribed")
    if sent or custom is not None:
        contacts.update_contact(contact, sent, custom=custom, by=g.user)
    if unsubscribed:
        contacts.unsubscribe(contact, how="api", by=g.user)
    db.session.commit()
    return json_body(_out(contact, detail=True))


@endpoint("/contacts/<contact_id>", "DELETE", summary="Delete a contact and their data",
          tag=TAG, permission="contacts.manage", status=204,
          query={"forget": "true for an erasure request: the address stays blocked for every "
                           "partner (kept as a fingerprint only)"})
def delete_contact(contact_id: str):
    contact = contacts.get_contact(contact_id)
    contacts.delete_contact(contact, forget=request.args.get("forget") in ("1", "true"),
                            by=g.user)
    db.session.commit()
    return current_app.response_class(status=204)


# --- lists ---------------------------------------------------------------------------------------


@endpoint("/contact-lists", "GET", summary="My contact lists with their counts", tag=TAG,
          permission="contacts.manage", response=list[ContactListOut])
def list_contact_lists():
    found = lists.all_lists(g.user.partner)
    counts = lists.counts(found)
    db.session.commit()  # the default list, made on first use
    return json_body([ContactListOut.of(x, counts[x.id]) for x in found])


@endpoint("/contact-lists", "POST", summary="Create a contact list", tag=TAG,
          permission="contacts.manage", body=ContactListIn, response=ContactListOut,
          status=201, errors={409: "You have a list with this name already"})
def create_contact_list(body: ContactListIn):
    made = lists.create_list(g.user.partner, body.name, body.description, by=g.user)
    db.session.commit()
    return json_body(_list_out(made), 201)


def _members(list_id: str, body: ListMembersIn, *, remove: bool):
    target = lists.get_list(list_id)
    chosen = lists.contacts_by_public_ids(g.user.partner, body.contact_ids)
    ids = [c.id for c in chosen]
    changed = lists.remove_members(target, ids) if remove else lists.add_members(target, ids)
    db.session.commit()
    return json_body(ListMembersOut(changed=changed, contact_list=_list_out(target)))


@endpoint("/contact-lists/<list_id>/members", "POST", summary="Add contacts to a list",
          tag=TAG, permission="contacts.manage", body=ListMembersIn, response=ListMembersOut)
def add_list_members(list_id: str, body: ListMembersIn):
    """Contacts on the list already are left alone; an id that is not your contact is a 422."""
    return _members(list_id, body, remove=False)


@endpoint("/contact-lists/<list_id>/members/remove", "POST",
          summary="Take contacts off a list", tag=TAG, permission="contacts.manage",
          body=ListMembersIn, response=ListMembersOut,
          errors={409: "The default list keeps every contact"})
def remove_list_members(list_id: str, body: ListMembersIn):
    return _members(list_id, body, remove=True)


# --- imports -------------------------------------------------------------------------------------


def _mapping(raw: str, columns: list[str]) -> dict[str, str] | None:
    """The mapping sent (column names or indexes as keys), as {index: field}."""
    if not raw.strip():
        return None
    try:
        sent = json.loads(raw)
    except ValueError:
        sent = None
    if not isinstance(sent, dict) or not all(isinstance(v, str) for v in sent.values()):
        raise ValidationFailed([FieldError("mapping", "Send a JSON object of column -> field.")])
    mapping: dict[str, str] = {}
    for key, field in sent.items():
        if key.isdigit() and int(key) < len(columns):
            index = int(key)
        elif key in columns:
            index = columns.index(key)
        else:
            raise ValidationFailed([FieldError("mapping", f"The file has no column {key!r}.")])
        mapping[str(index)] = f"{CUSTOM}:{columns[index]}" if field == CUSTOM else field
    return mapping


def _import_out(imp) -> ContactImportOut:
    return ContactImportOut.of(imp, report.issues(imp, limit=1000),
                        url_for("api.get_contact_import_report", import_id=imp.public_id,
                                _external=True))


@endpoint("/contact-imports", "POST", summary="Import contacts from a CSV file", tag=TAG,
          permission="contacts.manage", response=ContactImportOut, status=202,
          multipart={"file": "CSV (UTF-8, UTF-16 or Windows-1252; , ; or tab separated) with "
                             "a header line"}, form=ContactImportForm)
def create_contact_import():
    """The import runs in the background: poll ``GET /contact-imports/{import_id}``. Every
    contact needs a consent source and date (for the whole file, or mapped columns)."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed([FieldError("file", "Send the CSV file as 'file'.")])
    try:
        fields = ContactImportForm.model_validate({k: v for k, v in request.form.items()
                                            if k in ContactImportForm.model_fields})
    except PydanticError as exc:
        raise ValidationFailed.from_pydantic(exc) from exc
    imp = importer.upload(g.user.partner, upload.stream, upload.filename, by=g.user)
    try:
        mapping = _mapping(fields.mapping, imp.columns)
        importer.start(imp, mapping=imp.mapping if mapping is None else mapping,
                       list_id=fields.list_id or None, new_list=fields.new_list,
                       tags=fields.tags, consent_source=fields.consent_source,
                       consent_date=fields.consent_date, consent_text=fields.consent_text,
                       date_order=fields.date_order, by=g.user)
    except DomainError:
        importer.forget_upload(imp)
        raise
    db.session.commit()
    return json_body(_import_out(imp), 202)


@endpoint("/contact-imports/<import_id>", "GET", summary="An import's progress and problems",
          tag=TAG, permission="contacts.manage", response=ContactImportOut)
def get_contact_import(import_id: str):
    imp = importer.get_import(import_id)
    if importer.revive(imp):
        db.session.commit()
    return json_body(_import_out(imp))


@endpoint("/contact-imports/<import_id>/report", "GET",
          summary="An import's problems as CSV (line, column, field, problem, outcome)",
          tag=TAG, permission="contacts.manage", binary="text/csv")
def get_contact_import_report(import_id: str):
    imp = importer.get_import(import_id)
    return current_app.response_class("".join(report.report_csv(imp)), mimetype="text/csv")
