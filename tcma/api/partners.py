"""API routes for partners, their brand profiles and their users."""

from __future__ import annotations

from flask import Response, abort, current_app, g, request

from tcma.api import endpoint
from tcma.api.responses import int_arg, json_body, require_vendor
from tcma.api.schemas import (
    BrandProfileOut,
    ImportProblem,
    ImportProblemError,
    ImportResult,
    PartnerOut,
    PartnerPage,
    PartnerPatch,
    StatusChange,
    UserInvite,
    UserOut,
)
from tcma.auth import service as accounts
from tcma.auth.models import PARTNER_ROLES
from tcma.auth.permissions import can
from tcma.errors import FieldError, ValidationFailed
from tcma.extensions import db
from tcma.partners import service as partners
from tcma.partners.importer import ImportReport, import_partners
from tcma.partners.models import Partner, PartnerStatus
from tcma.partners.schemas import BrandProfileFields, PartnerCreate
from tcma.tenancy import get_or_404

# --- partners ------------------------------------------------------------------------------


@endpoint("/partners", "GET", summary="List partners (a partner user sees only its own)",
          tag="partners", permission="tokens.own", response=PartnerPage,
          query={"q": "Search in name and slug", "tier": "Filter by tier",
                 "region": "Filter by region", "status": "active | suspended | offboarded",
                 "limit": "Page size, 1-500 (default 100)", "offset": "Rows to skip"})
def list_partners():
    if g.user.is_vendor:
        require_vendor("partners.view")
    errors: list[FieldError] = []
    limit = int_arg("limit", 100, 1, 500, errors)
    offset = int_arg("offset", 0, 0, None, errors)
    status = request.args.get("status") or None
    if status and status not in {s.value for s in PartnerStatus}:
        errors.append(FieldError("status", "Use active, suspended or offboarded."))
    if errors:
        raise ValidationFailed(errors)
    rows, total = partners.list_partners(
        search=request.args.get("q") or None, tier=request.args.get("tier") or None,
        region=request.args.get("region") or None, status=status, limit=limit, offset=offset)
    return json_body(PartnerPage(total=total, items=[PartnerOut.of(p) for p in rows]))


@endpoint("/partners", "POST", summary="Create a partner (and invite its admin)",
          tag="partners", permission="partners.manage", body=PartnerCreate,
          response=PartnerOut, status=201)
def create_partner(body: PartnerCreate):
    partner = partners.create_partner(body.model_dump(mode="json", exclude_none=True), by=g.user)
    db.session.commit()
    return json_body(PartnerOut.of(partner), 201)


@endpoint("/partners/import", "POST", summary="Import partners from CSV (all rows or none)",
          tag="partners", permission="partners.manage", response=ImportResult,
          multipart={"file": "CSV with columns name, tier, region, language, type, slug, "
                             "admin_email, admin_name"},
          query={"dry_run": "1 to check the file without importing (answers 200)"},
          status=201, also_status=(200,), problem=ImportProblem)
def import_partners_csv():
    upload = request.files.get("file")
    limit = current_app.config["CSV_MAX_BYTES"]
    raw = upload.read(limit + 1) if upload else b""
    if not raw:
        raise ValidationFailed([FieldError("file", "Send the CSV as multipart field 'file'.")])
    if len(raw) > limit:
        raise ValidationFailed([FieldError("file", f"The file is larger than {limit} bytes.")])
    report = import_partners(raw, by=g.user, dry_run=request.args.get("dry_run") == "1")
    if report.imported:
        db.session.commit()
    else:
        db.session.rollback()
    if report.error_count:
        return _import_problem(report)
    return json_body(ImportResult(**report.as_dict()), 201 if report.imported else 200)


def _import_problem(report: ImportReport) -> Response:
    """Every error of a refused import, each naming its line and field, as one problem."""
    errors = [ImportProblemError(field="file", message=m) for m in report.file_errors]
    errors += [ImportProblemError(field=e.field, message=e.message, line=row.line, name=row.name)
               for row in report.rows for e in row.errors]
    bad_rows = sum(1 for row in report.rows if row.errors)
    detail = (f"{bad_rows} of {len(report.rows)} rows have errors; nothing was imported."
              if bad_rows else f"{report.file_errors[0]} Nothing was imported.")
    body = ImportProblem(title="Import refused", status=422, detail=detail, errors=errors,
                         rows=len(report.rows), imported=False)
    return current_app.response_class(body.model_dump_json(), status=422,
                                      mimetype="application/problem+json")


@endpoint("/partners/<partner_id>", "GET", summary="One partner", tag="partners",
          permission="tokens.own", response=PartnerOut)
