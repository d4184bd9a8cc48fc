"""Contact imports, from upload to report: store the file, map its columns, queue the run
(``import_run``), revive runs whose message or worker was lost, discard stale uploads.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import BinaryIO

from flask import current_app
from sqlalchemy import select

from syndication.email import csvfile, lists
from syndication.email.fields import DATE_ORDERS, MAX_SOURCE, parse_consent_date, split_tags
from syndication.email.mapping import check, guess
from syndication.email.models import ContactImport, ImportStatus
from tcma import queue
from tcma.errors import Conflict, FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.models import new_public_id, utcnow
from tcma.partners.models import Partner

log = logging.getLogger(__name__)

#: A running import whose claim was not renewed for this long has lost its worker.
STALE_RUN = timedelta(minutes=5)
#: A queued import whose message has not started for this long: send another.
LOST_MESSAGE = timedelta(minutes=3)
#: Uploaded and never mapped: discarded (with the file) after this long.
MAPPING_TTL = timedelta(days=1)
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
ACTIVE = (ImportStatus.QUEUED, ImportStatus.RUNNING)


def max_bytes() -> int:
    return int(current_app.config.get("CONTACTS_CSV_MAX_BYTES") or DEFAULT_MAX_BYTES)


def upload(partner: Partner, stream: BinaryIO, filename: str, *, by=None) -> ContactImport:
    """Store an uploaded CSV and read its header; the columns get a guessed mapping."""
    public_id = new_public_id()
    stored = csvfile.store_upload(stream, f"contact-imports/{partner.public_id}/{public_id}",
                                  max_bytes=max_bytes())
    imp = ContactImport(
        public_id=public_id, partner_id=partner.id, created_by_id=by.id if by else None,
        filename=(filename or "contacts.csv")[-255:], file_key=stored.key, parts=stored.parts,
        size=stored.size, encoding=stored.encoding, delimiter=stored.delimiter,
        columns=stored.columns, line_estimate=stored.line_estimate,
        mapping=guess(stored.columns))
    db.session.add(imp)
    db.session.flush()
    return imp


def get_import(public_id: str) -> ContactImport:
    """An import the current user may see (tenancy applies), or NotFound."""
    found = db.session.execute(
        select(ContactImport).where(ContactImport.public_id == public_id)).scalar_one_or_none()
    if found is None:
        raise NotFound("No such import.")
    return found


def recent_imports(partner: Partner, limit: int = 10) -> list[ContactImport]:
    return list(db.session.execute(
        select(ContactImport).where(ContactImport.partner_id == partner.id)
        .order_by(ContactImport.created_at.desc(), ContactImport.id.desc()).limit(limit))
        .scalars())


def sample_rows(imp: ContactImport) -> list[list[str]]:
    if not imp.file_key:
        return []
    return csvfile.sample(imp.file_key, imp.parts, imp.encoding, imp.delimiter)


def start(imp: ContactImport, *, mapping: dict[str, str], list_id: str | None = None,
          new_list: str = "", tags: str | list[str] = "", consent_source: str = "",
          consent_date: str = "", consent_text: str = "", date_order: str = "dmy",
          by=None) -> ContactImport:
    """Confirm the mapping and the file-wide values and queue the import.

    Every contact needs a consent source and date: for the whole file here, or per row from
    mapped columns (a row's own value wins; a row with neither is skipped and reported).
    """
    if imp.status is not ImportStatus.MAPPING:
        raise Conflict(f"This import is {imp.status.value} already.")
    mapping = {str(k): v for k, v in mapping.items() if v}
    errors: list[FieldError] = []
    source = " ".join((consent_source or "").split())
    if len(source) > MAX_SOURCE:
        errors.append(FieldError("consent_source", f"At most {MAX_SOURCE} characters."))
    consent_at = None
    if (consent_date or "").strip():
        try:
            consent_at = parse_consent_date(consent_date, date_order)
        except ValueError as exc:
            errors.append(FieldError("consent_date", str(exc)))
    if date_order not in DATE_ORDERS:
        errors.append(FieldError("date_order", "Choose day or month first."))
    tag_list = split_tags(tags)
    if len(tag_list) > 10 or any(len(t) > 50 for t in tag_list):
        errors.append(FieldError("tags", "At most 10 tags of up to 50 characters."))
    errors += check(mapping, imp.columns, consent_source=bool(source),
                    consent_date=bool(consent_at) or any(e.field == "consent_date"
                                                         for e in errors))
    partner = db.session.get(Partner, imp.partner_id)
    target = None
    if new_list.strip():
        if not errors:
            target = lists.create_list(partner, new_list, by=by)
    elif list_id:
        try:
            target = lists.get_list(list_id)
        except NotFound:
            errors.append(FieldError("list_id", "Choose one of your lists."))
    if errors:
        raise ValidationFailed(errors)
    imp.mapping = mapping
    imp.list_id = target.id if target is not None and not target.is_default else None
    imp.tags = tag_list
    imp.consent_source, imp.consent_at = source or None, consent_at
    imp.consent_text = (consent_text or "").strip()[:2000] or None
    imp.date_order = date_order
    imp.status = ImportStatus.QUEUED
    imp.queued_at = utcnow()
    db.session.flush()
    queue.enqueue(actor(), imp.id)
    return imp


def cancel(imp: ContactImport) -> None:
    """Discard an upload that was not started (its file goes)."""
    if imp.status is not ImportStatus.MAPPING:
        raise Conflict(f"This import is {imp.status.value}; only an unstarted one can be "
                       "discarded.")
    imp.status = ImportStatus.CANCELLED
    drop_file(imp)


def forget_upload(imp: ContactImport) -> None:
    """Delete the stored file of an upload that will not be imported (refused at start)."""
    drop_file(imp)


def drop_file(imp: ContactImport) -> None:
    """The uploaded file holds personal data nobody needs once the import is over."""
    if imp.file_key:
        try:
            csvfile.delete_parts(imp.file_key, imp.parts)
        except Exception:  # storage away: the sweeper's next look is not worth a failed run
            log.exception("could not delete the file of contact import %s", imp.public_id)
            return
        imp.file_key = ""


def actor():
    """The ``import_contacts`` actor (imported late: tasks import this module)."""
    from syndication.email.tasks import import_contacts

    return import_contacts


def revive(imp: ContactImport, now: datetime | None = None) -> bool:
    """Send a new message for an import whose message or worker was lost; the caller
    commits. The progress page and the sweeper call this."""
    now = now or utcnow()
    lost = (imp.status is ImportStatus.QUEUED
            and (imp.queued_at is None or imp.queued_at < now - LOST_MESSAGE))
    dead = (imp.status is ImportStatus.RUNNING
            and (imp.heartbeat_at is None or imp.heartbeat_at < now - STALE_RUN))
    if not (lost or dead):
        return False
    imp.queued_at = now
    queue.enqueue(actor(), imp.id)
    return True


def sweep(now: datetime | None = None) -> int:
    """Revive stuck imports and discard uploads never mapped; returns how many it touched."""
    now = now or utcnow()
    touched = 0
    for imp in db.session.execute(
            select(ContactImport).where(ContactImport.status.in_(ACTIVE))).scalars():
        touched += revive(imp, now)
    for imp in db.session.execute(
            select(ContactImport).where(ContactImport.status == ImportStatus.MAPPING,
                                        ContactImport.created_at < now - MAPPING_TTL)).scalars():
        imp.status = ImportStatus.CANCELLED
        drop_file(imp)
        touched += 1
    return touched
