"""Sign-in, sign-out, invites, password reset, and the user's own account page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from tcma.auth import service
from tcma.auth.permissions import requires
from tcma.auth.session import login_user, logout_user
from tcma.errors import DomainError, FieldError, TooManyRequests, ValidationFailed
from tcma.extensions import db

blueprint = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths: never let ``next`` send someone to another site."""
    if not target:
        return None
    # Browsers read a backslash as a slash (/\evil.example is //evil.example) and drop tabs
    # and newlines (/<TAB>/evil.example too): refuse both outright.
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _home() -> str:
    return url_for("portal.home")


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    if g.user is not None:
        return redirect(_home())
    error = None
    status = 200
    if request.method == "POST":
        try:
            user = service.authenticate(
                request.form.get("email", ""),
                request.form.get("password", ""),
                ip=request.remote_addr or "unknown",
            )
            db.session.commit()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or _home())
        except TooManyRequests as exc:
            db.session.rollback()
            error, status = exc.message, 429
        except DomainError as exc:
            db.session.rollback()
            error, status = exc.message, 401
    return render_template("auth/login.html", error=error, email=request.form.get("email", "")
                           ), status


@blueprint.post("/logout")
def logout():
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@blueprint.route("/forgot", methods=["GET", "POST"])
def forgot():
    sent = False
    error = None
    if request.method == "POST":
        try:
            service.request_password_reset(request.form.get("email", ""),
                                           ip=request.remote_addr or "unknown")
            db.session.commit()
            sent = True
        except TooManyRequests as exc:
            db.session.rollback()
            error = exc.message
    return render_template("auth/forgot.html", sent=sent, error=error)


@blueprint.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    return _set_password_page(token, "reset")


@blueprint.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str):
    return _set_password_page(token, "invite")


def _set_password_page(token: str, purpose: str):
    try:
        user = service.user_for_link(token, purpose)
    except service.InvalidLink as exc:
        return render_template("auth/link_invalid.html", message=exc.message, purpose=purpose), 400
    errors = None
    if request.method == "POST":
        password = request.form.get("password", "")
        if password != request.form.get("password_confirm", ""):
            errors = ValidationFailed(
                [FieldError("password_confirm", "The two passwords do not match.")]
            )
        else:
            try:
                if purpose == "invite":
                    user = service.accept_invite(token, password)
                else:
                    user = service.reset_password(token, password)
                db.session.commit()
                login_user(user)
                flash("Welcome! Your password is set." if purpose == "invite"
                      else "Your password has been changed.", "success")
                return redirect(_home())
            except ValidationFailed as exc:
                db.session.rollback()
                errors = exc
    return render_template("auth/set_password.html", user=user, purpose=purpose, errors=errors,
                           min_length=service.MIN_PASSWORD_LENGTH)


@blueprint.route("/account", methods=["GET", "POST"])
@requires("tokens.own")
def account():
    """The signed-in user's own page: API tokens (created, shown once, revoked)."""
    new_secret = None
    errors = None
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "create_token":
                days = request.form.get("expires_in_days", "").strip()
                _, new_secret = service.create_api_token(
                    g.user, request.form.get("name", ""),
                    expires_in_days=int(days) if days.isdigit() else None,
                )
            elif action == "revoke_token":
                service.revoke_api_token(g.user, request.form.get("token_id", ""))
                flash("Token revoked. Programs using it can no longer call the API.", "info")
            db.session.commit()
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        if new_secret is None and errors is None:
            return redirect(url_for("auth.account"))
    tokens = service.list_api_tokens(g.user)
    return render_template("auth/account.html", tokens=tokens, new_secret=new_secret,
                           errors=errors, revoked_or_expired=service.revoked_or_expired)
