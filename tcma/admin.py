"""Vendor administration: staff accounts and the audit log."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from tcma import audit
from tcma.auth import forms
from tcma.auth import service as accounts
from tcma.auth.models import VENDOR_ROLES, User
from tcma.auth.permissions import requires
from tcma.tenancy import get_or_404

blueprint = Blueprint("admin", __name__)


@blueprint.route("/admin/staff", methods=["GET", "POST"])
@requires("staff.manage")
def staff():
    if request.method == "POST":
        forms.invite_from_form(roles=VENDOR_ROLES)
        return redirect(url_for("admin.staff"))
    return render_template("admin/staff.html", users=accounts.list_users(partner_id=None,
                                                                         vendor=True),
                           roles=sorted(VENDOR_ROLES, key=lambda r: r.value))


def _staff_member(user_id: str) -> User:
    user = get_or_404(User, user_id)
    if not user.is_vendor:
        abort(404)
    return user


@blueprint.post("/admin/staff/<user_id>/status")
@requires("staff.manage")
def staff_status(user_id: str):
    forms.change_status_from_form(_staff_member(user_id))
    return redirect(url_for("admin.staff"))


@blueprint.post("/admin/staff/<user_id>/resend")
@requires("staff.manage")
def staff_resend(user_id: str):
    forms.resend_invite(_staff_member(user_id))
    return redirect(url_for("admin.staff"))


@blueprint.get("/admin/audit")
@requires("audit.view")
def audit_log():
    before_id = request.args.get("before", type=int)
    action = request.args.get("action") or None
    events = audit.list_events(action=action, before_id=before_id, limit=50)
    return render_template("admin/audit.html", events=events, action=action or "",
                           next_before=events[-1].id if len(events) == 50 else None)
