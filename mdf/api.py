"""API routes for market development funds: funds and allocations (vendor), requests and
claims (both sides), payments (finance) and balances.

Routes join ``/api/v1`` through ``tcma.api.endpoint`` (so they are in the OpenAPI document),
parse input and call ``mdf.funds`` / ``mdf.requests`` / ``mdf.payments``; the rules live
there. Request routes ask only ``mdf.view``: the state machine (``mdf.workflow``) decides who
may take each action, so a wrong role is its 403 with a message and a wrong state its 409.
Partner users reach their own requests only (the session is scoped to their partner) and
funds they hold an allocation in.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request
from sqlalchemy import select

from mdf import balances, funds, money, payments, requests, workflow
from mdf.api_schemas import (
    AllocationIn,
    AllocationOut,
    AllocationReportOut,
    ApprovalIn,
    CancellationIn,
    ClaimFields,
    FundBalancesOut,
    FundCreate,
    FundOut,
    FundPatch,
    FundRequestIn,
    FundRequestOut,
    FundRequestPatch,
    FundRequestSummary,
    LedgerEntryOut,
    PaymentIn,
    PaymentRunIn,
    ProofFileOut,
    RejectionIn,
    RevenueRuleForm,
    ReviewNoteIn,
    TierRuleIn,
    launch_public_id,
)
from mdf.models import Fund, FundRequest, RequestStatus
from tcma.api import endpoint
from tcma.api.responses import json_body
from tcma.errors import DomainError, FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.partners import service as partners
from tcma.partners.models import Partner

TAG = "mdf"


# --- helpers ---------------------------------------------------------------------------------


def _is_partner() -> bool:
    return g.user.partner_id is not None


def _fund(fund_id: str) -> Fund:
    """A fund the caller may see: any for vendor staff, for a partner only one it holds an
    allocation in (anything else is the same 404 as a missing fund)."""
    fund = funds.get_fund(fund_id)
    if _is_partner() and funds.allocation_of(fund, g.user.partner) is None:
        raise NotFound("No such fund.")
    return fund


def _fund_field(fund_id: str, field: str = "fund_id") -> Fund:
    try:
        return _fund(fund_id)
    except NotFound as exc:
        raise ValidationFailed([FieldError(field, "No such fund.")]) from exc


def _partner_field(partner_id: str, field: str = "partner_id") -> Partner:
    try:
        return partners.get_partner(partner_id)
    except NotFound as exc:
        raise ValidationFailed([FieldError(field, "No such partner.")]) from exc


def _same_currency(fund: Fund, currency: str | None) -> None:
    """A client that says which currency it means is told when it is not the fund's."""
    if currency is not None and currency.strip().upper() != fund.currency:
        raise ValidationFailed([FieldError("currency", f"{fund.name} is in {fund.currency}; "
                                                       "send amounts in that currency.")])


def _fund_fields(fund: Fund) -> dict[str, Any]:
    """A fund's terms as ``mdf.funds.FundIn`` reads them, for PATCH to start from."""
    out = FundOut.of(fund, vendor=True)
    return {"name": fund.name, "currency": fund.currency, "period_start": fund.period_start,
            "period_end": fund.period_end, "budget": out.budget,
            "claim_days": fund.claim_days, "activity_types": list(fund.activity_types),
            "vendor_share_percent": out.vendor_share_percent,
            "approval_threshold": out.approval_threshold}


def _request_fields(r: FundRequest) -> dict[str, Any]:
    """A request's fields as ``mdf.requests.RequestIn`` reads them, for PATCH to start
    from."""
    currency = r.fund.currency
    return {"activity_type": r.activity_type, "title": r.title,
            "description": r.description, "starts_on": r.starts_on, "ends_on": r.ends_on,
            "estimated_cost": money.plain(r.estimated_cost, currency),
            "requested": money.plain(r.requested, currency),
            "expected_leads": r.expected_leads, "expected_attendees": r.expected_attendees,
            "launch_id": launch_public_id(r)}


