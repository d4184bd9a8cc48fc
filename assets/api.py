"""API routes for the asset library: the vendor's files, zones and previews, and each
partner's co-branded copies.

The routes join the shared ``/api/v1`` blueprint through ``tcma.api.endpoint``, so they are
in the OpenAPI document. They parse input and call the services in ``library``,
``renditions``, ``previews`` and ``copies``; the rules live there.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request, url_for

from assets import bundles, copies, library, previews, renditions
from assets.api_schemas import (
    AssetDetail,
    AssetLinkOut,
    AssetOut,
    AssetPatch,
    AssetStatusChange,
    AssetWarning,
    BundleIn,
    BundleOut,
    CopyOut,
    LibraryAssetOut,
    ZonesIn,
)
from assets.library import AssetFields
from assets.models import Asset, AssetStatus, BundleStatus, RenditionStatus
from tcma.api import endpoint
from tcma.api.responses import int_arg, json_body
from tcma.errors import Conflict, FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.partners import service as partners

# --- helpers ----------------------------------------------------------------------------------


def _audience() -> dict[str, list[str]]:
    cfg = current_app.config
    return {"tiers": list(cfg["PARTNER_TIERS"]), "regions": list(cfg["PARTNER_REGIONS"])}


def _upload() -> tuple[bytes, str]:
    """The multipart ``file`` (empty when missing: the library names the field)."""
    upload = request.files.get("file")
    return (upload.read(), upload.filename or "") if upload else (b"", "")


def _form_fields() -> dict[str, Any]:
    """The text fields beside the file. Repeated fields are lists; empty ones are left out
    (as a browser form sends them) except the title, whose absence is an error."""
    data: dict[str, Any] = {}
    for name in request.form:
        values = [v for v in request.form.getlist(name) if v.strip() or name == "title"]
        if values:
            data[name] = values if len(values) > 1 else values[0]
    return data


def _png(data: bytes):
    response = current_app.response_class(data, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


def _library_asset(asset_id: str) -> Asset:
    """An asset in the caller's library; anything else is the same 404 as a missing one."""
    asset = library.get_asset(asset_id)
    if not library.visible_to(g.user.partner, asset):
        raise NotFound("No such asset.")
    return asset


# --- vendor ------------------------------------------------------------------------------------


@endpoint("/assets", "GET", summary="The asset library, newest change first", tag="assets",
          permission="assets.view", response=list[AssetOut],
          query={"q": "Search in titles", "status": "draft | published | retired"})
def list_assets():
    status = request.args.get("status") or None
    if status and status not in {s.value for s in AssetStatus}:
        raise ValidationFailed([FieldError("status", "Use draft, published or retired.")])
    assets = library.list_assets(search=request.args.get("q") or None,
                                 status=AssetStatus(status) if status else None)
    return json_body([AssetOut.of(a) for a in assets])


@endpoint("/assets", "POST", summary="Upload a PDF or image as a new draft asset",
          tag="assets", permission="assets.manage", response=AssetDetail, status=201,
          multipart={"file": "PDF, PNG, JPEG or WebP"}, form=AssetFields)
def create_asset():
    """Text fields go beside the file; list fields are repeated or comma-separated."""
    data, filename = _upload()
    asset = library.create_asset(_form_fields(), data, filename, by=g.user, **_audience())
    db.session.commit()
    return json_body(AssetDetail.of(asset), 201)


@endpoint("/assets/<asset_id>", "GET", summary="One asset with its versions and zones",
          tag="assets", permission="assets.view", response=AssetDetail)
def get_asset(asset_id: str):
    return json_body(AssetDetail.of(library.get_asset(asset_id)))


@endpoint("/assets/<asset_id>", "PATCH", summary="Change an asset's details and audience",
          tag="assets", permission="assets.manage", body=AssetPatch, response=AssetDetail)
def update_asset(asset_id: str, body: AssetPatch):
    asset = library.get_asset(asset_id)
    current = {name: getattr(asset, name) for name in library.ASSET_FIELDS}
    library.update_asset(asset, {**current, **body.model_dump(exclude_unset=True)}, by=g.user,
                         **_audience())
    db.session.commit()
    return json_body(AssetDetail.of(asset))


