"""What the contacts API accepts and answers. Values are checked by ``fields.clean`` (the same
rules as the form and the CSV import); these models give the document its shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from syndication.email.fields import MAX_CUSTOM_FIELDS, MAX_TAGS
from syndication.email.lists import MAX_MEMBERS_PER_CALL, ListCounts
from syndication.email.models import (
    Contact,
    ContactImport,
    ContactImportIssue,
    ContactList,
    ContactStatus,
    ImportStatus,
    SuppressionReason,
)
from syndication.email.report import describe, percent

_DATE = ("When the person consented: an ISO 8601 date (2026-03-31) or date-time; not in the "
         "future")


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class ContactFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    first_name: str = Field(default="", max_length=100)
    last_name: str = Field(default="", max_length=100)
    company: str = Field(default="", max_length=200)
    job_title: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=50)
    country: str = Field(default="", max_length=60,
                         description="ISO 3166 two-letter code (or an English country name)")
    language: str = Field(default="", max_length=16, description="e.g. en, de, pt-BR")
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    custom_fields: dict[str, str] = Field(
        default_factory=dict, max_length=MAX_CUSTOM_FIELDS,
        description="Your own fields: name (up to 50 characters) -> text (up to 500)")
    consent_text: str = Field(default="", max_length=2000,
                              description="The wording the person agreed to, if known")


class ContactIn(ContactFields):
    """A new contact. If you have the address already, the values merge into that contact
    (non-empty values win, tags add up) and the answer is 200 instead of 201."""

    email: str = Field(max_length=254)
    consent_source: str = Field(max_length=200,
                                description="Where the permission came from, e.g. 'trade show "
                                            "2026', 'website form', 'existing customer'")
    consent_date: str = Field(max_length=40, description=_DATE)
    unsubscribed: bool = Field(default=False, description="Import the contact as unsubscribed")
    list_ids: list[str] = Field(default_factory=list, max_length=50,
                                description="Lists to add the contact to, besides the default")


class ContactPatch(BaseModel):
    """Only the fields sent change; ``unsubscribed: true`` unsubscribes the contact (only the
    person can subscribe again)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str = Field(default=None, max_length=254, json_schema_extra=_no_default)
    first_name: str = Field(default=None, max_length=100, json_schema_extra=_no_default)
    last_name: str = Field(default=None, max_length=100, json_schema_extra=_no_default)
    company: str = Field(default=None, max_length=200, json_schema_extra=_no_default)
    job_title: str = Field(default=None, max_length=200, json_schema_extra=_no_default)
    phone: str = Field(default=None, max_length=50, json_schema_extra=_no_default)
    country: str = Field(default=None, max_length=60, json_schema_extra=_no_default)
    language: str = Field(default=None, max_length=16, json_schema_extra=_no_default)
    tags: list[str] = Field(default=None, max_length=MAX_TAGS, json_schema_extra=_no_default)
    custom_fields: dict[str, str] = Field(default=None, max_length=MAX_CUSTOM_FIELDS,
                                          json_schema_extra=_no_default)
    consent_source: str = Field(default=None, max_length=200, json_schema_extra=_no_default)
    consent_date: str = Field(default=None, max_length=40, description=_DATE,
                              json_schema_extra=_no_default)
    consent_text: str = Field(default=None, max_length=2000, json_schema_extra=_no_default)
    unsubscribed: bool = Field(default=None, json_schema_extra=_no_default)

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("Leave the field out to keep it; it cannot be null")
        return v


class ContactConsentOut(BaseModel):
    source: str
    date: datetime
    text: str | None


class ContactOut(BaseModel):
    id: str
    email: str
    first_name: str
    last_name: str
    company: str
    job_title: str
    phone: str
    country: str
    language: str
    tags: list[str]
    custom_fields: dict[str, str]
    consent: ContactConsentOut
    status: ContactStatus = Field(description="This partner's own state of the contact")
    status_changed_at: datetime | None
    status_reason: str | None = Field(description="How the status changed")
    suppressed: SuppressionReason | None = Field(
        description="Set when the address is on the program's global suppression list")
    can_email: bool = Field(description="Subscribed and not suppressed: launches email it")
    created_via: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: Contact, suppressed: SuppressionReason | None) -> ContactOut:
        return cls(id=c.public_id, email=c.email, first_name=c.first_name,
                   last_name=c.last_name, company=c.company, job_title=c.job_title,
                   phone=c.phone, country=c.country, language=c.language, tags=c.tag_names,
                   custom_fields=c.custom_fields or {},
                   consent=ContactConsentOut(source=c.consent_source, date=c.consent_at,
                                      text=c.consent_text),
                   status=c.status, status_changed_at=c.status_changed_at,
                   status_reason=c.status_reason, suppressed=suppressed,
                   can_email=suppressed is None and c.status is ContactStatus.SUBSCRIBED,
                   created_via=c.created_via, created_at=c.created_at, updated_at=c.updated_at)


