"""The signed-in user of a browser session.

The session is a signed cookie, so clearing it on sign-out only empties this browser's copy;
a copy taken earlier would still work. Each sign-in therefore gets a random session id, and
sign-out records that id in Redis until the cookie would have expired anyway.
"""

from __future__ import annotations

import secrets

from flask import current_app, session
from sqlalchemy import select

from tcma.auth.models import User, UserStatus
from tcma.extensions import db
from tcma.redis import current_redis


def _signed_out_key(sid: str) -> str:
    return f"{current_app.config['REDIS_NAMESPACE']}:signed-out:{sid}"


def login_user(user: User) -> None:
    session.clear()  # a fresh session on sign-in: no fixation
    session["uid"] = user.public_id
    session["sid"] = secrets.token_urlsafe(16)
    session["stamp"] = user.security_stamp
    session["csrf"] = secrets.token_urlsafe(24)
    session.permanent = True


def logout_user() -> None:
    sid = session.get("sid")
    if sid:
        lifetime = int(current_app.permanent_session_lifetime.total_seconds())
        current_redis().set(_signed_out_key(sid), 1, ex=max(1, lifetime))
    session.clear()


def user_from_session() -> User | None:
    """The user this cookie belongs to, if still active and the cookie is still current."""
    public_id = session.get("uid")
    sid = session.get("sid")
    if not public_id or not sid or current_redis().exists(_signed_out_key(sid)):
        return None  # signed out (or a cookie from before session ids existed)
    user = db.session.execute(select(User).where(User.public_id == public_id)).scalar_one_or_none()
    if user is None or user.status is not UserStatus.ACTIVE:
        return None
    if session.get("stamp") != user.security_stamp:
        return None  # password changed, disabled or signed out everywhere since
    from tcma.partners.models import PartnerStatus

    if user.partner is not None and user.partner.status is not PartnerStatus.ACTIVE:
        return None
    return user


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(24)
    return token
