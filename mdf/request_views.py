"""MDF request pages, for both sides: a new request, the request page with its claim, proof
and timeline, and every action on it. Routes join the ``mdf`` blueprint of ``mdf.views``;
the forms shown are those ``mdf.workflow`` allows the user now."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import (
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from mdf import balances, funds, money, workflow
from mdf import requests as fund_requests
from mdf.models import ACTIVITY_TYPES, FundRequest
from mdf.views import (
    CLAIM_FIELDS,
    REQUEST_FIELDS,
    TIMELINE_WORDS,
    S,
    _date_field,
    _file,
    _friendlier,
    _request,
    _takes_requests,
    _today,
    blueprint,
)
from tcma.auth.permissions import requires
from tcma.errors import Conflict, DomainError, FieldError, Forbidden, NotFound, ValidationFailed
from tcma.extensions import db

# --- requests: new and the request page ------------------------------------------------------


def _request_form() -> dict[str, Any]:
    return {name: request.form.get(name, "").strip() for name in REQUEST_FIELDS}


def _request_values(fund_request: FundRequest) -> dict[str, Any]:
    """A request as its edit form shows it."""
    currency = fund_request.fund.currency
    launch = _launch_of(fund_request)
    return {"activity_type": fund_request.activity_type, "title": fund_request.title,
            "description": fund_request.description,
            "starts_on": fund_request.starts_on.isoformat(),
            "ends_on": fund_request.ends_on.isoformat(),
            "estimated_cost": money.plain(fund_request.estimated_cost, currency),
            "requested": money.plain(fund_request.requested, currency),
            "expected_leads": fund_request.expected_leads or "",
            "expected_attendees": fund_request.expected_attendees or "",
            "launch_id": launch.public_id if launch else ""}


def _claim_values(fund_request: FundRequest) -> dict[str, Any]:
    currency = fund_request.fund.currency
    return {"actual_cost": money.plain(fund_request.actual_cost, currency)
            if fund_request.actual_cost is not None else "",
            "claimed_amount": money.plain(fund_request.claimed_amount, currency)
            if fund_request.claimed_amount is not None else "",
            "results_leads": fund_request.results_leads
            if fund_request.results_leads is not None else "",
            "results_attendees": fund_request.results_attendees
            if fund_request.results_attendees is not None else "",
            "results_notes": fund_request.results_notes}


def _launch_of(fund_request: FundRequest):
    if fund_request.launch_id is None:
        return None
    from campaigns.models import Launch

    return db.session.get(Launch, fund_request.launch_id)


def _launch_choices(partner) -> list[tuple[str, str]]:
    """The partner's kit launches an activity can be linked to: (id, what it is)."""
    from campaigns.launches import list_launches

    return [(launch.public_id, f"{launch.kit.name}, started {launch.start_at:%Y-%m-%d}")
            for launch in list_launches(partner)]


def _new_request_page(form, errors: ValidationFailed | None):
    partner = g.user.partner
    open_allocations = [a for a in funds.partner_allocations(partner)
                        if _takes_requests(a.fund)]
    chosen = next((a for a in open_allocations
                   if a.fund.public_id == form.get("fund_id")), None)
    return render_template(
        "mdf/request_new.html", allocations=open_allocations, chosen=chosen,
        book=balances.of(chosen) if chosen else None, form=form, errors=errors,
        activity_types=chosen.fund.activity_types if chosen else ACTIVITY_TYPES,
        launches=_launch_choices(partner)), (422 if errors else 200)


