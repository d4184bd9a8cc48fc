"""A partner user imports a few contacts from a CSV, opens a kit in the catalogue, clicks
Launch, and watches the launch page count the emails out to 100% by itself (it polls; the
page is never reloaded); the outbox then holds one message per contact.

Screenshots go to ``/tmp/tcma-shots`` (``TCMA_SHOTS_DIR``).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import nav, sign_in
from tests.factories import make_user
from tests.syndication.email.world import published_kit, ready_partner

pytestmark = pytest.mark.browser

CONTACTS = [("ana@example.com", "Ana", "Lima"), ("ben@example.com", "Ben", "Okafor"),
            ("chloe@example.com", "Chloé", "Dubois"), ("dev@example.com", "Dev", "Patel")]


def _csv() -> bytes:
    lines = ["Email,First name,Last name"] + [",".join(row) for row in CONTACTS]
    return ("\n".join(lines) + "\n").encode()


def test_a_partner_imports_contacts_launches_a_kit_and_watches_it_reach_100_percent(
        app, new_page, jobs, outbox, shots_dir):
    with app.app_context():
        partner = ready_partner("Müller Systemhaus")
        email = make_user("partner_user", partner=partner, name="Uli User").email
        published_kit("Backup spring kit")

    page = new_page()
    sign_in(page, email)
    nav(page, "Contacts").click()
    page.get_by_role("link", name="Import CSV").click()
    page.get_by_label("CSV file").set_input_files(
        {"name": "guests.csv", "mimeType": "text/csv", "buffer": _csv()})
    page.get_by_role("button", name="Upload and map columns").click()
    expect(page.get_by_label("Import Email as")).to_have_value("email")
    page.get_by_label("Consent source").fill("webinar sign-up")
    page.get_by_label("Consent date").fill("2026-03-02")
    page.get_by_role("button", name="Start import").click()
    jobs.run(timeout_ms=60_000)
    expect(page.get_by_text("Import finished.")).to_be_visible()
    expect(page.locator("#n-created")).to_have_text("4")

    nav(page, "Campaigns").click()
    page.get_by_role("link", name="Backup spring kit").first.click()
    expect(page.get_by_role("heading", name="Backup spring kit")).to_be_visible()
    expect(page.get_by_text("Before you can launch")).to_have_count(0)
    page.get_by_text("Advanced: choose the list").click()
    expect(page.get_by_label("Contact list")).to_contain_text("All contacts (4 can be emailed)")
    page.screenshot(path=str(shots_dir / "launch-kit-page.png"), full_page=True)
    page.get_by_role("button", name="Launch", exact=True).click()

    expect(page.get_by_role("heading", name="Backup spring kit")).to_be_visible()
    expect(page.locator("#launch-percent")).to_have_text("0%")
    expect(page.get_by_text("this page updates by itself")).to_be_visible()
    page.evaluate("() => { window.sameDocument = true; }")  # gone if the page reloads
    page.screenshot(path=str(shots_dir / "launch-started.png"), full_page=True)
    jobs.run(timeout_ms=60_000)  # the worker sends while the page polls

    expect(page.locator("#launch-percent")).to_have_text("100%")
    expect(page.locator("#launch-status")).to_have_text("running")  # the reminder is due later
    first_step = page.locator('#launch-steps tr[data-step="1"]')
    expect(first_step.locator("[data-count=sent]")).to_have_text("4")
    expect(first_step.locator("[data-field=status]")).to_have_text("done")
    expect(first_step.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    assert page.evaluate("() => window.sameDocument") is True
    page.screenshot(path=str(shots_dir / "launch-done.png"), full_page=True)

    received = sorted(m.to for m in outbox.messages())
    assert received == sorted(f"{first} {last} <{address}>" for address, first, last in CONTACTS)
    assert all(m.subject.startswith("Hi ") for m in outbox.messages())

    nav(page, "Launches").click()
    expect(page.locator("#launch-list")).to_contain_text("Backup spring kit")
    expect(page.locator("#launch-list")).to_contain_text("100%")
