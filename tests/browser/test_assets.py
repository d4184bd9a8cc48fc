"""The co-branding journey in a real browser: a marketer draws zones on a brochure's last
page with the mouse, a partner gets a copy that updates by itself when it is ready, and the
downloaded PDF carries the partner's phone number.

Full-page screenshots of the editor and the partner's page (desktop and phone) go to
``/tmp/tcma-shots`` (``TCMA_SHOTS_DIR``) for people to look at.
"""

from __future__ import annotations

import io
import json
import re
import subprocess

import pytest
from PIL import Image
from playwright.sync_api import expect
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from tests.browser.conftest import PHONE
from tests.browser.helpers import horizontal_overflow, nav, sign_in
from tests.factories import make_partner, make_user

pytestmark = pytest.mark.browser

PAGE_W, PAGE_H = A4  # 595 x 842 pt
PHONE_NUMBER = "+44 20 7946 0000"
LOGO_BOX = (40, 690, 200, 80)  # x, y, width, height in points, from the top-left corner
TEXT_BOX = (300, 690, 250, 80)
TOLERANCE = 3.0  # points: one screen pixel is about 1.4 pt at the editor's desktop size


def brochure(pages: int = 4) -> bytes:
    """A vendor brochure with real text on every page."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4)
    for number in range(pages):
        canvas.setFont("Helvetica", 16)
        canvas.drawString(72, PAGE_H - 90, f"Acme Cloud Backup brochure page {number + 1}")
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def logo_png() -> bytes:
    image = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
    image.paste((10, 124, 90, 255), (10, 10, 290, 90))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def partner_with_brand(app) -> str:
    """A gold partner whose brand profile is complete (logo included); its admin's email."""
    from tcma.extensions import db
    from tcma.partners import service as partners

    with app.app_context():
        northwind = make_partner("Northwind Traders", tier="gold")
        partners.update_brand_profile(
            northwind,
            {"display_name": "Northwind", "contact_name": "Pat Partner",
             "email": "hello@northwind.example", "phone": PHONE_NUMBER,
             "website": "https://northwind.example", "address_line1": "1 Harbour Road",
             "city": "Bristol", "postal_code": "BS1 4DJ", "country": "GB",
             "primary_color": "#0a7c5a", "timezone": "Europe/London"},
            by=None, logo=(logo_png(), "northwind.png"))
        email = make_user("partner_admin", partner=northwind, name="Pat Partner").email
        db.session.commit()
        return email


def draw(page, box: tuple[float, float, float, float]) -> None:
    """Drag the mouse across the shown page from one corner of ``box`` (points) to the other."""
    shown = page.locator(".zone-page.current .ze-layer")
    shown.evaluate("el => el.scrollIntoView({block: 'center'})")  # the whole page in view
    layer = shown.bounding_box()
    scale = layer["width"] / PAGE_W
    x, y, w, h = box
    page.mouse.move(layer["x"] + x * scale, layer["y"] + y * scale)
    page.mouse.down()
    page.mouse.move(layer["x"] + (x + w / 2) * scale, layer["y"] + (y + h / 2) * scale, steps=4)
    page.mouse.move(layer["x"] + (x + w) * scale, layer["y"] + (y + h) * scale, steps=4)
    page.mouse.up()


def number(page, label: str) -> float:
    return float(page.get_by_label(label, exact=True).input_value())


def saved_zones(page) -> list[dict]:
    return json.loads(page.locator("#zones").input_value())


def assert_box(zone: dict, box: tuple[float, float, float, float]) -> None:
    for name, expected in zip(("x", "y", "width", "height"), box, strict=True):
        assert abs(zone[name] - expected) <= TOLERANCE, (name, zone, box)