@blueprint.route("/requests/new", methods=["GET", "POST"])
@requires("mdf.request")
def request_new():
    """A new request in one of the partner's open funds (``?fund=``): saved as a draft, or
    saved and submitted at once."""
    if request.method == "GET":
        return _new_request_page({"fund_id": request.args.get("fund", ""),
                                  "activity_type": "webinar"}, None)
    data = _request_form()
    try:
        fund = funds.get_fund(request.form.get("fund_id", ""))
    except NotFound:
        return _new_request_page(request.form, ValidationFailed([FieldError(
            "fund_id", "Choose the fund to request from.")]))
    try:
        made = fund_requests.create_request(g.user.partner, fund, data, by=g.user)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _new_request_page(request.form, _friendlier(
            exc, data, currency=fund.currency, amounts=("estimated_cost", "requested")))
    if request.form.get("intent") == "submit":
        return _submit(made)
    flash("Draft saved. Submit it when it is ready.", "success")
    return redirect(url_for("mdf.request_page", request_id=made.public_id))


def _submit(fund_request: FundRequest):
    """Submit a saved draft; when the fund's rules or the balance say no, the draft stays
    and the page says exactly what is wrong, next to each field."""
    try:
        fund_requests.submit(fund_request, by=g.user)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        flash("Saved as a draft, not submitted: fix what is marked below.", "warning")
        return _request_page(fund_request, failed="edit", errors=exc,
                             form=_request_values(fund_request), status=422)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("mdf.request_page", request_id=fund_request.public_id))
    flash("Submitted for review.", "success")
    return redirect(url_for("mdf.request_page", request_id=fund_request.public_id))


def _history(fund_request: FundRequest) -> list[FundRequest]:
    """The partner's other requests, in any fund: what a reviewer weighs this one against."""
    return [r for r in fund_requests.list_requests(partner=fund_request.partner, limit=50)
            if r.id != fund_request.id]


def _request_page(fund_request: FundRequest, *, failed: str | None = None,
                  errors: ValidationFailed | None = None, form=None, status: int = 200):
    """The one page of a request, for both sides: facts, balance, history, claim and proof,
    timeline, and the forms of the actions the workflow allows this user now. ``failed``
    names the form that was refused: it shows ``form`` (what was typed) and ``errors``."""
    allowed = set(workflow.allowed(fund_request, g.user))
    currency = fund_request.fund.currency
    forms: dict[str, Any] = {
        "edit": _request_values(fund_request), "claim": _claim_values(fund_request),
        "approve": {"amount": money.plain(fund_request.first_approved_amount
                                          or fund_request.requested, currency)},
        "approve_claim": {"amount": money.plain(
            fund_request.claim_in_review or fund_request.claimed_amount or 0, currency)},
        "pay": {"paid_on": _today().isoformat()}}
    if failed:
        forms[failed] = form if form is not None else request.form
    waits_for_second = fund_request.first_approved_by_id is not None and (
        fund_request.first_approved_by_id == g.user.id
        or g.user.role not in workflow.SECOND_APPROVERS)
    editable = "edit" in allowed
    return render_template(
        "mdf/request.html", req=fund_request, fund=fund_request.fund,
        book=balances.of(fund_request.allocation), allowed=allowed, forms=forms,
        errors={failed: errors} if failed else {}, failed=failed,
        problems=fund_requests.request_problems(fund_request) if editable else [],
        cap=fund_requests.claim_cap(fund_request), launch=_launch_of(fund_request),
        launches=_launch_choices(fund_request.partner) if editable else [],
        history=_history(fund_request), timeline=balances.timeline(fund_request),
        timeline_words=_timeline_words, waits_for_second=waits_for_second,
        activity_types=fund_request.fund.activity_types), status


def _timeline_words(action: str) -> str:
    return TIMELINE_WORDS.get(action, action.replace("_", " "))


@blueprint.get("/requests/<request_id>")
@requires("mdf.view")
def request_page(request_id: str):
    return _request_page(_request(request_id))


def _act(request_id: str, form_name: str, run, done: str | Callable[[FundRequest], str]):
    """Run one workflow action from its form: a refused field re-renders the page with the
    errors beside the form (422); a refused move (wrong state, e.g. a second click, or
    wrong role) is flashed, and nothing changes."""
    fund_request = _request(request_id)
    try:
        run(fund_request)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _request_page(fund_request, failed=form_name, errors=exc, status=422)
    except (Conflict, Forbidden) as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("mdf.request_page", request_id=request_id))
    flash(done if isinstance(done, str) else done(fund_request), "success")
    return redirect(url_for("mdf.request_page", request_id=request_id))


