"""Request plumbing shared by every page: who is asking, tenancy, CSRF, errors, branding."""

from __future__ import annotations

import hmac
import logging

from flask import Flask, g, jsonify, render_template, request, session
from werkzeug.exceptions import HTTPException

from tcma.auth.permissions import can
from tcma.auth.session import csrf_token, user_from_session
from tcma.errors import DomainError, TooManyRequests
from tcma.tenancy import scope_session_to_partner

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
#: Paths whose POSTs are not checked against the session's CSRF token: the API uses bearer
#: tokens (no cookies); public landing-page forms (``/p/``) are posted by visitors without a
#: session and carry their own signed, page-bound form token instead; one-click unsubscribes
#: (``/u/``, RFC 8058) come from mail clients with no session, and mail-feedback
#: notifications (``/email/feedback/``) from mail services, which sign them instead.
#: Paths posted to without a session: token-authenticated API calls, public lead forms, the
#: one-click unsubscribe, mail-service feedback, and embedded widgets' impression beacons.
CSRF_EXEMPT_PREFIXES = (API_PREFIX, "/p/", "/u/", "/email/feedback/", "/embed/")


#: Endpoints that never act for a signed-in user, so the user is not looked up (the tracking
#: redirect answers at volume and must do the least work). Domains add theirs at import.
ANONYMOUS_ENDPOINTS = {"static", "health.healthz"}


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def init_app(app: Flask) -> None:
    app.before_request(_load_user)
    app.before_request(_check_csrf)
    app.after_request(_security_headers)
    app.context_processor(_template_globals)
    # Globals (not context) so imported macros can use them too.
    app.jinja_env.globals.update(csrf_token=csrf_token,
                                 can=lambda permission: can(g.get("user"), permission))
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)


def _load_user() -> None:
    g.user = None
    # Start every request unscoped: a session that outlives one request (a test's app
    # context) must not carry the previous caller's partner into this one.
    scope_session_to_partner(None)
    if is_api_request() or request.endpoint in ANONYMOUS_ENDPOINTS:
        return  # the API authenticates by bearer token in its own hook
    user = user_from_session()
    if user is None and session.get("uid"):
        session.clear()
    g.user = user
    if user is not None and user.partner_id is not None:
        # Loaded unscoped a moment ago: the user row and their own partner (joined), both
        # theirs to see; everything else the session holds is expired by the scope change.
        scope_session_to_partner(user.partner_id, keep=(user, user.partner))
    else:
        scope_session_to_partner(None)


def _check_csrf():
    if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith(
        CSRF_EXEMPT_PREFIXES
    ):
        return None
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(sent, expected):
        return (
            render_template(
                "errors/error.html",
                status=400,
                title="This form has expired",
                message="Reload the page and try again.",
            ),
            400,
        )
    return None


def _security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if not request.path.startswith("/embed/"):
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    return response


def _template_globals() -> dict:
    from tcma.program import current_program

    return {
        "current_user": g.get("user"),
        "program": current_program(),
    }


def problem(status: int, title: str, detail: str, errors=None, headers=None):
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _domain_error(exc: DomainError):
    from tcma.extensions import db

    db.session.rollback()
    headers = {}
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    if is_api_request():
        return problem(exc.status, exc.title, exc.message, exc.errors, headers)
    html = render_template("errors/error.html", status=exc.status, title=exc.title,
                           message=exc.message)
    return html, exc.status, headers


def _http_error(exc: HTTPException):
    if is_api_request():
        # Keep headers the status needs (Allow on 405, Retry-After...), not the HTML type.
        keep = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return problem(exc.code or 500, exc.name, exc.description or exc.name, headers=keep)
    if exc.code in (301, 302, 303, 307, 308):
        return exc
    messages = {
        404: "There is nothing here, or you do not have access to it.",
        403: "Your role does not give access to this page.",
        413: "That upload is too large.",
    }
    html = render_template(
        "errors/error.html",
        status=exc.code,
        title=exc.name,
        message=messages.get(exc.code, exc.description),
    )
    return html, exc.code