def _request(request_id: str) -> FundRequest:
    # A partner's session only sees its own partner's requests: another's is a 404.
    return requests.get_request(request_id)


def _out(r: FundRequest):
    return json_body(FundRequestOut.of(r, g.user))


def _upload(limit: int) -> tuple[bytes, str]:
    """The multipart ``file``: its bytes (up to ``limit`` + 1, so the checks can say it is
    too large) and its name; a 422 when none was sent."""
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed([FieldError("file", "Send the file as multipart field 'file'.")])
    return upload.read(limit + 1), upload.filename or ""


def _status_args() -> list[RequestStatus]:
    raw = [s.strip() for s in request.args.get("status", "").split(",") if s.strip()]
    known = {s.value for s in RequestStatus}
    bad = [s for s in raw if s not in known]
    if bad:
        raise ValidationFailed([FieldError("status", f"Unknown status {', '.join(bad)}; use "
                                                     f"{', '.join(sorted(known))}.")])
    return [RequestStatus(s) for s in raw]


# --- funds -----------------------------------------------------------------------------------


@endpoint("/mdf/funds", "GET", summary="Funds, newest period first (a partner sees the funds "
          "it holds an allocation in)", tag=TAG, permission="mdf.view", response=list[FundOut])
def list_mdf_funds():
    vendor = not _is_partner()
    found = (funds.list_funds() if vendor else
             [a.fund for a in funds.partner_allocations(g.user.partner)])
    return json_body([FundOut.of(f, vendor=vendor) for f in found])


@endpoint("/mdf/funds", "POST", summary="Create a fund", tag=TAG, permission="mdf.manage",
          body=FundCreate, response=FundOut, status=201)
def create_mdf_fund(body: FundCreate):
    fund = funds.create_fund(body.model_dump(), by=g.user)
    db.session.commit()
    return json_body(FundOut.of(fund, vendor=True), 201)


@endpoint("/mdf/funds/<fund_id>", "GET", summary="One fund's terms", tag=TAG,
          permission="mdf.view", response=FundOut)
def get_mdf_fund(fund_id: str):
    return json_body(FundOut.of(_fund(fund_id), vendor=not _is_partner()))


@endpoint("/mdf/funds/<fund_id>", "PATCH", summary="Change a fund's terms", tag=TAG,
          permission="mdf.manage", body=FundPatch, response=FundOut)
def update_mdf_fund(fund_id: str, body: FundPatch):
    """The budget cannot go below what is allocated, nor the currency change once money is
    allocated."""
    fund = _fund(fund_id)
    funds.update_fund(fund, {**_fund_fields(fund), **body.model_dump(exclude_unset=True)},
                      by=g.user)
    db.session.commit()
    return json_body(FundOut.of(fund, vendor=True))


@endpoint("/mdf/funds/<fund_id>/close", "POST", summary="Close a fund to new requests",
          tag=TAG, permission="mdf.manage", response=FundOut)
def close_mdf_fund(fund_id: str):
    """Approved requests may still be claimed and paid."""
    fund = _fund(fund_id)
    funds.close_fund(fund, by=g.user)
    db.session.commit()
    return json_body(FundOut.of(fund, vendor=True))


@endpoint("/mdf/funds/<fund_id>/balances", "GET", summary="A fund's totals over all its "
          "allocations", tag=TAG, permission="mdf.manage", response=FundBalancesOut)
def get_mdf_fund_balances(fund_id: str):
    return json_body(FundBalancesOut.of_fund(_fund(fund_id)))


# --- allocations -----------------------------------------------------------------------------


@endpoint("/mdf/funds/<fund_id>/allocations", "GET", summary="A fund's allocations with each "
          "partner's balances", tag=TAG, permission="mdf.manage",
          response=list[AllocationOut])
def list_mdf_allocations(fund_id: str):
    return json_body([AllocationOut.of_allocation(a) for a in funds.allocations(_fund(fund_id))])


