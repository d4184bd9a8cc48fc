"""MDF pages: the whole flow through the forms with the balances read off the pages to the
cent; a partner never reaches another partner's request or file; each refused field is named
beside its form; a second click changes nothing; the review queue, fund pages, allocation
rules and the payments export."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta

import pytest

from mdf import funds
from tcma.auth.models import Role
from tcma.extensions import db
from tcma.models import utcnow
from tests.factories import csrf_from, login, make_partner, make_user

TODAY = utcnow().date()
SOON = (TODAY + timedelta(days=10)).isoformat()


def invoice_pdf(line: str = "Invoice 2026-117: webinar platform, 3,850.00 EUR") -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, line)
    page.save()
    return out.getvalue()


@pytest.fixture
def world(app):
    """A EUR fund paying up to 50% of a cost, second approval above 8,000; Northwind has
    10,000 of it and Contoso 5,000."""
    with app.app_context():
        manager = make_user(Role.CHANNEL_MANAGER, name="Chris Manager")
        finance = make_user(Role.FINANCE, name="Fran Finance")
        admin = make_user(Role.ADMIN, name="Ada Admin")
        partner = make_partner("Northwind", tier="gold")
        other = make_partner("Contoso", tier="silver")
        pu = make_user(Role.PARTNER_USER, partner=partner, name="Pat Partner")
        other_user = make_user(Role.PARTNER_ADMIN, partner=other, name="Olga Other")
        fund = funds.create_fund({
            "name": "H1 2027 MDF", "currency": "EUR",
            "period_start": (TODAY - timedelta(days=30)).isoformat(),
            "period_end": (TODAY + timedelta(days=150)).isoformat(),
            "budget": "250000.00", "claim_days": 60, "vendor_share_percent": "50",
            "approval_threshold": "8000"}, by=manager)
        funds.set_allocation(fund, partner, "10000.00", by=manager)
        funds.set_allocation(fund, other, "5000", by=manager)
        db.session.commit()
        return {"manager": manager.email, "finance": finance.email, "admin": admin.email,
                "pu": pu.email, "other_user": other_user.email, "fund": fund.public_id,
                "partner": partner.public_id, "other": other.public_id}


def signed_in(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def post(client, url: str, data: dict | None = None, **kw):
    """Submit a form as a browser would, with the session's CSRF token."""
    token = csrf_from(client.get("/mdf").get_data(as_text=True))
    return client.post(url, data={**(data or {}), "csrf_token": token}, **kw)


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def balances_in(page: str, scope: str | None = None) -> dict[str, str]:
    """The balance figures shown on ``page`` (within the element that starts with ``scope``)."""
    if scope:
        start = page.index(scope)
        page = page[start:page.index("</tr>", start)] if scope.startswith("<tr") else \
            page[start:page.index("</dl>", start)]
    return dict(re.findall(r'data-balance="(\w+)">\s*([^<]*?)\s*<', page))


def error_for(page: str, field_id: str) -> str:
    match = re.search(rf'<(p|ul) class="error-text" id="e-{re.escape(field_id)}">(.*?)</\1>',
                      page, re.S)
    assert match, f"no error shown next to {field_id}"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(2))).strip()


def report_of(page: str) -> str:
    """The allocation report's words, tags and line breaks left out."""
    found = re.search(r'id="allocation-report">(.*?)</div>', page, re.S)
    assert found, "no allocation report on the page"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found[1])).split())


def flashes(page: str) -> list[str]:
    shown = re.findall(r'<div class="flash \w+" role="status">([^<]*)</div>', page)
    return [html.unescape(m) for m in shown]


def request_data(fund_id: str, **changes) -> dict[str, str]:
    data = {"fund_id": fund_id, "activity_type": "webinar", "title": "Backup webinar for retail IT",
            "description": "Two sessions with a live demo.", "starts_on": SOON, "ends_on": SOON,
            "estimated_cost": "10000.00", "requested": "5000.00", "expected_leads": "40",
            "expected_attendees": "", "launch_id": ""}
    data.update(changes)
    return data


def new_request(client, world, intent: str = "submit", **changes) -> str:
    response = post(client, "/mdf/requests/new", {**request_data(world["fund"], **changes),
                                                  "intent": intent})
    assert response.status_code == 302, text_of(response)
    url = response.headers["Location"]
    assert re.search(r"/mdf/requests/[\w-]+$", url)
    return url


