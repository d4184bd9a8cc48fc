"""User actions posted from the pages that manage people: the vendor's staff page, a
partner's detail page and a partner's own team page. Each reads the form, calls the account
service, commits or rolls back, and tells the person what happened with a flash message."""

from __future__ import annotations

from collections.abc import Iterable

from flask import flash, g, request

from tcma.auth import service as accounts
from tcma.auth.models import Role, User, UserStatus
from tcma.errors import DomainError
from tcma.extensions import db


def invite_from_form(*, roles: Iterable[Role], partner=None, default: Role | None = None
                     ) -> None:
    """Invite the person named in the form with one of ``roles``."""
    allowed = set(roles)
    try:
        role = Role(request.form.get("role") or (default.value if default else ""))
    except ValueError:
        role = None
    if role not in allowed:
        flash(f"Choose a role: {', '.join(sorted(r.label.lower() for r in allowed))}.", "error")
        return
    _commit_or_flash(
        lambda: accounts.invite_user(email=request.form.get("email", ""),
                                     name=request.form.get("name", ""), role=role,
                                     partner=partner, invited_by=g.user),
        lambda user: f"Invitation sent to {user.email}.",
    )


def resend_invite(user: User) -> None:
    _commit_or_flash(lambda: accounts.send_invite(user, invited_by=g.user),
                     lambda _: f"A new invitation is on its way to {user.email}.")


def change_status_from_form(user: User) -> None:
    """Disable or re-enable ``user`` as the form's ``status`` says."""
    try:
        status = UserStatus(request.form.get("status", ""))
    except ValueError:
        status = UserStatus.INVITED
    if status is UserStatus.INVITED:
        flash("Choose active or disabled.", "error")
        return
    _commit_or_flash(lambda: accounts.set_user_status(user, status, by=g.user),
                     lambda _: f"{user.name} is now {user.status.value}.")


def _commit_or_flash(action, success) -> None:
    try:
        result = action()
        db.session.commit()
        flash(success(result), "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
