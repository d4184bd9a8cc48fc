"""Webhook endpoints: registering, changing, pausing and deleting them, and their secrets.

Services flush but never commit; the caller owns the transaction. Every change is audited,
without the secret.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select

from tcma import audit
from tcma.errors import FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.webhooks import deliveries, destinations, events, signing
from tcma.webhooks.models import EndpointStatus, WebhookEndpoint

AUDITED = ("url", "description", "events", "status")
#: How long an old secret may keep signing after a rotation, at most.
MAX_OVERLAP = timedelta(hours=72)


class EndpointFields(BaseModel):
    """What an admin says about an endpoint, from the form or the API."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    url: str = Field(min_length=1, max_length=destinations.MAX_URL_LENGTH,
                     description="https:// address that receives the POSTs",
                     examples=["https://crm.example.com/hooks/tcma"])
    description: str = Field(default="", max_length=500, description="What it is for")
    events: list[str] = Field(min_length=1, max_length=100,
                              description="Event types to receive (GET /webhook-events)")

    @field_validator("events")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = [e for e in v if e == events.TEST_EVENT or not events.is_registered(e)]
        if unknown:
            names = ", ".join(e.name for e in events.subscribable_events()) or "none yet"
            raise ValueError(f"Unknown event type(s) {', '.join(unknown)}; choose from: {names}")
        return list(dict.fromkeys(v))


def parse_fields(data: dict[str, Any]) -> EndpointFields:
    """Validate the fields and the URL (resolved, against the address rules)."""
    errors: list[FieldError] = []
    fields = None
    try:
        fields = EndpointFields.model_validate(data)
    except ValidationError as exc:
        errors = ValidationFailed.from_pydantic(exc).errors
    if not any(e.field == "url" for e in errors):  # say everything wrong at once
        try:
            url = destinations.check_url(str(data.get("url") or ""))
        except destinations.Refused as exc:
            errors.append(FieldError("url", exc.message))
    if errors or fields is None:
        raise ValidationFailed(errors)
    fields.url = url
    return fields


def list_endpoints() -> list[WebhookEndpoint]:
    return list(db.session.execute(
        select(WebhookEndpoint).order_by(WebhookEndpoint.created_at.desc(),
                                         WebhookEndpoint.id.desc())).scalars())


def get_endpoint(public_id: str) -> WebhookEndpoint:
    endpoint = db.session.execute(
        select(WebhookEndpoint).where(WebhookEndpoint.public_id == public_id)
    ).scalar_one_or_none()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def create_endpoint(data: dict[str, Any], *, by=None) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it with its new signing secret, which is shown once."""
    fields = parse_fields(data)
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(url=fields.url, description=fields.description,
                               events=fields.events, status=EndpointStatus.ACTIVE,
                               secret_encrypted=signing.encrypt(secret),
                               secret_hint=signing.hint(secret),
                               created_by_id=getattr(by, "id", None))
    db.session.add(endpoint)
    db.session.flush()
    audit.record("webhook.create", target=endpoint, actor=by,
                 after=audit.snapshot(endpoint, AUDITED))
    return endpoint, secret


def update_endpoint(endpoint: WebhookEndpoint, data: dict[str, Any], *, by=None) -> None:
    """Replace the URL, description and events (send them all)."""
    fields = parse_fields(data)
    before = audit.snapshot(endpoint, AUDITED)
    endpoint.url, endpoint.description = fields.url, fields.description
    endpoint.events = fields.events
    db.session.flush()
    after = audit.snapshot(endpoint, AUDITED)
    if after != before:
        audit.record("webhook.update", target=endpoint, actor=by, before=before, after=after)


def set_status(endpoint: WebhookEndpoint, status: EndpointStatus, *, by=None) -> None:
    """Pause (no new events; waiting deliveries wait) or resume (they are attempted now)."""
    if endpoint.status is status:
        return
    before = audit.snapshot(endpoint, ("status",))
    endpoint.status = status
    db.session.flush()
    if status is EndpointStatus.ACTIVE:
        deliveries.wake(endpoint)
    audit.record("webhook.resume" if status is EndpointStatus.ACTIVE else "webhook.pause",
                 target=endpoint, actor=by, before=before,
                 after=audit.snapshot(endpoint, ("status",)))


def delete_endpoint(endpoint: WebhookEndpoint, *, by=None) -> None:
    """Remove the endpoint with its delivery log; nothing more is sent to it."""
    audit.record("webhook.delete", target=endpoint, actor=by,
                 before=audit.snapshot(endpoint, AUDITED))
    db.session.delete(endpoint)
    db.session.flush()


def reveal_secret(endpoint: WebhookEndpoint, *, by=None) -> str:
    """The current signing secret, for an admin setting up the receiver (audited)."""
    audit.record("webhook.secret_reveal", target=endpoint, actor=by)
    return signing.decrypt(endpoint.secret_encrypted)


def rotate_secret(endpoint: WebhookEndpoint, *, keep_previous_for: timedelta = timedelta(0),
                  by=None) -> str:
    """A new signing secret, returned once. The old one keeps signing beside it (a second
    ``v1=`` in the header) for ``keep_previous_for``, so the receiver can switch without
    refusing requests in between; zero ends it at once."""
    if keep_previous_for < timedelta(0) or keep_previous_for > MAX_OVERLAP:
        raise ValidationFailed([FieldError(
            "keep_previous_hours", f"Keep the old secret for 0 to "
                                   f"{int(MAX_OVERLAP.total_seconds() // 3600)} hours.")])
    now = utcnow()
    secret = signing.new_secret()
    if keep_previous_for:
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted
        endpoint.previous_secret_expires_at = now + keep_previous_for
    else:
        endpoint.previous_secret_encrypted = None
        endpoint.previous_secret_expires_at = None
    endpoint.secret_encrypted = signing.encrypt(secret)
    endpoint.secret_hint = signing.hint(secret)
    endpoint.secret_rotated_at = now
    db.session.flush()
    audit.record("webhook.secret_rotate", target=endpoint, actor=by,
                 after={"previous_valid_until": endpoint.previous_secret_expires_at})
    return secret


def previous_secret_valid_until(endpoint: WebhookEndpoint, now: datetime | None = None
                                ) -> datetime | None:
    """Until when the old secret still signs requests, if a rotation's overlap is running."""
    until = endpoint.previous_secret_expires_at
    return until if until is not None and until > (now or utcnow()) else None
