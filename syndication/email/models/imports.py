"""Contact imports: an uploaded CSV, its column mapping, its progress and its report."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from syndication.email.models.contacts import ContactList
from tcma.extensions import db
from tcma.models import PublicIdMixin, TimestampMixin, UTCDateTime, enum_type
from tcma.partners.models import PartnerOwned


class ImportStatus(enum.Enum):
    MAPPING = "mapping"  # uploaded; waiting for the partner to map the columns
    QUEUED = "queued"  # mapped; a worker will pick it up (or continue it)
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"  # discarded before it ran, or left unmapped too long


class ContactImport(PublicIdMixin, PartnerOwned, TimestampMixin, db.Model):
    """One uploaded CSV of contacts, from upload to report.

    The file is kept in storage as consecutive parts (``file_key``/part-NNNNN) so the worker
    streams it part by part, and deleted once the import is over. Progress is committed with
    each batch of contacts, in the same transaction, so ``last_line`` is exactly where a
    resumed run continues.
    """

    __tablename__ = "contact_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[ImportStatus] = mapped_column(enum_type(ImportStatus),
                                                 default=ImportStatus.MAPPING)
    filename: Mapped[str] = mapped_column(String(255))
    #: Storage prefix of the parts; empty once the file is deleted.
    file_key: Mapped[str] = mapped_column(String(300))
    parts: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    encoding: Mapped[str] = mapped_column(String(16))
    delimiter: Mapped[str] = mapped_column(String(1))
    #: The header row's column names, in file order.
    columns: Mapped[list] = mapped_column(JSON)
    #: Lines in the file (counted at upload): the denominator of the progress bar.
    line_estimate: Mapped[int] = mapped_column(Integer)

    #: {column index as text: field}, field being a contact field or "custom:<name>".
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)
    list_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_lists.id", ondelete="SET NULL"))
    #: Tags added to every contact of the file.
    tags: Mapped[list] = mapped_column(JSON, default=list)
    #: The whole file's consent, used where a row has none of its own.
    consent_source: Mapped[str | None] = mapped_column(String(200))
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_text: Mapped[str | None] = mapped_column(Text)
    #: How to read dates such as 03/04/2026: dmy or mdy (ISO dates are always understood).
    date_order: Mapped[str] = mapped_column(String(3), default="dmy")

    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    #: Rows imported that will not be emailed (suppressed or unsubscribed).
    suppressed: Mapped[int] = mapped_column(Integer, default=0)
    #: Problems found, including any beyond those kept as issue rows.
    issue_count: Mapped[int] = mapped_column(Integer, default=0)
    #: The file line of the last row committed: a resumed run starts after it.
    last_line: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)

    #: The claim of the worker running it (a random token), renewed with every batch.
    run_token: Mapped[str | None] = mapped_column(String(32))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    contact_list: Mapped[ContactList | None] = relationship()


class ContactImportIssue(db.Model):
    """One problem with one row of an import: the report a partner downloads. It names the
    line and the field, never the row's values (the partner has the file)."""

    __tablename__ = "contact_import_issues"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(
        ForeignKey("contact_imports.id", ondelete="CASCADE"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(120))
    message: Mapped[str] = mapped_column(String(300))
    #: True: the row was not imported; False: imported, with this note.
    skipped: Mapped[bool] = mapped_column(Boolean)
