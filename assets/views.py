"""Asset pages: the vendor's library and zone editor, the partner's library and downloads,
and the public stable download links."""

from __future__ import annotations

import json
import re

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from assets import bundles, copies, library, previews, renditions, reports
from assets.cobrand import zones as zone_rules
from assets.cobrand.text import PARTNER_TOKENS
from assets.models import Asset, AssetStatus, BundleStatus, CopyBundle, RenditionStatus
from tcma import ratelimit
from tcma.auth.permissions import requires
from tcma.errors import DomainError, FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.partners.models import Partner
from tcma.tenancy import get_or_404

blueprint = Blueprint("assets", __name__)

FIELD_NAMES = ("title", "description", "tags", "language", "allowed_tiers", "allowed_regions",
               "publish_at", "expires_at")


def _audience() -> dict:
    cfg = current_app.config
    return {"tiers": list(cfg["PARTNER_TIERS"]), "regions": list(cfg["PARTNER_REGIONS"])}


def _fields_from_form() -> dict:
    data = {}
    for name in FIELD_NAMES:
        if name in ("allowed_tiers", "allowed_regions"):
            data[name] = request.form.getlist(name)
        elif request.form.get(name, "").strip() or name in ("title",):
            data[name] = request.form.get(name, "").strip()
    for name in ("publish_at", "expires_at"):
        if data.get(name) and len(data[name]) == 16:  # <input type=datetime-local>, in UTC
            data[name] += ":00+00:00"
    return data


def _png(data: bytes):
    response = current_app.response_class(data, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


# --- vendor ----------------------------------------------------------------------------------


@blueprint.get("/assets")
@requires("assets.view")
def index():
    status = request.args.get("status")
    assets = library.list_assets(
        search=request.args.get("q") or None,
        status=AssetStatus(status) if status in {s.value for s in AssetStatus} else None)
    return render_template("assets/index.html", assets=assets, args=request.args,
                           statuses=[s.value for s in AssetStatus])


@blueprint.route("/assets/new", methods=["GET", "POST"])
@requires("assets.manage")
def new():
    errors = None
    if request.method == "POST":
        upload = request.files.get("file")
        try:
            asset = library.create_asset(
                _fields_from_form(), upload.read() if upload else b"",
                upload.filename if upload else "", by=g.user, **_audience())
            db.session.commit()
            flash(f"“{asset.title}” uploaded. Draw its zones, then publish it.", "success")
            return redirect(url_for("assets.show", asset_id=asset.public_id))
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc
    return render_template("assets/form.html", asset=None, form=request.form, errors=errors,
                           audience=_audience()), (422 if errors else 200)


@blueprint.get("/assets/<asset_id>")
@requires("assets.view")
def show(asset_id: str):
    return _show_page(get_or_404(Asset, asset_id))


def _show_page(asset: Asset, *, zones_json: str | None = None,
               zone_errors: ValidationFailed | None = None, page: int | None = None):
    """The asset page; after a refused zone save it shows what was sent, with the errors
    beside the zones, so the marketer's drawing is not lost."""
    version = library.current_version(asset)
    zone_set = library.current_zone_set(asset)
    try:
        zone_warnings = previews.warnings(asset)
    except ValidationFailed as exc:
        zone_warnings = [exc.message]
    pages = len(version.page_sizes)
    page = page or request.args.get("page", 1, type=int)
    errors = [_zone_error(e) for e in zone_errors.errors] if zone_errors else []
    return render_template(
        "assets/show.html", asset=asset, version=version, zone_set=zone_set,
        zones_json=zones_json if zones_json is not None else json.dumps(zone_set.zones,
                                                                        indent=1),
        zone_errors=errors, warnings=zone_warnings,
        partners=previews.preview_partners(), audience=_audience(),
        preview_partner=request.args.get("partner", ""),
        preview_page=min(pages, max(1, page)),
        editor=_editor_options(asset), usage=reports.asset_usage(asset),
    ), (422 if zone_errors else 200)


_ZONE_FIELD = re.compile(r"^zones\[(\d+)\]\.(\w+)$")


def _zone_error(error: FieldError) -> dict:
    """A refused zone as the editor shows it: which box (0-based for the script, 1-based
    for people), which field, and the message."""
    match = _ZONE_FIELD.match(error.field)
    if not match:
        return {"zone": None, "field": error.field, "label": error.field,
                "message": error.message}
    index, name = int(match.group(1)), match.group(2)
    return {"zone": index, "field": name,
            "label": f"Box {index + 1}, {name.replace('_', ' ')}", "message": error.message}


def _editor_options(asset: Asset) -> dict:
    """What the zone editor (static/zones.js) may offer, from the engine's own limits, so
    the browser never proposes a value the server refuses."""
    return {"unit": library.unit_of(asset), "kinds": list(zone_rules.KINDS),
            "fonts": list(zone_rules.FONTS), "aligns": list(zone_rules.ALIGNS),
            "valigns": list(zone_rules.VALIGNS), "max_zones": zone_rules.MAX_ZONES,
            "max_size": zone_rules.MAX_SIZE, "min_qr": zone_rules.MIN_QR_SIDE,
            "tokens": list(PARTNER_TOKENS)}


@blueprint.post("/assets/<asset_id>/edit")
@requires("assets.manage")
def edit(asset_id: str):
    asset = get_or_404(Asset, asset_id)
    try:
        library.update_asset(asset, _fields_from_form(), by=g.user, **_audience())
        db.session.commit()
        flash("Details saved.", "success")
    except ValidationFailed as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("assets.show", asset_id=asset.public_id))


