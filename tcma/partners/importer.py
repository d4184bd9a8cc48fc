"""Importing partners from CSV: every row is checked first; one bad row imports nothing.

The report names each row's line number and what is wrong with it, so a channel manager can
fix the spreadsheet and upload it again without wondering which partners already exist.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy import func, select

from tcma.auth import service as accounts
from tcma.auth.models import User
from tcma.errors import FieldError, ValidationFailed
from tcma.extensions import db
from tcma.partners.models import Partner
from tcma.partners.schemas import PartnerCreate
from tcma.partners.service import choices_context, create_partner

COLUMNS = ("name", "tier", "region", "language", "type", "slug", "admin_email", "admin_name")
REQUIRED_COLUMNS = ("name", "tier", "region", "type")
MAX_ROWS = 5000


@dataclass
class RowReport:
    line: int
    name: str
    errors: list[FieldError] = field(default_factory=list)
    partner_public_id: str | None = None


@dataclass
class ImportReport:
    rows: list[RowReport]
    imported: bool
    file_errors: list[str] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        return len(self.file_errors) + sum(1 for r in self.rows if r.errors)

    def as_dict(self) -> dict:
        return {
            "imported": self.imported,
            "rows": len(self.rows),
            "created": sum(1 for r in self.rows if r.partner_public_id),
            "file_errors": self.file_errors,
            "errors": [
                {"line": r.line, "name": r.name,
                 "errors": [{"field": e.field, "message": e.message} for e in r.errors]}
                for r in self.rows if r.errors
            ],
            "partners": [r.partner_public_id for r in self.rows if r.partner_public_id],
        }


def _decode(raw: bytes) -> str:
    if b"\x00" in raw:  # UTF-16 (Excel "Unicode text") or a binary file: cp1252 would accept it
        raise ValidationFailed([FieldError(
            "file", "The file is not UTF-8 text (it looks like UTF-16 or a binary file). "
            "Save it as CSV (UTF-8).")])
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed([FieldError("file", "The file is not text. Save it as CSV (UTF-8).")])


def import_partners(raw: bytes, *, by: User | None, dry_run: bool = False) -> ImportReport:
    """Check every row, then create all partners, or none if any row is wrong."""
    text = _decode(raw)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in headers]
    if missing:
        return ImportReport(rows=[], imported=False, file_errors=[
            f"Missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}. "
            f"Expected columns: {', '.join(COLUMNS)}."])
    unknown = [h for h in headers if h and h not in COLUMNS]
    if unknown:
        return ImportReport(rows=[], imported=False, file_errors=[
            f"Unknown column{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"Expected columns: {', '.join(COLUMNS)}."])
    reader.fieldnames = headers

    rows: list[tuple[RowReport, dict]] = []
    seen_names: dict[str, int] = {}
    seen_slugs: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    context = choices_context()
    for record in reader:
        line = reader.line_num
        data = {k: (v or "").strip() for k, v in record.items() if k}
        if not any(data.values()):
            continue  # blank line
        if None in record:
            report = RowReport(line, data.get("name", ""), [FieldError(
                "row", "This row has more cells than the header.")])
            rows.append((report, data))
            continue
        clean = {k: v for k, v in data.items() if v != ""}
        clean.setdefault("language", "en")
        report = RowReport(line, data.get("name", ""))
        try:
            fields = PartnerCreate.model_validate(clean, context=context)
        except ValidationError as exc:
            report.errors.extend(ValidationFailed.from_pydantic(exc).errors)
            rows.append((report, clean))
            continue
        key = fields.name.lower()
        if key in seen_names:
            report.errors.append(FieldError("name", f"Duplicate of line {seen_names[key]}."))
        elif db.session.execute(
            select(Partner.id).where(func.lower(Partner.name) == key)
        ).first():
            report.errors.append(FieldError("name", "A partner with this name already exists."))
        seen_names.setdefault(key, line)
        if fields.slug:
            if fields.slug in seen_slugs:
                report.errors.append(
                    FieldError("slug", f"Duplicate of line {seen_slugs[fields.slug]}."))
            elif db.session.execute(select(Partner.id).where(Partner.slug == fields.slug)).first():
                report.errors.append(FieldError("slug", "Another partner already uses this slug."))
            seen_slugs.setdefault(fields.slug, line)
        if fields.admin_email:
            email = str(fields.admin_email).lower()
            if email in seen_emails:
                report.errors.append(
                    FieldError("admin_email", f"Duplicate of line {seen_emails[email]}."))
            elif accounts.find_user_by_email(email):
                report.errors.append(
                    FieldError("admin_email", "A user with this email already exists."))
            seen_emails.setdefault(email, line)
        rows.append((report, clean))
        if len(rows) > MAX_ROWS:
            return ImportReport(rows=[], imported=False, file_errors=[
                f"The file has more than {MAX_ROWS} partners; split it into smaller files."])

    reports = [r for r, _ in rows]
    if not rows:
        return ImportReport(rows=[], imported=False, file_errors=["The file has no partner rows."])
    if any(r.errors for r in reports) or dry_run:
        return ImportReport(rows=reports, imported=False)
    for report, data in rows:
        partner = create_partner(data, by=by)
        report.partner_public_id = partner.public_id
    return ImportReport(rows=reports, imported=True)
