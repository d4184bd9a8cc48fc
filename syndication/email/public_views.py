"""What email recipients and mail services reach without signing in.

- ``/u/<ref>``: the unsubscribe page (GET shows it, POST unsubscribes: the page's button and
  mail clients' RFC 8058 one-click POST alike).
- ``/o/<ref>.gif``: the open pixel (see ``opens``).
- ``/email/feedback/ses`` and ``/email/feedback/webhook``: bounces and complaints from mail
  services, signed (see ``feedback``).

No session, no CSRF token (``tcma.web`` exempts these paths): a one-click POST comes from a
mail provider's server. Settings (``TCMA_<NAME>`` in the environment):
``UNSUBSCRIBE_IP_LIMIT`` (60) POSTs per ``UNSUBSCRIBE_WINDOW_SECONDS`` (60) per address.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from syndication.email import feedback, opens
from syndication.email import unsubscribe as unsubscribing
from tcma import ratelimit
from tcma.errors import DomainError, TooManyRequests
from tcma.extensions import db
from tcma.web import ANONYMOUS_ENDPOINTS, problem

blueprint = Blueprint("email_public", __name__)
ANONYMOUS_ENDPOINTS.update({"email_public.unsubscribe", "email_public.ses_feedback",
                            "email_public.feedback_webhook", "email_public.opened"})


@blueprint.get("/o/<ref>.gif")
def opened(ref: str):
    """The open pixel: always the image, whatever the ref, so it never shows broken."""
    if opens.record(ref, request.headers.get("User-Agent", "")):
        db.session.commit()
    response = current_app.response_class(opens.PIXEL, mimetype="image/gif")
    response.headers["Cache-Control"] = "no-store, private"
    return response


@blueprint.route("/u/<ref>", methods=["GET", "POST"])
def unsubscribe(ref: str):
    """GET only shows the page: mail scanners and link previews follow links."""
    if request.method == "POST":
        return _unsubscribe(ref)
    shown = unsubscribing.recipient(ref)
    if shown is None:
        return _page("email_public/not_found.html", 404)
    return _page("email_public/unsubscribe.html", 200, recipient=shown, ref=ref)


def _unsubscribe(ref: str):
    cfg = current_app.config
    try:
        ratelimit.hit("unsubscribe-ip", request.remote_addr or "-",
                      limit=int(cfg.get("UNSUBSCRIBE_IP_LIMIT", 60)),
                      window=int(cfg.get("UNSUBSCRIBE_WINDOW_SECONDS", 60)))
    except TooManyRequests as exc:
        response = _page("email_public/busy.html", 429, message=exc.message)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    # RFC 8058: the mail client posts "List-Unsubscribe=One-Click" (urlencoded or multipart).
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    everywhere = not one_click and request.form.get("everywhere") == "yes"
    delivery = unsubscribing.unsubscribe(
        ref, everywhere=everywhere,
        how=unsubscribing.BY_ONE_CLICK if one_click else unsubscribing.BY_LINK)
    if delivery is None:
        return _page("email_public/not_found.html", 404)
    db.session.commit()
    return _page("email_public/unsubscribed.html", 200,
                 recipient=unsubscribing.recipient(ref), everywhere=everywhere)


def _page(template: str, status: int, **context):
    response = current_app.make_response((render_template(template, **context), status))
    response.headers["Cache-Control"] = "no-store"
    # The ref in this URL unsubscribes: never hand it to a site linked from the page.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@blueprint.post("/email/feedback/ses")
def ses_feedback():
    """Amazon SNS delivering SES bounce and complaint notifications."""
    try:
        done = feedback.handle_sns(request.get_data())
    except DomainError as exc:
        return _refused(exc)
    db.session.commit()
    return {"status": "ok", "detail": done}


@blueprint.post("/email/feedback/webhook")
def feedback_webhook():
    """Bounces and complaints from any other mail service, signed with
    ``EMAIL_FEEDBACK_SECRET``; answers 404 while that is not set."""
    if not feedback.webhook_enabled():
        return problem(404, "Not found", "Mail feedback webhooks are not enabled here "
                                         "(EMAIL_FEEDBACK_SECRET is not set).")
    try:
        recorded = feedback.handle_webhook(request.headers.get("Tcma-Signature"),
                                           request.get_data())
    except DomainError as exc:
        return _refused(exc)
    db.session.commit()
    return {"status": "ok", "recorded": recorded}


def _refused(exc: DomainError):
    db.session.rollback()
    current_app.logger.info("mail feedback refused (%s): %s", exc.status, exc.message)
    return problem(exc.status, exc.title, exc.message, exc.errors)