def test_the_whole_flow_through_the_pages_keeps_the_balances_exact_to_the_cent(app, world):
    partner = signed_in(app, world["pu"])
    home = text_of(partner.get("/mdf"))
    row = f'<tr data-fund="{world["fund"]}">'
    assert balances_in(home, row)["available"] == "10,000.00 EUR"
    assert f'/mdf/requests/new?fund={world["fund"]}' in home  # "Request funds"
    form = text_of(partner.get(f"/mdf/requests/new?fund={world['fund']}"))
    assert "Your balance in H1 2027 MDF" in form and "at most 50% of the cost" in form

    url = new_request(partner, world)
    page = text_of(partner.get(url))
    assert "Submitted for review." in flashes(page)
    assert 'data-status="submitted"' in page
    assert balances_in(page, '<dl class="facts" id="balance">')["available"] == "10,000.00 EUR"

    manager = signed_in(app, world["manager"])
    queue = text_of(manager.get("/mdf/review"))
    assert "Backup webinar for retail IT" in queue and "Northwind" in queue
    review = text_of(manager.get(url))
    assert re.search(r'id="approve-amount" name="amount" type="text" value="5000.00"', review)
    assert "Northwind earlier requests" in review and 'id="no-history"' in review

    lower = post(manager, f"{url}/approve", {"amount": "4000", "comment": ""})
    assert lower.status_code == 422
    refused = text_of(lower)
    assert error_for(refused, "approve-comment") == "Say why less than requested is approved."
    assert 'id="approve-amount" name="amount" type="text" value="4000"' in refused  # kept
    assert post(manager, f"{url}/approve", {"amount": "4000.00", "comment": (
        "Venue costs are capped at 4,000.")}).status_code == 302
    approved = text_of(manager.get(url))
    assert "Approved: the money is committed." in flashes(approved)
    assert balances_in(approved, '<dl class="facts" id="balance">') == {
        "allocated": "10,000.00 EUR", "committed": "4,000.00 EUR", "claimed": "0.00 EUR",
        "approved": "0.00 EUR", "paid": "0.00 EUR", "available": "6,000.00 EUR",
        "expired": "0.00 EUR"}

    again = post(manager, f"{url}/approve", {"amount": "4000.00", "comment": "twice"})
    assert again.status_code == 302  # a second click: the workflow's 409, flashed
    second = text_of(manager.get(url))
    assert "An approved request cannot be approved." in flashes(second)
    assert balances_in(second, '<dl class="facts" id="balance">')["committed"] == "4,000.00 EUR"

    claim_page = text_of(partner.get(url))
    assert "Venue costs are capped at 4,000." in claim_page
    assert 'id="claim-form"' in claim_page and 'id="approve-form"' not in claim_page
    claimed = post(partner, f"{url}/claim", {
        "actual_cost": "7700.00", "claimed_amount": "3850.00", "results_leads": "37",
        "results_attendees": "212", "results_notes": "Two sessions, recordings online.",
        "intent": "submit", "files": [(io.BytesIO(invoice_pdf()), "invoice-117.pdf")]},
        content_type="multipart/form-data")
    assert claimed.status_code == 302, text_of(claimed)
    after_claim = text_of(partner.get(url))
    assert "Claim submitted for review." in flashes(after_claim)
    assert re.search(r'data-figure="claim_cap">3,850.00 EUR<', after_claim)
    assert balances_in(after_claim, '<dl class="facts" id="balance">')["claimed"] == "3,850.00 EUR"
    assert balances_in(after_claim, '<dl class="facts" id="balance">')["available"] == (
        "6,150.00 EUR")  # the unclaimed 150.00 is free again
    file_url = re.search(r'href="(/mdf/requests/[\w-]+/files/[\w-]+)" download>invoice-117.pdf',
                         after_claim)[1]

    assert "claim review" in text_of(manager.get("/mdf/review"))
    assert post(manager, f"{url}/claim/approve", {"amount": "3850.00", "comment": ""}
                ).status_code == 302
    cannot_pay = post(manager, f"{url}/pay", {"reference": "PAY-1", "paid_on": TODAY})
    assert cannot_pay.status_code == 403
    assert post(manager, "/mdf/payments", {"requests": [url.rsplit("/", 1)[1]],
                                           "reference": "X"}).status_code == 403

    finance = signed_in(app, world["finance"])
    to_pay = text_of(finance.get("/mdf/payments"))
    request_id = url.rsplit("/", 1)[1]
    assert f'value="{request_id}"' in to_pay and "3,850.00 EUR" in to_pay
    paid = post(finance, "/mdf/payments", {"requests": [request_id],
                                           "reference": "AP-2027-0042",
                                           "paid_on": TODAY.isoformat()})
    assert paid.status_code == 302
    assert "1 claim marked paid." in flashes(text_of(finance.get("/mdf/payments")))
    twice = post(finance, "/mdf/payments", {"requests": [request_id],
                                            "reference": "AP-2027-0043",
                                            "paid_on": TODAY.isoformat()})
    assert twice.status_code == 302
    assert "A paid request cannot be paid." in flashes(text_of(finance.get("/mdf/payments")))

    exported = finance.get("/mdf/payments.csv")
    assert exported.mimetype == "text/csv"
    assert exported.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [(r["request_id"], r["partner"], r["amount"], r["currency"], r["status"],
             r["payment_reference"], r["paid_on"]) for r in rows] == [
        (request_id, "Northwind", "3850.00", "EUR", "paid", "AP-2027-0042", TODAY.isoformat())]
    assert list(csv.DictReader(io.StringIO(finance.get(
        "/mdf/payments.csv?status=payable").get_data(as_text=True)))) == []

    final = {"allocated": "10,000.00 EUR", "committed": "0.00 EUR", "claimed": "0.00 EUR",
             "approved": "0.00 EUR", "paid": "3,850.00 EUR", "available": "6,150.00 EUR"}
    assert balances_in(text_of(partner.get("/mdf")), row) == final
    fund_page = text_of(finance.get(f"/mdf/funds/{world['fund']}"))
    assert balances_in(fund_page, '<tr data-partner="northwind">') == final
    totals = balances_in(text_of(finance.get("/mdf")), row)
    assert (totals["allocated"], totals["paid"], totals["available"]) == (
        "15,000.00 EUR", "3,850.00 EUR", "11,150.00 EUR")  # Contoso's 5,000 untouched

    done = text_of(partner.get(url))
    assert "AP-2027-0042" in done and 'data-status="paid"' in done
    steps = re.findall(r'<tr data-action="(\w+)">', done)
    assert steps == ["create", "submit", "approve", "proof_added", "submit_claim",
                     "approve_claim", "pay"]
    assert "submitted → approved" in done and "Chris Manager" in done
    assert "Fran Finance" in done and "Venue costs are capped at 4,000." in done
    download = partner.get(file_url)
    assert download.status_code == 302
    fetched = partner.get(download.headers["Location"])
    assert fetched.data.startswith(b"%PDF") and fetched.mimetype == "application/pdf"