@endpoint("/mdf/funds/<fund_id>/allocations/<partner_id>", "PUT",
          summary="Set one partner's allocation", tag=TAG, permission="mdf.manage",
          body=AllocationIn, response=AllocationOut)
def put_mdf_allocation(fund_id: str, partner_id: str, body: AllocationIn):
    """Raise or lower it: never below what the partner has committed, claimed, approved or
    been paid, never beyond the fund's budget."""
    fund = _fund(fund_id)
    partner = partners.get_partner(partner_id)
    _same_currency(fund, body.currency)
    allocation = funds.set_allocation(fund, partner, body.amount, by=g.user,
                                      comment=body.comment)
    db.session.commit()
    return json_body(AllocationOut.of_allocation(allocation))


@endpoint("/mdf/funds/<fund_id>/allocations/import", "POST",
          summary="Set allocations from a CSV (columns partner, amount)", tag=TAG,
          permission="mdf.manage", response=AllocationReportOut,
          multipart={"file": "CSV with columns partner (slug, id or name) and amount"})
def import_mdf_allocations(fund_id: str):
    """Each line's problem is reported by its line number; the other lines apply."""
    fund = _fund(fund_id)
    data, _ = _upload(funds.MAX_CSV_BYTES)
    report = funds.allocate_csv(fund, data, by=g.user)
    db.session.commit()
    return json_body(AllocationReportOut(**vars(report)))


@endpoint("/mdf/funds/<fund_id>/allocations/by-tier", "POST",
          summary="Allocate a fixed amount to every active partner of each tier", tag=TAG,
          permission="mdf.manage", body=TierRuleIn, response=AllocationReportOut)
def allocate_mdf_by_tier(fund_id: str, body: TierRuleIn):
    fund = _fund(fund_id)
    tiers = current_app.config["PARTNER_TIERS"]
    errors = [FieldError(f"amounts.{tier}", f"No tier {tier}; use {', '.join(tiers)}.")
              for tier in body.amounts if tier not in tiers]
    for tier, amount in body.amounts.items():
        try:
            money.parse(amount, fund.currency, f"amounts.{tier}", allow_zero=True)
        except ValidationFailed as exc:
            errors += exc.errors
    if errors:
        raise ValidationFailed(errors)
    report = funds.allocate_by_tier(fund, dict(body.amounts), by=g.user)
    db.session.commit()
    return json_body(AllocationReportOut(**vars(report)))


@endpoint("/mdf/funds/<fund_id>/allocations/by-revenue", "POST",
          summary="Allocate a percentage of each partner's reported revenue", tag=TAG,
          permission="mdf.manage", response=AllocationReportOut,
          multipart={"file": "CSV with columns partner (slug, id or name) and revenue, in the "
                             "fund's currency"}, form=RevenueRuleForm)
def allocate_mdf_by_revenue(fund_id: str):
    fund = _fund(fund_id)
    data, _ = _upload(funds.MAX_CSV_BYTES)
    report = funds.allocate_by_revenue(fund, data, request.form.get("percent", "").strip(),
                                       by=g.user)
    db.session.commit()
    return json_body(AllocationReportOut(**vars(report)))


@endpoint("/mdf/balances", "GET", summary="Allocations with their balances: my partner's, or "
          "(vendor staff) a named partner's", tag=TAG, permission="mdf.view",
          response=list[AllocationOut],
          query={"partner_id": "Vendor staff: the partner (required); partners: their own"})
def list_mdf_balances():
    wanted = request.args.get("partner_id", "").strip()
    if _is_partner():
        partner = g.user.partner
        if wanted and wanted != partner.public_id:
            raise NotFound("No such partner.")
    elif not wanted:
        raise ValidationFailed([FieldError("partner_id", "Name the partner whose balances "
                                                         "to show.")])
    else:
        partner = _partner_field(wanted)
    return json_body([AllocationOut.of_allocation(a)
                      for a in funds.partner_allocations(partner)])


# --- requests --------------------------------------------------------------------------------