def get_partner(partner_id: str):
    if g.user.is_vendor:
        require_vendor("partners.view")
    return json_body(PartnerOut.of(get_or_404(Partner, partner_id)))


@endpoint("/partners/<partner_id>", "PATCH", summary="Change a partner's tier, region, ...",
          tag="partners", permission="partners.manage", body=PartnerPatch, response=PartnerOut)
def update_partner(partner_id: str, body: PartnerPatch):
    partner = get_or_404(Partner, partner_id)
    current = {name: getattr(partner, name) for name in ("name", "tier", "region", "language",
                                                         "type")}
    partners.update_partner(partner, {**current, **body.model_dump(exclude_unset=True)},
                            by=g.user)
    db.session.commit()
    return json_body(PartnerOut.of(partner))


@endpoint("/partners/<partner_id>/status", "POST",
          summary="Suspend, reactivate or offboard a partner", tag="partners",
          permission="partners.manage", body=StatusChange, response=PartnerOut)
def change_partner_status(partner_id: str, body: StatusChange):
    partner = get_or_404(Partner, partner_id)
    partners.change_status(partner, body.status, by=g.user, reason=body.reason)
    db.session.commit()
    return json_body(PartnerOut.of(partner))


# --- brand profiles ------------------------------------------------------------------------


def _visible_partner(partner_id: str) -> Partner:
    if g.user.is_vendor:
        require_vendor("partners.view")
    return get_or_404(Partner, partner_id)


@endpoint("/partners/<partner_id>/brand-profile", "GET",
          summary="The partner's current brand profile with its completeness", tag="brand",
          permission="tokens.own", response=BrandProfileOut)
def get_brand_profile(partner_id: str):
    partner = _visible_partner(partner_id)
    return json_body(BrandProfileOut.of(partner, partners.current_brand_profile(partner)))


@endpoint("/partners/<partner_id>/brand-profile", "PUT",
          summary="Replace the brand profile's details (creates a new version)", tag="brand",
          permission="brand.edit", body=BrandProfileFields, response=BrandProfileOut)
def put_brand_profile(partner_id: str, body: BrandProfileFields):
    partner = get_or_404(Partner, partner_id)
    profile = partners.update_brand_profile(partner, body.model_dump(mode="json"), by=g.user)
    db.session.commit()
    return json_body(BrandProfileOut.of(partner, profile))


@endpoint("/partners/<partner_id>/brand-profile/logo", "PUT",
          summary="Upload the logo (PNG, JPEG or WebP; creates a new version)", tag="brand",
          permission="brand.edit", response=BrandProfileOut,
          multipart={"logo": "The image file"})
def put_brand_logo(partner_id: str):
    partner = get_or_404(Partner, partner_id)
    upload = request.files.get("logo")
    if upload is None:
        raise ValidationFailed([FieldError("logo", "Send the image as multipart field 'logo'.")])
    profile = partners.set_brand_logo(partner, upload.read(), upload.filename or "", by=g.user)
    db.session.commit()
    return json_body(BrandProfileOut.of(partner, profile))


@endpoint("/partners/<partner_id>/brand-profile/versions", "GET",
          summary="Earlier versions of the brand profile, newest first", tag="brand",
          permission="tokens.own", response=list[BrandProfileOut])
def list_brand_versions(partner_id: str):
    partner = _visible_partner(partner_id)
    return json_body([BrandProfileOut.of(partner, p) for p in partners.brand_history(partner)])


# --- users ---------------------------------------------------------------------------------


@endpoint("/partners/<partner_id>/users", "GET", summary="A partner's users", tag="users",
          permission="tokens.own", response=list[UserOut])
def list_partner_users(partner_id: str):
    partner = _visible_partner(partner_id)
    return json_body([UserOut.of(u) for u in partners.partner_users(partner)])


@endpoint("/partners/<partner_id>/users", "POST", summary="Invite a user to a partner",
          tag="users", permission="tokens.own", body=UserInvite, response=UserOut, status=201)
def invite_partner_user(partner_id: str, body: UserInvite):
    partner = get_or_404(Partner, partner_id)
    if not (can(g.user, "partners.manage") or can(g.user, "colleagues.manage")):
        abort(403 if g.user.is_vendor else 404)
    if body.role not in PARTNER_ROLES:
        raise ValidationFailed([FieldError("role", "Use partner_admin or partner_user.")])
    user = accounts.invite_user(email=str(body.email), name=body.name, role=body.role,
                                partner=partner, invited_by=g.user)
    db.session.commit()
    return json_body(UserOut.of(user), 201)