def test_a_partner_never_reaches_another_partners_request_or_file(app, world):
    partner = signed_in(app, world["pu"])
    url = new_request(partner, world, intent="save")
    partner_page = text_of(partner.get(url))
    assert "Draft saved. Submit it when it is ready." in flashes(partner_page)
    response = post(partner, f"{url}/claim", {}, content_type="multipart/form-data")
    assert response.status_code == 302  # a draft has no claim: the workflow says so
    assert "A draft request cannot be claimed against." in flashes(text_of(partner.get(url)))
    assert post(partner, f"{url}/edit", {**request_data(world["fund"]), "intent": "submit"}
                ).status_code == 302
    manager = signed_in(app, world["manager"])
    assert post(manager, f"{url}/approve", {"amount": "5000.00"}).status_code == 302
    uploaded = post(partner, f"{url}/files", {"files": [
        (io.BytesIO(invoice_pdf()), "invoice.pdf"),
        (io.BytesIO(b"PK\x03\x04 not really a pdf"), "photos.pdf")]},
        content_type="multipart/form-data")
    assert uploaded.status_code == 422  # the good file is kept, the renamed archive named
    assert error_for(text_of(uploaded), "proof-files").startswith("photos.pdf:")
    file_id = re.search(r'<li data-file="([\w-]+)">', text_of(partner.get(url)))[1]

    intruder = signed_in(app, world["other_user"])
    assert intruder.get(url).status_code == 404
    assert intruder.get(f"{url}/files/{file_id}").status_code == 404
    assert intruder.get(f"{url}/files/{file_id}?inline=1").status_code == 404
    for action in ("edit", "cancel", "claim", "files", f"files/{file_id}/remove"):
        assert post(intruder, f"{url}/{action}", {"title": "Hijacked"}).status_code == 404
    assert intruder.get(f"/mdf/funds/{world['fund']}").status_code == 404  # vendor screen
    home = text_of(intruder.get("/mdf"))
    assert "Backup webinar" not in home and "Northwind" not in home
    assert balances_in(home, f'<tr data-fund="{world["fund"]}">')["allocated"] == "5,000.00 EUR"
    assert partner.get(f"{url}/files/{file_id}").status_code == 302  # the owner gets it


