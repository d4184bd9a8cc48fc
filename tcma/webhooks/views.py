"""Webhook pages for vendor admins: endpoints, secrets, the delivery log, resend and test."""

from __future__ import annotations

import json
from datetime import timedelta

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from tcma.auth.permissions import requires
from tcma.errors import DomainError, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.webhooks import deliveries, events, service
from tcma.webhooks.attempts import request_body
from tcma.webhooks.models import DeliveryStatus, EndpointStatus, WebhookEndpoint

blueprint = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")
PERMISSION = "webhooks.manage"


def _fields_from_form() -> dict:
    return {"url": request.form.get("url", ""),
            "description": request.form.get("description", ""),
            "events": request.form.getlist("events")}


def _form_page(endpoint: WebhookEndpoint | None, form, errors: ValidationFailed | None):
    return render_template("webhooks/form.html", endpoint=endpoint, form=form, errors=errors,
                           events=events.subscribable_events()), (422 if errors else 200)


@blueprint.get("")
@requires(PERMISSION)
def index():
    return render_template("webhooks/index.html", endpoints=service.list_endpoints(),
                           counts=deliveries.recent_counts(utcnow() - timedelta(days=7)))


@blueprint.route("/new", methods=["GET", "POST"])
@requires(PERMISSION)
def new():
    if request.method == "GET":
        return _form_page(None, {"events": []}, None)
    form = _fields_from_form()
    try:
        endpoint, secret = service.create_endpoint(form, by=g.user)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _form_page(None, form, exc)
    flash("Endpoint added. Copy its signing secret now.", "success")
    return _show_page(endpoint, secret=secret)


@blueprint.get("/<webhook_id>")
@requires(PERMISSION)
def show(webhook_id: str):
    return _show_page(service.get_endpoint(webhook_id))


def _show_page(endpoint: WebhookEndpoint, *, secret: str | None = None, status: int = 200):
    wanted = request.args.get("status") or ""
    status_filter = DeliveryStatus(wanted) if wanted in {s.value for s in DeliveryStatus} \
        else None
    log = deliveries.list_deliveries(endpoint, status=status_filter,
                                     before=request.args.get("before") or None, limit=50)
    page = render_template(
        "webhooks/show.html", endpoint=endpoint, secret=secret, log=log,
        status_filter=status_filter.value if status_filter else "",
        statuses=[s.value for s in DeliveryStatus],
        next_before=log[-1].public_id if len(log) == 50 else None,
        previous_valid_until=service.previous_secret_valid_until(endpoint),
        describe=events.describe, schedule=_schedule(),
        timeout=float(current_app.config.get("WEBHOOKS_TIMEOUT", 10)))
    # A page showing a secret must not stay in a browser's or a proxy's cache.
    return page, status, ({"Cache-Control": "no-store"} if secret else {})


def _schedule() -> str:
    """The retry pauses as people say them: "30 s, 2 min, 10 min, 1 h"."""
    def say(seconds: float) -> str:
        for unit, size in (("h", 3600), ("min", 60)):
            if seconds >= size and seconds % size == 0:
                return f"{int(seconds // size)} {unit}"
        return f"{seconds:g} s"

    return ", ".join(say(s) for s in deliveries.retry_delays())


@blueprint.route("/<webhook_id>/edit", methods=["GET", "POST"])
@requires(PERMISSION)
def edit(webhook_id: str):
    endpoint = service.get_endpoint(webhook_id)
    if request.method == "GET":
        return _form_page(endpoint, {"url": endpoint.url, "description": endpoint.description,
                                     "events": endpoint.events}, None)
    form = _fields_from_form()
    try:
        service.update_endpoint(endpoint, form, by=g.user)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _form_page(endpoint, form, exc)
    flash("Endpoint saved.", "success")
    return redirect(url_for("webhooks.show", webhook_id=endpoint.public_id))


@blueprint.post("/<webhook_id>/status")
@requires(PERMISSION)
def change_status(webhook_id: str):
    endpoint = service.get_endpoint(webhook_id)
    wanted = request.form.get("status")
    if wanted not in {s.value for s in EndpointStatus}:
        raise DomainError("Choose to pause or to resume the endpoint.")
    service.set_status(endpoint, EndpointStatus(wanted), by=g.user)
    db.session.commit()
    flash("Endpoint resumed: waiting deliveries are being sent." if endpoint.active else
          "Endpoint paused: it gets no new events until you resume it.", "success")
    return redirect(url_for("webhooks.show", webhook_id=endpoint.public_id))


@blueprint.post("/<webhook_id>/delete")
@requires(PERMISSION)
def delete(webhook_id: str):
    endpoint = service.get_endpoint(webhook_id)
    url = endpoint.url
    service.delete_endpoint(endpoint, by=g.user)
    db.session.commit()
    flash(f"Endpoint {url} deleted with its delivery log.", "success")
    return redirect(url_for("webhooks.index"))


@blueprint.post("/<webhook_id>/secret")
@requires(PERMISSION)
def secret(webhook_id: str):
    """Reveal (``action=reveal``) or rotate the signing secret; the page shows it once."""
    endpoint = service.get_endpoint(webhook_id)
    if request.form.get("action") == "rotate":
        hours = request.form.get("keep_previous_hours", type=int) or 0
        value = service.rotate_secret(endpoint, keep_previous_for=timedelta(hours=hours),
                                      by=g.user)
        flash("New signing secret made." + (f" The old one keeps signing for {hours} h."
                                             if hours else " The old one no longer signs."),
              "success")
    else:
        value = service.reveal_secret(endpoint, by=g.user)
    db.session.commit()
    return _show_page(endpoint, secret=value)


@blueprint.post("/<webhook_id>/test")
@requires(PERMISSION)
def send_test(webhook_id: str):
    endpoint = service.get_endpoint(webhook_id)
    deliveries.send_test(endpoint, by=g.user)
    db.session.commit()
    flash("Test event queued; its delivery appears below.", "success")
    return redirect(url_for("webhooks.show", webhook_id=endpoint.public_id))


@blueprint.get("/deliveries/<webhook_delivery_id>")
@requires(PERMISSION)
def delivery(webhook_delivery_id: str):
    found = deliveries.get_delivery(webhook_delivery_id)
    return render_template("webhooks/delivery.html", delivery=found, endpoint=found.endpoint,
                           body=_pretty_body(found), describe=events.describe)


@blueprint.post("/deliveries/<webhook_delivery_id>/resend")
@requires(PERMISSION)
def resend(webhook_delivery_id: str):
    found = deliveries.resend(deliveries.get_delivery(webhook_delivery_id), by=g.user)
    db.session.commit()
    flash(f"Attempt {found.attempts + 1} of {found.event} queued.", "success")
    back = request.form.get("back")
    if back == "endpoint":
        return redirect(url_for("webhooks.show", webhook_id=found.endpoint.public_id))
    return redirect(url_for("webhooks.delivery", webhook_delivery_id=found.public_id))


def _pretty_body(delivery) -> str:
    """The body as sent, indented for people."""
    return json.dumps(json.loads(request_body(delivery)), indent=2, ensure_ascii=False)