@blueprint.post("/requests/<request_id>/edit")
@requires("mdf.request")
def request_edit(request_id: str):
    """Save the draft (or the request sent back for information), and submit it when the
    partner pressed Submit."""
    fund_request = _request(request_id)
    data = _request_form()
    try:
        fund_requests.update_request(fund_request, data, by=g.user)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _request_page(fund_request, failed="edit", errors=_friendlier(
            exc, data, currency=fund_request.fund.currency,
            amounts=("estimated_cost", "requested")), status=422)
    except (Conflict, Forbidden) as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("mdf.request_page", request_id=request_id))
    if request.form.get("intent") == "submit":
        return _submit(fund_request)
    flash("Draft saved.", "success")
    return redirect(url_for("mdf.request_page", request_id=request_id))


@blueprint.post("/requests/<request_id>/cancel")
@requires("mdf.view")
def request_cancel(request_id: str):
    return _act(request_id, "cancel", lambda r: fund_requests.cancel(
        r, by=g.user, reason=request.form.get("reason", "")), "The request is cancelled.")


@blueprint.post("/requests/<request_id>/ask-info")
@requires("mdf.review")
def request_ask_info(request_id: str):
    return _act(request_id, "ask_info", lambda r: fund_requests.ask_info(
        r, by=g.user, comment=request.form.get("comment", "")),
        "Sent back to the partner for more information.")


@blueprint.post("/requests/<request_id>/approve")
@requires("mdf.review")
def request_approve(request_id: str):
    def run(r: FundRequest) -> None:
        fund_requests.approve(r, by=g.user, amount=request.form.get("amount", "").strip(),
                              comment=request.form.get("comment", ""))

    def done(r: FundRequest) -> str:
        if r.status is S.APPROVED:
            return "Approved: the money is committed."
        # Above the fund's threshold the first approval commits nothing yet.
        return ("First approval recorded: a second approval by finance or an admin commits "
                "the money.")

    return _act(request_id, "approve", run, done)


@blueprint.post("/requests/<request_id>/reject")
@requires("mdf.review")
def request_reject(request_id: str):
    return _act(request_id, "reject", lambda r: fund_requests.reject(
        r, by=g.user, reason=request.form.get("reason", "")), "The request is rejected.")


# --- claims and proof ------------------------------------------------------------------------


@blueprint.post("/requests/<request_id>/claim")
@requires("mdf.request")
def claim_save(request_id: str):
    """Save the claim and any proof files chosen with it; submit it when the partner pressed
    Submit. Files that pass their checks are kept even when another is refused."""
    fund_request = _request(request_id)
    data = {name: request.form.get(name, "").strip() for name in CLAIM_FIELDS}
    try:
        fund_requests.save_claim(fund_request, data, by=g.user)
    except ValidationFailed as exc:
        db.session.rollback()
        return _request_page(fund_request, failed="claim", errors=_friendlier(
            exc, data, currency=fund_request.fund.currency,
            amounts=("actual_cost", "claimed_amount")), status=422)
    except (Conflict, Forbidden) as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("mdf.request_page", request_id=request_id))
    refused = _add_files(fund_request)
    db.session.commit()
    if refused:
        return _request_page(fund_request, failed="claim", errors=ValidationFailed(refused),
                             status=422)
    if request.form.get("intent") != "submit":
        flash("Claim saved. Submit it when the proof is complete.", "success")
        return redirect(url_for("mdf.request_page", request_id=request_id))
    try:
        fund_requests.submit_claim(fund_request, by=g.user)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        flash("The claim is saved but not submitted: fix what is marked below.", "warning")
        return _request_page(fund_request, failed="claim", errors=exc,
                             form=_claim_values(fund_request), status=422)
    flash("Claim submitted for review.", "success")
    return redirect(url_for("mdf.request_page", request_id=request_id))


