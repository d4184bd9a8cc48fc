"""Landing-page screens: the vendor's editor, publishing and "preview as partner", and the
partner's list of their live pages to share."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from syndication.leads.inbox import lead_counts_by_page
from syndication.pages import service as pages
from syndication.pages.models import FORM_FIELDS, LandingPage, PageKind, PageStatus
from syndication.pages.public import render_page
from syndication.pages.render import media_url
from tcma.auth.permissions import requires
from tcma.errors import DomainError, ValidationFailed
from tcma.extensions import db
from tcma.partners import service as partners
from tcma.partners.models import Partner
from tcma.tenancy import get_or_404

blueprint = Blueprint("pages", __name__)

TEXT_FIELDS = ("slug", "kind", "title", "headline", "summary", "body", "cta_label", "hero_alt",
               "consent_text", "thank_you")


def _audience() -> dict[str, list[str]]:
    cfg = current_app.config
    return {"tiers": list(cfg["PARTNER_TIERS"]), "regions": list(cfg["PARTNER_REGIONS"])}


def _submitted() -> dict:
    """The editor's inputs as the service takes them."""
    form = request.form
    data: dict = {name: form.get(name, "") for name in TEXT_FIELDS}
    data["bullets"] = [line for line in form.get("bullets", "").splitlines() if line.strip()]
    data["consent_required"] = bool(form.get("consent_required"))
    data["allowed_tiers"] = form.getlist("allowed_tiers")
    data["allowed_regions"] = form.getlist("allowed_regions")
    data["form_fields"] = {
        name: {"enabled": form.get(f"ff_{name}") in ("optional", "required"),
               "required": form.get(f"ff_{name}") == "required",
               "label": form.get(f"fl_{name}", "")}
        for name in FORM_FIELDS}
    return data


def _values(page: LandingPage | None, data: dict | None = None) -> dict:
    """What the editor's inputs show: what was sent (kept after an error), or the page."""
    if data is None and page is None:
        data = {"kind": "partner", "cta_label": "Send", "thank_you": pages.DEFAULT_THANK_YOU,
                "consent_required": True, "form_fields": pages.default_form_fields(),
                "bullets": [], "allowed_tiers": [], "allowed_regions": []}
    elif data is None:
        data = {name: getattr(page, name) for name in pages.PAGE_FIELDS}
        data["kind"] = page.kind.value
    values = {k: v for k, v in data.items() if k not in ("bullets", "form_fields")}
    values["bullets"] = "\n".join(data.get("bullets") or [])
    for name, spec in (data.get("form_fields") or {}).items():
        values[f"ff_{name}"] = ("required" if spec.get("required") else "optional"
                                if spec.get("enabled") else "off")
        values[f"fl_{name}"] = spec.get("label") or ""
    values["ff_email"] = "required"
    return values


def _editor(page: LandingPage | None, values: dict, errors: ValidationFailed | None = None):
    active, _ = partners.list_partners(status="active", limit=500)
    counts = lead_counts_by_page() if page is not None else {}
    return render_template(
        "pages/edit.html", page=page, form=values, errors=errors, audience=_audience(),
        field_names=FORM_FIELDS, labels=pages.DEFAULT_LABELS, partners=active,
        lead_count=counts.get(page.id, 0) if page else 0,
        transitions=sorted(s.value for s in pages.TRANSITIONS[page.status]) if page else [],
        public_url=_url_pattern(page) if page else None,
        hero_url=media_url(page.hero_key) if page and page.hero_key else None,
    ), (422 if errors else 200)


def _url_pattern(page: LandingPage) -> str:
    if page.kind is PageKind.GENERIC:
        return pages.public_url(page, None)
    return f"{pages.base_url()}/p/<partner-slug>/{page.slug}"


def _hero_upload(page: LandingPage) -> None:
    upload = request.files.get("hero")
    if request.form.get("remove_hero"):
        pages.remove_hero(page, by=g.user)
    elif upload and upload.filename:
        pages.set_hero(page, upload.read(), upload.filename, by=g.user)


@blueprint.get("/landing-pages")
@requires("pages.view")
def index():
    if not g.user.is_vendor:
        return _partner_pages()
    status = request.args.get("status")
    found = pages.list_pages(
        search=request.args.get("q") or None,
        status=PageStatus(status) if status in {s.value for s in PageStatus} else None)
    return render_template("pages/index.html", pages=found, counts=lead_counts_by_page(),
                           args=request.args, statuses=[s.value for s in PageStatus],
                           url_pattern=_url_pattern)


def _partner_pages():
    partner = g.user.partner
    live = pages.pages_for_partner(partner)
    return render_template("pages/partner_index.html", pages=live,
                           counts=lead_counts_by_page(),
                           urls={p.id: pages.public_url(p, partner) for p in live})


@blueprint.route("/landing-pages/new", methods=["GET", "POST"])
@requires("pages.manage")
def new():
    if request.method == "GET":
        return _editor(None, _values(None))
    data = _submitted()
    try:
        page = pages.create_page(data, by=g.user)
        _hero_upload(page)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _editor(None, _values(None, data), exc)
    flash(f"“{page.title}” saved as a draft. Preview it, then publish it.", "success")
    return redirect(url_for("pages.edit", page_id=page.public_id))


@blueprint.route("/landing-pages/<page_id>", methods=["GET", "POST"])
@requires("pages.manage")
def edit(page_id: str):
    page = get_or_404(LandingPage, page_id)
    if request.method == "GET":
        return _editor(page, _values(page))
    data = _submitted()
    try:
        pages.update_page(page, data, by=g.user)
        _hero_upload(page)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _editor(get_or_404(LandingPage, page_id), _values(None, data), exc)
    flash("Page saved.", "success")
    return redirect(url_for("pages.edit", page_id=page.public_id))


@blueprint.post("/landing-pages/<page_id>/status")
@requires("pages.manage")
def change_status(page_id: str):
    page = get_or_404(LandingPage, page_id)
    try:
        pages.set_status(page, request.form.get("status", ""), by=g.user)
        db.session.commit()
    except ValueError:
        abort(400)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("pages.edit", page_id=page_id))
    flash("Published: the page is live." if page.status is PageStatus.PUBLISHED
          else "Retired: the page is no longer online.", "success")
    return redirect(url_for("pages.edit", page_id=page.public_id))


@blueprint.get("/landing-pages/<page_id>/preview")
@requires("pages.manage")
def preview(page_id: str):
    """The page as a partner's visitors would see it (drafts too); the form is disabled."""
    page = get_or_404(LandingPage, page_id)
    partner = None
    if page.kind is PageKind.PARTNER:
        chosen = request.args.get("partner")
        if chosen:
            partner = get_or_404(Partner, chosen)
        else:
            active, _ = partners.list_partners(status="active", limit=1)
            partner = active[0] if active else None
    response = current_app.make_response(render_page(page, partner, preview=True))
    response.headers["Cache-Control"] = "no-store"
    return response