@endpoint("/mdf/requests", "GET", summary="Fund requests, last changed first (a partner sees "
          "its own)", tag=TAG, permission="mdf.view", response=list[FundRequestSummary],
          query={"status": "Only these statuses, comma-separated (e.g. submitted,"
                           "claim_submitted)",
                 "fund_id": "Only requests against this fund",
                 "partner_id": "Vendor staff: only this partner's requests"})
def list_mdf_requests():
    statuses = _status_args()
    fund = _fund_field(request.args["fund_id"]) if request.args.get("fund_id") else None
    if _is_partner():
        partner = g.user.partner
    elif request.args.get("partner_id"):
        partner = _partner_field(request.args["partner_id"])
    else:
        partner = None
    found = requests.list_requests(partner=partner, fund=fund, statuses=statuses)
    return json_body([FundRequestSummary.of(r, g.user) for r in found])


@endpoint("/mdf/requests", "POST", summary="Save a draft request against my allocation of a "
          "fund", tag=TAG, permission="mdf.request", body=FundRequestIn,
          response=FundRequestOut, status=201)
def create_mdf_request(body: FundRequestIn):
    """Nothing is checked against the fund's rules or the balance until it is submitted."""
    fund = _fund_field(body.fund_id)
    _same_currency(fund, body.currency)
    data = body.model_dump(exclude={"fund_id", "currency"})
    created = requests.create_request(g.user.partner, fund, data, by=g.user)
    db.session.commit()
    return json_body(FundRequestOut.of(created, g.user), 201)


@endpoint("/mdf/requests/<request_id>", "GET", summary="One request: status, amounts, claim "
          "cap, deadline, files and what I may do next", tag=TAG, permission="mdf.view",
          response=FundRequestOut)
def get_mdf_request(request_id: str):
    return _out(_request(request_id))


@endpoint("/mdf/requests/<request_id>", "PATCH", summary="Change a draft request (or one sent "
          "back for information)", tag=TAG, permission="mdf.view", body=FundRequestPatch,
          response=FundRequestOut)
def update_mdf_request(request_id: str, body: FundRequestPatch):
    r = _request(request_id)
    workflow.check("edit", r, g.user)
    _same_currency(r.fund, body.currency)
    changes = body.model_dump(exclude_unset=True, exclude={"currency"})
    requests.update_request(r, {**_request_fields(r), **changes}, by=g.user)
    db.session.commit()
    return _out(r)


@endpoint("/mdf/requests/<request_id>/timeline", "GET", summary="A request's history from "
          "the ledger: who, when, which state to which, how much", tag=TAG,
          permission="mdf.view", response=list[LedgerEntryOut])
def get_mdf_request_timeline(request_id: str):
    return json_body([LedgerEntryOut.of(e) for e in balances.timeline(_request(request_id))])


RULES_422 = {422: "The fund's rules or the balance say no; each error names its field."}


@endpoint("/mdf/requests/<request_id>/submit", "POST", summary="Submit a request for review",
          tag=TAG, permission="mdf.view", response=FundRequestOut, errors=RULES_422)
def submit_mdf_request(request_id: str):
    """Checks the fund's period, activity types and vendor share, and the available
    balance, and says exactly what is wrong."""
    r = _request(request_id)
    requests.submit(r, by=g.user)
    db.session.commit()
    return _out(r)


@endpoint("/mdf/requests/<request_id>/ask-info", "POST", summary="Send a request back for "
          "more information", tag=TAG, permission="mdf.view", body=ReviewNoteIn,
          response=FundRequestOut)
def ask_info_mdf_request(request_id: str, body: ReviewNoteIn):
    r = _request(request_id)
    requests.ask_info(r, by=g.user, comment=body.comment)
    db.session.commit()
    return _out(r)


@endpoint("/mdf/requests/<request_id>/approve", "POST", summary="Approve a request in full or "
          "in part, committing the funds", tag=TAG, permission="mdf.view", body=ApprovalIn,
          response=FundRequestOut)
