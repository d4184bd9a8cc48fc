"""Running a contact import on a worker: claimed, imported in committed batches, resumable.

The run is safe to kill at any moment. Each batch of ~1,000 rows is one transaction that
upserts the contacts by (partner, email), records the batch's issues and moves the progress
(``last_line``) forward; a run killed mid-batch leaves the previous batch's state, and a new
run continues after ``last_line``. Upserts make even a repeated batch harmless: a contact is
never created twice.

A worker claims an import with a conditional UPDATE (a random ``run_token``) and renews the
claim with every batch; a claim not renewed for ``STALE_RUN`` is dead and another worker may
take the import over (renditions do the same). One message works through at most
``BATCHES_PER_MESSAGE`` batches and then hands over to a new message, so no message runs into
Dramatiq's time limit however large the file.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import insert, select, update

from syndication.email import csvfile
from syndication.email.contacts import upsert_many
from syndication.email.fields import ContactValues
from syndication.email.importer import ACTIVE, STALE_RUN, actor, drop_file
from syndication.email.mapping import RowSpec, parse_row
from syndication.email.models import (
    ContactImport,
    ContactImportIssue,
    ContactStatus,
    ImportStatus,
)
from syndication.email.suppression import reasons_by_hash
from tcma import audit, queue
from tcma.errors import FieldError
from tcma.extensions import db
from tcma.models import utcnow

log = logging.getLogger(__name__)

BATCH_ROWS = 1000
BATCHES_PER_MESSAGE = 50
#: Issue rows kept per import; beyond this they are only counted.
MAX_ISSUES = 20_000
SUPPRESSED_NOTE = "Suppressed, will not be emailed ({why})."
GAVE_UP = ("Something went wrong on our side while importing. The contacts imported so far "
           "are kept; upload the file again to finish (nothing is imported twice).")


class LostClaim(Exception):
    """Another worker took the import over: this one stops."""


def claim(import_id: int, now: datetime | None = None) -> str | None:
    """Take an import for this worker (committed); None if it is done, gone, or running
    elsewhere with a live claim."""
    now = now or utcnow()
    token = secrets.token_hex(16)
    claimable = ((ContactImport.status == ImportStatus.QUEUED)
                 | ((ContactImport.status == ImportStatus.RUNNING)
                    & (ContactImport.heartbeat_at < now - STALE_RUN)))
    taken = db.session.execute(
        update(ContactImport).where(ContactImport.id == import_id).where(claimable)
        .values(status=ImportStatus.RUNNING, run_token=token, heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return token if taken else None


def _spec(imp: ContactImport) -> RowSpec:
    return RowSpec(mapping=tuple(sorted((int(k), v) for k, v in imp.mapping.items())),
                   columns=tuple(imp.columns), tags=tuple(imp.tags or ()),
                   consent_source=imp.consent_source, consent_at=imp.consent_at,
                   consent_text=imp.consent_text, date_order=imp.date_order)


def batches(import_id: int, token: str) -> Iterator[int]:
    """Import the rows after ``last_line`` one committed batch at a time, yielding the rows
    read so far after each. Raises LostClaim if another worker took the import over."""
    imp = db.session.get(ContactImport, import_id)
    if imp.started_at is None:
        imp.started_at = utcnow()
        db.session.commit()
    spec, resume_after = _spec(imp), imp.last_line
    partner_id, list_ids = imp.partner_id, [imp.list_id] if imp.list_id else []
    issues_so_far = imp.issue_count
    rows = csvfile.records(imp.file_key, imp.parts, imp.encoding, imp.delimiter)
    batch: list[tuple[int, list[str]]] = []
    try:
        for line, cells in rows:
            if line <= resume_after:
                continue
            batch.append((line, cells))
            if len(batch) >= BATCH_ROWS:
                issues_so_far += _commit_batch(import_id, token, partner_id, spec, list_ids,
                                               batch, issues_so_far)
                batch = []
                yield _rows_read(import_id)
    except csvfile.CsvBroken:
        if batch:  # the rows read before the break are good: keep them
            _commit_batch(import_id, token, partner_id, spec, list_ids, batch, issues_so_far)
        raise
    if batch:
        _commit_batch(import_id, token, partner_id, spec, list_ids, batch, issues_so_far)
        yield _rows_read(import_id)


def _rows_read(import_id: int) -> int:
    return db.session.execute(
        select(ContactImport.rows_read).where(ContactImport.id == import_id)).scalar_one()


def _commit_batch(import_id: int, token: str, partner_id: int, spec: RowSpec,
                  list_ids: list[int], batch: list[tuple[int, list[str]]],
                  issues_so_far: int) -> int:
    """One transaction: progress (which also proves the claim), contacts, issues."""
    issues: list[dict] = []
    good: list[tuple[int, ContactValues]] = []
    read = 0
    for line, cells in batch:
        parsed = parse_row(cells, spec)
        if parsed is None:
            continue
        read += 1
        for problem in parsed.errors:
            issues.append(_issue(import_id, line, problem, skipped=True))
        for problem in parsed.warnings:
            issues.append(_issue(import_id, line, problem, skipped=False))
        if parsed.values is not None:
            good.append((line, parsed.values))
    skipped = read - len(good)
    done = upsert_many(partner_id, [v for _, v in good], via="import", list_ids=list_ids)
    created = sum(1 for u in done.values() if u.created)
    hashes = reasons_by_hash(u.email_hash for u in done.values())
    suppressed = 0
    for line, values in good:
        contact = done[values.email]
        why = (f"on the global list: {hashes[contact.email_hash].value.replace('_', ' ')}"
               if contact.email_hash in hashes else None)
        if why is None and contact.status is not ContactStatus.SUBSCRIBED:
            why = contact.status.value
        if why:
            suppressed += 1
            issues.append(dict(import_id=import_id, line=line, field="email", skipped=False,
                               message=SUPPRESSED_NOTE.format(why=why)))
    claimed = db.session.execute(
        update(ContactImport)
        .where(ContactImport.id == import_id, ContactImport.run_token == token,
               ContactImport.status == ImportStatus.RUNNING)
        .values(rows_read=ContactImport.rows_read + read,
                created=ContactImport.created + created,
                updated=ContactImport.updated + (len(good) - created),
                skipped=ContactImport.skipped + skipped,
                suppressed=ContactImport.suppressed + suppressed,
                issue_count=ContactImport.issue_count + len(issues),
                last_line=batch[-1][0], heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    if not claimed:
        db.session.rollback()
        raise LostClaim(import_id)
    room = max(0, MAX_ISSUES - issues_so_far)
    if issues and room:
        db.session.execute(insert(ContactImportIssue), issues[:room])
    db.session.commit()
    return len(issues)


def _issue(import_id: int, line: int, problem: FieldError, *, skipped: bool) -> dict:
    return dict(import_id=import_id, line=line, field=problem.field[:120], skipped=skipped,
                message=problem.message[:300])


def run(import_id: int, *, now: datetime | None = None,
        max_batches: int = BATCHES_PER_MESSAGE) -> ImportStatus | None:
    """The ``import_contacts`` actor's body: claim, import up to ``max_batches`` batches,
    then finish or hand over to a new message. Returns the status it left, or None if the
    import was not this worker's to run."""
    token = claim(import_id, now)
    if token is None:
        log.info("contact import %s: done, running elsewhere, or gone", import_id)
        return None
    try:
        for count, _ in enumerate(batches(import_id, token), start=1):
            if count >= max_batches:
                return _hand_over(import_id, token)
    except LostClaim:
        log.warning("contact import %s was taken over by another worker", import_id)
        return None
    except csvfile.CsvBroken as exc:
        db.session.rollback()
        return _end(import_id, token, ImportStatus.FAILED,
                    error=f"{exc} The rows before it are imported; fix the file and upload "
                          "it again.")
    except Exception:
        # Unexpected (database away, a bug): free the claim for Dramatiq's retry, which
        # continues after the last committed batch.
        db.session.rollback()
        _set(import_id, token, status=ImportStatus.QUEUED, run_token=None)
        db.session.commit()
        raise
    return _end(import_id, token, ImportStatus.DONE)