def _add_files(fund_request: FundRequest) -> list[FieldError]:
    """Attach each uploaded proof file that passes its checks; the others' errors."""
    refused: list[FieldError] = []
    for upload in request.files.getlist("files"):
        if not upload or not upload.filename:
            continue
        try:
            with db.session.begin_nested():
                fund_requests.add_proof(fund_request, upload.read(), upload.filename,
                                        by=g.user)
        except ValidationFailed as exc:
            refused += exc.errors
    return refused


@blueprint.post("/requests/<request_id>/files")
@requires("mdf.request")
def proof_upload(request_id: str):
    """Add proof files without touching the claim's figures."""
    fund_request = _request(request_id)
    try:
        workflow.check("edit_claim", fund_request, g.user)
    except (Conflict, Forbidden) as exc:
        flash(exc.message, "error")
        return redirect(url_for("mdf.request_page", request_id=request_id))
    if not any(u.filename for u in request.files.getlist("files")):
        return _request_page(fund_request, failed="proof", errors=ValidationFailed([
            FieldError("files", "Choose one or more files.")]), form={}, status=422)
    refused = _add_files(fund_request)
    db.session.commit()
    if refused:
        return _request_page(fund_request, failed="proof", errors=ValidationFailed(refused),
                             form={}, status=422)
    flash("Proof added.", "success")
    return redirect(url_for("mdf.request_page", request_id=request_id) + "#proof")


@blueprint.post("/requests/<request_id>/files/<file_id>/remove")
@requires("mdf.request")
def proof_remove(request_id: str, file_id: str):
    fund_request = _request(request_id)
    proof = _file(fund_request, file_id)
    name = proof.filename
    return _act(request_id, "proof", lambda r: fund_requests.remove_proof(r, proof, by=g.user),
                f"Removed {name}.")


@blueprint.get("/requests/<request_id>/files/<file_id>")
@requires("mdf.view")
def proof_file(request_id: str, file_id: str):
    """A proof file, through a short-lived storage link (``?inline=1``: to show in the page,
    e.g. a photo's thumbnail; otherwise as a download under its own name)."""
    from tcma.storage import storage

    proof = _file(_request(request_id), file_id)
    inline = request.args.get("inline") == "1"
    return redirect(storage().url(proof.storage_key, expires_in=600,
                                  filename=None if inline else proof.filename))


@blueprint.post("/requests/<request_id>/claim/ask-info")
@requires("mdf.review")
def claim_ask_info(request_id: str):
    return _act(request_id, "claim_ask_info", lambda r: fund_requests.claim_ask_info(
        r, by=g.user, comment=request.form.get("comment", "")),
        "The claim is sent back to the partner for more information.")


@blueprint.post("/requests/<request_id>/claim/approve")
@requires("mdf.review")
def claim_approve(request_id: str):
    return _act(request_id, "approve_claim", lambda r: fund_requests.approve_claim(
        r, by=g.user, amount=request.form.get("amount", "").strip(),
        comment=request.form.get("comment", "")), "Claim approved: it waits for payment.")


@blueprint.post("/requests/<request_id>/claim/reject")
@requires("mdf.review")
def claim_reject(request_id: str):
    return _act(request_id, "reject_claim", lambda r: fund_requests.reject_claim(
        r, by=g.user, reason=request.form.get("reason", "")), "The claim is rejected.")


@blueprint.post("/requests/<request_id>/pay")
@requires("mdf.pay")
def request_pay(request_id: str):
    return _act(request_id, "pay", lambda r: fund_requests.pay(
        r, by=g.user, reference=request.form.get("reference", ""),
        paid_on=_date_field("paid_on")), "Marked paid.")