def test_the_request_form_names_each_refused_field_and_keeps_what_was_typed(app, world):
    partner = signed_in(app, world["pu"])
    refused = post(partner, "/mdf/requests/new", {
        **request_data(world["fund"], title="", requested="lots", starts_on=SOON,
                       ends_on=TODAY.isoformat(), estimated_cost="-5"), "intent": "save"})
    assert refused.status_code == 422
    page = text_of(refused)
    assert error_for(page, "title") == "Fill this in."
    assert error_for(page, "requested") == "Write an amount like 1250.00 (not 'lots')."
    assert error_for(page, "estimated_cost") == "The amount must be more than zero."
    assert 'name="requested" type="text" value="lots"' in page
    assert "Two sessions with a live demo." in page
    backwards = post(partner, "/mdf/requests/new", {**request_data(
        world["fund"], ends_on=TODAY.isoformat()), "intent": "save"})
    assert backwards.status_code == 422
    assert error_for(text_of(backwards), "ends_on") == (
        "The activity must end on or after its start.")

    # Saved, but the fund's rules refuse submitting: the draft stays, each problem is named.
    over = post(partner, "/mdf/requests/new", {**request_data(
        world["fund"], estimated_cost="8000", requested="6000"), "intent": "submit"})
    assert over.status_code == 422
    page = text_of(over)
    assert "Saved as a draft, not submitted" in page
    assert error_for(page, "requested") == (
        "The fund pays at most 50% of the cost: at most 4,000.00 EUR of 8,000.00 EUR.")
    assert 'data-status="draft"' in page
    assert 'name="requested" type="text" value="6000.00"' in page
    with app.app_context():
        from mdf import requests as fund_requests

        assert [r.status.value for r in fund_requests.list_requests()] == ["draft"]

    no_fund = post(partner, "/mdf/requests/new", {**request_data(""), "intent": "save"})
    assert no_fund.status_code == 422
    assert error_for(text_of(no_fund), "fund_id") == "Choose the fund to request from."


def test_the_review_queue_lists_submitted_requests_and_marks_a_second_approval(app, world):
    partner = signed_in(app, world["pu"])
    small = new_request(partner, world, title="Print flyers", activity_type="print",
                        estimated_cost="2000", requested="1000")
    big = new_request(partner, world, title="Trade show booth", activity_type="trade_show",
                      estimated_cost="20000", requested="9000")
    new_request(partner, world, intent="save", title="Still a draft")
    manager = signed_in(app, world["manager"])
    queue = text_of(manager.get("/mdf/review"))
    assert queue.index("Print flyers") < queue.index("Trade show booth")  # oldest first
    assert "Still a draft" not in queue and "data-second-approval" not in queue

    assert post(manager, f"{big}/approve", {"amount": "9000.00"}).status_code == 302
    first = text_of(manager.get(big))
    assert "First approval recorded" in first and 'id="approve-waits"' in first
    assert 'id="approve-form"' not in first
    queue = text_of(manager.get("/mdf/review"))
    marked = queue[queue.index(f'<tr data-request="{big.rsplit("/", 1)[1]}">'):]
    assert "data-second-approval" in marked[:marked.index("</tr>")]

    finance = signed_in(app, world["finance"])
    assert 'id="approve-form"' in text_of(finance.get(big))
    assert post(finance, f"{big}/approve", {"amount": "9000.00"}).status_code == 302
    approved = text_of(finance.get(big))
    assert "Approved: the money is committed." in flashes(approved)
    assert balances_in(approved, '<dl class="facts" id="balance">')["committed"] == (
        "9,000.00 EUR")
    queue = text_of(manager.get("/mdf/review"))
    assert "Trade show booth" not in queue and "Print flyers" in queue
    assert small.rsplit("/", 1)[1] in queue


