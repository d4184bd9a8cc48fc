"""The asset library through the JSON API, as an integrator's script would drive it.

Vendor staff upload files, place zones, preview and publish; partner users ask for their
co-branded copy, wait for the worker (``jobs.run()``, a real Dramatiq worker) and download
it through a counted redirect. Every refusal is a problem document naming what was wrong.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import func, select

from tests.api.conftest import Api, assert_problem, field_errors

RED = (220, 20, 20)
LOGO_ZONE = {"page": 0, "x": 20, "y": 20, "width": 120, "height": 60, "kind": "logo"}
TEXT_ZONE = {"page": 0, "x": 20, "y": 200, "width": 360, "height": 60, "kind": "text",
             "template": "Call {{ partner.phone }}", "size": 14, "min_size": 8,
             "color": "#000000"}


# --- fixtures: the API tests' callers (fresh, new_partner, as_user) come from
# tests/assets/conftest.py, which takes them from tests/api/conftest.py ----------------------


@pytest.fixture
def marketer(as_user) -> Api:
    return as_user("marketer")


# --- files -------------------------------------------------------------------------------------


def png(width: int = 400, height: int = 300, color: tuple[int, ...] = (255, 255, 255)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def logo_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (300, 100), (*RED, 255)).save(out, "PNG")
    return out.getvalue()


def pdf(pages: int = 2) -> bytes:
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4)
    for number in range(pages):
        canvas.drawString(72, 760, f"Datasheet page {number + 1}")
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def is_red(pixel: tuple[int, ...]) -> bool:
    return pixel[0] > 170 and pixel[1] < 90 and pixel[2] < 90


def has_ink(picture: Image.Image, box: tuple[int, int, int, int]) -> bool:
    """Dark pixels in ``box``: text was drawn there."""
    return min(low for low, _ in picture.crop(box).getextrema()) < 100


def image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def upload(api: Api, data: bytes | None = None, filename: str = "tile.png", **fields: Any):
    form: dict[str, Any] = {"title": "Launch tile", **fields}
    if data is not None:
        form["file"] = (io.BytesIO(data), filename)
    return api.post("/assets", data=form)


def published(api: Api, *, zones: list[dict] | None = None, **fields: Any) -> str:
    """A published 400x300 image asset with a logo and a text zone; its id."""
    asset = api.ok("POST", "/assets", 201, data={"title": "Launch tile",
                                                 "file": (io.BytesIO(png()), "tile.png"),
                                                 **fields})
    api.ok("PUT", f"/assets/{asset['id']}/zones", json={
        "zones": [LOGO_ZONE, TEXT_ZONE] if zones is None else zones})
    api.ok("POST", f"/assets/{asset['id']}/status", json={"status": "published"})
    return asset["id"]


def branded(as_user, new_partner, name: str, *, tier: str = "gold", phone: str = "+1 555 0100",
            logo: bool = True) -> Api:
    """A partner admin whose brand profile has a phone and (optionally) a red logo."""
    partner = new_partner(name, tier=tier)
    admin = as_user("partner_admin", partner=partner)
    admin.ok("PUT", f"/partners/{partner}/brand-profile", json={"display_name": name,
                                                                "phone": phone})
    if logo:
        admin.ok("PUT", f"/partners/{partner}/brand-profile/logo",
                 data={"logo": (io.BytesIO(logo_png()), "logo.png")})
    return admin


def downloads(fresh, via: str) -> int:
    from assets.models import AssetDownload

    with fresh() as s:
        return s.execute(select(func.count()).select_from(AssetDownload)
                         .where(AssetDownload.via == via)).scalar_one()


# --- vendor: upload, details, versions ---------------------------------------------------------


def test_marketer_uploads_an_asset_and_finds_it(marketer):
    created = upload(marketer, png(), title="Launch tile", description="Square tile",
                     tags="launch, social", language="de", allowed_tiers=["gold", "silver"],
                     allowed_regions="EMEA", publish_at="2030-01-01T09:00:00Z")
    assert created.status_code == 201, created.get_data(as_text=True)
    asset = created.get_json()
    assert asset["status"] == "draft" and asset["kind"] == "image" and asset["unit"] == "px"
    assert asset["tags"] == ["launch", "social"] and asset["language"] == "de"
    assert asset["allowed_tiers"] == ["gold", "silver"] and asset["allowed_regions"] == ["EMEA"]
    assert asset["publish_at"].startswith("2030-01-01T09:00:00")
    assert asset["page_sizes"] == [[400, 300]] and asset["pages"] == 1
    assert [v["version"] for v in asset["versions"]] == [1]
    assert asset["versions"][0]["filename"] == "tile.png"
    assert asset["versions"][0]["content_type"] == "image/png"
    assert asset["zone_set"]["version"] == 1 and asset["zone_set"]["zones"] == []

    other = marketer.ok("POST", "/assets", 201, data={
        "title": "Datasheet", "file": (io.BytesIO(pdf(3)), "sheet.pdf")})
    assert other["kind"] == "pdf" and other["unit"] == "pt" and other["pages"] == 3
    marketer.ok("POST", f"/assets/{other['id']}/status", json={"status": "published"})

    assert [a["title"] for a in marketer.ok("GET", "/assets")] == ["Datasheet", "Launch tile"]
    assert [a["id"] for a in marketer.ok("GET", "/assets", query_string={"q": "tile"})] == [
        asset["id"]]
    assert [a["id"] for a in marketer.ok("GET", "/assets",
                                         query_string={"status": "published"})] == [other["id"]]
    body = assert_problem(marketer.get("/assets", query_string={"status": "live"}), 422)
    assert set(field_errors(body)) == {"status"}
    assert marketer.ok("GET", f"/assets/{asset['id']}") == asset
    assert_problem(marketer.get("/assets/no-such-asset"), 404)


@pytest.mark.parametrize(("data", "filename", "fields", "field"), [
    (None, "", {}, "file"),
    (png(), "tile.png", {"title": ""}, "title"),
    (png(), "tile.png", {"allowed_tiers": "gold, diamond"}, "allowed_tiers"),
    (png(), "tile.png", {"allowed_regions": "Mars"}, "allowed_regions"),
    (png(), "tile.png", {"language": "German"}, "language"),
    (png(), "tile.png", {"publish_at": "2030-01-01T09:00:00"}, "publish_at"),
    (png(), "tile.png", {"publish_at": "2030-02-01T00:00:00Z",
                         "expires_at": "2030-01-01T00:00:00Z"}, "expires_at"),
    (png(), "tile.png", {"titel": "typo"}, "titel"),
    (b"just some text, not an image", "tile.png", {}, "file"),
    (pdf(1), "tile.png", {}, "file"),
])
def test_upload_refusals_name_the_field(marketer, fresh, data, filename, fields, field):
    from assets.models import Asset

    body = assert_problem(upload(marketer, data, filename, **fields), 422)
    assert field in field_errors(body), body
    with fresh() as s:  # nothing partial was stored
        assert s.execute(select(func.count()).select_from(Asset)).scalar_one() == 0


def test_patch_changes_only_what_is_sent(marketer):
    asset = marketer.ok("POST", "/assets", 201, data={
        "title": "Launch tile", "tags": "launch", "expires_at": "2031-01-01T00:00:00Z",
        "file": (io.BytesIO(png()), "tile.png")})
    path = f"/assets/{asset['id']}"

    changed = marketer.ok("PATCH", path, json={"description": "For launch week",
                                                "allowed_regions": ["EMEA", "APAC"],
                                                "expires_at": None})
    assert changed["title"] == "Launch tile" and changed["tags"] == ["launch"]
    assert changed["description"] == "For launch week"
    assert changed["allowed_regions"] == ["EMEA", "APAC"] and changed["expires_at"] is None

    for patch, field in [({"title": None}, "title"), ({"title": ""}, "title"),
                         ({"allowed_tiers": ["diamond"]}, "allowed_tiers"),
                         ({"language": "xx_y"}, "language"), ({"colour": "red"}, "colour"),
                         ({"publish_at": "2031-01-01T00:00:00Z",
                           "expires_at": "2030-01-01T00:00:00Z"}, "expires_at")]:
        body = assert_problem(marketer.patch(path, json=patch), 422)
        assert field in field_errors(body), (patch, body)
    assert_problem(marketer.patch(path, data="title=x"), 400)  # not JSON
    assert marketer.ok("GET", path)["description"] == "For launch week"  # refusals kept it


def test_a_new_version_must_be_the_same_kind_and_fit_the_zones(marketer):
    asset = marketer.ok("POST", "/assets", 201, data={
        "title": "Launch tile", "file": (io.BytesIO(png()), "tile.png")})
    path = f"/assets/{asset['id']}"
    marketer.ok("PUT", f"{path}/zones", json={"zones": [LOGO_ZONE]})

    newer = marketer.ok("POST", f"{path}/versions", 201,
                        data={"file": (io.BytesIO(png(800, 600)), "tile-v2.png")})
    assert [v["version"] for v in newer["versions"]] == [2, 1]
    assert newer["page_sizes"] == [[800, 600]] and newer["version"] == 2

    wrong_kind = assert_problem(marketer.post(f"{path}/versions", data={
        "file": (io.BytesIO(pdf(1)), "sheet.pdf")}), 422)
    assert "image" in field_errors(wrong_kind)["file"]
    too_small = assert_problem(marketer.post(f"{path}/versions", data={
        "file": (io.BytesIO(png(100, 50)), "tiny.png")}), 422)
    assert "zones" in field_errors(too_small)["file"]
    missing = assert_problem(marketer.post(f"{path}/versions", data={}), 422)
    assert set(field_errors(missing)) == {"file"}
    assert [v["version"] for v in marketer.ok("GET", path)["versions"]] == [2, 1]


# --- vendor: zones, status, pages, previews, warnings ------------------------------------------


def test_zones_are_saved_as_a_new_set_and_errors_name_each_zone_field(marketer):
    asset = marketer.ok("POST", "/assets", 201, data={
        "title": "Launch tile", "file": (io.BytesIO(png()), "tile.png")})
    path = f"/assets/{asset['id']}/zones"

    saved = marketer.ok("PUT", path, json={"zones": [LOGO_ZONE, TEXT_ZONE]})
    assert saved["zone_set"]["version"] == 2
    assert [z["kind"] for z in saved["zone_set"]["zones"]] == ["logo", "text"]
    assert saved["zone_set"]["zones"][1]["template"] == "Call {{ partner.phone }}"
    # What the API answers can be sent back unchanged: nothing changes, no new set.
    again = marketer.ok("PUT", path, json={"zones": saved["zone_set"]["zones"]})
    assert again["zone_set"]["version"] == 2

    body = assert_problem(marketer.put(path, json={"zones": [
        {**LOGO_ZONE, "x": 350},  # 350 + 120 reaches past the 400 px edge
        {**TEXT_ZONE, "kind": "barcode"},
        {**TEXT_ZONE, "template": "{{ partner.fax }}", "color": "red"},
        {**LOGO_ZONE, "page": 1},
    ]}), 422)
    errors = field_errors(body)
    assert "400 px" in errors["zones[0].x"]
    assert "zones[1].kind" in errors and "zones[2].color" in errors
    assert "fax" in errors["zones[2].template"]
    assert "does not exist" in errors["zones[3].page"]
    assert set(field_errors(assert_problem(
        marketer.put(path, json={"zones": "logo top left"}), 422))) == {"zones"}
    assert set(field_errors(assert_problem(
        marketer.put(path, json={"zones": [{"kind": "logo"}]}), 422))) >= {
        "zones[0].page", "zones[0].x", "zones[0].width"}
    assert_problem(marketer.put(path, json=[LOGO_ZONE]), 400)  # a list is not an object
    assert marketer.ok("GET", f"/assets/{asset['id']}")["zone_set"]["version"] == 2

    cleared = marketer.ok("PUT", path, json={"zones": []})
    assert cleared["zone_set"]["version"] == 3 and cleared["zone_set"]["zones"] == []


def test_publish_and_retire(marketer, as_user, new_partner):
    asset = marketer.ok("POST", "/assets", 201, data={
        "title": "Launch tile", "file": (io.BytesIO(png()), "tile.png")})
    path = f"/assets/{asset['id']}/status"
    partner = as_user("partner_user", partner=new_partner("Northwind"))
    assert partner.ok("GET", "/library") == []

    assert marketer.ok("POST", path, json={"status": "published"})["status"] == "published"
    assert [a["id"] for a in partner.ok("GET", "/library")] == [asset["id"]]
    assert marketer.ok("POST", path, json={"status": "retired"})["status"] == "retired"
    assert partner.ok("GET", "/library") == []

    back = assert_problem(marketer.post(path, json={"status": "draft"}), 409)
    assert "retire" in back["detail"]
    assert set(field_errors(assert_problem(marketer.post(path, json={"status": "live"}),
                                           422))) == {"status"}


def test_page_images_and_previews_as_a_partner_or_the_sample(marketer, as_user, new_partner):
    sheet = marketer.ok("POST", "/assets", 201, data={
        "title": "Datasheet", "file": (io.BytesIO(pdf(2)), "sheet.pdf")})
    first = marketer.get(f"/assets/{sheet['id']}/pages/2")
    assert first.status_code == 200 and first.mimetype == "image/png"
    assert image(first.data).size[0] < image(first.data).size[1]  # an A4 page, upright
    for page in (0, 3):
        body = assert_problem(marketer.get(f"/assets/{sheet['id']}/pages/{page}"), 422)
        assert "1 to 2" in field_errors(body)["page"]

    tile = published(marketer)
    northwind = branded(as_user, new_partner, "Northwind")
    partner_id = northwind.user.partner_id
    shown = marketer.get(f"/assets/{tile}/preview", query_string={"partner": partner_id})
    assert shown.status_code == 200 and shown.mimetype == "image/png"
    picture = image(shown.data)
    assert is_red(picture.getpixel((60, 40)))  # the logo, inside its zone
    assert picture.getpixel((300, 120)) == (255, 255, 255)  # the page around it untouched
    sample = image(marketer.get(f"/assets/{tile}/preview").data)
    assert not is_red(sample.getpixel((60, 40)))  # the sample partner has no logo...
    assert has_ink(sample, (20, 200, 380, 260))  # ...but a (long) phone number
    assert sample.crop((20, 200, 380, 260)).tobytes() != picture.crop(
        (20, 200, 380, 260)).tobytes()

    errors = field_errors(assert_problem(marketer.get(
        f"/assets/{tile}/preview", query_string={"partner": "nobody", "page": "two"}), 422))
    assert set(errors) == {"partner", "page"}
    assert "page" in field_errors(assert_problem(marketer.get(
        f"/assets/{tile}/preview", query_string={"page": "2"}), 422))


def test_warnings_name_the_zone_that_long_values_overflow(marketer):
    tight = {**TEXT_ZONE, "template": "{{ partner.display_name }}", "width": 60, "height": 12,
             "size": 10, "min_size": 8}
    asset = published(marketer, zones=[LOGO_ZONE, tight])
    warnings = marketer.ok("GET", f"/assets/{asset}/warnings")
    overflow = [w for w in warnings if "does not fit" in w["message"]]
    assert overflow and overflow[0]["zone"] == 1
    assert "Müller-Lüdenscheidt" in overflow[0]["message"]  # the sample's long name

    roomy = published(marketer, zones=[TEXT_ZONE])
    assert marketer.ok("GET", f"/assets/{roomy}/warnings") == []


# --- who may do what ---------------------------------------------------------------------------


def test_roles_decide_who_reads_and_who_writes(marketer, as_user, new_partner, client):
    asset = published(marketer)
    def file() -> tuple[io.BytesIO, str]:  # each request reads (and closes) its own
        return io.BytesIO(png()), "x.png"

    writes = [
        ("POST", "/assets", lambda: {"data": {"title": "X", "file": file()}}),
        ("PATCH", f"/assets/{asset}", lambda: {"json": {"title": "Renamed"}}),
        ("POST", f"/assets/{asset}/versions", lambda: {"data": {"file": file()}}),
        ("PUT", f"/assets/{asset}/zones", lambda: {"json": {"zones": []}}),
        ("POST", f"/assets/{asset}/status", lambda: {"json": {"status": "retired"}}),
    ]
    reads = ["/assets", f"/assets/{asset}", f"/assets/{asset}/pages/1",
             f"/assets/{asset}/preview", f"/assets/{asset}/warnings"]

    for role in ("channel_manager", "finance"):
        staff = as_user(role)
        for path in reads:
            assert staff.get(path).status_code == 200, (role, path)
        for method, path, kw in writes:
            assert_problem(staff._call(method, path, **kw()), 403)
        assert_problem(staff.post(f"/library/{asset}/copy"), 403)  # vendor staff: no library

    partner = as_user("partner_admin", partner=new_partner("Northwind"))
    assert [a["id"] for a in partner.ok("GET", "/library")] == [asset]  # visible to it...
    for path in reads:
        assert_problem(partner.get(path), 404)  # ...yet the vendor side does not exist for it
    for method, path, kw in writes:
        assert_problem(partner._call(method, path, **kw()), 404)

    assert_problem(Api(client, "tcma_not-a-token").get("/library"), 401)
    assert_problem(client.get("/api/v1/assets"), 401)
    assert marketer.ok("GET", f"/assets/{asset}")["title"] == "Launch tile"  # nothing changed


# --- partner: library, copies, downloads, links ------------------------------------------------


def test_partner_asks_for_a_copy_waits_for_the_worker_and_downloads_it(
        marketer, as_user, new_partner, jobs, client, fresh):
    asset = published(marketer)
    northwind = branded(as_user, new_partner, "Northwind", phone="+44 20 7946 0000")
    copy = f"/library/{asset}/copy"

    library = northwind.ok("GET", "/library")
    assert [(a["id"], a["kind"], a["version"], a["pages"]) for a in library] == [
        (asset, "image", 1, 1)]
    assert "yet" in assert_problem(northwind.get(copy), 404)["detail"]
    assert "not asked for" in assert_problem(northwind.get(f"/library/{asset}/download"),
                                             409)["detail"]

    queued = northwind.ok("POST", copy, 202)
    assert queued["status"] == "queued" and queued["download_url"] is None
    assert queued["asset_id"] == asset and queued["asset_version"] == 1
    assert northwind.ok("GET", copy)["status"] == "queued"
    assert "queued" in assert_problem(northwind.get(f"/library/{asset}/download"),
                                      409)["detail"]

    jobs.run()
    done = northwind.ok("GET", copy)
    assert done["status"] == "done" and done["id"] == queued["id"] and done["size"] > 0
    assert done["download_url"] == f"http://localhost/api/v1/library/{asset}/download"
    assert northwind.ok("POST", copy, 200)["id"] == queued["id"]  # cached: no second render

    assert downloads(fresh, "api") == 0
    redirect = northwind.get(f"/library/{asset}/download")
    assert redirect.status_code == 302 and redirect.data == b""
    file = client.get(redirect.headers["Location"].removeprefix("http://localhost"))
    assert file.status_code == 200
    assert "tile-northwind.png" in file.headers["Content-Disposition"]
    stamped = image(file.data)
    assert stamped.size == (400, 300)
    assert is_red(stamped.getpixel((60, 40)))  # the partner's logo inside the logo zone
    assert stamped.getpixel((300, 120)) == (255, 255, 255)
    assert has_ink(stamped, (20, 200, 380, 260))  # the phone number in the text zone
    assert northwind.get(f"/library/{asset}/download").status_code == 302
    assert downloads(fresh, "api") == 2  # each download counted for the partner


def test_a_new_brand_profile_or_file_needs_a_new_copy(marketer, as_user, new_partner, jobs):
    asset = published(marketer)
    northwind = branded(as_user, new_partner, "Northwind")
    copy = f"/library/{asset}/copy"
    first = northwind.ok("POST", copy, 202)
    jobs.run()

    northwind.ok("PUT", f"/partners/{northwind.user.partner_id}/brand-profile",
                 json={"display_name": "Northwind Rebranded", "phone": "+1 555 0199"})
    assert_problem(northwind.get(copy), 404)  # the old copy is not the current one
    second = northwind.ok("POST", copy, 202)
    assert second["id"] != first["id"]
    jobs.run()
    assert northwind.ok("GET", copy)["status"] == "done"

    marketer.ok("POST", f"/assets/{asset}/versions", 201,
                data={"file": (io.BytesIO(png(color=(240, 240, 250))), "tile-v2.png")})
    third = northwind.ok("POST", copy, 202)
    assert third["asset_version"] == 2 and third["id"] not in (first["id"], second["id"])


def test_a_partner_never_reaches_another_partners_copy_or_assets_outside_its_audience(
        marketer, as_user, new_partner, jobs):
    gold_only = published(marketer, allowed_tiers="gold")
    amer_only = published(marketer, allowed_regions="AMER")
    expired = published(marketer)
    marketer.ok("PATCH", f"/assets/{expired}", json={"expires_at": "2020-01-01T00:00:00Z"})
    draft = marketer.ok("POST", "/assets", 201, data={
        "title": "Draft", "file": (io.BytesIO(png()), "d.png")})["id"]

    alpha = branded(as_user, new_partner, "Alpha", tier="gold")
    bravo = branded(as_user, new_partner, "Bravo", tier="gold")
    silver = branded(as_user, new_partner, "Silver Co", tier="silver")

    bravo_copy = bravo.ok("POST", f"/library/{gold_only}/copy", 202)
    jobs.run()
    # Alpha sees the same asset, but never Bravo's copy of it: it has none until it asks.
    assert_problem(alpha.get(f"/library/{gold_only}/copy"), 404)
    assert "not asked for" in assert_problem(alpha.get(f"/library/{gold_only}/download"),
                                             409)["detail"]
    alpha_copy = alpha.ok("POST", f"/library/{gold_only}/copy", 202)
    assert alpha_copy["id"] != bravo_copy["id"]
    assert bravo.ok("GET", f"/library/{gold_only}/copy")["id"] == bravo_copy["id"]

    assert [a["id"] for a in silver.ok("GET", "/library")] == []
    assert [a["id"] for a in alpha.ok("GET", "/library")] == [gold_only]
    for asset in (gold_only, amer_only, expired, draft, "no-such-asset"):
        for method, path in [("POST", "copy"), ("GET", "copy"), ("GET", "download"),
                             ("GET", "link")]:
            body = assert_problem(silver._call(method, f"/library/{asset}/{path}"), 404)
            assert body["detail"] == "No such asset."  # the same answer whether it exists


def test_the_stable_link_is_the_partners_own_and_counted(marketer, as_user, new_partner, jobs,
                                                        client, fresh):
    asset = published(marketer)
    alpha = branded(as_user, new_partner, "Alpha")
    bravo = branded(as_user, new_partner, "Bravo")

    link = alpha.ok("GET", f"/library/{asset}/link")
    assert link["asset_id"] == asset and link["url"].startswith("http://localhost/a/")
    assert alpha.ok("GET", f"/library/{asset}/link") == link  # stable
    assert bravo.ok("GET", f"/library/{asset}/link")["url"] != link["url"]

    path = link["url"].removeprefix("http://localhost")
    assert client.get(path).status_code == 202  # being prepared
    jobs.run()
    served = client.get(path)
    assert served.status_code == 302
    assert "tile-alpha.png" in client.get(served.headers["Location"].removeprefix(
        "http://localhost")).headers["Content-Disposition"]
    assert downloads(fresh, "link") == 1 and downloads(fresh, "api") == 0
