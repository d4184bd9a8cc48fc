"""What an import shows: its progress while it runs, its report of bad rows when it is done."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy import select

from syndication.email.mapping import field_label
from syndication.email.models import ContactImport, ContactImportIssue, ImportStatus

#: A spreadsheet treats a cell starting with one of these as a formula (or a DDE call).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
REPORT_COLUMNS = ("line", "column", "field", "problem", "outcome")
FINISHED = (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.CANCELLED)


def percent(imp: ContactImport) -> int:
    """How far along, from the lines counted at upload (rows can span lines, so this is an
    estimate until the end, which is 100)."""
    if imp.status is ImportStatus.DONE:
        return 100
    rows = max(1, imp.line_estimate - 1)
    return min(99, int(100 * imp.last_line / rows)) if imp.last_line else 0


def progress(imp: ContactImport) -> dict:
    """The numbers the progress page polls (and the API answers)."""
    return {"status": imp.status.value, "percent": percent(imp), "rows_read": imp.rows_read,
            "created": imp.created, "updated": imp.updated, "skipped": imp.skipped,
            "suppressed": imp.suppressed, "issues": imp.issue_count,
            "finished": imp.status in FINISHED, "error": imp.error}


def issues(imp: ContactImport, limit: int | None = None) -> list[ContactImportIssue]:
    query = (select(ContactImportIssue).where(ContactImportIssue.import_id == imp.id)
             .order_by(ContactImportIssue.line, ContactImportIssue.id))
    from tcma.extensions import db

    return list(db.session.execute(query.limit(limit) if limit else query).scalars())


def columns_by_field(imp: ContactImport) -> dict[str, str]:
    """{field: the file's column name} (a full name column stands for both names)."""
    found: dict[str, str] = {}
    for index, field in (imp.mapping or {}).items():
        name = imp.columns[int(index)]
        for one in (("first_name", "last_name") if field == "full_name" else (field,)):
            found.setdefault(one, name)
    return found


def describe(imp: ContactImport, field: str) -> str:
    """A field as the partner reads it: 'Email (column E-Mail)'."""
    column = columns_by_field(imp).get(field)
    return f"{field_label(field)} (column {column})" if column else field_label(field)


def safe_cell(value) -> str:
    """A value as a CSV cell that a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def report_csv(imp: ContactImport) -> Iterator[str]:
    """The report as CSV text in pieces (UTF-8 BOM first, so spreadsheets read accents)."""
    out = io.StringIO()
    writer = csv.writer(out)
    out.write("\ufeff")
    writer.writerow(REPORT_COLUMNS)
    columns = columns_by_field(imp)
    for n, issue in enumerate(issues(imp), start=1):
        outcome = "skipped" if issue.skipped else "imported"
        writer.writerow([issue.line, safe_cell(columns.get(issue.field, "")),
                         safe_cell(field_label(issue.field)), safe_cell(issue.message),
                         outcome])
        if n % 500 == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()
