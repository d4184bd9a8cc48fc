"""One ZIP of many co-branded copies ("Download all"), through the pages and the API, built
by a real worker: the ZIP holds every chosen copy, waits for copies still rendering, fails
naming the copy that cannot be made, and stays the asking partner's own."""

from __future__ import annotations

import io
import logging
import re
import threading
import zipfile
from dataclasses import dataclass

import pytest
from PIL import Image
from sqlalchemy import select, update

from assets import bundles, library, renditions
from assets.models import (
    AssetDownload,
    AssetStatus,
    BundleStatus,
    CopyBundle,
    Rendition,
    RenditionStatus,
)
from tcma.auth.models import Role
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners import service as partners
from tcma.partners.models import Partner
from tcma.storage import storage
from tests.assets.conftest import logo_png, pdftotext, qpdf_check, vendor_pdf
from tests.factories import csrf_from, login, make_partner, make_token, make_user

PHONE = "+44 20 7946 0123"
PDF_ZONES = [
    {"page": 0, "x": 40, "y": 700, "width": 200, "height": 80, "kind": "logo"},
    {"page": 0, "x": 300, "y": 700, "width": 250, "height": 80, "kind": "text",
     "template": "Call {{ partner.phone }}", "size": 12, "min_size": 6},
]
TILE_ZONES = [{"page": 0, "x": 10, "y": 10, "width": 200, "height": 80, "kind": "logo"}]


def tile_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (600, 400), (240, 240, 240)).save(out, "JPEG", quality=90)
    return out.getvalue()


@dataclass
class Library:
    """Ids and names usable in any app context."""

    brochure: str  # "Cloud Suite brochure", PDF
    datasheet: str  # "Datasheet", PDF
    datasheet_two: str  # another "Datasheet", PDF: same title, so the ZIP renames one
    tile: str  # "Launch tile", JPEG
    silver_only: str  # not in the gold partners' library
    slug: str  # partner A's
    a_email: str
    b_email: str
    a_token: str
    b_token: str


def _publish(title: str, data: bytes, filename: str, zones: list, tiers: list[str]) -> str:
    asset = library.create_asset({"title": title, "allowed_tiers": tiers}, data, filename,
                                 by=None, tiers=["gold", "silver"], regions=["EMEA"])
    library.set_zones(asset, zones, by=None)
    asset.status = AssetStatus.PUBLISHED
    db.session.commit()
    return asset.public_id


def setup_library(app) -> Library:
    with app.app_context():
        ids = [_publish("Cloud Suite brochure", vendor_pdf(2), "brochure.pdf", PDF_ZONES,
                        ["gold"]),
               _publish("Datasheet", vendor_pdf(1), "datasheet.pdf", PDF_ZONES, ["gold"]),
               _publish("Datasheet", vendor_pdf(1), "datasheet-2.pdf", PDF_ZONES, ["gold"]),
               _publish("Launch tile", tile_jpeg(), "tile.jpg", TILE_ZONES, ["gold"]),
               _publish("Silver promo", vendor_pdf(1), "promo.pdf", [], ["silver"])]
        a = make_partner("Northwind IT", tier="gold")
        partners.update_brand_profile(a, {"display_name": "Northwind IT Ltd", "phone": PHONE},
                                      by=None, logo=(logo_png(), "logo.png"))
        db.session.commit()
        b = make_partner("Bravo Secret", tier="gold")
        a_admin = make_user(Role.PARTNER_ADMIN, partner=a)
        b_admin = make_user(Role.PARTNER_ADMIN, partner=b)
        return Library(*ids, slug=a.slug, a_email=a_admin.email, b_email=b_admin.email,
                       a_token=make_token(a_admin), b_token=make_token(b_admin))


