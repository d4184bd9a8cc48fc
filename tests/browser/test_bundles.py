"""A partner ticks assets in the library, asks for one ZIP, watches the page count the copies
as they are rendered (it polls by itself), and downloads the ZIP.

Screenshots (desktop and phone) go to ``/tmp/tcma-shots`` (``TCMA_SHOTS_DIR``).
"""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.helpers import horizontal_overflow, nav, sign_in
from tests.factories import make_partner, make_user

pytestmark = pytest.mark.browser


def _tile(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), color).save(out, "PNG")
    return out.getvalue()


def test_partner_ticks_assets_and_downloads_one_zip(app, new_page, jobs, shots_dir, tmp_path):
    from assets import library
    from assets.models import AssetStatus
    from tcma.extensions import db

    with app.app_context():
        for title, color in (("Banner", (200, 30, 30)), ("Hero image", (30, 30, 200)),
                             ("Social tile", (30, 160, 60))):
            asset = library.create_asset({"title": title}, _tile(color), f"{title}.png",
                                         by=None, tiers=["gold"], regions=["EMEA"])
            library.set_zones(asset, [{"page": 0, "x": 10, "y": 10, "width": 200,
                                       "height": 40, "kind": "text",
                                       "template": "{{ partner.display_name }}"}], by=None)
            asset.status = AssetStatus.PUBLISHED
        db.session.commit()
        partner = make_partner("Northwind Traders", tier="gold")
        email, slug = make_user("partner_admin", partner=partner).email, partner.slug

    page = new_page()
    sign_in(page, email)
    nav(page, "Library").click()
    selected = page.get_by_role("button", name=re.compile("Download selected"))
    expect(selected).to_be_disabled()  # nothing ticked yet
    page.get_by_label("Select Banner").check()
    page.get_by_label("Select Social tile").check()
    expect(selected).to_have_text("Download selected (2)")
    page.screenshot(path=str(shots_dir / "bundle-library-desktop.png"), full_page=True)
    selected.click()

    state = page.locator("#bundle-state")
    expect(state).to_have_text("0 of 2 copies ready… this page updates by itself.")
    expect(page.get_by_role("progressbar", name="Copies ready")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Download ZIP"))).to_be_hidden()
    page.screenshot(path=str(shots_dir / "bundle-preparing-desktop.png"), full_page=True)
    jobs.run()
    expect(state).to_have_text("Your ZIP is ready: 2 of 2 copies.", timeout=10_000)
    expect(page.get_by_role("progressbar", name="Copies ready")).to_be_hidden()
    expect(page.locator("#bundle-items .badge")).to_have_text(["done", "done"])
    page.screenshot(path=str(shots_dir / "bundle-ready-desktop.png"), full_page=True)

    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("Download ZIP")).click()
    download = info.value
    assert re.fullmatch(rf"{slug}-cobranded-\d{{4}}-\d\d-\d\d\.zip", download.suggested_filename)
    path = tmp_path / "copies.zip"
    download.save_as(path)
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == [f"Banner-{slug}.png", f"Social tile-{slug}.png"]

    phone = new_page(PHONE)
    sign_in(phone, email)
    phone.goto(page.url)
    expect(phone.locator("#bundle-state")).to_have_text("Your ZIP is ready: 2 of 2 copies.")
    assert horizontal_overflow(phone) == 0
    phone.screenshot(path=str(shots_dir / "bundle-ready-phone.png"), full_page=True)
    phone.goto("/library")
    assert horizontal_overflow(phone) == 0
    phone.screenshot(path=str(shots_dir / "bundle-library-phone.png"), full_page=True)
