"""The market development funds journey in a real browser: a partner requests 5,000 EUR for
a webinar, the channel manager approves 4,000 with a comment, the partner claims 3,850 with
an invoice PDF, finance marks it paid with a reference, and the partner's and the vendor's
MDF pages show the same balances.

Screenshots go to ``/tmp/tcma-shots`` (``TCMA_SHOTS_DIR``).
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from mdf import funds
from tcma.auth.models import Role
from tcma.extensions import db
from tcma.models import utcnow
from tests.browser.helpers import nav, sign_in
from tests.factories import make_partner, make_user

pytestmark = pytest.mark.browser

TODAY = utcnow().date()
BALANCES = ("allocated", "committed", "claimed", "approved", "paid", "available")


def invoice_pdf() -> bytes:
    """A one-page invoice, as the webinar platform would send it."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4)
    page.setFont("Helvetica-Bold", 16)
    page.drawString(72, 770, "Invoice 2027-117")
    page.setFont("Helvetica", 11)
    page.drawString(72, 740, "Webinar platform and promotion, two sessions: 7,700.00 EUR")
    page.save()
    return out.getvalue()


def shown_balances(row) -> dict[str, str]:
    """The balance figures in one table row, as a person reads them."""
    return {name: row.locator(f'[data-balance="{name}"]').inner_text().strip()
            for name in BALANCES}