def _set(import_id: int, token: str, **values) -> bool:
    changed = db.session.execute(
        update(ContactImport).where(ContactImport.id == import_id,
                                    ContactImport.run_token == token)
        .values(**values).execution_options(synchronize_session=False)).rowcount
    return bool(changed)


def _hand_over(import_id: int, token: str) -> ImportStatus | None:
    if not _set(import_id, token, status=ImportStatus.QUEUED, run_token=None,
                queued_at=utcnow()):
        db.session.rollback()
        return None
    queue.enqueue(actor(), import_id)
    db.session.commit()
    return ImportStatus.QUEUED


def _end(import_id: int, token: str, status: ImportStatus,
         error: str | None = None) -> ImportStatus | None:
    if not _set(import_id, token, status=status, run_token=None, error=error,
                finished_at=utcnow()):
        db.session.rollback()
        return None
    imp = db.session.get(ContactImport, import_id)
    db.session.refresh(imp)
    audit.record("contacts.imported", target=imp, actor=None, after={
        "status": status.value, "rows": imp.rows_read, "created": imp.created,
        "updated": imp.updated, "skipped": imp.skipped})
    drop_file(imp)
    db.session.commit()
    return status


def give_up(import_id: int) -> None:
    """Dramatiq used up the retries: mark the import failed so the partner sees why."""
    db.session.execute(
        update(ContactImport).where(ContactImport.id == import_id,
                                    ContactImport.status.in_(ACTIVE))
        .values(status=ImportStatus.FAILED, error=GAVE_UP, run_token=None,
                finished_at=utcnow()).execution_options(synchronize_session=False))
    db.session.commit()