@endpoint("/assets/<asset_id>/versions", "POST",
          summary="Upload a new file for an asset (new requests use it)", tag="assets",
          permission="assets.manage", response=AssetDetail, status=201,
          multipart={"file": "The same kind of file as the asset's (PDF or image)"})
def add_asset_version(asset_id: str):
    """Copies already made from older versions stay downloadable; the zones must fit."""
    asset = library.get_asset(asset_id)
    data, filename = _upload()
    library.add_version(asset, data, filename, by=g.user)
    db.session.commit()
    db.session.refresh(asset)  # reload ``asset.versions`` newest first, with the new one
    return json_body(AssetDetail.of(asset), 201)


@endpoint("/assets/<asset_id>/zones", "PUT", summary="Replace an asset's zones",
          tag="assets", permission="assets.manage", body=ZonesIn, response=AssetDetail)
def put_asset_zones(asset_id: str, body: ZonesIn):
    """Zones are checked against the newest file's pages; each error names
    ``zones[i].field``. Sending the same zones again changes nothing."""
    asset = library.get_asset(asset_id)
    library.set_zones(asset, body.zones, by=g.user)
    db.session.commit()
    return json_body(AssetDetail.of(asset))


@endpoint("/assets/<asset_id>/status", "POST", summary="Publish or retire an asset",
          tag="assets", permission="assets.manage", body=AssetStatusChange,
          response=AssetDetail)
def change_asset_status(asset_id: str, body: AssetStatusChange):
    asset = library.get_asset(asset_id)
    library.set_status(asset, body.status, by=g.user)
    db.session.commit()
    return json_body(AssetDetail.of(asset))


@endpoint("/assets/<asset_id>/pages/<int:page>", "GET",
          summary="A page of the newest file as PNG, to place zones on", tag="assets",
          permission="assets.view", binary="image/png",
          errors={422: "No such page; the error names `page`."})
def get_asset_page(asset_id: str, page: int):
    """Pages are counted from 1 here, as people count them."""
    return _png(previews.page_image(library.get_asset(asset_id), page - 1))


@endpoint("/assets/<asset_id>/preview", "GET",
          summary="A page co-branded for a partner (or the built-in sample) as PNG",
          tag="assets", permission="assets.view", binary="image/png",
          query={"partner": "A partner id; leave out for the sample partner with long values",
                 "page": "Page number from 1 (default 1)"})
def preview_asset(asset_id: str):
    asset = library.get_asset(asset_id)
    errors: list[FieldError] = []
    page = int_arg("page", 1, 1, None, errors) or 1
    partner = None
    if request.args.get("partner"):
        try:
            partner = partners.get_partner(request.args["partner"])
        except NotFound:
            errors.append(FieldError("partner", "No such partner."))
    if errors:
        raise ValidationFailed(errors)
    return _png(previews.partner_preview(asset, partner, page - 1))


@endpoint("/assets/<asset_id>/warnings", "GET",
          summary="Zones that real partners' values (or the sample's) would overflow",
          tag="assets", permission="assets.view", response=list[AssetWarning])
def get_asset_warnings(asset_id: str):
    asset = library.get_asset(asset_id)
    try:
        found = [AssetWarning(zone=w.zone, message=w.message) for w in previews.warnings(asset)]
    except ValidationFailed as exc:  # stored zones the newest file no longer satisfies
        found = [AssetWarning(zone=None, message=exc.message)]
    return json_body(found)


# --- partner -----------------------------------------------------------------------------------


@endpoint("/library", "GET", summary="The assets available to my partner now", tag="library",
          permission="library.use", response=list[LibraryAssetOut])
def list_library():
    return json_body([LibraryAssetOut.of(a) for a in library.partner_library(g.user.partner)])


@endpoint("/library/<asset_id>/copy", "POST",
          summary="Ask for my co-branded copy of the newest version", tag="library",
          permission="library.use", response=CopyOut, status=202, also_status=(200,))
