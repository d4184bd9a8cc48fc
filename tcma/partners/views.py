"""Partner pages: the vendor's partner directory and onboarding, and the partner's own
brand profile and team."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from tcma.auth import forms
from tcma.auth.models import PARTNER_ROLES, Role, User
from tcma.auth.permissions import can, requires
from tcma.errors import DomainError, ValidationFailed
from tcma.extensions import db
from tcma.partners import service
from tcma.partners.importer import COLUMNS, import_partners
from tcma.partners.models import Partner, PartnerStatus
from tcma.partners.schemas import timezone_choices
from tcma.tenancy import get_or_404

blueprint = Blueprint("partners", __name__)


def _choices() -> dict:
    return service.choices_context()


#: Form inputs that are partner data; the rest (CSRF token, buttons) must not reach the
#: schemas, which refuse unknown fields.
CREATE_FIELDS = ("name", "slug", "tier", "region", "language", "type", "admin_email",
                 "admin_name")
EDIT_FIELDS = ("name", "tier", "region", "language", "type")


def _partner_form(names: tuple[str, ...]) -> dict[str, str]:
    return {k: request.form[k] for k in names if k in request.form}


# --- vendor: directory and onboarding --------------------------------------------------------


@blueprint.get("/partners")
@requires("partners.view")
def index():
    page = max(1, request.args.get("page", 1, type=int))
    per_page = 50
    partners, total = service.list_partners(
        search=request.args.get("q") or None,
        tier=request.args.get("tier") or None,
        region=request.args.get("region") or None,
        status=request.args.get("status") if request.args.get("status") in
        {s.value for s in PartnerStatus} else None,
        limit=per_page,
        offset=(page - 1) * per_page,
    )
    return render_template("partners/index.html", partners=partners, total=total, page=page,
                           pages=max(1, -(-total // per_page)), choices=_choices(),
                           statuses=[s.value for s in PartnerStatus], args=request.args,
                           base_args={k: v for k, v in request.args.items() if k != "page"})


@blueprint.route("/partners/new", methods=["GET", "POST"])
@requires("partners.manage")
def new():
    errors = None
    if request.method == "POST":
        try:
            partner = service.create_partner(_partner_form(CREATE_FIELDS), by=g.user)
            db.session.commit()
            flash(f"{partner.name} created."
                  + (" An invitation is on its way to the partner admin."
                     if request.form.get("admin_email") else ""), "success")
            return redirect(url_for("partners.show", partner_id=partner.public_id))
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc
    return render_template("partners/form.html", partner=None, form=request.form,
                           errors=errors, choices=_choices())


@blueprint.route("/partners/import", methods=["GET", "POST"])
@requires("partners.manage")
def import_csv():
    report = None
    error = None
    if request.method == "POST":
        upload = request.files.get("file")
        raw = upload.read(_csv_limit() + 1) if upload else b""
        if not raw:
            error = "Choose a CSV file to import."
        elif len(raw) > _csv_limit():
            error = f"The file is larger than {_csv_limit() // 1_048_576} MB; split it."
        else:
            try:
                report = import_partners(raw, by=g.user,
                                         dry_run=request.form.get("dry_run") == "1")
                if report.imported:
                    db.session.commit()
                    flash(f"Imported {len(report.rows)} partners.", "success")
                else:
                    db.session.rollback()
            except ValidationFailed as exc:
                db.session.rollback()
                error = exc.message
    return render_template("partners/import.html", report=report, error=error, columns=COLUMNS,
                           choices=_choices())


def _csv_limit() -> int:
    from flask import current_app

    return current_app.config["CSV_MAX_BYTES"]


@blueprint.get("/partners/<partner_id>")
@requires("partners.view")
def show(partner_id: str):
    partner = get_or_404(Partner, partner_id)
    profile = service.current_brand_profile(partner)
    return render_template(
        "partners/show.html",
        partner=partner,
        profile=profile,
        meter=service.completeness(profile),
        logo_url=service.logo_url(profile),
        users=service.partner_users(partner),
        history=service.brand_history(partner, limit=10),
        transitions=sorted(s.value for s in service.TRANSITIONS[partner.status]),
        partner_roles=sorted(r.value for r in PARTNER_ROLES),
    )


@blueprint.route("/partners/<partner_id>/edit", methods=["GET", "POST"])
@requires("partners.manage")
def edit(partner_id: str):
    partner = get_or_404(Partner, partner_id)
    errors = None
    if request.method == "POST":
        try:
            service.update_partner(partner, _partner_form(EDIT_FIELDS), by=g.user)
            db.session.commit()
            flash("Partner saved.", "success")
            return redirect(url_for("partners.show", partner_id=partner.public_id))
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc
    form = request.form if request.method == "POST" else {
        k: getattr(partner, k) for k in ("name", "tier", "region", "language", "type")}
    return render_template("partners/form.html", partner=partner, form=form, errors=errors,
                           choices=_choices())


@blueprint.post("/partners/<partner_id>/status")
@requires("partners.manage")
def change_status(partner_id: str):
    partner = get_or_404(Partner, partner_id)
    try:
        new = PartnerStatus(request.form.get("status", ""))
    except ValueError:
        abort(400)
    try:
        service.change_status(partner, new, by=g.user, reason=request.form.get("reason", ""))
        db.session.commit()
        flash(f"{partner.name} is now {new.value}.", "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("partners.show", partner_id=partner.public_id))


@blueprint.post("/partners/<partner_id>/users")
@requires("partners.manage")
def invite_partner_user(partner_id: str):
    partner = get_or_404(Partner, partner_id)
    _invite(partner)
    return redirect(url_for("partners.show", partner_id=partner.public_id))


@blueprint.post("/partners/<partner_id>/users/<user_id>/resend")
@requires("partners.manage")
def resend_invite(partner_id: str, user_id: str):
    partner = get_or_404(Partner, partner_id)
    _resend(partner, user_id)
    return redirect(url_for("partners.show", partner_id=partner.public_id))


def _invite(partner: Partner) -> None:
    forms.invite_from_form(roles=PARTNER_ROLES, partner=partner, default=Role.PARTNER_USER)


def _member(partner: Partner, user_id: str) -> User:
    user = get_or_404(User, user_id)
    if user.partner_id != partner.id:
        abort(404)
    return user


def _resend(partner: Partner, user_id: str) -> None:
    forms.resend_invite(_member(partner, user_id))


# --- partner: brand profile and team ---------------------------------------------------------


def _own_partner() -> Partner:
    partner = g.user.partner
    if partner is None:
        abort(404)
    return partner


@blueprint.route("/brand", methods=["GET", "POST"])
@requires("portal.use")
def brand():
    partner = _own_partner()
    errors = None
    if request.method == "POST":
        if not can(g.user, "brand.edit"):
            abort(403)
        try:
            if request.form.get("action") == "remove_logo":
                service.remove_brand_logo(partner, by=g.user)
            else:
                data = {k: request.form.get(k, "") for k in service.BRAND_TEXT_FIELDS}
                upload = request.files.get("logo")
                logo = (upload.read(), upload.filename) if upload and upload.filename else None
                service.update_brand_profile(partner, data, by=g.user, logo=logo)
            db.session.commit()
            flash("Brand profile saved.", "success")
            return redirect(url_for("partners.brand"))
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc
    profile = service.current_brand_profile(partner)
    form = request.form if request.method == "POST" else {
        k: getattr(profile, k) or "" for k in service.BRAND_TEXT_FIELDS}
    return render_template(
        "partner/brand.html",
        partner=partner,
        profile=profile,
        form=form,
        errors=errors,
        meter=service.completeness(profile),
        logo_url=service.logo_url(profile),
        timezones=timezone_choices(),
        editable=can(g.user, "brand.edit"),
    ), (422 if errors else 200)


@blueprint.route("/team", methods=["GET", "POST"])
@requires("portal.use")
def team():
    partner = _own_partner()
    if request.method == "POST":
        if not can(g.user, "colleagues.manage"):
            abort(403)
        _invite(partner)
        return redirect(url_for("partners.team"))
    return render_template("partner/team.html", partner=partner,
                           users=service.partner_users(partner),
                           partner_roles=sorted(r.value for r in PARTNER_ROLES))


@blueprint.post("/team/<user_id>/resend")
@requires("colleagues.manage")
def team_resend(user_id: str):
    _resend(_own_partner(), user_id)
    return redirect(url_for("partners.team"))


@blueprint.post("/team/<user_id>/status")
@requires("colleagues.manage")
def team_status(user_id: str):
    forms.change_status_from_form(_member(_own_partner(), user_id))
    return redirect(url_for("partners.team"))