class ContactDetail(ContactOut):
    list_ids: list[str] = Field(description="The lists the contact is on, the default first")


class ContactPage(BaseModel):
    total: int
    items: list[ContactOut]


class ContactListIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=300)


class ContactListOut(BaseModel):
    id: str
    name: str
    description: str
    is_default: bool = Field(description="'All contacts': every contact is on it")
    members: int
    sendable: int = Field(description="Members who are subscribed and not suppressed")
    created_at: datetime

    @classmethod
    def of(cls, lst: ContactList, counts: ListCounts) -> ContactListOut:
        return cls(id=lst.public_id, name=lst.name, description=lst.description,
                   is_default=lst.is_default, members=counts.members, sendable=counts.sendable,
                   created_at=lst.created_at)


class ListMembersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_ids: list[str] = Field(min_length=1, max_length=MAX_MEMBERS_PER_CALL)


class ListMembersOut(BaseModel):
    changed: int = Field(description="How many contacts joined (or left) the list")
    contact_list: ContactListOut


class ContactImportForm(BaseModel):
    """The text fields sent beside the file."""

    mapping: str = Field(default="", description="JSON object: column name (or index from 0) "
                         "-> email | first_name | last_name | full_name | company | job_title "
                         "| phone | country | language | tags | consent_source | consent_date "
                         "| consent_text | unsubscribed | custom (kept as your own field). "
                         "Left out: guessed from the header names")
    list_id: str = Field(default="", description="A list to add the contacts to")
    new_list: str = Field(default="", max_length=100, description="Or a new list's name")
    tags: str = Field(default="", description="Tags for every contact, comma-separated")
    consent_source: str = Field(default="", max_length=200,
                                description="For rows without their own (required unless "
                                            "a column is mapped)")
    consent_date: str = Field(default="", description=_DATE + " (for rows without their own)")
    consent_text: str = Field(default="", max_length=2000)
    date_order: str = Field(default="dmy", description="dmy | mdy: how to read 03/04/2026",
                            json_schema_extra={"enum": ["dmy", "mdy"]})


class ContactImportProblem(BaseModel):
    line: int
    field: str
    message: str
    skipped: bool = Field(description="True: the row was not imported")


class ContactImportOut(BaseModel):
    id: str
    filename: str
    status: ImportStatus
    percent: int = Field(description="Progress, 100 when done")
    encoding: str
    delimiter: str
    columns: list[str]
    mapping: dict[str, str] = Field(description="Column index -> field")
    rows_read: int
    created: int
    updated: int
    skipped: int
    suppressed: int = Field(description="Imported rows that will not be emailed")
    issue_count: int
    problems: list[ContactImportProblem] = Field(description="The first 1,000 problems, by line")
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    report_url: str = Field(description="Every problem as CSV")

    @classmethod
    def of(cls, imp: ContactImport, problems: list[ContactImportIssue],
           report_url: str) -> ContactImportOut:
        return cls(id=imp.public_id, filename=imp.filename, status=imp.status,
                   percent=percent(imp), encoding=imp.encoding, delimiter=imp.delimiter,
                   columns=imp.columns, mapping=imp.mapping, rows_read=imp.rows_read,
                   created=imp.created, updated=imp.updated, skipped=imp.skipped,
                   suppressed=imp.suppressed, issue_count=imp.issue_count,
                   problems=[ContactImportProblem(line=p.line, field=describe(imp, p.field),
                                           message=p.message, skipped=p.skipped)
                             for p in problems],
                   error=imp.error, created_at=imp.created_at, finished_at=imp.finished_at,
                   report_url=report_url)