def request_copy(asset_id: str):
    """Answers 200 with the download URL when the copy exists already, else 202 while it is
    rendered; poll ``GET`` on the same path. A failed copy is retried."""
    rendition = renditions.request_rendition(g.user.partner, _library_asset(asset_id))
    db.session.commit()
    return json_body(CopyOut.of(rendition),
                     200 if rendition.status is RenditionStatus.DONE else 202)


@endpoint("/library/<asset_id>/copy", "GET", summary="The state of my copy", tag="library",
          permission="library.use", response=CopyOut)
def get_copy(asset_id: str):
    """404 until a copy of the newest version with the current brand profile is asked for."""
    rendition = copies.current_copy(g.user.partner, _library_asset(asset_id))
    if rendition is None:
        raise NotFound("You have no copy of the newest version yet (or your brand profile "
                       "changed since): ask for one with POST on this path.")
    return json_body(CopyOut.of(rendition))


@endpoint("/library/<asset_id>/download", "GET", summary="Download my copy", tag="library",
          permission="library.use", status=302,
          location="A short-lived URL of the file; fetch it without the token",
          errors={409: "The copy was not asked for, is not ready yet, or failed."})
def download_copy(asset_id: str):
    """Each download is counted for the partner."""
    partner = g.user.partner
    rendition = copies.current_copy(partner, _library_asset(asset_id))
    if rendition is None or rendition.status is not RenditionStatus.DONE:
        state = "not asked for" if rendition is None else rendition.status.value
        raise Conflict(f"Your copy is not ready (status: {state}). Ask for it with POST on "
                       f"/library/{asset_id}/copy and download it when its status is done.")
    download = renditions.download(partner, rendition, via="api")
    db.session.commit()
    return current_app.response_class(status=302, headers={"Location": download.url})


@endpoint("/library/<asset_id>/link", "GET",
          summary="My stable download link for an asset, for emails and posts", tag="library",
          permission="library.use", response=AssetLinkOut)
def get_link(asset_id: str):
    asset = _library_asset(asset_id)
    link = renditions.link_for(g.user.partner, asset)
    db.session.commit()
    return json_body(AssetLinkOut(asset_id=asset.public_id,
                                  url=url_for("assets.stable_link", token=link.token,
                                              _external=True)))


# --- partner: one ZIP of many copies -------------------------------------------------------------


@endpoint("/library/bundles", "POST",
          summary="Ask for one ZIP of my co-branded copies of several assets", tag="library",
          permission="library.use", body=BundleIn, response=BundleOut, status=202)
def request_bundle(body: BundleIn):
    """Every copy is asked for (a failed one is retried) and the ZIP is packed once all are
    rendered; poll ``GET /library/bundles/{bundle_id}``. Ids outside your library are
    refused with a 422 naming ``asset_ids``."""
    partner = g.user.partner
    assets = (bundles.whole_library(partner) if body.asset_ids is None
              else bundles.library_assets(partner, body.asset_ids))
    bundle = bundles.request_bundle(partner, assets, by=g.user)
    db.session.commit()
    return json_body(BundleOut.of(bundles.summary(bundle)), 202)


@endpoint("/library/bundles/<bundle_id>", "GET", summary="The state of my ZIP",
          tag="library", permission="library.use", response=BundleOut)
def get_bundle(bundle_id: str):
    bundle = bundles.get_bundle(bundle_id)
    if bundles.revive(bundle):  # its message or worker was lost: send a new one
        db.session.commit()
    return json_body(BundleOut.of(bundles.summary(bundle)))


@endpoint("/library/bundles/<bundle_id>/download", "GET", summary="Download my ZIP",
          tag="library", permission="library.use", status=302,
          location="A short-lived URL of the ZIP; fetch it without the token",
          errors={409: "The ZIP is not ready yet, failed, or holds an asset withdrawn since."})
def download_bundle(bundle_id: str):
    """Each copy in the ZIP is counted as a download for the partner."""
    bundle = bundles.get_bundle(bundle_id)
    if bundle.status is not BundleStatus.DONE:
        raise Conflict(f"Your ZIP is not ready (status: {bundle.status.value}); download it "
                       f"when GET /library/bundles/{bundle_id} says done.")
    download = bundles.download(g.user.partner, bundle)
    db.session.commit()
    return current_app.response_class(status=302, headers={"Location": download.url})