@blueprint.post("/assets/<asset_id>/versions")
@requires("assets.manage")
def upload_version(asset_id: str):
    asset = get_or_404(Asset, asset_id)
    upload = request.files.get("file")
    try:
        version = library.add_version(asset, upload.read() if upload else b"",
                                      upload.filename if upload else "", by=g.user)
        db.session.commit()
        flash(f"Version {version.version} uploaded; partners get it from their next download.",
              "success")
    except ValidationFailed as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("assets.show", asset_id=asset.public_id))


@blueprint.post("/assets/<asset_id>/zones")
@requires("assets.manage")
def save_zones(asset_id: str):
    asset = get_or_404(Asset, asset_id)
    sent = request.form.get("zones") or "[]"
    # The page the marketer was working on, so the editor and the preview open on it.
    page = request.form.get("page", type=int)
    try:
        zones = json.loads(sent)
    except ValueError:
        return _show_page(asset, zones_json=sent, page=page, zone_errors=ValidationFailed(
            [FieldError("zones", "The zones are not valid JSON.")]))
    try:
        zone_set = library.set_zones(asset, zones, by=g.user)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _show_page(asset, zones_json=sent, zone_errors=exc, page=page)
    flash(f"Zones saved (set {zone_set.version}).", "success")
    return redirect(url_for("assets.show", asset_id=asset.public_id,
                            page=page if page and page > 1 else None))


@blueprint.post("/assets/<asset_id>/status")
@requires("assets.manage")
def change_status(asset_id: str):
    asset = get_or_404(Asset, asset_id)
    try:
        library.set_status(asset, AssetStatus(request.form.get("status", "")), by=g.user)
        db.session.commit()
        flash(f"“{asset.title}” is {asset.status.value}.", "success")
    except ValueError:
        abort(400)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("assets.show", asset_id=asset.public_id))


@blueprint.get("/assets/<asset_id>/pages/<int:page>.png")
@requires("assets.view")
def page_png(asset_id: str, page: int):
    asset = get_or_404(Asset, asset_id)
    try:
        return _png(previews.page_image(asset, page - 1))
    except ValidationFailed:
        abort(404)


@blueprint.get("/assets/<asset_id>/preview.png")
@requires("assets.view")
def preview_png(asset_id: str):
    asset = get_or_404(Asset, asset_id)
    partner_id = request.args.get("partner")
    partner = get_or_404(Partner, partner_id) if partner_id else None
    try:
        return _png(previews.partner_preview(asset, partner,
                                             request.args.get("page", 1, type=int) - 1))
    except ValidationFailed:
        abort(404)


# --- partner ---------------------------------------------------------------------------------


def _library_asset(asset_id: str) -> Asset:
    asset = get_or_404(Asset, asset_id)
    if not library.visible_to(g.user.partner, asset):
        abort(404)
    return asset


def _rendition_state(rendition) -> dict:
    return {"status": rendition.status.value, "error": rendition.error,
            "download_url": url_for("assets.partner_download",
                                    asset_id=rendition.asset.public_id)
            if rendition.status is RenditionStatus.DONE else None}


@blueprint.get("/library")
@requires("library.use")
def partner_library():
    assets = library.partner_library(g.user.partner)
    return render_template("assets/library.html", assets=assets)


@blueprint.get("/library/<asset_id>")
@requires("library.use")
def partner_asset(asset_id: str):
    asset = _library_asset(asset_id)
    link = renditions.link_for(g.user.partner, asset)
    copy = copies.current_copy(g.user.partner, asset)
    db.session.commit()
    return render_template("assets/partner_asset.html", asset=asset, copy=copy,
                           version=library.current_version(asset),
                           link_url=url_for("assets.stable_link", token=link.token,
                                            _external=True))


