"""The MDF API from fund to payment, as an integrator's client sees it: partner and vendor
tokens, balances exact to the cent on both sides after every step, the state machine's 403
and 409, another partner's request a 404, and money refused unless it is a decimal string."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta

import pytest

from tcma.auth.models import Role
from tcma.models import utcnow
from tests.api.conftest import Api, Person, assert_problem, field_errors
from tests.factories import make_partner, make_token, make_user
from tests.mdf.test_requests import invoice_pdf

TODAY = utcnow().date()
ZERO = {"committed": "0.00", "claimed": "0.00", "approved": "0.00", "paid": "0.00",
        "expired": "0.00"}


@dataclass
class World:
    manager: Api
    finance: Api
    admin: Api
    marketer: Api
    pu: Api  # Northwind's partner user
    pa: Api  # Northwind's partner admin
    other: Api  # Contoso's partner admin
    northwind: str
    contoso: str
    fund: str


@pytest.fixture
def world(app, client) -> World:
    with app.app_context():
        northwind = make_partner("Northwind", tier="gold")
        contoso = make_partner("Contoso", tier="silver")

        def api(role, partner=None, **kw) -> Api:
            user = make_user(role, partner=partner, **kw)
            person = Person(user.public_id, user.email, user.name,
                            partner.public_id if partner else None)
            return Api(client, make_token(user), person)

        w = World(manager=api(Role.CHANNEL_MANAGER, name="Chris Manager"),
                  finance=api(Role.FINANCE, name="Fran Finance"),
                  admin=api(Role.ADMIN), marketer=api(Role.MARKETER),
                  pu=api(Role.PARTNER_USER, northwind, name="Pat Partner"),
                  pa=api(Role.PARTNER_ADMIN, northwind),
                  other=api(Role.PARTNER_ADMIN, contoso, name="Olga Other"),
                  northwind=northwind.public_id, contoso=contoso.public_id, fund="")
    fund = w.manager.ok("POST", "/mdf/funds", 201, json={
        "name": "H1 MDF", "currency": "EUR",
        "period_start": (TODAY - timedelta(days=30)).isoformat(),
        "period_end": (TODAY + timedelta(days=150)).isoformat(), "budget": "250000.00",
        "claim_days": 60, "vendor_share_percent": "50", "approval_threshold": "8000"})
    w.fund = fund["id"]
    w.manager.ok("PUT", f"/mdf/funds/{w.fund}/allocations/{w.northwind}",
                 json={"amount": "10000.00", "comment": "H1 plan"})
    return w


def request_body(w: World, **changes) -> dict:
    body = {"fund_id": w.fund, "activity_type": "webinar",
            "title": "Backup webinar for retail IT", "description": "Two sessions.",
            "starts_on": (TODAY + timedelta(days=10)).isoformat(),
            "ends_on": (TODAY + timedelta(days=10)).isoformat(),
            "estimated_cost": "10000.00", "requested": "5000.00", "expected_leads": 40}
    return {**body, **changes}


def draft(w: World, **changes) -> str:
    return w.pu.ok("POST", "/mdf/requests", 201, json=request_body(w, **changes))["id"]


def book(w: World) -> dict:
    """Northwind's balances in the fund, as the partner sees them; the vendor must see the
    very same."""
    (mine,) = w.pu.ok("GET", "/mdf/balances")
    (theirs,) = w.manager.ok("GET", "/mdf/balances", query_string={"partner_id": w.northwind})
    assert mine == theirs
    assert mine["fund_id"] == w.fund and mine["partner_id"] == w.northwind
    return {k: mine[k] for k in ("currency", "allocated", "committed", "claimed", "approved",
                                 "paid", "expired", "available")}


def expect(w: World, available: str, **balances: str) -> None:
    assert book(w) == {"currency": "EUR", "allocated": "10000.00", **ZERO, **balances,
                       "available": available}


def claimed(w: World, title: str, amount: str) -> str:
    """A request approved in full and claimed with an invoice (the claim under review)."""
    rid = draft(w, title=title, requested=amount, estimated_cost="8000.00")
    w.pu.ok("POST", f"/mdf/requests/{rid}/submit")
    w.manager.ok("POST", f"/mdf/requests/{rid}/approve", json={})
    w.pu.ok("PUT", f"/mdf/requests/{rid}/claim",
            json={"actual_cost": "8000.00", "claimed_amount": amount})
    w.pu.ok("POST", f"/mdf/requests/{rid}/files", 201,
            data={"file": (io.BytesIO(invoice_pdf()), "invoice.pdf")})
    w.pu.ok("POST", f"/mdf/requests/{rid}/submit-claim")
    return rid


def test_the_lifecycle_through_the_api_keeps_both_sides_exact_to_the_cent(world, client,
                                                                         jobs, outbox):
    w = world
    listed = w.pu.ok("GET", "/mdf/funds")
    assert [f["id"] for f in listed] == [w.fund]
    assert listed[0]["budget"] is None and listed[0]["approval_threshold"] is None
    assert w.manager.ok("GET", f"/mdf/funds/{w.fund}")["budget"] == "250000.00"
    expect(w, "10000.00")

    made = w.pu.ok("POST", "/mdf/requests", 201, json=request_body(w))
    rid = made["id"]
    assert (made["status"], made["requested"], made["currency"]) == ("draft", "5000.00", "EUR")
    assert made["allowed_actions"] == ["edit", "submit", "cancel"]
    assert w.manager.ok("GET", f"/mdf/requests/{rid}")["allowed_actions"] == ["cancel"]
    patched = w.pu.ok("PATCH", f"/mdf/requests/{rid}", json={"title": "Backup webinar, EMEA"})
    assert (patched["title"], patched["requested"]) == ("Backup webinar, EMEA", "5000.00")

    submitted = w.pu.ok("POST", f"/mdf/requests/{rid}/submit")
    assert submitted["status"] == "submitted"
    expect(w, "10000.00")  # asking commits nothing

    lower = assert_problem(w.manager.post(f"/mdf/requests/{rid}/approve",
                                          json={"amount": "4000"}), 422)
    assert field_errors(lower) == {"comment": "Say why less than requested is approved."}
    approved = w.manager.ok("POST", f"/mdf/requests/{rid}/approve", json={
        "amount": "4000.00", "comment": "Venue costs are capped at 4,000.", "currency": "EUR"})
    assert (approved["status"], approved["approved_amount"]) == ("approved", "4000.00")
    assert approved["claim_deadline"] == (TODAY + timedelta(days=70)).isoformat()
    assert approved["review_comment"] == "Venue costs are capped at 4,000."
    expect(w, "6000.00", committed="4000.00")

    claim = w.pu.ok("PUT", f"/mdf/requests/{rid}/claim", json={
        "actual_cost": "7700.00", "claimed_amount": "3850.00", "results_leads": 37,
        "results_attendees": 212, "results_notes": "Two full rooms."})
    assert (claim["claim_cap"], claim["claimed_amount"]) == ("3850.00", "3850.00")
    no_proof = assert_problem(w.pu.post(f"/mdf/requests/{rid}/submit-claim"), 422)
    assert "Attach proof" in field_errors(no_proof)["files"]

    stray = w.pu.ok("POST", f"/mdf/requests/{rid}/files", 201,
                    data={"file": (io.BytesIO(b"name,email\nAda,ada@example.com\n"),
                                   "attendees.csv")})
    assert (stray["kind"], stray["detail"]) == ("csv", "2 rows, 2 columns")
    renamed = assert_problem(w.pu.post(f"/mdf/requests/{rid}/files", data={
        "file": (io.BytesIO(b"PK\x03\x04word/document.xml"), "invoice.pdf")}), 422)
    assert "not a PDF (it looks like a Word document)" in field_errors(renamed)["files"]
    invoice = invoice_pdf()
    proof = w.pu.ok("POST", f"/mdf/requests/{rid}/files", 201,
                    data={"file": (io.BytesIO(invoice), "invoice-117.pdf")})
    assert (proof["kind"], proof["detail"], proof["automatic"]) == ("pdf", "1 page", False)
    assert w.pu.delete(f"/mdf/requests/{rid}/files/{stray['id']}").status_code == 204
    (listed_file,) = w.manager.ok("GET", f"/mdf/requests/{rid}/files")
    assert listed_file["id"] == proof["id"]
    download = client.get(listed_file["url"].removeprefix("http://localhost"))
    assert download.status_code == 200 and download.data == invoice

    claimed = w.pu.ok("POST", f"/mdf/requests/{rid}/submit-claim")
    assert claimed["status"] == "claim_submitted"
    expect(w, "6150.00", claimed="3850.00")  # the unclaimed 150.00 is free again

    w.manager.ok("POST", f"/mdf/requests/{rid}/approve-claim", json={})
    expect(w, "6150.00", approved="3850.00")
    refused = assert_problem(w.manager.post(f"/mdf/requests/{rid}/pay",
                                            json={"reference": "PAY-1"}), 403)
    assert refused["detail"] == "Only an admin or finance can mark paid."
    export = w.finance.get("/mdf/payments.csv")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    lines = export.get_data(as_text=True).splitlines()
    assert lines[0].startswith("request_id,partner,partner_id,fund,title,amount,currency")
    assert lines[1].startswith(f"{rid},Northwind,{w.northwind},H1 MDF,"
                               "\"Backup webinar, EMEA\",3850.00,EUR,")

    (paid,) = w.finance.ok("POST", "/mdf/payments", json={
        "request_ids": [rid], "reference": "AP-2027-0042", "paid_on": TODAY.isoformat()})
    assert paid["status"] == "paid"
    expect(w, "6150.00", paid="3850.00")
    shown = w.pu.ok("GET", f"/mdf/requests/{rid}")
    assert (shown["status"], shown["payment_reference"], shown["paid_on"]) == (
        "paid", "AP-2027-0042", TODAY.isoformat())
    assert shown["allowed_actions"] == []
    totals = w.manager.ok("GET", f"/mdf/funds/{w.fund}/balances")
    assert totals == {"currency": "EUR", "budget": "250000.00", "unallocated": "240000.00",
                      "allocated": "10000.00", **ZERO, "paid": "3850.00",
                      "available": "6150.00"}

    timeline = w.pu.ok("GET", f"/mdf/requests/{rid}/timeline")
    assert [(e["action"], e["to_status"], e["amount"]) for e in timeline] == [
        ("create", "draft", "5000.00"), ("submit", "submitted", "5000.00"),
        ("approve", "approved", "4000.00"), ("proof_added", None, None),
        ("proof_added", None, None), ("proof_removed", None, None),
        ("submit_claim", "claim_submitted", "3850.00"),
        ("approve_claim", "claim_approved", "3850.00"), ("pay", "paid", "3850.00")]
    assert timeline[2]["actor"] == "Chris Manager" and timeline[-1]["actor"] == "Fran Finance"
    assert w.finance.get("/mdf/payments.csv", query_string={"status": "paid"}).get_data(
        as_text=True).count("AP-2027-0042") == 1

    jobs.run()
    subjects = {(m.to, m.subject) for m in outbox.messages()}
    assert (w.pu.user.email, 'MDF: "Backup webinar, EMEA" was paid') in subjects


def test_a_partners_submission_through_the_api_is_announced_to_the_reviewers(world, jobs,
                                                                             outbox):
    w = world
    rid = draft(w)
    w.pu.ok("POST", f"/mdf/requests/{rid}/submit")
    jobs.run()
    assert (w.manager.user.email, 'MDF: "Backup webinar for retail IT" was submitted for '
            "review") in {(m.to, m.subject) for m in outbox.messages()}


def test_the_state_machine_answers_403_for_the_wrong_role_and_409_for_the_wrong_state(world):
    w = world
    rid = draft(w)
    early = assert_problem(w.manager.post(f"/mdf/requests/{rid}/approve", json={}), 409)
    assert early["detail"] == "A draft request cannot be approved."
    assert_problem(w.manager.patch(f"/mdf/requests/{rid}", json={"title": "Mine now"}), 403)
    w.pa.ok("POST", f"/mdf/requests/{rid}/submit")  # a colleague of the requester may
    assert_problem(w.pu.post(f"/mdf/requests/{rid}/submit"), 409)  # a double submit
    own = assert_problem(w.pu.post(f"/mdf/requests/{rid}/approve", json={}), 403)
    assert own["detail"] == "Only an admin, a channel manager or finance can approve."
    assert_problem(w.pu.post(f"/mdf/requests/{rid}/reject", json={"reason": "x"}), 403)
    assert_problem(w.pu.patch(f"/mdf/requests/{rid}", json={"title": "Late"}), 409)
    assert_problem(w.pu.put(f"/mdf/requests/{rid}/claim", json={
        "actual_cost": "1", "claimed_amount": "1"}), 409)
    assert_problem(w.pu.post(f"/mdf/requests/{rid}/files", data={
        "file": (io.BytesIO(invoice_pdf()), "invoice.pdf")}), 409)
    no_reason = assert_problem(w.manager.post(f"/mdf/requests/{rid}/reject",
                                              json={"reason": " "}), 422)
    assert field_errors(no_reason) == {"reason": "Say why it is rejected."}
    asked = w.manager.ok("POST", f"/mdf/requests/{rid}/ask-info",
                         json={"comment": "Which venue?"})
    assert (asked["status"], asked["review_comment"]) == ("needs_info", "Which venue?")
    w.pu.ok("PATCH", f"/mdf/requests/{rid}", json={"description": "At the Hilton."})
    w.pu.ok("POST", f"/mdf/requests/{rid}/submit")
    w.manager.ok("POST", f"/mdf/requests/{rid}/approve", json={})
    expect(w, "5000.00", committed="5000.00")
    assert_problem(w.manager.post(f"/mdf/requests/{rid}/approve", json={}), 409)
    assert_problem(w.pu.post(f"/mdf/requests/{rid}/claim-ask-info",
                             json={"comment": "x"}), 409)
    cancelled = w.pu.ok("POST", f"/mdf/requests/{rid}/cancel",
                        json={"reason": "The venue burned down."})
    assert cancelled["status"] == "cancelled"
    expect(w, "10000.00")  # the commitment came back
    assert_problem(w.pu.post(f"/mdf/requests/{rid}/cancel", json={}), 409)

    # Vendor routes: a partner gets 404 (it cannot map them), a marketer a 403.
    assert_problem(w.pu.put(f"/mdf/funds/{w.fund}/allocations/{w.northwind}",
                            json={"amount": "99999"}), 404)
    assert_problem(w.pu.get(f"/mdf/funds/{w.fund}/balances"), 404)
    assert_problem(w.pu.post("/mdf/payments", json={"request_ids": [rid], "reference": "x"}),
                   404)
    assert_problem(w.marketer.get("/mdf/funds"), 403)
    assert_problem(w.manager.post("/mdf/requests", json=request_body(w)), 403)
    assert_problem(w.manager.get("/mdf/payments.csv"), 403)


def test_another_partners_requests_files_funds_and_balances_are_not_there(world):
    w = world
    rid = claimed(w, "Northwind roadshow", "1000.00")
    (proof,) = w.pu.ok("GET", f"/mdf/requests/{rid}/files")
    for method, path, kw in [
            ("GET", f"/mdf/requests/{rid}", {}), ("GET", f"/mdf/requests/{rid}/timeline", {}),
            ("GET", f"/mdf/requests/{rid}/files", {}),
            ("DELETE", f"/mdf/requests/{rid}/files/{proof['id']}", {}),
            ("PATCH", f"/mdf/requests/{rid}", {"json": {"title": "x"}}),
            ("POST", f"/mdf/requests/{rid}/cancel", {"json": {}}),
            ("POST", f"/mdf/requests/{rid}/files",
             {"data": {"file": (io.BytesIO(invoice_pdf()), "i.pdf")}}),
            ("GET", f"/mdf/funds/{w.fund}", {})]:
        assert_problem(w.other._call(method, path, **kw), 404)
    assert w.other.ok("GET", "/mdf/requests") == []
    assert w.other.ok("GET", "/mdf/funds") == []
    assert w.other.ok("GET", "/mdf/balances") == []
    assert_problem(w.other.get("/mdf/balances", query_string={"partner_id": w.northwind}),
                   404)
    refused = assert_problem(w.other.post("/mdf/requests", json=request_body(w)), 422)
    assert field_errors(refused) == {"fund_id": "No such fund."}
    # The vendor sees both partners' requests; a partner filter narrows them.
    assert [r["id"] for r in w.manager.ok("GET", "/mdf/requests", query_string={
        "partner_id": w.northwind, "status": "claim_submitted,paid"})] == [rid]
    assert w.manager.ok("GET", "/mdf/requests", query_string={"partner_id": w.contoso}) == []
    bad = assert_problem(w.manager.get("/mdf/requests", query_string={"status": "lost"}), 422)
    assert "Unknown status lost" in field_errors(bad)["status"]


def test_money_must_be_a_decimal_string_and_refusals_name_the_field(world):
    w = world
    floats = assert_problem(w.pu.post("/mdf/requests", json=request_body(
        w, estimated_cost=10000.0, requested=5000.5)), 422)
    assert set(field_errors(floats)) == {"estimated_cost", "requested"}
    assert "never as JSON numbers" in field_errors(floats)["requested"]
    whole = assert_problem(w.pu.post("/mdf/requests", json=request_body(w, requested=5000)),
                           422)
    assert set(field_errors(whole)) == {"requested"}
    precise = assert_problem(w.pu.post("/mdf/requests", json=request_body(
        w, requested="10.001", estimated_cost="-5")), 422)
    assert field_errors(precise) == {"requested": "EUR amounts have 2 decimal places at most.",
                                     "estimated_cost": "The amount must be more than zero."}
    dollars = assert_problem(w.pu.post("/mdf/requests", json=request_body(
        w, currency="USD")), 422)
    assert field_errors(dollars) == {"currency": "H1 MDF is in EUR; send amounts in that "
                                                 "currency."}
    assert w.pu.ok("GET", "/mdf/requests") == []  # nothing was saved

    rid = draft(w)
    w.pu.ok("POST", f"/mdf/requests/{rid}/submit")
    assert set(field_errors(assert_problem(w.manager.post(
        f"/mdf/requests/{rid}/approve", json={"amount": 4000.0, "comment": "x"}), 422))) == {
        "amount"}
    assert field_errors(assert_problem(w.manager.post(
        f"/mdf/requests/{rid}/approve", json={"amount": "6000.00"}), 422)) == {
        "amount": "Approve at most the amount requested, 5,000.00 EUR."}
    w.manager.ok("POST", f"/mdf/requests/{rid}/approve", json={})
    assert set(field_errors(assert_problem(w.pu.put(f"/mdf/requests/{rid}/claim", json={
        "actual_cost": "7000.00", "claimed_amount": 3500.0}), 422))) == {"claimed_amount"}
    assert set(field_errors(assert_problem(w.manager.put(
        f"/mdf/funds/{w.fund}/allocations/{w.northwind}", json={"amount": 100.5}),
        422))) == {"amount"}
    assert set(field_errors(assert_problem(w.manager.post("/mdf/funds", json={
        "name": "F", "currency": "EUR", "period_start": "2027-01-01",
        "period_end": "2027-06-30", "budget": 1000.0}), 422))) == {"budget"}
    assert set(field_errors(assert_problem(w.manager.post(
        f"/mdf/funds/{w.fund}/allocations/by-tier", json={"amounts": {"gold": 10.5}}),
        422))) == {"amounts"}
    expect(w, "5000.00", committed="5000.00")  # none of it changed a cent


def test_allocations_by_hand_csv_tier_and_revenue_and_fund_changes(world, app):
    w = world
    with app.app_context():
        gold = make_partner("Gold One", tier="gold")
        silver = make_partner("Silver One", tier="silver")
        gold_slug, silver_slug = gold.slug, silver.slug
    report = w.manager.ok("POST", f"/mdf/funds/{w.fund}/allocations/by-tier",
                          json={"amounts": {"silver": "1500"}})
    assert report == {"changed": 2, "unchanged": 0, "errors": []}  # Silver One and Contoso
    unknown = assert_problem(w.manager.post(f"/mdf/funds/{w.fund}/allocations/by-tier",
                                            json={"amounts": {"diamond": "1"}}), 422)
    assert "No tier diamond" in field_errors(unknown)["amounts.diamond"]
    csv = f"partner,amount\n{gold_slug},2500.50\nnobody,10\n{silver_slug},abc\n".encode()
    report = w.manager.ok("POST", f"/mdf/funds/{w.fund}/allocations/import",
                          data={"file": (io.BytesIO(csv), "allocations.csv")})
    assert report == {"changed": 1, "unchanged": 0, "errors": [
        "line 3: no partner 'nobody'",
        "line 4: Silver One: Write an amount like 1250.00 (not 'abc')."]}
    assert_problem(w.manager.post(f"/mdf/funds/{w.fund}/allocations/import", data={}), 422)
    revenue = f"partner,revenue\n{gold_slug},123456.78\n".encode()
    report = w.manager.ok("POST", f"/mdf/funds/{w.fund}/allocations/by-revenue", data={
        "file": (io.BytesIO(revenue), "revenue.csv"), "percent": "2.5"})
    assert report["changed"] == 1
    bad_percent = assert_problem(w.manager.post(
        f"/mdf/funds/{w.fund}/allocations/by-revenue",
        data={"file": (io.BytesIO(revenue), "revenue.csv"), "percent": "250"}), 422)
    assert set(field_errors(bad_percent)) == {"percent"}
    shown = {a["partner_name"]: a["allocated"] for a in w.manager.ok(
        "GET", f"/mdf/funds/{w.fund}/allocations")}
    assert shown == {"Contoso": "1500.00", "Gold One": "3086.42", "Northwind": "10000.00",
                     "Silver One": "1500.00"}  # 2.5 % of 123,456.78, rounded half up

    rid = draft(w)
    w.pu.ok("POST", f"/mdf/requests/{rid}/submit")
    w.manager.ok("POST", f"/mdf/requests/{rid}/approve", json={})
    below = assert_problem(w.manager.put(f"/mdf/funds/{w.fund}/allocations/{w.northwind}",
                                         json={"amount": "4999.99"}), 422)
    assert "already has 5,000.00 EUR committed" in field_errors(below)["amount"]
    beyond = assert_problem(w.manager.put(f"/mdf/funds/{w.fund}/allocations/{w.contoso}",
                                          json={"amount": "300000"}), 422)
    assert "of the budget is left to allocate" in field_errors(beyond)["amount"]
    assert_problem(w.manager.put(f"/mdf/funds/{w.fund}/allocations/missing",
                                 json={"amount": "1"}), 404)

    too_small = assert_problem(w.manager.patch(f"/mdf/funds/{w.fund}",
                                               json={"budget": "1000"}), 422)
    assert "cannot be less than what is allocated" in field_errors(too_small)["budget"]
    changed = w.manager.ok("PATCH", f"/mdf/funds/{w.fund}", json={
        "name": "H1 MDF (EMEA)", "approval_threshold": None})
    assert (changed["name"], changed["approval_threshold"], changed["budget"],
            changed["vendor_share_percent"]) == ("H1 MDF (EMEA)", None, "250000.00", "50.00")
    assert w.manager.ok("POST", f"/mdf/funds/{w.fund}/close")["status"] == "closed"
    assert_problem(w.manager.post(f"/mdf/funds/{w.fund}/close"), 409)
    late = draft(w)
    closed = assert_problem(w.pu.post(f"/mdf/requests/{late}/submit"), 422)
    assert "is closed for new requests" in field_errors(closed)["fund_id"]
    # An approved request is still claimed and paid after the fund closes.
    w.pu.ok("PUT", f"/mdf/requests/{rid}/claim",
            json={"actual_cost": "10000.00", "claimed_amount": "5000.00"})


def test_above_the_threshold_a_second_approver_commits_the_money(world):
    w = world
    rid = draft(w, estimated_cost="20000.00", requested="9000.00")
    w.pu.ok("POST", f"/mdf/requests/{rid}/submit")
    first = w.manager.ok("POST", f"/mdf/requests/{rid}/approve", json={})
    assert (first["status"], first["awaiting_second_approval"],
            first["first_approved_amount"]) == ("submitted", True, "9000.00")
    expect(w, "10000.00")
    again = assert_problem(w.manager.post(f"/mdf/requests/{rid}/approve", json={}), 409)
    assert again["detail"] == "The second approval must come from someone else."
    second = w.finance.ok("POST", f"/mdf/requests/{rid}/approve",
                          json={"amount": "8500.00", "comment": "Rounded to the quote."})
    assert (second["status"], second["awaiting_second_approval"]) == ("approved", False)
    expect(w, "1500.00", committed="8500.00")


def test_a_batch_payment_pays_all_or_none_and_names_the_one_in_the_way(world):
    w = world
    ready = claimed(w, "Spring event", "1000.00")
    waiting = claimed(w, "Summer event", "2000.00")
    w.manager.ok("POST", f"/mdf/requests/{ready}/approve-claim", json={})
    expect(w, "7000.00", claimed="2000.00", approved="1000.00")
    refused = assert_problem(w.finance.post("/mdf/payments", json={
        "request_ids": [ready, waiting], "reference": "RUN-7"}), 409)
    assert refused["detail"] == (f"Summer event ({waiting}): A claim submitted request cannot "
                                 "be paid. Nothing was paid.")
    missing = assert_problem(w.finance.post("/mdf/payments", json={
        "request_ids": [ready, "nope"], "reference": "RUN-7"}), 422)
    assert field_errors(missing) == {"request_ids": "No such request: nope."}
    future = assert_problem(w.finance.post("/mdf/payments", json={
        "request_ids": [ready], "reference": "RUN-7",
        "paid_on": (TODAY + timedelta(days=5)).isoformat()}), 422)
    assert set(field_errors(future)) == {"paid_on"}
    expect(w, "7000.00", claimed="2000.00", approved="1000.00")  # nothing paid

    partly = w.manager.ok("POST", f"/mdf/requests/{waiting}/approve-claim",
                          json={"amount": "1800.00", "comment": "One invoice is missing."})
    assert partly["claim_approved_amount"] == "1800.00"
    expect(w, "7200.00", approved="2800.00")
    paid = w.finance.ok("POST", "/mdf/payments", json={"request_ids": [ready, waiting],
                                                       "reference": "RUN-7"})
    assert [p["status"] for p in paid] == ["paid", "paid"]
    expect(w, "7200.00", paid="2800.00")
    assert w.finance.get("/mdf/payments.csv").get_data(as_text=True).count("\r\n") == 1
