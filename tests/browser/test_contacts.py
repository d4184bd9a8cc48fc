"""A partner imports contacts from a spreadsheet export: uploads the CSV, checks the guessed
column mapping, gives the consent source and date, watches the progress reach 100% and finds
the contacts listed, with the bad row in the report.

Screenshots (desktop and phone) go to ``/tmp/tcma-shots`` (``TCMA_SHOTS_DIR``).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.helpers import horizontal_overflow, nav, partner_admin, sign_in

pytestmark = pytest.mark.browser


def _export(rows: int) -> bytes:
    """What a European Excel saves: semicolons, Windows-1252, a German header."""
    lines = ["E-Mail;Vorname;Nachname;Firma;Land;Notiz"]
    lines += [f"kunde{n}@example.com;Zoé{n};Müller;Café Nord GmbH;Deutschland;€ {n}"
              for n in range(rows)]
    lines.insert(5, "keine-adresse;Max;Mustermann;X;DE;")
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def test_a_partner_imports_a_csv_maps_columns_and_sees_the_contacts(
        app, new_page, jobs, shots_dir):
    email = partner_admin(app, "Northwind Traders")
    page = new_page()
    sign_in(page, email)
    nav(page, "Contacts").click()
    expect(page.get_by_text("No contacts yet")).to_be_visible()
    page.get_by_role("link", name="Import CSV").click()
    page.get_by_label("CSV file").set_input_files(
        {"name": "kunden.csv", "mimeType": "text/csv", "buffer": _export(1500)})
    page.get_by_role("button", name="Upload and map columns").click()

    # The mapping page: read as Windows-1252 with semicolons, German headers recognised.
    expect(page.get_by_role("heading", name="Map the columns of kunden.csv")).to_be_visible()
    expect(page.get_by_text("read as cp1252, separated by semicolons")).to_be_visible()
    expect(page.get_by_label("Import E-Mail as")).to_have_value("email")
    expect(page.get_by_label("Import Vorname as")).to_have_value("first_name")
    expect(page.get_by_label("Import Firma as")).to_have_value("company")
    expect(page.get_by_label("Import Notiz as")).to_have_value("")
    expect(page.get_by_text("Café Nord GmbH").first).to_be_visible()
    page.get_by_label("Import Notiz as").select_option("custom")
    page.get_by_role("button", name="Start import").click()
    expect(page.get_by_text("Every contact needs a consent source and date").first
           ).to_be_visible()  # refused without consent
    page.get_by_label("Consent source").fill("trade show 2026")
    page.get_by_label("Consent date").fill("2026-03-02")
    page.get_by_label("Or a new list named").fill("Messe 2026")
    page.screenshot(path=str(shots_dir / "contacts-mapping.png"), full_page=True)
    page.get_by_role("button", name="Start import").click()

    expect(page.get_by_role("heading", name="Importing kunden.csv")).to_be_visible()
    expect(page.get_by_text("Importing… this page updates by itself.")).to_be_visible()
    jobs.run(timeout_ms=60_000)  # the worker imports while the page polls
    expect(page.locator("#import-percent")).to_have_text("100%")
    expect(page.get_by_text("Import finished.")).to_be_visible()
    expect(page.locator("#n-created")).to_have_text("1,500")
    expect(page.locator("#n-skipped")).to_have_text("1")
    expect(page.locator("#import-issues")).to_contain_text("Not a valid email address")
    page.screenshot(path=str(shots_dir / "contacts-import-done.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the report (CSV)").click()
    assert "line,column,field,problem,outcome" in download.value.path().read_text("utf-8-sig")

    page.get_by_role("link", name="See the contacts").click()
    expect(page.locator("#contact-total")).to_have_text("1,500 contacts")
    page.get_by_label("Search").fill("kunde0@")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#contact-total")).to_have_text("1 contact")
    page.get_by_role("link", name="Zoé0 Müller").click()
    expect(page.get_by_text("subscribed", exact=True)).to_be_visible()
    expect(page.get_by_text("trade show 2026 · 2026-03-02")).to_be_visible()
    expect(page.locator("input[name=custom_value]").first).to_have_value("€ 0")
    page.screenshot(path=str(shots_dir / "contact-detail.png"), full_page=True)

    phone = new_page(PHONE)
    sign_in(phone, email)
    phone.goto("/contacts?q=kunde0%40")
    expect(phone.get_by_role("link", name="Zoé0 Müller")).to_be_visible()
    assert horizontal_overflow(phone) <= 0
    phone.screenshot(path=str(shots_dir / "contacts-phone.png"), full_page=True)