def test_marketer_draws_zones_and_partner_downloads_the_copy(
    app, page, new_page, browser, live_server, jobs, shots_dir, tmp_path
):
    partner_email = partner_with_brand(app)
    with app.app_context():
        marketer = make_user("marketer", name="Mia Marketer").email

    # The marketer uploads the brochure through the upload page.
    sign_in(page, marketer)
    nav(page, "Assets").click()
    page.get_by_role("link", name="Upload an asset").click()
    page.get_by_label("Title").fill("Cloud Backup brochure")
    pdf = tmp_path / "brochure.pdf"
    pdf.write_bytes(brochure())
    page.get_by_label("File").set_input_files(str(pdf))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("heading", name="Cloud Backup brochure")).to_be_visible()
    asset_url = page.url

    # On the last page she draws a logo box, then a text box, with the mouse.
    page.get_by_label("Page", exact=True).select_option(label="4 of 4")
    expect(page.locator(".zone-page.current figcaption")).to_contain_text("Page 4")
    page.get_by_role("button", name="Logo box").click()
    expect(page.get_by_role("button", name="Logo box")).to_have_attribute("aria-pressed", "true")
    draw(page, LOGO_BOX)
    expect(page.get_by_label("What goes in it")).to_have_value("logo")
    assert abs(number(page, "Left (pt)") - LOGO_BOX[0]) <= TOLERANCE
    assert abs(number(page, "Width (pt)") - LOGO_BOX[2]) <= TOLERANCE

    page.get_by_role("button", name="Text box").click()
    draw(page, TEXT_BOX)
    expect(page.get_by_label("What goes in it")).to_have_value("text")
    page.get_by_label("Text", exact=True).fill("Call ")
    page.get_by_label("Insert a partner detail").select_option("phone")
    expect(page.get_by_label("Text", exact=True)).to_have_value("Call {{ partner.phone }}")
    page.get_by_label("Size (pt)", exact=True).fill("14")
    page.get_by_label("Align", exact=True).select_option("right")

    # The logo box moves when dragged by its middle, and the numbers follow it (there and
    # back again, so it ends where it was drawn).
    logo = page.locator(".ze-zone.ze-logo").bounding_box()
    scale = PAGE_W / page.locator(".zone-page.current .ze-layer").bounding_box()["width"]
    middle = (logo["x"] + logo["width"] / 2, logo["y"] + logo["height"] / 2)
    page.mouse.move(*middle)
    page.mouse.down()
    page.mouse.move(middle[0] + 30, middle[1], steps=4)
    assert abs(number(page, "Left (pt)") - (LOGO_BOX[0] + 30 * scale)) <= TOLERANCE
    page.mouse.move(*middle, steps=4)
    page.mouse.up()
    # Its corner handle resizes it, the top-left corner staying put.
    corner = page.locator(".ze-zone.ze-logo .ze-se").bounding_box()
    grip = (corner["x"] + corner["width"] / 2, corner["y"] + corner["height"] / 2)
    page.mouse.move(*grip)
    page.mouse.down()
    page.mouse.move(grip[0] - 40, grip[1] - 20, steps=4)
    assert abs(number(page, "Width (pt)") - (LOGO_BOX[2] - 40 * scale)) <= TOLERANCE
    assert abs(number(page, "Height (pt)") - (LOGO_BOX[3] - 20 * scale)) <= TOLERANCE
    assert abs(number(page, "Left (pt)") - LOGO_BOX[0]) <= TOLERANCE
    page.mouse.move(*grip, steps=4)
    page.mouse.up()
    expect(page.get_by_text("Unsaved changes", exact=True)).to_be_visible()

    logo_zone, text_zone = saved_zones(page)
    assert logo_zone["page"] == text_zone["page"] == 3
    assert logo_zone["kind"] == "logo" and "template" not in logo_zone
    assert_box(logo_zone, LOGO_BOX)
    assert_box(text_zone, TEXT_BOX)
    assert text_zone["size"] == 14 and text_zone["align"] == "right"
    page.get_by_text("Partner logo, page 4").click()  # the list selects a box too
    page.screenshot(path=str(shots_dir / "asset-editor-desktop.png"), full_page=True)

    page.get_by_role("button", name="Save zones").click()
    expect(page.get_by_role("status").filter(has_text="Zones saved (set 2).")).to_be_visible()
    # Back on the page she was working on, the boxes drawn where she left them.
    expect(page.get_by_label("Page", exact=True)).to_have_value("3")
    expect(page.locator(".zone-page.current .ze-zone")).to_have_count(2)
    assert [z["kind"] for z in saved_zones(page)] == ["logo", "text"]
    preview = page.get_by_test_id("partner-preview")
    expect(preview).to_have_attribute("src", re.compile(r"page=4"))
    assert preview.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("h1 .badge")).to_have_text("published")

    # The partner opens the library, picks the brochure: it is prepared, then ready.
    partner = new_page()
    sign_in(partner, partner_email)
    nav(partner, "Library").click()
    partner.get_by_role("link", name=re.compile("Cloud Backup brochure")).click()
    state = partner.locator("#copy-state")
    expect(state).to_contain_text("Preparing")
    expect(partner.get_by_role("link", name="Download my copy")).to_be_hidden()
    expect(partner.get_by_role("progressbar", name="Preparing your copy")).to_be_visible()
    partner.screenshot(path=str(shots_dir / "asset-partner-preparing-desktop.png"))
    jobs.run()
    expect(state).to_have_text("Your copy is ready.", timeout=10_000)
    partner.screenshot(path=str(shots_dir / "asset-partner-desktop.png"), full_page=True)

    with partner.expect_download() as info:
        partner.get_by_role("link", name="Download my copy").click()
    download = info.value
    assert download.suggested_filename.endswith(".pdf")
    copy = tmp_path / "copy.pdf"
    download.save_as(copy)
    text = subprocess.run(["pdftotext", str(copy), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert f"Call {PHONE_NUMBER}" in text
    assert "Acme Cloud Backup brochure page 4" in text  # the vendor's text is still text

    # The marketer sees the partner's copy and its download on the asset page.
    page.goto(asset_url)
    copies = page.get_by_test_id("renditions")
    row = copies.get_by_role("row").filter(has_text="Northwind Traders")
    expect(row).to_contain_text("done")
    expect(row.get_by_role("cell").last).to_have_text("1")
    expect(page.get_by_test_id("usage-summary")).to_have_text("1 partner · 1 download")

    # On a phone, with a finger: the editor fits the screen and a box can be drawn by touch.
    context = browser.new_context(base_url=live_server, viewport=PHONE, has_touch=True,
                                  is_mobile=True)
    try:
        phone = context.new_page()
        sign_in(phone, marketer)
        phone.goto(asset_url + "?page=4")
        expect(phone.locator(".zone-page.current .ze-zone")).to_have_count(2)
        phone.get_by_role("button", name="Text box").tap()
        phone.locator(".zone-page.current .ze-layer").scroll_into_view_if_needed()
        layer = phone.locator(".zone-page.current .ze-layer").bounding_box()
        touch = context.new_cdp_session(phone)
        start = (layer["x"] + 40, layer["y"] + 60)
        touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [
            {"x": start[0], "y": start[1]}]})
        for step in range(1, 6):
            touch.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [
                {"x": start[0] + 30 * step, "y": start[1] + 8 * step}]})
        touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        expect(phone.locator(".zone-page.current .ze-zone")).to_have_count(3)
        drawn = saved_zones(phone)[2]
        scale = PAGE_W / layer["width"]
        assert drawn["kind"] == "text" and drawn["page"] == 3
        assert abs(drawn["width"] - 150 * scale) <= TOLERANCE * 2
        assert horizontal_overflow(phone) == 0
        phone.screenshot(path=str(shots_dir / "asset-editor-phone.png"), full_page=True)
    finally:
        context.close()

    partner_phone = new_page(PHONE)
    sign_in(partner_phone, partner_email)
    partner_phone.goto(partner.url)
    expect(partner_phone.locator("#copy-state")).to_have_text("Your copy is ready.")
    assert horizontal_overflow(partner_phone) == 0
    partner_phone.screenshot(path=str(shots_dir / "asset-partner-phone.png"), full_page=True)


