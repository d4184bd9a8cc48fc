"""What the lead API accepts and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from syndication.leads.history import EventView, history
from syndication.leads.inbox import MAX_NOTE
from syndication.leads.models import Lead, LeadEvent, LeadEventKind, LeadStatus, Routing
from tcma.auth.models import User


class LeadStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: LeadStatus = Field(description="new → accepted → working → qualified → won | lost; "
                                           "new or accepted → rejected (with a reason)")
    reason: str = Field(default="", max_length=1000,
                        description="Why (required when rejecting)")
    note: str = Field(default="", max_length=MAX_NOTE, description="A note for the history")


class LeadNoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=MAX_NOTE)


class Consent(BaseModel):
    given: bool
    text: str = Field(description="The exact wording the person agreed to")
    version: int = Field(description="The landing page's consent version of that wording")


class LeadOut(BaseModel):
    id: str
    partner_id: str | None = Field(description="Null while a generic page's lead is unrouted")
    partner_name: str | None
    page_id: str | None
    page_title: str | None
    routing: Routing = Field(description="direct | unrouted | routed (by hand) | offered | "
                                         "accepted (an offer) | pulled_back (moving on)")
    offer_expires_at: datetime | None = Field(
        description="While offered: when the offer lapses unless accepted")
    status: LeadStatus
    status_reason: str | None
    first_name: str
    last_name: str
    email: str
    company: str
    job_title: str
    phone: str
    country: str = Field(description="ISO 3166 two-letter code, or empty")
    message: str
    language: str = Field(description="The person's language code, when known")
    source: str = Field(description="Where an imported lead came from")
    external_id: str | None = Field(description="The vendor system's id of an imported lead")
    consent: Consent
    channel: str = Field(description="email | social | web | qr | asset")
    first_click_id: str | None = Field(description="Tracking-link click id of the first touch")
    last_click_id: str | None = Field(description="Tracking-link click id of the last touch")
    utm: dict[str, str] = Field(description="source, medium, campaign, content, term")
    submissions: int = Field(description="How many times the person sent the form")
    last_submitted_at: datetime
    created_at: datetime
    updated_at: datetime

    @classmethod
    def fields_of(cls, lead: Lead) -> dict[str, Any]:
        return dict(
            id=lead.public_id, partner_id=lead.partner.public_id if lead.partner else None,
            partner_name=lead.partner.name if lead.partner else None,
            page_id=lead.page.public_id if lead.page else None,
            page_title=lead.page.title if lead.page else None, routing=lead.routing,
            offer_expires_at=lead.offer_expires_at,
            status=lead.status, status_reason=lead.status_reason, first_name=lead.first_name,
            last_name=lead.last_name, email=lead.email, company=lead.company,
            job_title=lead.job_title, phone=lead.phone, country=lead.country,
            message=lead.message, language=lead.language, source=lead.source,
            external_id=lead.external_id,
            consent=Consent(given=lead.consent_given, text=lead.consent_text,
                            version=lead.consent_version),
            channel=lead.channel, first_click_id=lead.first_click_id,
            last_click_id=lead.last_click_id, utm=dict(lead.utm or {}),
            submissions=lead.submissions, last_submitted_at=lead.last_submitted_at,
            created_at=lead.created_at, updated_at=lead.updated_at)

    @classmethod
    def of(cls, lead: Lead) -> LeadOut:
        return cls(**cls.fields_of(lead))


class LeadEventOut(BaseModel):
    kind: LeadEventKind
    occurred_at: datetime
    actor: str
    from_status: str | None
    to_status: str | None
    text: str | None
    data: dict[str, Any] | None

    @classmethod
    def of(cls, e: LeadEvent | EventView) -> LeadEventOut:
        return cls(kind=e.kind, occurred_at=e.occurred_at, actor=e.actor_label,
                   from_status=e.from_status, to_status=e.to_status, text=e.text, data=e.data)


class LeadDetail(LeadOut):
    events: list[LeadEventOut] = Field(description="The lead's history, oldest first")

    @classmethod
    def of(cls, lead: Lead, viewer: User | None) -> LeadDetail:  # type: ignore[override]
        """With the history ``viewer`` may see (all of it for vendor staff)."""
        return cls(**cls.fields_of(lead),
                   events=[LeadEventOut.of(e) for e in history(lead, viewer)])


class LeadPage(BaseModel):
    total: int
    items: list[LeadOut]