def test_a_webinar_from_request_to_payment_with_the_same_balances_on_both_sides(
        app, new_page, jobs, shots_dir):
    with app.app_context():
        manager = make_user(Role.CHANNEL_MANAGER, name="Chris Manager").email
        finance = make_user(Role.FINANCE, name="Fran Finance").email
        partner = make_partner("Northwind IT")
        partner_user = make_user(Role.PARTNER_USER, partner=partner, name="Pat Partner").email
        fund = funds.create_fund({
            "name": "H1 2027 MDF", "currency": "EUR",
            "period_start": (TODAY - timedelta(days=30)).isoformat(),
            "period_end": (TODAY + timedelta(days=150)).isoformat(), "budget": "250000.00",
            "claim_days": 60, "vendor_share_percent": "50"}, by=None)
        funds.set_allocation(fund, partner, "10000.00", by=None)
        db.session.commit()
        fund_id = fund.public_id
    webinar_day = (TODAY + timedelta(days=10)).isoformat()

    # The partner asks for 5,000 EUR of a 10,000 EUR webinar.
    partner_page = new_page()
    sign_in(partner_page, partner_user)
    nav(partner_page, "MDF").click()
    fund_row = partner_page.locator(f'tr[data-fund="{fund_id}"]')
    expect(fund_row.locator('[data-balance="available"]')).to_have_text("10,000.00 EUR")
    fund_row.get_by_role("link", name="Request funds").click()
    partner_page.get_by_label("Activity").select_option("webinar")
    partner_page.get_by_label("Title").fill("Backup webinar for retail IT")
    partner_page.get_by_label("Description").fill("Two live sessions with a demo and Q&A.")
    partner_page.get_by_label("Starts on").fill(webinar_day)
    partner_page.get_by_label("Ends on").fill(webinar_day)
    partner_page.get_by_label("Estimated total cost").fill("10000")
    partner_page.get_by_label("Amount requested").fill("5000")
    partner_page.get_by_label("Expected leads").fill("40")
    partner_page.screenshot(path=str(shots_dir / "mdf-request-form.png"), full_page=True)
    partner_page.get_by_role("button", name="Submit for review").click()
    expect(partner_page.get_by_text("Submitted for review.")).to_be_visible()
    expect(partner_page.locator("h1 [data-status]")).to_have_text("submitted")
    request_url = partner_page.url

    # The channel manager approves 4,000 with a comment.
    manager_page = new_page()
    sign_in(manager_page, manager)
    nav(manager_page, "MDF").click()
    manager_page.get_by_role("link", name="Review queue").click()
    manager_page.get_by_role("link", name="Backup webinar for retail IT").click()
    approve = manager_page.locator("#approve-form")
    expect(approve.get_by_label("Amount to approve")).to_have_value("5000.00")
    expect(manager_page.locator("#partner-balance [data-balance='available']")).to_have_text(
        "10,000.00 EUR")
    approve.get_by_label("Amount to approve").fill("4000")
    approve.get_by_label("Comment to the partner").fill("Platform costs are capped at 4,000.")
    manager_page.screenshot(path=str(shots_dir / "mdf-review.png"), full_page=True)
    approve.get_by_role("button", name="Approve").click()
    expect(manager_page.get_by_text("Approved: the money is committed.")).to_be_visible()
    expect(manager_page.locator("#partner-balance [data-balance='committed']")).to_have_text(
        "4,000.00 EUR")

    # The partner claims 3,850 of 7,700 actually spent, with the invoice.
    partner_page.goto(request_url)
    expect(partner_page.locator("#review-comment")).to_contain_text(
        "Platform costs are capped at 4,000.")
    claim = partner_page.locator("#claim-form")
    claim.get_by_label("Actual cost").fill("7700.00")
    claim.get_by_label("Amount claimed").fill("3850.00")
    claim.get_by_label("Leads achieved").fill("37")
    claim.get_by_label("Proof files", exact=True).set_input_files(
        {"name": "invoice-2027-117.pdf", "mimeType": "application/pdf",
         "buffer": invoice_pdf()})
    claim.get_by_role("button", name="Submit claim").click()
    expect(partner_page.get_by_text("Claim submitted for review.")).to_be_visible()
    expect(partner_page.locator("[data-figure=claim_cap]")).to_have_text("3,850.00 EUR")
    expect(partner_page.get_by_role("link", name="invoice-2027-117.pdf")).to_be_visible()
    partner_page.screenshot(path=str(shots_dir / "mdf-claim.png"), full_page=True)

    # The manager sees the proof beside the numbers and approves the claim.
    manager_page.goto(request_url)
    expect(manager_page.locator("#proof").get_by_role(
        "link", name="invoice-2027-117.pdf")).to_be_visible()
    expect(manager_page.locator("[data-figure=claimed_amount]")).to_have_text("3,850.00 EUR")
    claim_review = manager_page.locator("#claim-approve-form")
    expect(claim_review.get_by_label("Amount to reimburse")).to_have_value("3850.00")
    manager_page.screenshot(path=str(shots_dir / "mdf-claim-review.png"), full_page=True)
    claim_review.get_by_role("button", name="Approve claim").click()
    expect(manager_page.get_by_text("Claim approved: it waits for payment.")).to_be_visible()

    # Finance pays it in the payments list with a reference.
    finance_page = new_page()
    sign_in(finance_page, finance)
    nav(finance_page, "MDF").click()
    finance_page.get_by_role("link", name="Payments").click()
    finance_page.get_by_role("checkbox", name="Pay Backup webinar for retail IT").check()
    finance_page.get_by_label("Payment reference").fill("AP-2027-0042")
    finance_page.get_by_role("button", name="Mark ticked claims paid").click()
    expect(finance_page.get_by_text("1 claim marked paid.")).to_be_visible()
    expect(finance_page.locator("#paid")).to_contain_text("AP-2027-0042")
    finance_page.screenshot(path=str(shots_dir / "mdf-payments.png"), full_page=True)

    # Both sides see the same balances.
    partner_page.goto(request_url)
    expect(partner_page.locator("h1 [data-status]")).to_have_text("paid")
    nav(partner_page, "MDF").click()
    partner_row = partner_page.locator(f'tr[data-fund="{fund_id}"]')
    expect(partner_row.locator('[data-balance="paid"]')).to_have_text("3,850.00 EUR")
    partner_sees = shown_balances(partner_row)
    partner_page.screenshot(path=str(shots_dir / "mdf-partner-home.png"), full_page=True)
    nav(manager_page, "MDF").click()
    vendor_sees = shown_balances(manager_page.locator(f'tr[data-fund="{fund_id}"]'))
    manager_page.screenshot(path=str(shots_dir / "mdf-vendor-home.png"), full_page=True)
    manager_page.get_by_role("link", name="H1 2027 MDF").click()
    assert shown_balances(manager_page.locator('tr[data-partner="northwind-it"]')) == (
        partner_sees)
    manager_page.screenshot(path=str(shots_dir / "mdf-fund.png"), full_page=True)
    assert partner_sees == vendor_sees == {
        "allocated": "10,000.00 EUR", "committed": "0.00 EUR", "claimed": "0.00 EUR",
        "approved": "0.00 EUR", "paid": "3,850.00 EUR", "available": "6,150.00 EUR"}
    jobs.run()  # the step emails go out without error