def test_keyboard_adds_a_box_and_a_refused_save_keeps_it(app, page):
    """Without a mouse: the button adds a box mid-page, arrow keys move it; a template the
    server refuses comes back with the box still there and the problem named beside it."""
    from assets import library
    from tcma.extensions import db

    with app.app_context():
        marketer = make_user("marketer")
        asset = library.create_asset({"title": "Datasheet"}, brochure(1), "datasheet.pdf",
                                     by=marketer, tiers=["gold"], regions=["EMEA"])
        db.session.commit()
        url, email = f"/assets/{asset.public_id}", marketer.email

    sign_in(page, email)
    page.goto(url)
    tool = page.get_by_role("button", name="Text box")
    tool.focus()
    page.keyboard.press("Enter")
    kind = page.get_by_label("What goes in it")
    expect(kind).to_be_focused()
    expect(kind).to_have_value("text")
    left = number(page, "Left (pt)")

    box = page.locator(".ze-zone")
    box.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.get_by_label("Left (pt)", exact=True)).to_have_value(str(round(left + 2, 1)))

    page.get_by_label("Text", exact=True).fill("Fax {{ partner.fax }}")
    page.get_by_role("button", name="Save zones").click()
    errors = page.get_by_test_id("zone-errors")
    expect(errors).to_contain_text("Box 1, template")
    expect(errors).to_contain_text("Unknown token {{ partner.fax }}")
    expect(page.locator(".ze-zone.invalid")).to_have_count(1)
    expect(page.get_by_label("Text", exact=True)).to_have_value("Fax {{ partner.fax }}")
    expect(page.locator("#ze-problems")).to_contain_text("Unknown token {{ partner.fax }}")

    # Fixing the text clears the mark; saving now works.
    page.get_by_label("Text", exact=True).fill("Fax {{ partner.phone }}")
    expect(page.locator(".ze-zone.invalid")).to_have_count(0)
    page.get_by_role("button", name="Save zones").click()
    expect(page.get_by_role("status").filter(has_text="Zones saved (set 2).")).to_be_visible()
    assert saved_zones(page)[0]["template"] == "Fax {{ partner.phone }}"

    # Delete on a focused box removes it; focus goes back to the tools.
    page.locator(".ze-zone").focus()
    page.keyboard.press("Delete")
    expect(page.locator(".ze-zone")).to_have_count(0)
    expect(page.get_by_role("button", name="Logo box")).to_be_focused()
    assert saved_zones(page) == []


def test_staff_who_cannot_edit_see_the_boxes_but_no_tools(app, page):
    """A channel manager may look at an asset's zones, not change them."""
    from assets import library
    from tcma.extensions import db

    with app.app_context():
        asset = library.create_asset({"title": "Datasheet"}, brochure(1), "datasheet.pdf",
                                     by=None, tiers=["gold"], regions=["EMEA"])
        library.set_zones(asset, [{"page": 0, "x": 40, "y": 700, "width": 200, "height": 80,
                                   "kind": "logo"}], by=None)
        db.session.commit()
        url, email = f"/assets/{asset.public_id}", make_user("channel_manager").email

    sign_in(page, email)
    page.goto(url)
    expect(page.locator(".ze-zone")).to_have_count(1)
    page.get_by_role("button", name="Partner logo", exact=True).click()  # the list selects
    expect(page.locator(".ze-zone.selected")).to_have_count(1)
    expect(page.locator(".ze-handle")).to_have_count(0)
    for name in ("Logo box", "Save zones", "Publish"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