def test_fund_pages_create_a_fund_and_allocate_it_by_hand_by_csv_and_by_tier(app, world):
    manager = signed_in(app, world["manager"])
    refused = post(manager, "/mdf/funds/new", {"name": "H2 MDF", "currency": "EUR",
                                               "period_start": "2027-07-01",
                                               "period_end": "2027-06-01", "budget": "",
                                               "vendor_share_percent": "150"})
    assert refused.status_code == 422
    page = text_of(refused)
    assert error_for(page, "activity_types") == "Allow at least one activity type"
    assert 'value="H2 MDF"' in page
    made = post(manager, "/mdf/funds/new", {
        "name": "H2 MDF", "currency": "EUR", "period_start": TODAY.isoformat(),
        "period_end": (TODAY + timedelta(days=180)).isoformat(), "budget": "30000",
        "claim_days": "45", "vendor_share_percent": "50", "approval_threshold": "",
        "activity_types": ["webinar", "event"]})
    assert made.status_code == 302
    fund_url = made.headers["Location"]
    fund_page = text_of(manager.get(fund_url))
    assert "30,000.00 EUR" in fund_page and "webinar, event" in fund_page
    assert "No partner has an allocation yet" in fund_page

    by_tier = post(manager, f"{fund_url}/allocate-tier", {"tier-gold": "12000",
                                                          "tier-silver": "4000.00"})
    assert by_tier.status_code == 200
    page = text_of(by_tier)
    assert report_of(page) == "Allocations by tier: 2 changed, 0 unchanged."
    assert balances_in(page, '<tr data-partner="northwind">')["allocated"] == "12,000.00 EUR"

    upload = b"partner,amount\nnorthwind,15000\ncontoso,4000.00\nnobody,10\n"
    by_csv = post(manager, f"{fund_url}/allocate-csv",
                  {"file": (io.BytesIO(upload), "allocations.csv")},
                  content_type="multipart/form-data")
    page = text_of(by_csv)
    assert report_of(page) == ("Allocations from the CSV file: 1 changed, 1 unchanged, 1 not "
                               "applied: line 4: no partner 'nobody'")

    too_much = post(manager, f"{fund_url}/allocations", {"partner": world["other"],
                                                         "amount": "20000"})
    assert too_much.status_code == 422
    assert error_for(text_of(too_much), f"row-{world['other']}") == (
        "Only 15,000.00 EUR of the budget is left to allocate.")
    assert post(manager, f"{fund_url}/allocations", {"partner": world["other"],
                                                     "amount": "5000"}).status_code == 302
    page = text_of(manager.get(fund_url))
    assert "Contoso now has 5,000.00 EUR allocated" in page
    assert balances_in(page, '<tr data-partner="contoso">')["allocated"] == "5,000.00 EUR"

    revenue = b"partner,revenue\nNorthwind,100000\ncontoso,abc\n"
    bad_percent = post(manager, f"{fund_url}/allocate-revenue", {
        "file": (io.BytesIO(revenue), "revenue.csv"), "percent": "120"},
        content_type="multipart/form-data")
    assert bad_percent.status_code == 422
    assert error_for(text_of(bad_percent), "revenue-percent") == (
        "Give a percentage between 0 and 100.")
    by_revenue = post(manager, f"{fund_url}/allocate-revenue", {
        "file": (io.BytesIO(revenue), "revenue.csv"), "percent": "2.5"},
        content_type="multipart/form-data")
    page = text_of(by_revenue)
    assert report_of(page) == ("Allocations by revenue: 1 changed, 0 unchanged, 1 not "
                               "applied: line 3: Write an amount like 1250.00 (not 'abc').")
    assert balances_in(page, '<tr data-partner="northwind">')["allocated"] == "2,500.00 EUR"
    no_file = post(manager, f"{fund_url}/allocate-csv", {}, content_type="multipart/form-data")
    assert error_for(text_of(no_file), "csv-file") == "Choose a CSV file."

    edit = text_of(manager.get(f"{fund_url}/edit"))
    assert 'value="30000.00"' in edit and 'value="50"' in edit
    assert re.search(r'value="event" checked', edit) and not re.search(
        r'value="print" checked', edit)
    shrunk = post(manager, f"{fund_url}/edit", {
        "name": "H2 MDF", "currency": "EUR", "period_start": TODAY.isoformat(),
        "period_end": (TODAY + timedelta(days=180)).isoformat(), "budget": "1000",
        "vendor_share_percent": "50", "activity_types": ["webinar"]})
    assert shrunk.status_code == 422
    assert error_for(text_of(shrunk), "budget") == (
        "The budget cannot be less than what is allocated (7,500.00 EUR).")
    assert post(manager, f"{fund_url}/close").status_code == 302
    closed = text_of(manager.get(fund_url))
    assert "is closed for new requests" in closed and 'id="fund-status">closed<' in closed
    partner_home = text_of(signed_in(app, world["pu"]).get("/mdf"))
    assert "closed for new requests" in partner_home


