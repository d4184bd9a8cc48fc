"""API routes for webhooks: endpoints, their secrets, their delivery log, resend and test.

The routes join the shared ``/api/v1`` blueprint through ``tcma.api.endpoint``; the rules live
in ``service`` and ``deliveries``.
"""

from __future__ import annotations

from datetime import timedelta

from flask import g, request

from tcma.api import endpoint
from tcma.api.responses import int_arg, json_body
from tcma.errors import FieldError, ValidationFailed
from tcma.extensions import db
from tcma.webhooks import deliveries, events, service
from tcma.webhooks.api_schemas import (
    WebhookCreated,
    WebhookDeliveryDetail,
    WebhookDeliveryOut,
    WebhookEventTypeOut,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
    WebhookSecretOut,
    WebhookSecretRotate,
)
from tcma.webhooks.models import DeliveryStatus

PERMISSION = "webhooks.manage"


@endpoint("/webhook-events", "GET", summary="The event types endpoints can subscribe to",
          tag="webhooks", permission=PERMISSION, response=list[WebhookEventTypeOut])
def list_webhook_events():
    return json_body([WebhookEventTypeOut(name=e.name, description=e.description)
                      for e in events.subscribable_events()])


@endpoint("/webhooks", "GET", summary="Webhook endpoints, newest first", tag="webhooks",
          permission=PERMISSION, response=list[WebhookOut])
def list_webhooks():
    return json_body([WebhookOut.of(e) for e in service.list_endpoints()])


@endpoint("/webhooks", "POST", summary="Register a webhook endpoint", tag="webhooks",
          permission=PERMISSION, body=WebhookIn, response=WebhookCreated, status=201)
def create_webhook(body: WebhookIn):
    """The answer holds the signing secret. Addresses must be https:// and resolve to
    public addresses; each error names ``url`` or ``events``."""
    created, secret = service.create_endpoint(body.model_dump(), by=g.user)
    db.session.commit()
    return json_body(WebhookCreated(**WebhookOut.fields_of(created), secret=secret), 201)


@endpoint("/webhooks/<webhook_id>", "GET", summary="One webhook endpoint", tag="webhooks",
          permission=PERMISSION, response=WebhookOut)
def get_webhook(webhook_id: str):
    return json_body(WebhookOut.of(service.get_endpoint(webhook_id)))


@endpoint("/webhooks/<webhook_id>", "PATCH",
          summary="Change an endpoint's address, events or description, or pause/resume it",
          tag="webhooks", permission=PERMISSION, body=WebhookPatch, response=WebhookOut)
def update_webhook(webhook_id: str, body: WebhookPatch):
    target = service.get_endpoint(webhook_id)
    changes = body.model_dump(exclude_unset=True)
    status = changes.pop("status", None)
    if changes:
        current = {"url": target.url, "description": target.description,
                   "events": target.events}
        service.update_endpoint(target, {**current, **changes}, by=g.user)
    if status is not None:
        service.set_status(target, status, by=g.user)
    db.session.commit()
    return json_body(WebhookOut.of(target))


@endpoint("/webhooks/<webhook_id>", "DELETE",
          summary="Delete an endpoint and its delivery log", tag="webhooks",
          permission=PERMISSION, status=204)
def delete_webhook(webhook_id: str):
    service.delete_endpoint(service.get_endpoint(webhook_id), by=g.user)
    db.session.commit()
    return "", 204


@endpoint("/webhooks/<webhook_id>/secret", "GET", summary="Reveal the signing secret",
          tag="webhooks", permission=PERMISSION, response=WebhookSecretOut)
def reveal_webhook_secret(webhook_id: str):
    """Each reveal is written to the audit log."""
    target = service.get_endpoint(webhook_id)
    secret = service.reveal_secret(target, by=g.user)
    db.session.commit()
    return json_body(WebhookSecretOut(
        secret=secret, previous_valid_until=service.previous_secret_valid_until(target)))


@endpoint("/webhooks/<webhook_id>/secret", "POST", summary="Rotate the signing secret",
          tag="webhooks", permission=PERMISSION, body=WebhookSecretRotate,
          response=WebhookSecretOut)
def rotate_webhook_secret(webhook_id: str, body: WebhookSecretRotate):
    """The old secret keeps signing beside the new one for ``keep_previous_hours``."""
    target = service.get_endpoint(webhook_id)
    secret = service.rotate_secret(target, by=g.user,
                                   keep_previous_for=timedelta(hours=body.keep_previous_hours))
    db.session.commit()
    return json_body(WebhookSecretOut(
        secret=secret, previous_valid_until=service.previous_secret_valid_until(target)))


@endpoint("/webhooks/<webhook_id>/test", "POST", summary="Send the endpoint a test event",
          tag="webhooks", permission=PERMISSION, response=WebhookDeliveryOut, status=202,
          errors={409: "The endpoint is paused."})
def send_webhook_test(webhook_id: str):
    """A ``webhook.test`` event, whatever the endpoint subscribes to; follow it with
    ``GET /webhook-deliveries/{webhook_delivery_id}``."""
    delivery = deliveries.send_test(service.get_endpoint(webhook_id), by=g.user)
    db.session.commit()
    return json_body(WebhookDeliveryOut.of(delivery), 202)


@endpoint("/webhooks/<webhook_id>/deliveries", "GET",
          summary="An endpoint's delivery log, newest first", tag="webhooks",
          permission=PERMISSION, response=list[WebhookDeliveryOut],
          query={"status": "pending | sending | retrying | succeeded | failed",
                 "before": "Only deliveries older than this delivery id (for paging)",
                 "limit": "1-200 (default 50)"})
def list_webhook_deliveries(webhook_id: str):
    target = service.get_endpoint(webhook_id)
    errors: list[FieldError] = []
    limit = int_arg("limit", 50, 1, 200, errors)
    status = request.args.get("status") or None
    if status and status not in {s.value for s in DeliveryStatus}:
        errors.append(FieldError("status", "Use pending, sending, retrying, succeeded or "
                                           "failed."))
    if errors:
        raise ValidationFailed(errors)
    found = deliveries.list_deliveries(target, status=DeliveryStatus(status) if status else None,
                                       before=request.args.get("before") or None, limit=limit)
    return json_body([WebhookDeliveryOut.of(d) for d in found])


@endpoint("/webhook-deliveries/<webhook_delivery_id>", "GET",
          summary="One delivery with its body and every attempt", tag="webhooks",
          permission=PERMISSION, response=WebhookDeliveryDetail)
def get_webhook_delivery(webhook_delivery_id: str):
    return json_body(WebhookDeliveryDetail.of(deliveries.get_delivery(webhook_delivery_id)))


@endpoint("/webhook-deliveries/<webhook_delivery_id>/resend", "POST",
          summary="Attempt a delivery again now", tag="webhooks", permission=PERMISSION,
          response=WebhookDeliveryOut, status=202,
          errors={409: "An attempt is under way, or the endpoint is paused."})
def resend_webhook_delivery(webhook_delivery_id: str):
    """A new attempt of the same delivery: same event id and body, a new timestamp and
    signature. If it fails, the automatic retries left continue."""
    delivery = deliveries.resend(deliveries.get_delivery(webhook_delivery_id), by=g.user)
    db.session.commit()
    return json_body(WebhookDeliveryOut.of(delivery), 202)
