"""Small helpers the API routes share: JSON bodies, integer query parameters, vendor checks."""

from __future__ import annotations

from flask import abort, current_app, g, request

from tcma.api.schemas import TokenOut
from tcma.auth.permissions import can
from tcma.errors import FieldError


def token_out(t, cls=TokenOut, **extra):
    return cls(id=t.public_id, name=t.name, prefix=t.prefix, created_at=t.created_at,
               last_used_at=t.last_used_at, expires_at=t.expires_at, revoked_at=t.revoked_at,
               **extra)


def json_body(model, status: int = 200):
    if isinstance(model, list):
        body = "[" + ",".join(m.model_dump_json() for m in model) + "]"
    else:
        body = model.model_dump_json()
    return current_app.response_class(body, status=status, mimetype="application/json")


def int_arg(name: str, default: int | None, low: int, high: int | None,
             errors: list[FieldError]) -> int | None:
    """An integer query parameter; a malformed or out-of-range one is an error naming it."""
    raw = request.args.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        errors.append(FieldError(name, f"Use a whole number from {low} to {high}."
                                 if high is not None else f"Use a whole number, {low} or more."))
        return default
    return value


def require_vendor(permission: str) -> None:
    if not can(g.user, permission):
        abort(403 if g.user.is_vendor else 404)


