"""The JSON API under ``/api/v1``: bearer tokens, problem documents, and an OpenAPI document
generated from the same declarations that register the routes, so the two cannot drift.

Routes are declared with ``endpoint(...)``, which records the method, path, summary, request
and response models and the permission; ``/api/v1/openapi.json`` is built from that record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Blueprint, g, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import BadRequest

from tcma.auth.permissions import PERMISSIONS, can
from tcma.errors import DomainError, ValidationFailed
from tcma.tenancy import scope_session_to_partner

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")


@dataclass
class Operation:
    method: str
    rule: str
    endpoint: str
    summary: str
    tag: str
    permission: str | None
    body: type[BaseModel] | None = None
    response: Any = None  # a model, list[model], or None for 204
    status: int = 200
    query: dict[str, str] = field(default_factory=dict)  # name -> description
    multipart: dict[str, str] = field(default_factory=dict)  # file field -> description
    description: str = ""
    #: A model for the 422 problem document when it carries more than ``errors``.
    problem: type[BaseModel] | None = None
    #: Other success statuses answering with the same response model (e.g. a dry run's 200).
    also_status: tuple[int, ...] = ()
    #: A success body that is not JSON (e.g. ``"image/png"``), documented as binary content.
    binary: str | None = None
    #: For a redirect (``status=302``): what its Location header points at.
    location: str | None = None
    #: The text fields sent beside the files of a multipart body, as a model.
    form: type[BaseModel] | None = None
    #: Problem answers beyond the usual ones: status -> when it happens.
    errors: dict[int, str] = field(default_factory=dict)
    #: Problem documents carrying more than ``errors`` (RFC 9457 extension members), as a
    #: model per status; for 422 use ``problem``.
    problems: dict[int, type[BaseModel]] = field(default_factory=dict)


OPERATIONS: list[Operation] = []


def endpoint(
    rule: str,
    method: str,
    *,
    summary: str,
    tag: str,
    permission: str | None,
    body: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    query: dict[str, str] | None = None,
    multipart: dict[str, str] | None = None,
    problem: type[BaseModel] | None = None,
    also_status: tuple[int, ...] = (),
    binary: str | None = None,
    location: str | None = None,
    form: type[BaseModel] | None = None,
    errors: dict[int, str] | None = None,
    problems: dict[int, type[BaseModel]] | None = None,
):
    """Register an API route and describe it for the OpenAPI document.

    ``permission=None`` marks a public route (no token needed). A body model is validated
    before the view runs and passed as the ``body`` keyword.
    """
    if permission is not None and permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def decorate(view):
        name = view.__name__

        @wraps(view)
        def handler(*args, **kwargs):
            if permission is not None:
                _authenticate()
                if not can(g.user, permission):
                    # Partner users get 404 for vendor routes, like on the pages.
                    raise _Denied(403 if g.user.is_vendor else 404)
            if body is not None:
                payload = _json_body()
                try:
                    kwargs["body"] = body.model_validate(payload, context=_context())
                except ValidationError as exc:
                    raise ValidationFailed.from_pydantic(exc) from exc
            return view(*args, **kwargs)

        doc = (view.__doc__ or "").strip()
        OPERATIONS.append(Operation(method.upper(), rule, f"api.{name}", summary, tag, permission,
                                    body, response, status, dict(query or {}),
                                    dict(multipart or {}), doc, problem,
                                    tuple(also_status), binary=binary, location=location,
                                    form=form, errors=dict(errors or {}),
                                    problems=dict(problems or {})))
        blueprint.add_url_rule(rule, endpoint=name, view_func=handler, methods=[method.upper()])
        return handler

    return decorate


def _json_body() -> dict:
    """The request body as a JSON object, or a 400 that says what was wrong with it."""
    if not request.is_json:
        raise DomainError("Send a JSON object with Content-Type: application/json.")
    try:
        payload = request.get_json()
    except BadRequest as exc:
        raise DomainError("The request body is not valid JSON.") from exc
    if not isinstance(payload, dict):
        raise DomainError("Send a JSON object (not a list or a single value) as the body.")
    return payload


def _context() -> dict:
    from tcma.partners.service import choices_context

    return choices_context()


class _Denied(DomainError):
    def __init__(self, status: int):
        self.status = status
        self.title = "Forbidden" if status == 403 else "Not found"
        super().__init__("Your role does not give access to this." if status == 403
                         else "There is nothing here, or you do not have access to it.")


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"


def _authenticate() -> None:
    from tcma.auth.service import user_for_api_token

    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("Send an API token as 'Authorization: Bearer <token>'.")
    user = user_for_api_token(secret.strip())
    if user is None:
        g.api_token_invalid = True  # RFC 6750: tell the client to get a new token
        raise Unauthorized("This API token is not valid, has expired or was revoked.")
    g.user = user
    scope_session_to_partner(user.partner_id)


@blueprint.after_request
def _commit_token_use(response):
    # Token bookkeeping (last used) is committed with successful reads too.
    from tcma.extensions import db

    if response.status_code < 400:
        db.session.commit()
    return response


@blueprint.after_request
def _auth_header(response):
    if response.status_code == 401:
        challenge = 'Bearer realm="tcma"'
        if g.get("api_token_invalid"):
            challenge += ', error="invalid_token"'
        response.headers["WWW-Authenticate"] = challenge
    return response


# Route modules register themselves on import.
from tcma.api import openapi, partners, people, program  # noqa: E402,F401