def test_vendor_and_partner_see_only_the_screens_their_role_allows(app, world):
    partner = signed_in(app, world["pu"])
    for url in ("/mdf/review", "/mdf/payments", "/mdf/payments.csv", "/mdf/funds/new"):
        assert partner.get(url).status_code == 404, url
    manager = signed_in(app, world["manager"])
    home = text_of(manager.get("/mdf"))
    assert 'id="review-link"' in home and 'id="payments-link"' not in home
    assert manager.get("/mdf/payments").status_code == 403
    assert manager.get("/mdf/requests/new").status_code == 403
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', home, re.S)[1]
    assert ">MDF</a>" in nav
    assert ">MDF</a>" in text_of(partner.get("/mdf"))


def photo_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 200), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


def test_a_request_sent_back_for_information_is_edited_and_resubmitted(app, world):
    partner = signed_in(app, world["pu"])
    url = new_request(partner, world)
    manager = signed_in(app, world["manager"])
    blank = post(manager, f"{url}/ask-info", {"comment": "  "})
    assert blank.status_code == 422
    assert error_for(text_of(blank), "ask_info-comment") == "Say what information is needed."
    assert post(manager, f"{url}/ask-info", {"comment": "Which webinar platform?"}
                ).status_code == 302

    page = text_of(partner.get(url))
    assert 'data-status="needs_info"' in page
    assert "More information needed: Which webinar platform?" in " ".join(
        re.sub(r"<[^>]+>", " ", page).split())
    assert ">Resubmit</button>" in page and 'value="5000.00"' in page
    resubmitted = post(partner, f"{url}/edit", {**request_data(
        world["fund"], requested="4500", description="On our own Zoom account."),
        "intent": "submit"})
    assert resubmitted.status_code == 302
    page = text_of(partner.get(url))
    assert 'data-status="submitted"' in page and "On our own Zoom account." in page
    assert re.findall(r'<tr data-action="(\w+)">', page) == [
        "create", "submit", "ask_info", "edit", "submit"]
    assert "requested 5,000.00 EUR → 4,500.00 EUR" in page
    assert 'id="request-form"' not in page  # submitted: nothing left to edit


