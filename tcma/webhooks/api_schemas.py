"""What the webhook API accepts and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tcma.webhooks import service
from tcma.webhooks.models import (
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

# --- requests ---------------------------------------------------------------------------------


class WebhookIn(service.EndpointFields):
    """A new endpoint. It starts active, with a new signing secret (answered once)."""


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class WebhookPatch(BaseModel):
    """PATCH semantics: only the fields sent change."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    url: str = Field(default=None, json_schema_extra=_no_default)
    description: str = Field(default=None, json_schema_extra=_no_default)
    events: list[str] = Field(default=None, json_schema_extra=_no_default)
    status: EndpointStatus = Field(default=None, json_schema_extra=_no_default,
                                   description="paused: no new events are recorded and "
                                               "waiting deliveries wait; active: they are "
                                               "attempted at once")

    @field_validator("url", "description", "events", "status", mode="before")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("Leave the field out to keep it; it cannot be null")
        return v


class WebhookSecretRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep_previous_hours: int = Field(
        default=24, ge=0, le=72,
        description="How long the old secret keeps signing beside the new one (0: not at all)")


# --- responses --------------------------------------------------------------------------------


class WebhookOut(BaseModel):
    id: str
    url: str
    description: str
    events: list[str]
    status: EndpointStatus
    secret_hint: str = Field(description="The last characters of the signing secret")
    secret_rotated_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def fields_of(cls, e: WebhookEndpoint) -> dict[str, Any]:
        return dict(id=e.public_id, url=e.url, description=e.description, events=e.events,
                    status=e.status, secret_hint=e.secret_hint,
                    secret_rotated_at=e.secret_rotated_at, created_at=e.created_at,
                    updated_at=e.updated_at)

    @classmethod
    def of(cls, e: WebhookEndpoint) -> WebhookOut:
        return cls(**cls.fields_of(e))


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret. Store it now: it is answered only "
                                    "here, and on GET or POST /webhooks/{webhook_id}/secret")


class WebhookSecretOut(BaseModel):
    secret: str
    previous_valid_until: datetime | None = Field(
        description="Until then requests carry a second v1= signature made with the old "
                    "secret")


class WebhookEventTypeOut(BaseModel):
    name: str
    description: str


class WebhookAttemptOut(BaseModel):
    number: int
    started_at: datetime
    duration_ms: int
    status_code: int | None = Field(description="Null when no answer came (see error)")
    error: str | None
    response_body: str = Field(description="The start of the answer's body (at most 2 kB)")
    succeeded: bool
    manual: bool = Field(description="Asked for with resend, not by the retry schedule")

    @classmethod
    def of(cls, a: WebhookAttempt) -> WebhookAttemptOut:
        return cls(number=a.number, started_at=a.started_at, duration_ms=a.duration_ms,
                   status_code=a.status_code, error=a.error, response_body=a.response_body,
                   succeeded=a.succeeded, manual=a.manual)


class WebhookDeliveryOut(BaseModel):
    id: str
    webhook_id: str
    event_id: str = Field(description="The body's id and the Tcma-Webhook-Id header")
    event: str
    status: DeliveryStatus
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_duration_ms: int | None
    occurred_at: datetime
    created_at: datetime
    succeeded_at: datetime | None

    @classmethod
    def fields_of(cls, d: WebhookDelivery) -> dict[str, Any]:
        return dict(id=d.public_id, webhook_id=d.endpoint.public_id, event_id=d.event_id,
                    event=d.event, status=d.status, attempts=d.attempts,
                    max_attempts=d.max_attempts, next_attempt_at=d.next_attempt_at,
                    last_status_code=d.last_status_code, last_error=d.last_error,
                    last_duration_ms=d.last_duration_ms, occurred_at=d.occurred_at,
                    created_at=d.created_at, succeeded_at=d.succeeded_at)

    @classmethod
    def of(cls, d: WebhookDelivery) -> WebhookDeliveryOut:
        return cls(**cls.fields_of(d))


class WebhookDeliveryDetail(WebhookDeliveryOut):
    data: dict[str, Any] = Field(description="The body's data, as sent with every attempt")
    attempt_log: list[WebhookAttemptOut] = Field(description="Oldest first")

    @classmethod
    def of(cls, d: WebhookDelivery) -> WebhookDeliveryDetail:
        return cls(**cls.fields_of(d), data=d.payload,
                   attempt_log=[WebhookAttemptOut.of(a) for a in d.attempt_log])
