"""Market development funds pages: the overview, funds and allocations for the vendor, the
review queue and payments; request pages are in ``mdf.request_views``. Thin: parse the
form, call the ``mdf`` services, commit, render or redirect."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from mdf import balances, funds, money, payments
from mdf import requests as fund_requests
from mdf.balances import Balances
from mdf.models import ACTIVITY_TYPES, Fund, FundRequest, FundStatus, ProofFile, RequestStatus
from tcma.auth.permissions import can, requires
from tcma.errors import DomainError, FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners import service as partners

blueprint = Blueprint("mdf", __name__, url_prefix="/mdf")

S = RequestStatus
FUND_FIELDS = ("name", "currency", "period_start", "period_end", "budget", "claim_days",
               "vendor_share_percent", "approval_threshold")
REQUEST_FIELDS = ("activity_type", "title", "description", "starts_on", "ends_on",
                  "estimated_cost", "requested", "expected_leads", "expected_attendees",
                  "launch_id")
CLAIM_FIELDS = ("actual_cost", "claimed_amount", "results_leads", "results_attendees",
                "results_notes")
#: The stacked balance bar, left to right: money gone, then on its way, then free.
BAR_PARTS = (("paid", "Paid", "#2e7d32"), ("approved", "Approved for payment", "#81c784"),
             ("claimed", "Claimed, in review", "#f9a825"), ("committed", "Committed", "#1e88e5"),
             ("available", "Available", "#cfd8dc"))
#: What each ledger entry of a request says on its timeline ("Chris Manager approved").
TIMELINE_WORDS = {"create": "created the request", "edit": "edited the request",
                  "submit": "submitted", "ask_info": "asked for more information",
                  "approve_first": "gave the first of two approvals", "approve": "approved",
                  "reject": "rejected", "cancel": "cancelled", "proof_added": "added proof",
                  "proof_removed": "removed proof", "submit_claim": "submitted the claim",
                  "claim_ask_info": "asked for more information on the claim",
                  "approve_claim": "approved the claim", "reject_claim": "rejected the claim",
                  "pay": "marked it paid", "expire": "expired it: not claimed in time"}
#: Where a request waits for the vendor, and since when.
WAITING = {S.SUBMITTED: "submitted_at", S.CLAIM_SUBMITTED: "claim_submitted_at"}


@blueprint.context_processor
def _helpers() -> dict[str, Any]:
    return {"amount": _amount, "plain": money.plain, "bar": bar, "bar_parts": BAR_PARTS,
            "kind_label": _kind_label, "status_label": _status_label}


def _amount(minor: int | None, currency: str) -> str:
    return "–" if minor is None else money.display(minor, currency)


def _kind_label(activity_type: str) -> str:
    return activity_type.replace("_", " ").capitalize()


def _status_label(status: RequestStatus) -> str:
    return status.value.replace("_", " ")


def bar(book: Balances) -> dict[str, Any]:
    """A stacked bar of where the allocated money stands, as SVG rectangles on a 0..1000
    axis; the parts end at rounded cumulative positions, so they never leave a gap."""
    parts, start, running = [], 0, 0
    for name, label, colour in BAR_PARTS:
        value = getattr(book, name)
        running += value
        end = running * 1000 // book.allocated if book.allocated else 0
        parts.append({"name": name, "label": label, "colour": colour, "x": start,
                      "width": end - start, "shown": money.display(value, book.currency)})
        start = end
    summary = ", ".join(f"{p['label']} {p['shown']}" for p in parts)
    return {"parts": parts, "summary": f"Of {money.display(book.allocated, book.currency)}: "
                                       f"{summary}"}


def _today() -> date:
    return utcnow().date()


def _takes_requests(fund: Fund) -> bool:
    return fund.status is FundStatus.OPEN and _today() <= fund.period_end


def _fund(fund_id: str) -> Fund:
    try:
        return funds.get_fund(fund_id)
    except NotFound:
        abort(404)


def _request(request_id: str) -> FundRequest:
    try:
        return fund_requests.get_request(request_id)  # tenancy: another partner's is not found
    except NotFound:
        abort(404)


def _file(fund_request: FundRequest, file_id: str) -> ProofFile:
    found = next((f for f in fund_request.files if f.public_id == file_id), None)
    if found is None:
        abort(404)
    return found


def _friendlier(exc: ValidationFailed, form: dict[str, Any], *, currency: str | None = None,
                amounts: tuple[str, ...] = ()) -> ValidationFailed:
    """All of a form's problems in the person's words: a field left empty says "Fill this
    in." (not the parser's "input is too short"), and when the field checks stopped before
    the amounts were read, the amounts' own problems are added, so one round of fixes is
    enough."""
    named = {e.field for e in exc.errors}
    errors = list(exc.errors)
    for name in amounts:
        if name not in named and currency is not None:
            try:
                money.parse(form.get(name, ""), currency, name)
            except ValidationFailed as more:
                errors += more.errors
    return ValidationFailed([
        FieldError(e.field, "Fill this in.") if form.get(e.field) in ("", None, [])
        and e.field != "activity_types" else e for e in errors])


# --- overview --------------------------------------------------------------------------------


@blueprint.get("")
@requires("mdf.view")
def index():
    """The vendor's funds with their totals, or the partner's allocations and requests."""
    partner = g.user.partner
    if partner is None:
        rows = [(fund, balances.fund_totals(fund)) for fund in funds.list_funds()]
        waiting = len(fund_requests.list_requests(statuses=list(WAITING))) \
            if can(g.user, "mdf.review") else 0
        to_pay = len(payments.payable()) if can(g.user, "mdf.pay") else 0
        return render_template("mdf/index_vendor.html", rows=rows, waiting=waiting,
                               to_pay=to_pay, takes_requests=_takes_requests)
    allocations = [(a, balances.of(a)) for a in funds.partner_allocations(partner)]
    return render_template("mdf/index_partner.html", allocations=allocations,
                           mine=fund_requests.list_requests(partner=partner),
                           takes_requests=_takes_requests)


# --- funds (vendor) --------------------------------------------------------------------------


def _fund_form() -> dict[str, Any]:
    data: dict[str, Any] = {name: request.form.get(name, "").strip() for name in FUND_FIELDS}
    data["activity_types"] = request.form.getlist("activity_types")
    for name in ("claim_days", "vendor_share_percent"):
        if not data[name]:
            data.pop(name)  # the fund's default (60 days, 100 %)
    data["approval_threshold"] = data["approval_threshold"] or None
    return data


def _fund_values(fund: Fund) -> dict[str, Any]:
    """A fund as its form shows it."""
    return {"name": fund.name, "currency": fund.currency,
            "period_start": fund.period_start.isoformat(),
            "period_end": fund.period_end.isoformat(),
            "budget": money.plain(fund.budget, fund.currency), "claim_days": fund.claim_days,
            "activity_types": list(fund.activity_types),
            "vendor_share_percent": f"{fund.vendor_share_bp / 100:g}",
            "approval_threshold": money.plain(fund.approval_threshold, fund.currency)
            if fund.approval_threshold is not None else ""}


def _fund_form_page(fund: Fund | None, form, errors: ValidationFailed | None):
    return render_template("mdf/fund_form.html", fund=fund, form=form, errors=errors,
                           currencies=list(money.CURRENCIES), activity_types=ACTIVITY_TYPES
                           ), (422 if errors else 200)


@blueprint.route("/funds/new", methods=["GET", "POST"])
@requires("mdf.manage")
def fund_new():
    if request.method == "GET":
        return _fund_form_page(None, {"currency": "EUR", "claim_days": 60,
                                      "activity_types": list(ACTIVITY_TYPES),
                                      "vendor_share_percent": "100"}, None)
    data = _fund_form()
    try:
        fund = funds.create_fund(data, by=g.user)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _fund_form_page(None, request.form, _friendlier(exc, data))
    flash(f"Fund “{fund.name}” created. Allocate it to partners below.", "success")
    return redirect(url_for("mdf.fund_page", fund_id=fund.public_id))


@blueprint.route("/funds/<fund_id>/edit", methods=["GET", "POST"])
@requires("mdf.manage")
def fund_edit(fund_id: str):
    fund = _fund(fund_id)
    if request.method == "GET":
        return _fund_form_page(fund, _fund_values(fund), None)
    data = _fund_form()
    try:
        funds.update_fund(fund, data, by=g.user)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _fund_form_page(fund, request.form, _friendlier(exc, data))
    flash("Fund saved.", "success")
    return redirect(url_for("mdf.fund_page", fund_id=fund.public_id))


def _fund_page(fund: Fund, *, report: funds.AllocationReport | None = None,
               report_title: str = "", errors: ValidationFailed | None = None,
               failed: str | None = None, status: int = 200):
    """The fund's terms, totals, allocations and requests; after an allocation form,
    its report or its errors (``failed`` names the form, or the partner's row)."""
    rows = [(a, balances.of(a)) for a in funds.allocations(fund)]
    allocated = {a.partner_id for a, _ in rows}
    everyone, _ = partners.list_partners(status="active", limit=1000)
    return render_template(
        "mdf/fund.html", fund=fund, totals=balances.fund_totals(fund), rows=rows,
        newcomers=[p for p in everyone if p.id not in allocated],
        tiers=list(current_app.config["PARTNER_TIERS"]),
        fund_requests=fund_requests.list_requests(fund=fund), report=report,
        report_title=report_title, errors=errors, failed=failed, form=request.form,
        takes_requests=_takes_requests(fund)), status


@blueprint.get("/funds/<fund_id>")
@requires("mdf.manage")
def fund_page(fund_id: str):
    return _fund_page(_fund(fund_id))


@blueprint.post("/funds/<fund_id>/allocations")
@requires("mdf.manage")
def fund_allocate(fund_id: str):
    """Set one partner's allocation by hand (raise or lower it)."""
    fund = _fund(fund_id)
    partner_id = request.form.get("partner", "")
    failed = "add" if request.form.get("new") else f"row-{partner_id}"
    try:
        partner = partners.get_partner(partner_id)
    except NotFound:
        return _fund_page(fund, errors=ValidationFailed([FieldError(
            "partner", "Choose a partner.")]), failed=failed, status=422)
    try:
        funds.set_allocation(fund, partner, request.form.get("amount", "").strip(), by=g.user,
                             comment=request.form.get("comment", "").strip())
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _fund_page(fund, errors=exc, failed=failed, status=422)
    book = balances.of(funds.allocation_of(fund, partner))
    flash(f"{partner.name} now has {money.display(book.allocated, fund.currency)} "
          f"allocated ({money.display(book.available, fund.currency)} available).", "success")
    return redirect(url_for("mdf.fund_page", fund_id=fund.public_id) + "#allocations")


def _upload(name: str) -> bytes:
    upload = request.files.get(name)
    data = upload.read() if upload and upload.filename else b""
    if not data:
        raise ValidationFailed([FieldError("file", "Choose a CSV file.")])
    return data


def _allocate_with(fund: Fund, form_name: str, title: str, run):
    """Run an allocation rule and show its report (line by line) on the fund page."""
    try:
        report = run()
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _fund_page(fund, errors=exc, failed=form_name, status=422)
    return _fund_page(fund, report=report, report_title=title)


@blueprint.post("/funds/<fund_id>/allocate-csv")
@requires("mdf.manage")
def fund_allocate_csv(fund_id: str):
    fund = _fund(fund_id)
    return _allocate_with(fund, "csv", "Allocations from the CSV file",
                          lambda: funds.allocate_csv(fund, _upload("file"), by=g.user))


@blueprint.post("/funds/<fund_id>/allocate-tier")
@requires("mdf.manage")
def fund_allocate_tier(fund_id: str):
    fund = _fund(fund_id)
    amounts = {tier: request.form.get(f"tier-{tier}", "").strip()
               for tier in current_app.config["PARTNER_TIERS"]}

    def run():
        if not any(amounts.values()):
            raise ValidationFailed([FieldError("tier", "Give an amount for at least one "
                                                       "tier.")])
        return funds.allocate_by_tier(fund, amounts, by=g.user)

    return _allocate_with(fund, "tier", "Allocations by tier", run)


@blueprint.post("/funds/<fund_id>/allocate-revenue")
@requires("mdf.manage")
def fund_allocate_revenue(fund_id: str):
    fund = _fund(fund_id)
    return _allocate_with(fund, "revenue", "Allocations by revenue", lambda: (
        funds.allocate_by_revenue(fund, _upload("file"), request.form.get("percent", "").strip(),
                                  by=g.user)))


@blueprint.post("/funds/<fund_id>/close")
@requires("mdf.manage")
def fund_close(fund_id: str):
    fund = _fund(fund_id)
    try:
        funds.close_fund(fund, by=g.user, reason=request.form.get("reason", "").strip())
        db.session.commit()
        flash(f"“{fund.name}” is closed for new requests; approved requests can still be "
              "claimed and paid.", "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("mdf.fund_page", fund_id=fund.public_id))


# --- review queue and payments (vendor) ------------------------------------------------------


def _waiting_since(fund_request: FundRequest):
    return getattr(fund_request, WAITING[fund_request.status]) or fund_request.updated_at


@blueprint.get("/review")
@requires("mdf.review")
def review():
    """Requests and claims waiting for the vendor, the longest waiting first."""
    waiting = sorted(fund_requests.list_requests(statuses=list(WAITING), limit=1000),
                     key=lambda r: (_waiting_since(r), r.id))
    return render_template("mdf/review.html", waiting=waiting, since=_waiting_since)


def _payments_page(*, errors: ValidationFailed | None = None, status: int = 200):
    payable = payments.payable()
    totals: dict[str, int] = defaultdict(int)
    for r in payable:
        totals[r.fund.currency] += r.claim_approved_amount or 0
    form = request.form if errors else {"paid_on": _today().isoformat()}
    chosen = set(request.form.getlist("requests")) if errors else set()
    return render_template("mdf/payments.html", payable=payable, paid=payments.paid(limit=50),
                           totals=sorted(totals.items()), form=form, chosen=chosen,
                           errors=errors), status


@blueprint.get("/payments")
@requires("mdf.pay")
def payments_page():
    return _payments_page()


@blueprint.post("/payments")
@requires("mdf.pay")
def payments_pay():
    """Mark the ticked claims paid under one reference and date: all or none."""
    chosen = request.form.getlist("requests")
    try:
        if not chosen:
            raise ValidationFailed([FieldError("requests", "Tick the claims to mark paid.")])
        batch = [fund_requests.get_request(public_id) for public_id in chosen]
        fund_requests.pay_many(batch, by=g.user, reference=request.form.get("reference", ""),
                               paid_on=_date_field("paid_on"))
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _payments_page(errors=exc, status=422)
    except DomainError as exc:  # already paid (a second click), or gone
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("mdf.payments_page"))
    flash(f"{len(batch)} claim{'s' if len(batch) != 1 else ''} marked paid.", "success")
    return redirect(url_for("mdf.payments_page"))


@blueprint.get("/payments.csv")
@requires("mdf.pay")
def payments_csv():
    """The accounts-payable export: claims to pay and paid ones (``?status=payable`` or
    ``paid`` for one of them)."""
    wanted = request.args.get("status", "")
    rows = ((payments.payable() if wanted in ("", "payable") else [])
            + (payments.paid() if wanted in ("", "paid") else []))
    name = f"mdf-payments-{wanted + '-' if wanted else ''}{_today().isoformat()}.csv"
    return Response(payments.csv_export(rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "private, no-store"})


def _date_field(name: str) -> date | None:
    raw = request.form.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed([FieldError(name, "Give a date like 2026-05-31.")]) from None