def signed_in(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def bundle_id_from(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.search(r"/library/bundles/([\w-]+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def fetch_zip(client, download) -> zipfile.ZipFile:
    """Follow a download redirect to the storage URL and open the ZIP it serves."""
    assert download.status_code == 302, download.get_data(as_text=True)
    location = download.headers["Location"]
    assert "/files/" in location  # the stored file, not a page
    served = client.get(location.replace("http://localhost", ""))
    assert served.status_code == 200
    assert re.search(r"filename=[\w-]+-cobranded-\d{4}-\d\d-\d\d\.zip",
                     served.headers["Content-Disposition"])
    return zipfile.ZipFile(io.BytesIO(served.data))


def stored_bundle(app, public_id: str) -> CopyBundle:
    with app.app_context():
        bundle = db.session.execute(
            select(CopyBundle).where(CopyBundle.public_id == public_id)).scalar_one()
        db.session.expunge(bundle)
        return bundle


def downloads_via_bundle(app) -> int:
    with app.app_context():
        return db.session.query(AssetDownload).filter_by(via="bundle").count()


@pytest.fixture
def packs(caplog):
    """How many ZIPs builders packed and stored."""
    caplog.set_level(logging.INFO, logger="assets.bundles")

    def count() -> int:
        return sum(1 for r in caplog.records
                   if r.name == "assets.bundles" and " copies, " in r.getMessage())
    return count


def test_download_all_gives_one_zip_of_every_copy_in_the_library(app, jobs, packs):
    lib = setup_library(app)
    client = signed_in(app, lib.a_email)
    page = client.get("/library").get_data(as_text=True)
    assert "Download all as ZIP (4)" in page and "Download selected" in page
    assert f'name="asset_ids" value="{lib.tile}"' in page
    assert lib.silver_only not in page

    bundle_id = bundle_id_from(client.post("/library/bundle", data={
        "csrf_token": csrf_from(page), "scope": "all"}))
    page = client.get(f"/library/bundles/{bundle_id}").get_data(as_text=True)
    assert "0 of 4 copies ready" in page and "Cloud Suite brochure" in page
    state = client.get(f"/library/bundles/{bundle_id}/status").get_json()
    assert state == {"status": "queued", "ready": 0, "total": 4, "error": None,
                     "items": ["queued"] * 4, "download_url": None}
    early = client.get(f"/library/bundles/{bundle_id}/download")
    assert early.status_code == 302 and early.headers["Location"].endswith(bundle_id)

    jobs.run()
    state = client.get(f"/library/bundles/{bundle_id}/status").get_json()
    assert state["status"] == "done" and state["ready"] == state["total"] == 4, state
    assert "Your ZIP is ready: 4 of 4 copies." in client.get(
        f"/library/bundles/{bundle_id}").get_data(as_text=True)

    archive = fetch_zip(client, client.get(state["download_url"]))
    slug = lib.slug
    assert archive.namelist() == [  # the library's order: by title
        f"Cloud Suite brochure-{slug}.pdf", f"Datasheet-{slug}.pdf",
        f"Datasheet (2)-{slug}.pdf", f"Launch tile-{slug}.jpg"]
    assert archive.testzip() is None
    for name in archive.namelist()[:3]:
        pdf = archive.read(name)
        assert qpdf_check(pdf).returncode == 0, name
        text = pdftotext(pdf)
        assert f"Call {PHONE}" in text and "Vendor brochure" in text, name
    with Image.open(io.BytesIO(archive.read(f"Launch tile-{slug}.jpg"))) as tile:
        assert tile.format == "JPEG" and tile.size == (600, 400)
        assert tile.convert("RGB").getpixel((100, 50))[0] > 170  # the red logo is on it
    # Each file in the ZIP is a download for the partner.
    assert downloads_via_bundle(app) == 4
    assert packs() == 1


def test_selected_copies_are_waited_for_and_only_they_are_in_the_zip(app, jobs, packs):
    from assets.tasks import build_bundle

    lib = setup_library(app)
    client = signed_in(app, lib.a_email)
    token = csrf_from(client.get("/library").get_data(as_text=True))
    client.post(f"/library/{lib.brochure}/copy", data={"csrf_token": token})
    jobs.run()  # the brochure's copy exists already; the tile's will be rendered for the ZIP

    response = client.post("/library/bundle", data={
        "csrf_token": token, "scope": "selected", "asset_ids": [lib.tile, lib.brochure]})
    bundle_id = bundle_id_from(response)
    with app.app_context():
        # The builder looks before the tile is rendered: it waits (re-sending itself with a
        # delay), never packs a partial ZIP.
        build_bundle(stored_bundle(app, bundle_id).id)
    waiting = stored_bundle(app, bundle_id)
    assert waiting.status is BundleStatus.QUEUED and waiting.checks == 1
    assert waiting.next_check_at > utcnow() and waiting.file_key is None
    page = client.get(f"/library/bundles/{bundle_id}").get_data(as_text=True)
    assert "1 of 2 copies ready" in page

    jobs.run()  # renders the tile; the request's own message is early and dropped; the
    # delayed one packs
    done = stored_bundle(app, bundle_id)
    assert done.status is BundleStatus.DONE and done.checks == 2, done.error
    archive = fetch_zip(client, client.get(f"/library/bundles/{bundle_id}/download"))
    assert archive.namelist() == [f"Launch tile-{lib.slug}.jpg",
                                  f"Cloud Suite brochure-{lib.slug}.pdf"]  # as ticked
    assert f"Call {PHONE}" in pdftotext(archive.read(f"Cloud Suite brochure-{lib.slug}.pdf"))
    assert packs() == 1

    # A redelivered message, or the builder run again, changes nothing.
    with app.app_context():
        stored = storage().get(done.file_key)
        build_bundle(done.id)
        build_bundle.send_now(done.id)
    jobs.run()
    again = stored_bundle(app, bundle_id)
    assert again.checks == 2 and again.finished_at == done.finished_at
    with app.app_context():
        assert storage().get(done.file_key) == stored
    assert packs() == 1


def test_simultaneous_builders_pack_one_zip(app, jobs, packs):
    from assets.tasks import build_bundle

    lib = setup_library(app)
    with app.app_context():
        partner = db.session.execute(select(Partner).where(Partner.slug == lib.slug)).scalar_one()
        partner_pk = partner.id
        for asset_id in (lib.brochure, lib.datasheet):
            renditions.request_rendition(partner, library.get_asset(asset_id))
        db.session.commit()
    jobs.run()  # the copies exist: every builder below would pack at once
    with app.app_context():
        partner = db.session.get(Partner, partner_pk)
        bundle = bundles.request_bundle(partner, [library.get_asset(lib.brochure),
                                                  library.get_asset(lib.datasheet)])
        db.session.commit()
        bundle_pk, public_id = bundle.id, bundle.public_id

    start = threading.Barrier(3, timeout=20)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context():
                start.wait()
                build_bundle(bundle_pk)
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    jobs.run()  # and the request's own message finds it done
    bundle = stored_bundle(app, public_id)
    assert bundle.status is BundleStatus.DONE and bundle.checks == 1
    assert packs() == 1


def test_a_copy_that_cannot_be_made_fails_the_zip_naming_it_and_try_again_works(app, jobs):
    lib = setup_library(app)
    api = app.test_client()
    headers = {"Authorization": f"Bearer {lib.a_token}"}
    with app.app_context():
        version = library.current_version(library.get_asset(lib.datasheet))
        key, original = version.file_key, storage().get(version.file_key)
        storage().put(key, b"%PDF-1.7\n" + b"\x00garbage" * 200 + b"\n%%EOF\n")

    asked = api.post("/api/v1/library/bundles", headers=headers,
                     json={"asset_ids": [lib.brochure, lib.datasheet]})
    assert asked.status_code == 202, asked.get_data(as_text=True)
    body = asked.get_json()
    assert body["status"] == "queued" and body["total"] == 2 and body["download_url"] is None
    assert [i["asset_id"] for i in body["items"]] == [lib.brochure, lib.datasheet]
    jobs.run()

    state = api.get(f"/api/v1/library/bundles/{body['id']}", headers=headers).get_json()
    assert state["status"] == "failed" and state["download_url"] is None
    assert "“Datasheet”" in state["error"] and "cannot be opened for co-branding" in state["error"]
    assert "Cloud Suite brochure" not in state["error"]  # only the copy that failed is named
    refused = api.get(f"/api/v1/library/bundles/{body['id']}/download", headers=headers)
    assert refused.status_code == 409 and "failed" in refused.get_json()["detail"]

    # The partner's page says the same, and offers to try again; the vendor fixes the file.
    client = signed_in(app, lib.a_email)
    page = client.get(f"/library/bundles/{body['id']}").get_data(as_text=True)
    assert "We could not make your ZIP." in page and "cannot be opened for co-branding" in page
    assert "Try again" in page
    with app.app_context():
        storage().put(key, original)
    retry = client.post("/library/bundle", data={
        "csrf_token": csrf_from(page), "scope": "selected",
        "asset_ids": [lib.brochure, lib.datasheet]})
    second = bundle_id_from(retry)
    jobs.run()
    assert client.get(f"/library/bundles/{second}/status").get_json()["status"] == "done"
    archive = fetch_zip(client, client.get(f"/library/bundles/{second}/download"))
    assert sorted(archive.namelist()) == [f"Cloud Suite brochure-{lib.slug}.pdf",
                                          f"Datasheet-{lib.slug}.pdf"]


def test_copies_never_ready_end_the_wait_with_a_message(app, jobs, monkeypatch):
    """A copy another worker holds and never finishes: the builder stops after its bounded
    number of looks (three here instead of 45, so the test waits 1.5 s, not 20 minutes)."""
    monkeypatch.setattr(bundles, "MAX_CHECKS", 3)
    lib = setup_library(app)
    api = app.test_client()
    headers = {"Authorization": f"Bearer {lib.a_token}"}
    body = api.post("/api/v1/library/bundles", headers=headers,
                    json={"asset_ids": [lib.tile]}).get_json()
    with app.app_context():
        # A live worker claimed the tile's copy a moment ago (and is taking its time): its
        # message finds it taken, and nobody takes it over before STALE_RENDER.
        db.session.execute(update(Rendition).values(status=RenditionStatus.RENDERING,
                                                    started_at=utcnow(), attempts=1))
        db.session.commit()
    jobs.run()
    state = api.get(f"/api/v1/library/bundles/{body['id']}", headers=headers).get_json()
    assert state["status"] == "failed", state
    assert state["error"] == ("These copies were still not ready after a long wait: "
                              "“Launch tile”. Ask for the ZIP again.")
    assert state["items"] == [{"asset_id": lib.tile, "title": "Launch tile",
                               "status": "rendering"}]
    assert stored_bundle(app, body["id"]).checks == 3


def test_the_api_zips_the_whole_library_and_counts_each_file(app, jobs):
    lib = setup_library(app)
    api = app.test_client()
    headers = {"Authorization": f"Bearer {lib.a_token}"}
    body = api.post("/api/v1/library/bundles", headers=headers, json={}).get_json()
    assert body["total"] == 4 and lib.silver_only not in {i["asset_id"] for i in body["items"]}
    early = api.get(f"/api/v1/library/bundles/{body['id']}/download", headers=headers)
    assert early.status_code == 409 and "not ready" in early.get_json()["detail"]
    jobs.run()
    state = api.get(f"/api/v1/library/bundles/{body['id']}", headers=headers).get_json()
    assert state["status"] == "done" and state["ready"] == 4 and state["size"] > 0
    assert state["download_url"].endswith(f"/api/v1/library/bundles/{body['id']}/download")
    download = api.get(state["download_url"].replace("http://localhost", ""), headers=headers)
    archive = fetch_zip(api, download)
    assert len(archive.namelist()) == 4 and archive.infolist()[0].file_size > 0
    assert downloads_via_bundle(app) == 4
    fetch_zip(api, api.get(f"/api/v1/library/bundles/{body['id']}/download", headers=headers))
    assert downloads_via_bundle(app) == 8  # every download of the ZIP counts its files

    # The vendor withdraws an asset: the ZIP holding it is not handed out any more.
    with app.app_context():
        library.get_asset(lib.tile).status = AssetStatus.RETIRED
        db.session.commit()
    withdrawn = api.get(f"/api/v1/library/bundles/{body['id']}/download", headers=headers)
    assert withdrawn.status_code == 409 and "“Launch tile”" in withdrawn.get_json()["detail"]


def test_partner_b_never_sees_partner_as_zip(app, jobs):
    lib = setup_library(app)
    a = signed_in(app, lib.a_email)
    bundle_id = bundle_id_from(a.post("/library/bundle", data={
        "csrf_token": csrf_from(a.get("/library").get_data(as_text=True)), "scope": "all"}))
    jobs.run()
    assert a.get(f"/library/bundles/{bundle_id}/status").get_json()["status"] == "done"

    b = signed_in(app, lib.b_email)
    for path in ("", "/status", "/download"):
        response = b.get(f"/library/bundles/{bundle_id}{path}")
        assert response.status_code == 404, path
        assert "Northwind" not in response.get_data(as_text=True)
    b_api = {"Authorization": f"Bearer {lib.b_token}"}
    for path in ("", "/download"):
        response = b.get(f"/api/v1/library/bundles/{bundle_id}{path}", headers=b_api)
        assert response.status_code == 404, path
    assert downloads_via_bundle(app) == 0


def test_assets_outside_the_library_or_none_at_all_are_refused(app, jobs):
    lib = setup_library(app)
    client = signed_in(app, lib.a_email)
    token = csrf_from(client.get("/library").get_data(as_text=True))

    refused = client.post("/library/bundle", data={
        "csrf_token": token, "scope": "selected",
        "asset_ids": [lib.brochure, lib.silver_only, "no-such-asset"]})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert f"Not in your library: {lib.silver_only}, no-such-asset." in page
    assert "Silver promo" not in page  # the refused asset's title is not given away
    assert re.search(rf'value="{lib.brochure}"\s+aria-label="[^"]+" checked', page)

    nothing = client.post("/library/bundle", data={"csrf_token": token, "scope": "selected"})
    assert nothing.status_code == 422
    assert "Tick at least one asset" in nothing.get_data(as_text=True)

    api = app.test_client()
    headers = {"Authorization": f"Bearer {lib.a_token}"}
    for sent, message in (([lib.silver_only], f"Not in your library: {lib.silver_only}."),
                          ([], "Tick at least one asset, or download your whole library.")):
        response = api.post("/api/v1/library/bundles", headers=headers,
                            json={"asset_ids": sent})
        assert response.status_code == 422
        assert response.get_json()["errors"] == [{"field": "asset_ids", "message": message}]
    unknown = api.get("/api/v1/library/bundles/no-such-zip", headers=headers)
    assert unknown.status_code == 404

    silver = app.test_client()
    with app.app_context():
        email = make_user(Role.PARTNER_ADMIN, partner=make_partner("Tin", tier="registered")).email
    login(silver, email)
    empty = silver.post("/library/bundle", data={
        "csrf_token": csrf_from(silver.get("/library").get_data(as_text=True)),
        "scope": "all"})
    assert empty.status_code == 422 and "Your library is empty" in empty.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(CopyBundle).count() == 0
        assert db.session.query(Rendition).count() == 0  # nothing was queued either


def test_zip_entry_names_are_safe_and_unique_ignoring_case():
    taken: set[str] = set()
    names = [bundles.entry_name(t, "acme", "pdf", taken)
             for t in ("Q3 / Q4: plan?", "q3 - q4- plan-", "  ", "Broşür «Köln»", "..hidden")]
    assert names == ["Q3 - Q4- plan-acme.pdf", "q3 - q4- plan (2)-acme.pdf", "asset-acme.pdf",
                     "Broşür «Köln»-acme.pdf", "hidden-acme.pdf"]
