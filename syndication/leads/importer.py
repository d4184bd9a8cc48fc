"""Importing the vendor's own leads (from its website or CRM), by API or CSV: all or nothing.

Every item is checked first; one bad item imports nothing, and each error names its item
(``items[3].email``) or CSV line. An ``external_id`` seen before updates that lead instead of
adding a second one. An item naming a partner is given to it directly; the others are routed
by the rules, by a queued message (the request never waits for a thousand routings).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from syndication.leads import routing
from syndication.leads.form import _clean
from syndication.leads.models import Lead, LeadEvent, LeadEventKind, LeadStatus, Routing
from syndication.leads.routing_schemas import MAX_IMPORT, LeadImportItem, located
from syndication.leads.service import CONTACT_FIELDS, _lead_event
from tcma import audit, queue
from tcma.auth.models import User
from tcma.errors import Conflict, FieldError, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.importer import _decode
from tcma.partners.models import Partner, PartnerStatus

#: The fields an import may set besides the contact fields (and the partner).
EXTRA_FIELDS = ("language", "source", "consent_given", "consent_text")
CSV_COLUMNS = tuple(LeadImportItem.model_fields)
ROUTE_BATCH = 100
_YES = {"1", "yes", "y", "true", "x", "ja", "oui", "si", "sí"}


@dataclass
class ImportOutcome:
    imported: bool
    created: int = 0
    updated: int = 0
    assigned: int = 0
    routed: int = 0
    leads: list[str] = field(default_factory=list)


def import_leads(items: list[LeadImportItem], *, by: User | None,
                 dry_run: bool = False) -> ImportOutcome:
    """Create or update every item's lead, or none when any item is wrong (ValidationFailed
    naming ``items[i].field``). A dry run checks and counts, and writes nothing."""
    errors = check_items(items)
    if errors:
        raise ValidationFailed(errors)
    partners = _partners_named(items)
    existing = _leads_by_external_id([i.external_id for i in items if i.external_id])
    return _apply(items, partners, existing, by=by, dry_run=dry_run)


def check_items(items: list[LeadImportItem]) -> list[FieldError]:
    """What the database says about well-formed items: unknown or inactive partners, and an
    external id sent twice in one import."""
    partners = _partners_named(items)
    errors: list[FieldError] = []
    first_of: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.partner_id:
            partner = partners.get(item.partner_id)
            if partner is None:
                errors.append(FieldError(f"items[{index}].partner_id", "No such partner."))
            elif partner.status is not PartnerStatus.ACTIVE:
                errors.append(FieldError(f"items[{index}].partner_id",
                                         f"{partner.name} is {partner.status.value}."))
        if item.external_id:
            if item.external_id in first_of:
                errors.append(FieldError(f"items[{index}].external_id",
                                         f"Same as items[{first_of[item.external_id]}]; "
                                         "send each lead once."))
            first_of.setdefault(item.external_id, index)
    return errors


def _apply(items: list[LeadImportItem], partners: dict[str, Partner],
           existing: dict[str, Lead], *, by: User | None, dry_run: bool) -> ImportOutcome:
    outcome = ImportOutcome(imported=not dry_run)
    to_route: list[int] = []
    for item in items:
        lead = existing.get(item.external_id) if item.external_id else None
        partner = partners.get(item.partner_id) if item.partner_id else None
        outcome.updated += lead is not None
        outcome.created += lead is None
        outcome.assigned += partner is not None and (lead is None or lead.partner_id !=
                                                     partner.id)
        outcome.routed += partner is None and lead is None
        if dry_run:
            continue
        if lead is None:
            lead = _create(item, partner, by=by)
            if partner is None:
                to_route.append(lead.id)
        else:
            _update(lead, item, partner, by=by)
        outcome.leads.append(lead.public_id)
    if dry_run:
        return outcome
    try:
        db.session.flush()
    except IntegrityError:  # another import created one of these external ids meanwhile
        raise Conflict("Another import added some of these leads at the same moment; send "
                       "the list again to update them.") from None
    from syndication.leads.tasks import route_new_leads

    for start in range(0, len(to_route), ROUTE_BATCH):
        queue.enqueue(route_new_leads, to_route[start:start + ROUTE_BATCH])
    audit.record("leads.imported", actor=by, after={
        "created": outcome.created, "updated": outcome.updated,
        "assigned": outcome.assigned, "routed": outcome.routed})
    return outcome


def _partners_named(items: list[LeadImportItem]) -> dict[str, Partner]:
    wanted = {i.partner_id for i in items if i.partner_id}
    if not wanted:
        return {}
    return {p.public_id: p for p in db.session.execute(
        select(Partner).where(Partner.public_id.in_(wanted))).scalars()}


def _leads_by_external_id(ids: list[str]) -> dict[str, Lead]:
    found: dict[str, Lead] = {}
    for start in range(0, len(ids), 500):
        found.update({lead.external_id: lead for lead in db.session.execute(
            select(Lead).where(Lead.external_id.in_(ids[start:start + 500]))).scalars()})
    return found


def _values(item: LeadImportItem) -> dict:
    values = {name: _clean(getattr(item, name), multiline=name == "message")
              for name in CONTACT_FIELDS}
    values.update(language=item.language, source=_clean(item.source),
                  consent_given=item.consent_given,
                  consent_text=item.consent_text if item.consent_given else "")
    return values


def _create(item: LeadImportItem, partner: Partner | None, *, by: User | None) -> Lead:
    now = utcnow()
    lead = Lead(partner=partner, page_id=None, status=LeadStatus.NEW,
                routing=Routing.ROUTED if partner else Routing.UNROUTED,
                channel="web", utm={}, submissions=1, last_submitted_at=now,
                consent_version=0, external_id=item.external_id, **_values(item))
    db.session.add(lead)
    actor = routing._label(by)
    db.session.add(LeadEvent(lead=lead, kind=LeadEventKind.CREATED, actor_label=actor,
                             actor_id=by.id if by else None, to_status=LeadStatus.NEW.value,
                             data={"import": True, "source": lead.source or None,
                                   "external_id": item.external_id}))
    if partner is not None:
        db.session.add(LeadEvent(lead=lead, kind=LeadEventKind.ASSIGNED, actor_label=actor,
                                 actor_id=by.id if by else None, partner_id=partner.id,
                                 text="Imported for this partner.",
                                 data={"partner": partner.public_id,
                                       "partner_name": partner.name}))
    db.session.flush()
    if partner is not None:
        from syndication.leads.tasks import notify_new_lead

        queue.enqueue(notify_new_lead, lead.id)
    _lead_event("lead.created", lead)
    return lead


def _update(lead: Lead, item: LeadImportItem, partner: Partner | None, *,
            by: User | None) -> None:
    """The lead again from the vendor's system: refresh what changed, keep the history; a
    different partner named means the lead moves to that partner."""
    changed = []
    for name, value in _values(item).items():
        if name == "email" and value.lower() == lead.email.lower():
            continue
        if value != getattr(lead, name):
            setattr(lead, name, value)
            changed.append(name)
    if changed:
        lead.last_submitted_at = utcnow()
        db.session.add(LeadEvent(lead=lead, kind=LeadEventKind.UPDATED,
                                 actor_label=routing._label(by), actor_id=by.id if by else None,
                                 data={"changed": changed, "import": True}))
        db.session.flush()
    if partner is not None and lead.partner_id != partner.id:
        routing.assign(lead, partner, by=by, note="Assigned by an import.")
    elif changed:
        _lead_event("lead.updated", lead)


# --- CSV -----------------------------------------------------------------------------------


@dataclass
class CsvReport:
    """What the import page shows: each line's problems, or the outcome."""

    lines: int = 0
    errors: list[tuple[int, FieldError]] = field(default_factory=list)
    file_error: str | None = None
    outcome: ImportOutcome | None = None