def approve_mdf_request(request_id: str, body: ApprovalIn):
    """Above the fund's threshold the first approval is recorded and a second one, by
    finance or an admin, commits the money. A lower amount needs a comment."""
    r = _request(request_id)
    workflow.check("approve", r, g.user)
    _same_currency(r.fund, body.currency)
    requests.approve(r, by=g.user, amount=body.amount, comment=body.comment)
    db.session.commit()
    return _out(r)


@endpoint("/mdf/requests/<request_id>/reject", "POST", summary="Reject a request, with a "
          "reason", tag=TAG, permission="mdf.view", body=RejectionIn,
          response=FundRequestOut)
def reject_mdf_request(request_id: str, body: RejectionIn):
    r = _request(request_id)
    requests.reject(r, by=g.user, reason=body.reason)
    db.session.commit()
    return _out(r)


@endpoint("/mdf/requests/<request_id>/cancel", "POST", summary="Withdraw a request (an "
          "approved one gives its money back)", tag=TAG, permission="mdf.view",
          body=CancellationIn, response=FundRequestOut)
def cancel_mdf_request(request_id: str, body: CancellationIn):
    r = _request(request_id)
    requests.cancel(r, by=g.user, reason=body.reason)
    db.session.commit()
    return _out(r)


@endpoint("/mdf/requests/<request_id>/claim", "PUT", summary="Save the claim: actual cost, "
          "amount claimed, results", tag=TAG, permission="mdf.view", body=ClaimFields,
          response=FundRequestOut)
def put_mdf_claim(request_id: str, body: ClaimFields):
    """A draft claim: the cap and the deadline are checked when it is submitted."""
    r = _request(request_id)
    workflow.check("edit_claim", r, g.user)
    _same_currency(r.fund, body.currency)
    requests.save_claim(r, body.model_dump(exclude={"currency"}), by=g.user)
    db.session.commit()
    return _out(r)


@endpoint("/mdf/requests/<request_id>/submit-claim", "POST", summary="File the claim for "
          "review", tag=TAG, permission="mdf.view", response=FundRequestOut,
          errors=RULES_422)
def submit_mdf_claim(request_id: str):
    """Within the deadline, at most the claim cap, with proof; a linked launch's
    proof-of-performance report is attached automatically."""
    r = _request(request_id)
    requests.submit_claim(r, by=g.user)
    db.session.commit()
    return _out(r)


@endpoint("/mdf/requests/<request_id>/claim-ask-info", "POST", summary="Send a claim back for "
          "more information", tag=TAG, permission="mdf.view", body=ReviewNoteIn,
          response=FundRequestOut)
def claim_ask_info_mdf_request(request_id: str, body: ReviewNoteIn):
    r = _request(request_id)
    requests.claim_ask_info(r, by=g.user, comment=body.comment)
    db.session.commit()
    return _out(r)


@endpoint("/mdf/requests/<request_id>/approve-claim", "POST", summary="Approve a claim in "
          "full or in part", tag=TAG, permission="mdf.view", body=ApprovalIn,
          response=FundRequestOut)
def approve_mdf_claim(request_id: str, body: ApprovalIn):
    """A lower amount than claimed needs a comment; the money then waits for payment."""
    r = _request(request_id)
    workflow.check("approve_claim", r, g.user)
    _same_currency(r.fund, body.currency)
    requests.approve_claim(r, by=g.user, amount=body.amount, comment=body.comment)
    db.session.commit()
    return _out(r)


@endpoint("/mdf/requests/<request_id>/reject-claim", "POST", summary="Reject a claim, with a "
          "reason", tag=TAG, permission="mdf.view", body=RejectionIn,
          response=FundRequestOut)
def reject_mdf_claim(request_id: str, body: RejectionIn):
    r = _request(request_id)
    requests.reject_claim(r, by=g.user, reason=body.reason)
    db.session.commit()
    return _out(r)


@endpoint("/mdf/requests/<request_id>/pay", "POST", summary="Record the payment of an "
          "approved claim", tag=TAG, permission="mdf.view", body=PaymentIn,
          response=FundRequestOut)
