"""MDF from request to payment: balances exact to the cent after every step, every rule
and every (state, action, role) combination, deadlines on a controlled clock."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from mdf import balances, funds, money, requests, workflow
from mdf.models import Allocation, FundRequest, LedgerEntry, RequestStatus
from tcma.auth.models import Role
from tcma.errors import Conflict, Forbidden, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tests.factories import make_partner, make_user

S = RequestStatus
TODAY = utcnow().date()


def invoice_pdf(text_line: str = "Invoice 2026-117: webinar platform, 3,850.00 EUR") -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, text_line)
    page.save()
    return out.getvalue()


@pytest.fixture
def world(ctx):
    manager = make_user(Role.CHANNEL_MANAGER, name="Chris Manager")
    finance = make_user(Role.FINANCE, name="Fran Finance")
    admin = make_user(Role.ADMIN, name="Ada Admin")
    partner = make_partner("Northwind")
    other = make_partner("Contoso")
    partner_user = make_user(Role.PARTNER_USER, partner=partner, name="Pat Partner")
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
    return {"manager": manager, "finance": finance, "admin": admin, "partner": partner,
            "other": other, "pu": partner_user, "other_user": other_user, "fund": fund}


def draft(world, **changes):
    data = {"activity_type": "webinar", "title": "Backup webinar for retail IT",
            "description": "Two sessions with a live demo.",
            "starts_on": (TODAY + timedelta(days=10)).isoformat(),
            "ends_on": (TODAY + timedelta(days=10)).isoformat(),
            "estimated_cost": "10000.00", "requested": "5000.00", "expected_leads": "40"}
    data.update(changes)
    request = requests.create_request(world["partner"], world["fund"], data, by=world["pu"])
    db.session.commit()
    return request


def book(world, partner="partner") -> dict[str, str]:
    allocation = funds.allocation_of(world["fund"], world[partner])
    db.session.refresh(allocation)
    return balances.of(allocation).as_dict()


def test_the_whole_lifecycle_keeps_the_balances_exact_to_the_cent(world, outbox, jobs):
    request = draft(world)
    assert book(world)["available"] == "10000.00"
    requests.submit(request, by=world["pu"])
    db.session.commit()
    assert book(world)["available"] == "10000.00"  # nothing is committed by asking

    with pytest.raises(ValidationFailed) as lower:
        requests.approve(request, by=world["manager"], amount="4000")
    assert lower.value.for_field("comment") == "Say why less than requested is approved."
    requests.approve(request, by=world["manager"], amount="4000.00",
                     comment="Venue costs are capped at 4,000.")
    db.session.commit()
    assert book(world) == {"currency": "EUR", "allocated": "10000.00", "committed": "4000.00",
                           "claimed": "0.00", "approved": "0.00", "paid": "0.00",
                           "expired": "0.00", "available": "6000.00"}
    assert request.claim_deadline == TODAY + timedelta(days=70)

    requests.save_claim(request, {"actual_cost": "7700.00", "claimed_amount": "3850.00",
                                  "results_leads": "37", "results_attendees": "212"},
                        by=world["pu"])
    with pytest.raises(ValidationFailed) as no_proof:
        requests.submit_claim(request, by=world["pu"])
    assert no_proof.value.for_field("files")
    requests.add_proof(request, invoice_pdf(), "invoice-117.pdf", by=world["pu"])
    requests.submit_claim(request, by=world["pu"])
    db.session.commit()
    assert (book(world)["committed"], book(world)["claimed"], book(world)["available"]) == (
        "0.00", "3850.00", "6150.00")  # the unclaimed 150.00 is free again

    requests.approve_claim(request, by=world["manager"])
    db.session.commit()
    assert (book(world)["claimed"], book(world)["approved"]) == ("0.00", "3850.00")
    with pytest.raises(Forbidden, match="Only an admin or finance"):
        requests.pay(request, by=world["manager"], reference="PAY-1")
    requests.pay(request, by=world["finance"], reference="AP-2027-0042",
                 paid_on=TODAY)
    db.session.commit()
    assert book(world) == {"currency": "EUR", "allocated": "10000.00", "committed": "0.00",
                           "claimed": "0.00", "approved": "0.00", "paid": "3850.00",
                           "expired": "0.00", "available": "6150.00"}
    totals = balances.fund_totals(world["fund"]).as_dict()
    assert (totals["allocated"], totals["paid"], totals["available"]) == (
        "15000.00", "3850.00", "11150.00")

    steps = [(e.action, e.from_status, e.to_status, e.amount) for e in
             balances.timeline(request)]
    assert steps == [
        ("create", None, "draft", 500000), ("submit", "draft", "submitted", 500000),
        ("approve", "submitted", "approved", 400000), ("proof_added", None, None, None),
        ("submit_claim", "approved", "claim_submitted", 385000),
        ("approve_claim", "claim_submitted", "claim_approved", 385000),
        ("pay", "claim_approved", "paid", 385000)]
    assert all(e.actor_name for e in balances.timeline(request))
    jobs.run()
    subjects = {(m.to, m.subject) for m in outbox.messages()}
    assert (world["manager"].email, 'MDF: "Backup webinar for retail IT" was submitted for '
            "review") in subjects
    assert (world["pu"].email, 'MDF: "Backup webinar for retail IT" was paid') in subjects
    assert (world["finance"].email, 'MDF: "Backup webinar for retail IT" has a claim to '
            "review") in subjects


def test_submitting_checks_the_funds_rules_and_says_exactly_what_is_wrong(world):
    request = draft(world, activity_type="print", starts_on=(
        TODAY + timedelta(days=400)).isoformat(), ends_on=(TODAY + timedelta(days=401))
        .isoformat(), estimated_cost="20000", requested="12000")
    world["fund"].activity_types = ["webinar", "event"]
    db.session.commit()
    with pytest.raises(ValidationFailed) as refused:
        requests.submit(request, by=world["pu"])
    messages = {e.field: e.message for e in refused.value.errors}
    assert messages["activity_type"] == "This fund pays for webinar, event only."
    assert "within the fund's period" in messages["starts_on"]
    errors = [e.message for e in refused.value.errors if e.field == "requested"]
    assert errors == ["The fund pays at most 50% of the cost: at most 10,000.00 EUR of "
                      "20,000.00 EUR.", "Only 10,000.00 EUR is available in your allocation."]
    db.session.rollback()
    assert request.status is S.DRAFT  # nothing changed

    with pytest.raises(ValidationFailed) as bad:
        requests.create_request(world["partner"], world["fund"], {
            "activity_type": "webinar", "title": "x", "starts_on": "2027-01-10",
            "ends_on": "2027-01-09", "estimated_cost": "-5", "requested": "10.001"},
            by=world["pu"])
    fields = {e.field: e.message for e in bad.value.errors}
    assert fields["ends_on"] == "The activity must end on or after its start."
    assert fields["estimated_cost"] == "The amount must be more than zero."
    assert fields["requested"] == "EUR amounts have 2 decimal places at most."
    with pytest.raises(ValidationFailed, match="allocation"):
        requests.create_request(make_partner("No Allocation"), world["fund"], {
            "activity_type": "webinar", "title": "x", "starts_on": "2027-01-10",
            "ends_on": "2027-01-10", "estimated_cost": "5", "requested": "1"}, by=None)


def test_a_double_submitted_form_changes_nothing_the_second_time(world):
    request = draft(world)
    requests.submit(request, by=world["pu"])
    db.session.commit()
    with pytest.raises(Conflict, match="A submitted request cannot be submitted"):
        requests.submit(request, by=world["pu"])
    requests.approve(request, by=world["manager"])
    db.session.commit()
    with pytest.raises(Conflict, match="An approved request cannot be approved"):
        requests.approve(request, by=world["manager"])
    assert book(world)["committed"] == "5000.00"


def test_above_the_threshold_two_people_approve_the_second_from_finance(world):
    request = draft(world, estimated_cost="20000", requested="9000")
    requests.submit(request, by=world["pu"])
    db.session.commit()
    requests.approve(request, by=world["manager"])
    db.session.commit()
    assert request.status is S.SUBMITTED and book(world)["committed"] == "0.00"
    with pytest.raises(Conflict, match="someone else"):
        requests.approve(request, by=world["manager"])
    other_manager = make_user(Role.CHANNEL_MANAGER)
    with pytest.raises(Conflict, match="finance or an admin"):
        requests.approve(request, by=other_manager)
    requests.approve(request, by=world["finance"], amount="8500",
                     comment="Rounded down to the venue quote.")
    db.session.commit()
    assert request.status is S.APPROVED and book(world)["committed"] == "8500.00"
    assert [e.action for e in balances.timeline(request)][-2:] == ["approve_first", "approve"]


def test_every_state_action_and_role_combination_is_decided_in_one_place(world):
    """For each state, each action and each role: allowed exactly when the table says so,
    and otherwise a 409 (wrong state) or a 403 (wrong role), never a silent change."""
    users = {Role.ADMIN: world["admin"], Role.CHANNEL_MANAGER: world["manager"],
             Role.FINANCE: world["finance"], Role.MARKETER: make_user(Role.MARKETER),
             Role.PARTNER_USER: world["pu"],
             Role.PARTNER_ADMIN: make_user(Role.PARTNER_ADMIN, partner=world["partner"])}
    request = draft(world)
    checked = 0
    for status in RequestStatus:
        request.status = status
        for name, rule in workflow.ACTIONS.items():
            for role, user in users.items():
                expected = status in rule.sources and role in rule.roles
                if expected:
                    assert workflow.check(name, request, user) is rule
                else:
                    error = Conflict if status not in rule.sources else Forbidden
                    with pytest.raises(error):
                        workflow.check(name, request, user)
                checked += 1
            if not rule.roles:  # the scheduler's own actions
                if status in rule.sources:
                    workflow.check(name, request, None)
                else:
                    with pytest.raises(Conflict):
                        workflow.check(name, request, None)
    assert checked == len(RequestStatus) * len(workflow.ACTIONS) * len(users)
    db.session.rollback()
    # A partner user of another partner may not act on this partner's request.
    request = draft(world)
    with pytest.raises(Forbidden, match="another partner"):
        workflow.check("submit", request, world["other_user"])


def test_allocations_never_drop_below_what_is_spoken_for_nor_beyond_the_budget(world):
    request = draft(world)
    requests.submit(request, by=world["pu"])
    requests.approve(request, by=world["manager"])
    db.session.commit()
    with pytest.raises(ValidationFailed, match="already has 5,000.00 EUR committed"):
        funds.set_allocation(world["fund"], world["partner"], "4999.99", by=world["manager"])
    funds.set_allocation(world["fund"], world["partner"], "5000", by=world["manager"])
    with pytest.raises(ValidationFailed, match="Only 245,000.00 EUR of the budget"):
        funds.set_allocation(world["fund"], world["other"], "245000.01", by=world["manager"])
    db.session.commit()
    # Even a write that skips the services cannot over-commit: the database refuses it.
    with pytest.raises((IntegrityError, DBAPIError)):
        db.session.execute(text("UPDATE mdf_allocations SET committed = amount + 1"))
        db.session.flush()
    db.session.rollback()


def test_allocations_by_csv_by_tier_and_by_revenue(world):
    gold = make_partner("Gold One", tier="gold")
    silver = make_partner("Silver One", tier="silver")
    report = funds.allocate_by_tier(world["fund"], {"silver": "1500"}, by=world["manager"])
    assert report.changed == 1 and funds.allocation_of(world["fund"], silver).amount == 150000
    csv_text = ("partner,amount\n"
                f"{gold.slug},2500.50\nnobody,10\n{silver.slug},abc\n")
    report = funds.allocate_csv(world["fund"], csv_text.encode(), by=world["manager"])
    assert report.changed == 1 and report.errors == [
        "line 3: no partner 'nobody'",
        "line 4: Silver One: Write an amount like 1250.00 (not 'abc')."]
    assert funds.allocation_of(world["fund"], gold).amount == 250050
    report = funds.allocate_by_revenue(world["fund"], f"partner,revenue\n{gold.slug},"
                                       "123456.78\n", "2.5", by=world["manager"])
    assert funds.allocation_of(world["fund"], gold).amount == 308642  # 3,086.42, half up
    db.session.commit()


def test_an_unclaimed_approval_expires_and_its_money_returns(world, jobs, outbox):
    request = draft(world)
    requests.submit(request, by=world["pu"])
    requests.approve(request, by=world["manager"])
    db.session.commit()
    deadline = request.claim_deadline
    assert requests.remind_due(deadline - timedelta(days=8)) == 0
    assert requests.remind_due(deadline - timedelta(days=7)) == 1
    assert requests.remind_due(deadline - timedelta(days=6)) == 0  # once
    assert requests.expire_due(deadline) == 0  # the deadline day itself still counts
    assert requests.expire_due(deadline + timedelta(days=1)) == 1
    db.session.commit()
    assert request.status is S.EXPIRED
    assert (book(world)["committed"], book(world)["expired"], book(world)["available"]) == (
        "0.00", "5000.00", "10000.00")
    with pytest.raises(Conflict):
        requests.save_claim(request, {"actual_cost": "1", "claimed_amount": "1"},
                            by=world["pu"])
    jobs.run()
    assert any("is due to be claimed soon" in m.subject for m in outbox.messages())
    assert any("expired unclaimed" in m.subject for m in outbox.messages())


def test_claims_are_capped_by_the_approval_and_the_vendor_share(world):
    request = draft(world)
    requests.submit(request, by=world["pu"])
    requests.approve(request, by=world["manager"], amount="4000", comment="cap")
    requests.add_proof(request, invoice_pdf(), "invoice.pdf", by=world["pu"])
    requests.save_claim(request, {"actual_cost": "7000", "claimed_amount": "3600"},
                        by=world["pu"])
    with pytest.raises(ValidationFailed) as capped:
        requests.submit_claim(request, by=world["pu"])
    assert capped.value.for_field("claimed_amount") == (
        "Claim at most 3,500.00 EUR: the approved 4,000.00 EUR, and 50% of the actual cost "
        "7,000.00 EUR.")
    requests.save_claim(request, {"actual_cost": "7000", "claimed_amount": "3500"},
                        by=world["pu"])
    requests.submit_claim(request, by=world["pu"])
    requests.claim_ask_info(request, by=world["manager"], comment="Attendee list, please.")
    requests.save_claim(request, {"actual_cost": "6000", "claimed_amount": "3000"},
                        by=world["pu"])
    requests.submit_claim(request, by=world["pu"])
    db.session.commit()
    assert (book(world)["claimed"], book(world)["available"]) == ("3000.00", "7000.00")
    requests.reject_claim(request, by=world["manager"], reason="The invoice is not ours.")
    db.session.commit()
    assert book(world)["available"] == "10000.00"
    pending = draft(world)
    requests.submit(pending, by=world["pu"])
    with pytest.raises(ValidationFailed, match="Say why it is rejected"):
        requests.reject(pending, by=world["manager"], reason="  ")


def test_the_ledger_is_append_only_in_the_database(world):
    request = draft(world)
    entry = db.session.execute(select(LedgerEntry).where(
        LedgerEntry.request_id == request.id)).scalar_one()
    with pytest.raises(DBAPIError):
        db.session.execute(text("UPDATE mdf_ledger SET amount = 1 WHERE id = :id"),
                           {"id": entry.id})
    db.session.rollback()
    with pytest.raises(DBAPIError):
        db.session.execute(text("DELETE FROM mdf_ledger"))
    db.session.rollback()


def test_money_is_parsed_exactly_and_never_as_a_float():
    assert money.parse("3,850.00", "EUR", "x") == 385000
    assert money.parse("1 250,5".replace(",", "."), "EUR", "x") == 125050
    assert money.parse("1500", "JPY", "x") == 1500
    for bad in ("1.5", "abc", "-1", "0", "NaN", "Infinity", "1e10"):
        with pytest.raises(ValidationFailed):
            money.parse(bad, "JPY", "amount")
    with pytest.raises(TypeError):
        money.parse(0.1, "EUR", "x")
    assert money.display(123456789, "EUR") == "1,234,567.89 EUR"
    assert money.share(333, 5000) == 166  # the vendor never pays half a cent more
    with pytest.raises(ValidationFailed, match="currency code"):
        money.check_currency("EURO")


def test_paying_in_a_batch_is_all_or_nothing(world):
    done = []
    for _ in range(2):
        request = draft(world, requested="1000", estimated_cost="2000")
        requests.submit(request, by=world["pu"])
        requests.approve(request, by=world["manager"])
        requests.add_proof(request, invoice_pdf(), "invoice.pdf", by=world["pu"])
        requests.save_claim(request, {"actual_cost": "2000", "claimed_amount": "1000"},
                            by=world["pu"])
        requests.submit_claim(request, by=world["pu"])
        done.append(request)
    requests.approve_claim(done[0], by=world["manager"])
    db.session.commit()
    with pytest.raises(Conflict):
        requests.pay_many(done, by=world["finance"], reference="RUN-7")
    db.session.rollback()
    assert [r.status for r in done] == [S.CLAIM_APPROVED, S.CLAIM_SUBMITTED]
    requests.approve_claim(done[1], by=world["manager"])
    requests.pay_many(done, by=world["finance"], reference="RUN-7")
    db.session.commit()
    assert book(world)["paid"] == "2000.00"
    assert {r.payment_reference for r in done} == {"RUN-7"}
    assert db.session.execute(select(Allocation.paid)).scalars().all() in ([200000, 0],
                                                                          [0, 200000])
    assert db.session.scalar(select(FundRequest.status).where(
        FundRequest.id == done[0].id)) is S.PAID


def test_a_claim_on_a_launch_carries_the_automatic_proof_of_performance(world, jobs):
    import subprocess

    from campaigns import launches
    from tcma.storage import storage
    from tests.syndication.email.world import add_contacts, published_kit, ready_partner

    partner = ready_partner("Müller Systemhaus")
    author = make_user(Role.PARTNER_ADMIN, partner=partner)
    add_contacts(partner, 4)
    launch = launches.launch_kit(partner, published_kit())
    funds.set_allocation(world["fund"], partner, "3000", by=world["manager"])
    db.session.commit()
    jobs.run()
    request = requests.create_request(partner, world["fund"], {
        "activity_type": "content_syndication", "title": "Spring backup emails",
        "starts_on": TODAY.isoformat(), "ends_on": TODAY.isoformat(),
        "estimated_cost": "2000", "requested": "1000", "launch_id": launch.public_id},
        by=author)
    requests.submit(request, by=author)
    requests.approve(request, by=world["manager"])
    requests.save_claim(request, {"actual_cost": "1800", "claimed_amount": "900"}, by=author)
    requests.submit_claim(request, by=author)  # no upload: the launch's report is the proof
    db.session.commit()
    (proof,) = request.files
    assert proof.automatic and proof.kind == "pdf"
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=storage().get(
        proof.storage_key), capture_output=True, check=True).stdout.decode()
    assert "Müller Systemhaus" in text and "Spring backup emails" in text
    assert launch.public_id in text
    assert any(line.split()[-1:] == ["4"] for line in text.splitlines()
               if "mails sent" in line.lower()), text
    with pytest.raises(ValidationFailed, match="No such launch of yours"):
        requests.create_request(world["partner"], world["fund"], {
            "activity_type": "webinar", "title": "x", "starts_on": TODAY.isoformat(),
            "ends_on": TODAY.isoformat(), "estimated_cost": "2", "requested": "1",
            "launch_id": launch.public_id}, by=world["pu"])


def test_one_round_of_fixes_is_enough_every_problem_is_named_at_once(world):
    with pytest.raises(ValidationFailed) as refused:
        requests.create_request(world["partner"], world["fund"], {
            "activity_type": "karaoke", "title": "", "starts_on": "soon",
            "ends_on": "2027-01-09", "estimated_cost": "-5", "requested": "10.001"},
            by=world["pu"])
    fields = {e.field for e in refused.value.errors}
    assert {"activity_type", "title", "starts_on", "estimated_cost", "requested"} <= fields