def import_csv(raw: bytes, *, by: User | None, dry_run: bool = False) -> CsvReport:
    """The same import from a spreadsheet with the API's field names as columns; consent
    columns take yes/no. Nothing is imported while any line has an error."""
    try:
        text = _decode(raw)
    except ValidationFailed as exc:
        return CsvReport(file_error=exc.message)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    headers = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    if "email" not in headers:
        return CsvReport(file_error="The file needs an 'email' column. Columns: "
                                    + ", ".join(CSV_COLUMNS) + ".")
    unknown = [h for h in headers if h and h not in CSV_COLUMNS]
    if unknown:
        return CsvReport(file_error=f"Unknown column(s): {', '.join(unknown)}. Columns: "
                                    + ", ".join(CSV_COLUMNS) + ".")
    reader.fieldnames = headers
    report = CsvReport()
    items: list[LeadImportItem] = []
    line_of: list[int] = []
    for record in reader:
        data = {k: (v or "").strip() for k, v in record.items() if k}
        if not any(data.values()):
            continue
        report.lines += 1
        if report.lines > MAX_IMPORT:
            return CsvReport(file_error=f"The file has more than {MAX_IMPORT} leads; split "
                                        "it into smaller files.")
        line = reader.line_num
        if None in record:
            report.errors.append((line, FieldError("row", "More cells than the header.")))
            continue
        data["consent_given"] = data.get("consent_given", "").lower() in _YES
        try:
            items.append(LeadImportItem.model_validate(data))
            line_of.append(line)
        except ValidationError as exc:
            for err in exc.errors():
                _, name, message = located(err)
                report.errors.append((line, FieldError(name or "row", message)))
    # Partners and repeated ids, named by item: say the line (all problems in one report).
    for error in check_items(items):
        index, _, name = error.field.removeprefix("items[").partition("].")
        report.errors.append((line_of[int(index)], FieldError(name, error.message)))
    report.errors.sort(key=lambda pair: pair[0])
    if report.errors:
        return report
    if not items:
        return CsvReport(file_error="The file has no lead rows.")
    report.outcome = import_leads(items, by=by, dry_run=dry_run)
    return report
