"""Journeys a person makes in a real browser: signing in, completing the brand profile,
accepting an invitation, and using the partner pages on a phone.

Assertions go through Playwright's ``expect``, which waits for the page to settle, so a test
never races the navigation a click started.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.helpers import (
    horizontal_overflow,
    nav,
    partner_admin,
    sign_in,
    vendor_admin,
)
from tests.factories import Outbox

pytestmark = pytest.mark.browser

BRAND = {
    "Display name": "Northwind",
    "Contact name": "Pat Partner",
    "Contact email": "hello@northwind.example",
    "Phone": "+44 20 7946 0000",
    "Website": "https://northwind.example",
    "Street address": "1 Harbour Road",
    "Address line 2": "Suite 4",
    "City": "Bristol",
    "Postal code": "BS1 4DJ",
    "State / province": "Avon",
    "Country code": "GB",
    "Brand colour": "#0a7c5a",
    "Second colour": "#f5a623",
    "LinkedIn page": "https://www.linkedin.com/company/northwind",
    "X handle": "@northwind",
    "Facebook page": "https://www.facebook.com/northwind",
}


def make_logo(path) -> str:
    """A 200x100 PNG with transparency, as a partner's designer would hand it over."""
    image = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    image.paste((10, 124, 90, 255), (20, 20, 180, 80))
    image.save(path, "PNG")
    return str(path)


def test_partner_admin_completes_the_brand_profile_with_a_logo(app, page, tmp_path):
    sign_in(page, partner_admin(app))
    expect(page.get_by_role("heading", name="Welcome, Pat Partner")).to_be_visible()

    nav(page, "Brand profile").click()
    expect(page.get_by_role("heading", name="Your brand profile")).to_be_visible()
    expect(page.get_by_test_id("completeness")).not_to_have_text("100%")
    expect(page.get_by_test_id("missing")).to_contain_text("Logo")
    expect(page.get_by_text("No logo yet.")).to_be_visible()

    for label, value in BRAND.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Time zone").select_option("Europe/London")
    page.get_by_label("Upload a logo").set_input_files(make_logo(tmp_path / "northwind.png"))
    page.get_by_role("button", name="Save brand profile").click()

    expect(page.get_by_role("status")).to_have_text("Brand profile saved.")
    expect(page.get_by_test_id("completeness")).to_have_text("100%")
    expect(page.get_by_text("ready for co-branding")).to_be_visible()
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    logo = page.get_by_test_id("logo")
    expect(logo).to_be_visible()
    # The image really loaded from storage: a broken link has no natural size.
    assert logo.evaluate("img => img.complete && img.naturalWidth") == 200
    for label, value in BRAND.items():
        expect(page.get_by_label(label, exact=True)).to_have_value(value)
    expect(page.get_by_label("Time zone")).to_have_value("Europe/London")

    nav(page, "Home").click()
    expect(page.get_by_test_id("completeness")).to_have_text("100%")
    expect(page.get_by_role("link", name="Review your brand profile")).to_be_visible()

    # The remove button beside the logo takes it away, and the meter says so.
    nav(page, "Brand profile").click()
    page.get_by_role("button", name="Remove the logo").click()
    expect(page.get_by_text("No logo yet.")).to_be_visible()
    expect(page.get_by_test_id("missing")).to_have_text("Logo")
    expect(page.get_by_label("Display name", exact=True)).to_have_value("Northwind")


def test_invited_partner_admin_sets_a_password_and_lands_signed_in(
    app, page, new_page, jobs, outbox: Outbox
):
    sign_in(page, vendor_admin(app))
    nav(page, "Partners").click()
    page.get_by_role("link", name="Add a partner").click()
    page.get_by_label("Company name").fill("Northwind Traders")
    page.get_by_label("Tier").select_option("gold")
    page.get_by_label("Region").select_option("EMEA")
    page.get_by_label("Partner type").select_option("reseller")
    page.get_by_label("Partner admin email").fill("pat@northwind.example")
    page.get_by_label("Partner admin name").fill("Pat Partner")
    page.get_by_role("button", name="Create partner").click()
    expect(page.get_by_role("heading", name="Northwind Traders")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("An invitation is on its way")

    jobs.run()
    (mail,) = outbox.to("pat@northwind.example")
    # Emailed links carry BASE_URL (http://localhost in tests); the path is what we follow.
    link = urlsplit(mail.link(r"http://localhost/invite/\S+"))

    partner = new_page()  # the partner admin's own browser
    partner.goto(link.path)
    expect(partner.get_by_role("heading", name="Welcome, Pat Partner")).to_be_visible()
    partner.get_by_label("Password", exact=True).fill("purple elephant dances")
    partner.get_by_label("Repeat the password").fill("purple elephant dances")
    partner.get_by_role("button", name="Set password and continue").click()

    expect(partner).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/$"))
    expect(partner.get_by_role("status")).to_have_text("Welcome! Your password is set.")
    expect(partner.get_by_role("heading", name="Welcome, Pat Partner")).to_be_visible()
    expect(partner.get_by_text("Partner admin · Northwind Traders")).to_be_visible()
    expect(nav(partner, "Brand profile")).to_be_visible()

    # The link is spent: opening it again does not offer a second password.
    again = new_page()
    again.goto(link.path)
    expect(again.get_by_role("heading", name="Invitation not valid")).to_be_visible()


def test_wrong_password_shows_the_error_and_keeps_the_email(app, page):
    email = partner_admin(app)
    sign_in(page, email, "not the password")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("alert")).to_have_text("Email or password is incorrect.")
    expect(page.get_by_label("Email")).to_have_value(email)
    expect(page.get_by_label("Password")).to_have_value("")

    sign_in(page, email)
    expect(page.get_by_role("heading", name="Welcome, Pat Partner")).to_be_visible()


def test_partner_pages_fit_a_phone_screen(app, new_page):
    page = new_page(PHONE)
    sign_in(page, partner_admin(app, partner_name="Northwind Traders International Holdings"))
    expect(page.get_by_role("heading", name="Welcome, Pat Partner")).to_be_visible()
    assert horizontal_overflow(page) <= 0

    nav(page, "Brand profile").click()
    expect(page.get_by_role("heading", name="Your brand profile")).to_be_visible()
    assert horizontal_overflow(page) <= 0
    # The form is usable: its inputs sit inside the screen, not cut off at its edge.
    box = page.get_by_label("Display name", exact=True).bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