@blueprint.get("/library/<asset_id>/preview.png")
@requires("library.use")
def partner_preview_png(asset_id: str):
    """The first page of the partner's co-branded copy, as a picture (kit post previews)."""
    asset = _library_asset(asset_id)
    try:
        return _png(previews.partner_preview(asset, g.user.partner, 0))
    except ValidationFailed:
        abort(404)


@blueprint.post("/library/<asset_id>/copy")
@requires("library.use")
def request_copy(asset_id: str):
    asset = _library_asset(asset_id)
    rendition = renditions.request_rendition(g.user.partner, asset)
    db.session.commit()
    if request.accept_mimetypes.best == "application/json":
        return jsonify(_rendition_state(rendition))
    return redirect(url_for("assets.partner_asset", asset_id=asset.public_id))


@blueprint.get("/library/<asset_id>/copy")
@requires("library.use")
def copy_status(asset_id: str):
    """The state of the partner's copy of the newest version (the page polls this)."""
    asset = _library_asset(asset_id)
    rendition = renditions.request_rendition(g.user.partner, asset, retry_failed=False)
    db.session.commit()
    return jsonify(_rendition_state(rendition))


@blueprint.get("/library/<asset_id>/download")
@requires("library.use")
def partner_download(asset_id: str):
    asset = _library_asset(asset_id)
    rendition = renditions.request_rendition(g.user.partner, asset)
    if rendition.status is not RenditionStatus.DONE:
        db.session.commit()
        flash("Your copy is being prepared; it downloads as soon as it is ready.", "info")
        return redirect(url_for("assets.partner_asset", asset_id=asset.public_id))
    download = renditions.download(g.user.partner, rendition, via="portal")
    db.session.commit()
    return redirect(download.url)


@blueprint.post("/library/bundle")
@requires("library.use")
def request_bundle():
    """One ZIP of the partner's copies: every asset in the library ("Download all") or the
    ticked ones."""
    partner = g.user.partner
    ticked = request.form.getlist("asset_ids")
    try:
        if request.form.get("scope") == "all":
            assets = bundles.whole_library(partner)
        else:
            assets = bundles.library_assets(partner, ticked)
        bundle = bundles.request_bundle(partner, assets, by=g.user)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return render_template("assets/library.html", assets=library.partner_library(partner),
                               ticked=set(ticked), bundle_error=exc.for_field("asset_ids")
                               or exc.message), 422
    return redirect(url_for("assets.bundle_page", bundle_id=bundle.public_id))


def _bundle(bundle_id: str) -> CopyBundle:
    bundle = get_or_404(CopyBundle, bundle_id)
    if bundles.revive(bundle):  # its message or worker was lost: send a new one
        db.session.commit()
    return bundle


@blueprint.get("/library/bundles/<bundle_id>")
@requires("library.use")
def bundle_page(bundle_id: str):
    bundle = _bundle(bundle_id)
    return render_template("assets/bundle.html", bundle=bundle,
                           summary=bundles.summary(bundle),
                           state=bundles.state(bundle, download_endpoint="assets.bundle_download"))


@blueprint.get("/library/bundles/<bundle_id>/status")
@requires("library.use")
def bundle_status(bundle_id: str):
    """The bundle's progress (the page polls this)."""
    bundle = _bundle(bundle_id)
    return jsonify(bundles.state(bundle, download_endpoint="assets.bundle_download"))


@blueprint.get("/library/bundles/<bundle_id>/download")
@requires("library.use")
def bundle_download(bundle_id: str):
    bundle = _bundle(bundle_id)
    if bundle.status is not BundleStatus.DONE:
        flash("Your ZIP is not ready yet; this page offers it as soon as it is.", "info")
        return redirect(url_for("assets.bundle_page", bundle_id=bundle.public_id))
    try:
        download = bundles.download(g.user.partner, bundle)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("assets.bundle_page", bundle_id=bundle.public_id))
    db.session.commit()
    return redirect(download.url)


@blueprint.get("/a/<token>")
def stable_link(token: str):
    """A partner's permanent link to an asset, safe to put in emails and posts."""
    ratelimit.hit("asset-link", request.remote_addr or "unknown", limit=120, window=60)
    try:
        link = renditions.resolve_link(token)
        partner = db.session.get(Partner, link.partner_id)
        asset = link.asset
        if not library.visible_to(partner, asset):
            raise NotFound("This file is no longer available.")
        rendition = renditions.request_rendition(partner, asset, retry_failed=False)
    except NotFound as exc:
        db.session.rollback()
        return render_template("assets/link_gone.html", message=exc.message), 404
    if rendition.status is RenditionStatus.DONE:
        download = renditions.download(partner, rendition, via="link")
        db.session.commit()
        return redirect(download.url)
    db.session.commit()
    return render_template("assets/preparing.html", asset=asset, partner=partner,
                           failed=rendition.status is RenditionStatus.FAILED), 202