def test_a_claim_is_refused_field_by_field_sent_back_and_partly_approved(app, world):
    partner = signed_in(app, world["pu"])
    url = new_request(partner, world)
    manager = signed_in(app, world["manager"])
    assert post(manager, f"{url}/approve", {"amount": "5000.00"}).status_code == 302

    too_much = post(partner, f"{url}/claim", {
        "actual_cost": "7700", "claimed_amount": "4000", "intent": "submit",
        "files": [(io.BytesIO(photo_png()), "booth.png")]}, content_type="multipart/form-data")
    assert too_much.status_code == 422
    page = text_of(too_much)
    assert "The claim is saved but not submitted" in page
    assert error_for(page, "claim-claimed_amount") == (
        "Claim at most 3,850.00 EUR: the approved 5,000.00 EUR, and 50% of the actual cost "
        "7,700.00 EUR.")
    assert 'name="claimed_amount" type="text" value="4000.00"' in page  # saved as typed
    assert re.search(r'data-figure="claim_cap">3,850.00 EUR<', page)
    thumbnail = re.search(r'<img src="(/mdf/requests/[\w-]+/files/[\w-]+\?inline=1)"', page)
    assert thumbnail, "the photo is shown as a thumbnail"
    inline = partner.get(thumbnail[1])
    assert partner.get(inline.headers["Location"]).mimetype == "image/png"
    with app.app_context():
        from mdf import requests as fund_requests

        fund_requests.add_proof(fund_requests.get_request(url.rsplit("/", 1)[1]),
                                invoice_pdf("Launch results"), "proof-of-performance.pdf",
                                by=None, automatic=True)
        db.session.commit()
    page = text_of(partner.get(url))
    report = page[page.index("proof-of-performance.pdf"):]
    assert "made by tcma" in report[:report.index("</li>")]
    assert 'aria-label="Remove proof-of-performance.pdf"' not in page
    assert 'aria-label="Remove booth.png"' in page

    assert post(partner, f"{url}/claim", {"actual_cost": "7700", "claimed_amount": "3850",
                                          "intent": "submit"},
                content_type="multipart/form-data").status_code == 302
    blank = post(manager, f"{url}/claim/ask-info", {"comment": ""})
    assert error_for(text_of(blank), "claim_ask_info-comment") == (
        "Say what information is needed.")
    assert post(manager, f"{url}/claim/ask-info", {"comment": "The photo is not an invoice."}
                ).status_code == 302
    page = text_of(partner.get(url))
    assert 'data-status="claim_needs_info"' in page and "The photo is not an invoice." in page
    photo_id = re.search(r'<li data-file="([\w-]+)">\s*<a[^>]*><img[^>]*alt="booth.png"', page)[1]
    assert post(partner, f"{url}/files/{photo_id}/remove").status_code == 302
    assert "Removed booth.png." in flashes(text_of(partner.get(url)))
    assert post(partner, f"{url}/claim", {
        "actual_cost": "6000", "claimed_amount": "3000", "intent": "submit",
        "files": [(io.BytesIO(invoice_pdf()), "invoice.pdf")]},
        content_type="multipart/form-data").status_code == 302
    page = text_of(manager.get(url))
    assert balances_in(page, '<dl class="facts" id="balance">')["claimed"] == "3,000.00 EUR"
    assert "booth.png" not in page[:page.index('<table id="timeline">')]

    partly = post(manager, f"{url}/claim/approve", {"amount": "2500", "comment": ""})
    assert partly.status_code == 422
    assert error_for(text_of(partly), "approve_claim-comment") == (
        "Say why less than claimed is approved.")
    assert post(manager, f"{url}/claim/approve", {
        "amount": "2500", "comment": "Catering is not covered."}).status_code == 302
    book = balances_in(text_of(partner.get(url)), '<dl class="facts" id="balance">')
    assert (book["claimed"], book["approved"], book["available"]) == (
        "0.00 EUR", "2,500.00 EUR", "7,500.00 EUR")


def test_rejected_and_cancelled_requests_show_their_reason_and_free_the_money(app, world):
    partner = signed_in(app, world["pu"])
    manager = signed_in(app, world["manager"])
    admin = signed_in(app, world["admin"])
    rejected = new_request(partner, world, title="Billboard")
    no_reason = post(manager, f"{rejected}/reject", {"reason": ""})
    assert error_for(text_of(no_reason), "reject-reason") == "Say why it is rejected."
    assert post(manager, f"{rejected}/reject", {"reason": "Outside the programme."}
                ).status_code == 302

    cancelled = new_request(partner, world, title="Roadshow", activity_type="event")
    assert post(admin, f"{cancelled}/approve", {"amount": "5000.00"}).status_code == 302
    assert balances_in(text_of(partner.get("/mdf")), f'<tr data-fund="{world["fund"]}">'
                       )["available"] == "5,000.00 EUR"
    assert post(partner, f"{cancelled}/cancel", {"reason": "Venue fell through."}
                ).status_code == 302
    assert balances_in(text_of(partner.get("/mdf")), f'<tr data-fund="{world["fund"]}">'
                       )["available"] == "10,000.00 EUR"

    for client in (partner, manager, admin, signed_in(app, world["finance"])):
        page = text_of(client.get(rejected))
        assert "Reason: Outside the programme." in " ".join(re.sub(r"<[^>]+>", " ", page)
                                                            .split())
        assert "<form" not in page[page.index("<main>"):]  # nothing left to do on it
        page = text_of(client.get(cancelled))
        assert 'data-status="cancelled"' in page and "Venue fell through." in page
    history = text_of(manager.get(cancelled))
    assert re.search(r"Billboard</a>.*?data-status=\"rejected\"", history, re.S)