def pay_mdf_request(request_id: str, body: PaymentIn):
    r = _request(request_id)
    requests.pay(r, by=g.user, reference=body.reference, paid_on=body.paid_on)
    db.session.commit()
    return _out(r)


# --- proof files -----------------------------------------------------------------------------


@endpoint("/mdf/requests/<request_id>/files", "GET", summary="A claim's proof files, with "
          "download links", tag=TAG, permission="mdf.view", response=list[ProofFileOut])
def list_mdf_files(request_id: str):
    return json_body([ProofFileOut.of(f) for f in _request(request_id).files])


@endpoint("/mdf/requests/<request_id>/files", "POST", summary="Attach a proof file to the "
          "claim", tag=TAG, permission="mdf.view", response=ProofFileOut, status=201,
          multipart={"file": "An invoice, photo, attendee list or screenshot: PDF, PNG, JPEG, "
                             "WebP or CSV"})
def upload_mdf_file(request_id: str):
    """The bytes decide what a file is, not its name: a file that is not what it claims,
    damaged or password-protected is refused with what to do about it."""
    from mdf.proof import MAX_PROOF_BYTES

    r = _request(request_id)
    workflow.check("edit_claim", r, g.user)
    data, filename = _upload(MAX_PROOF_BYTES)
    proof = requests.add_proof(r, data, filename, by=g.user)
    db.session.commit()
    return json_body(ProofFileOut.of(proof), 201)


@endpoint("/mdf/requests/<request_id>/files/<file_id>", "DELETE", summary="Remove a proof "
          "file from the claim", tag=TAG, permission="mdf.view", status=204)
def delete_mdf_file(request_id: str, file_id: str):
    r = _request(request_id)
    proof = next((f for f in r.files if f.public_id == file_id), None)
    if proof is None:
        raise NotFound("No such file.")
    requests.remove_proof(r, proof, by=g.user)
    db.session.commit()
    return current_app.response_class(status=204)


# --- payments --------------------------------------------------------------------------------


@endpoint("/mdf/payments", "POST", summary="Mark several approved claims paid under one "
          "reference: all of them or none", tag=TAG, permission="mdf.pay", body=PaymentRunIn,
          response=list[FundRequestSummary])
def pay_mdf_batch(body: PaymentRunIn):
    """A request that cannot be paid (not found, not an approved claim) stops the whole run
    and is named in the answer; nothing is paid then."""
    ids = list(dict.fromkeys(body.request_ids))
    found = {r.public_id: r for r in db.session.execute(
        select(FundRequest).where(FundRequest.public_id.in_(ids))).scalars()}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed([FieldError("request_ids", f"No such request: "
                                                          f"{', '.join(missing)}.")])
    batch = [found[i] for i in ids]
    for r in batch:
        try:
            workflow.check("pay", r, g.user)
        except DomainError as exc:
            raise type(exc)(f"{r.title} ({r.public_id}): {exc.message} Nothing was "
                            "paid.") from exc
    requests.pay_many(batch, by=g.user, reference=body.reference, paid_on=body.paid_on)
    db.session.commit()
    return json_body([FundRequestSummary.of(r, g.user) for r in batch])


@endpoint("/mdf/payments.csv", "GET", summary="Claims for the accounts-payable system, as CSV",
          tag=TAG, permission="mdf.pay", binary="text/csv",
          query={"status": "payable (approved claims waiting for payment, the default) | paid",
                 "fund_id": "Only claims against this fund"})
def export_mdf_payments():
    """Amounts as plain decimals in each fund's currency, dates ISO."""
    status = request.args.get("status", "payable")
    if status not in ("payable", "paid"):
        raise ValidationFailed([FieldError("status", "Use payable or paid.")])
    fund = _fund_field(request.args["fund_id"]) if request.args.get("fund_id") else None
    rows = payments.payable(fund) if status == "payable" else payments.paid(fund)
    response = current_app.response_class(payments.csv_export(rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="mdf-{status}.csv"'
    return response
