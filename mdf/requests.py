"""A fund request from draft to payment: the services behind every page and API route.

Each action asks ``workflow.check`` first (wrong state: 409, wrong role: 403), validates
its input (errors name the field), moves money with one conditional UPDATE
(``balances.move``), writes a ledger entry and queues the emails. Services flush but never
commit; the caller owns the transaction.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select

from mdf import balances, money, notify, workflow
from mdf.funds import allocation_of
from mdf.models import (
    ACTIVITY_TYPES,
    Fund,
    FundRequest,
    FundStatus,
    ProofFile,
    RequestStatus,
)
from tcma import audit
from tcma.auth.models import User
from tcma.errors import Conflict, FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner

S = RequestStatus
MAX_FILES = 20
#: Partners are reminded this many days before a claim is due.
REMIND_DAYS = 7


class RequestIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    activity_type: str
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    starts_on: date
    ends_on: date
    estimated_cost: str
    requested: str
    expected_leads: int | None = Field(default=None, ge=0, le=10_000_000)
    expected_attendees: int | None = Field(default=None, ge=0, le=10_000_000)
    launch_id: str | None = Field(default=None, description="A kit launch of the partner")

    @field_validator("estimated_cost", "requested", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        if isinstance(v, float):
            raise ValueError("Send amounts as strings, e.g. \"1250.00\"")
        return "" if v is None else str(v)

    @field_validator("activity_type")
    @classmethod
    def _type(cls, v: str) -> str:
        if v not in ACTIVITY_TYPES:
            raise ValueError(f"Choose one of {', '.join(ACTIVITY_TYPES)}")
        return v

    @field_validator("expected_leads", "expected_attendees", "launch_id", mode="before")
    @classmethod
    def _blank(cls, v: Any) -> Any:
        return None if v == "" else v


class ClaimIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    actual_cost: str
    claimed_amount: str
    results_leads: int | None = Field(default=None, ge=0, le=10_000_000)
    results_attendees: int | None = Field(default=None, ge=0, le=10_000_000)
    results_notes: str = Field(default="", max_length=10_000)

    @field_validator("actual_cost", "claimed_amount", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        if isinstance(v, float):
            raise ValueError("Send amounts as strings, e.g. \"1250.00\"")
        return "" if v is None else str(v)

    @field_validator("results_leads", "results_attendees", mode="before")
    @classmethod
    def _blank(cls, v: Any) -> Any:
        return None if v == "" else v


def _parsed(model: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic(exc) from exc


def _status_change(request: FundRequest, action: str, by: User | None, *, amount: int | None
                   = None, comment: str = "") -> None:
    rule = workflow.ACTIONS[action]
    before = request.status
    if rule.target is not None:
        request.status = rule.target
    db.session.flush()
    balances.record(action, by=by, request=request, from_status=before.value,
                    to_status=request.status.value, amount=amount, comment=comment)
    audit.record(f"mdf.request.{action}", target=request, actor=by,
                 before={"status": before.value}, after={"status": request.status.value,
                                                         "amount": amount})
    notify.queue(request, action, by=by, comment=comment)


def _move(request: FundRequest, **deltas: int) -> None:
    """A move that cannot fail unless the books are already wrong."""
    if not balances.move(request.allocation_id, **deltas):
        raise RuntimeError(f"allocation {request.allocation_id} cannot move {deltas}")


def _comment(comment: str | None, field: str = "comment", *, required: str | None = None
             ) -> str:
    text = (comment or "").strip()
    if required and not text:
        raise ValidationFailed([FieldError(field, required)])
    if len(text) > 5000:
        raise ValidationFailed([FieldError(field, "Keep it under 5,000 characters.")])
    return text


# --- requests --------------------------------------------------------------------------------


def _launch_id(partner: Partner, public_id: str | None) -> int | None:
    if not public_id:
        return None
    from campaigns.models import Launch

    launch = db.session.execute(select(Launch).where(
        Launch.public_id == public_id, Launch.partner_id == partner.id)).scalar_one_or_none()
    if launch is None:
        raise ValidationFailed([FieldError("launch_id", "No such launch of yours.")])
    return launch.id


def _with_amount_errors(exc: ValidationFailed, data: dict[str, Any], currency: str,
                        names: tuple[str, ...]) -> ValidationFailed:
    """The shape check stopped early: add the amounts' own problems, so one round of fixes
    is enough."""
    named = {e.field for e in exc.errors}
    errors = list(exc.errors)
    for name in names:
        if name not in named and not isinstance(data.get(name), float):
            try:
                money.parse(data.get(name, ""), currency, name)
            except ValidationFailed as more:
                errors += more.errors
    return ValidationFailed(errors)


def _request_values(fund: Fund, partner: Partner, data: dict[str, Any]) -> dict[str, Any]:
    try:
        fields = _parsed(RequestIn, data)
    except ValidationFailed as exc:
        raise _with_amount_errors(exc, data, fund.currency,
                                  ("estimated_cost", "requested")) from None
    errors: list[FieldError] = []
    values: dict[str, Any] = {
        "activity_type": fields.activity_type, "title": fields.title,
        "description": fields.description, "starts_on": fields.starts_on,
        "ends_on": fields.ends_on, "expected_leads": fields.expected_leads,
        "expected_attendees": fields.expected_attendees}
    if fields.ends_on < fields.starts_on:
        errors.append(FieldError("ends_on", "The activity must end on or after its start."))
    for name in ("estimated_cost", "requested"):
        try:
            values[name] = money.parse(getattr(fields, name), fund.currency, name)
        except ValidationFailed as exc:
            errors += exc.errors
    try:
        values["launch_id"] = _launch_id(partner, fields.launch_id)
    except ValidationFailed as exc:
        errors += exc.errors
    if errors:
        raise ValidationFailed(errors)
    return values


def create_request(partner: Partner, fund: Fund, data: dict[str, Any], *,
                   by: User | None) -> FundRequest:
    """Save a draft request against the partner's allocation of ``fund``."""
    allocation = allocation_of(fund, partner)
    if allocation is None:
        raise ValidationFailed([FieldError("fund_id", "You have no allocation in this fund.")])
    request = FundRequest(partner_id=partner.id, fund_id=fund.id, allocation_id=allocation.id,
                          status=S.DRAFT, created_by_id=by.id if by else None,
                          **_request_values(fund, partner, data))
    db.session.add(request)
    db.session.flush()
    balances.record("create", by=by, request=request, to_status="draft",
                    amount=request.requested)
    return request


def update_request(request: FundRequest, data: dict[str, Any], *, by: User | None
                   ) -> FundRequest:
    workflow.check("edit", request, by)
    values = _request_values(request.fund, request.partner, data)
    before = request.requested
    for name, value in values.items():
        setattr(request, name, value)
    db.session.flush()
    if before != request.requested:
        balances.record("edit", by=by, request=request, amount=request.requested,
                        comment=f"requested {money.display(before, request.fund.currency)} → "
                                f"{money.display(request.requested, request.fund.currency)}")
    return request


def request_problems(request: FundRequest, today: date | None = None) -> list[FieldError]:
    """What the fund's rules and the partner's balance say against submitting now."""
    today = today or utcnow().date()
    fund = request.fund
    problems: list[FieldError] = []
    if fund.status is not FundStatus.OPEN or today > fund.period_end:
        problems.append(FieldError("fund_id", f"The fund {fund.name} is closed for new "
                                              "requests."))
    if request.activity_type not in fund.activity_types:
        allowed = ", ".join(t.replace("_", " ") for t in fund.activity_types)
        problems.append(FieldError("activity_type", f"This fund pays for {allowed} only."))
    if request.starts_on < fund.period_start or request.ends_on > fund.period_end:
        problems.append(FieldError("starts_on", f"The activity must take place within the "
                                                f"fund's period, {fund.period_start} to "
                                                f"{fund.period_end}."))
    cap = money.share(request.estimated_cost, fund.vendor_share_bp)
    if request.requested > cap:
        problems.append(FieldError("requested", (
            f"The fund pays at most {fund.vendor_share_bp / 100:g}% of the cost: at most "
            f"{money.display(cap, fund.currency)} of "
            f"{money.display(request.estimated_cost, fund.currency)}.")))
    available = request.allocation.available
    if request.requested > available:
        problems.append(FieldError("requested", (
            f"Only {money.display(available, fund.currency)} is available in your "
            "allocation.")))
    return problems


def submit(request: FundRequest, *, by: User | None, today: date | None = None) -> FundRequest:
    """Send the request for review once the fund's rules and the balance allow it."""
    workflow.check("submit", request, by)
    db.session.refresh(request.allocation)
    problems = request_problems(request, today)
    if problems:
        raise ValidationFailed(problems)
    request.submitted_at = utcnow()
    request.first_approved_by_id = request.first_approved_amount = None
    _status_change(request, "submit", by, amount=request.requested)
    return request


def ask_info(request: FundRequest, *, by: User, comment: str) -> FundRequest:
    workflow.check("ask_info", request, by)
    request.review_comment = _comment(comment, required="Say what information is needed.")
    _status_change(request, "ask_info", by, comment=request.review_comment)
    return request


def approve(request: FundRequest, *, by: User, amount: object = None, comment: str = ""
            ) -> FundRequest:
    """Approve ``amount`` (the full request when None) and commit it from the partner's
    allocation. Above the fund's threshold the first approval is recorded and a second one,
    by finance or an admin other than the first approver, commits the money."""
    workflow.check("approve", request, by)
    fund = request.fund
    if by.id == request.created_by_id:
        raise Conflict("You cannot approve your own request.")
    minor = request.requested if amount in (None, "") else money.parse(amount, fund.currency,
                                                                       "amount")
    if minor > request.requested:
        raise ValidationFailed([FieldError("amount", "Approve at most the amount requested, "
                                           f"{money.display(request.requested, fund.currency)}.")])
    text = _comment(comment, required=(
        "Say why less than requested is approved." if minor < request.requested else None))
    needs_two = fund.approval_threshold is not None and minor > fund.approval_threshold
    if needs_two and request.first_approved_by_id is None:
        request.first_approved_by_id, request.first_approved_amount = by.id, minor
        request.review_comment = text
        db.session.flush()
        balances.record("approve_first", by=by, request=request, from_status="submitted",
                        to_status="submitted", amount=minor, comment=text or (
                            "first of two approvals (above the fund's threshold)"))
        notify.queue(request, "approve_first", by=by, comment=text)
        return request
    if needs_two:
        if by.id == request.first_approved_by_id:
            raise Conflict("The second approval must come from someone else.")
        if by.role not in workflow.SECOND_APPROVERS:
            raise Conflict("The second approval must come from finance or an admin.")
        if minor > (request.first_approved_amount or 0):
            raise ValidationFailed([FieldError("amount", (
                "The second approval cannot be more than the first, "
                f"{money.display(request.first_approved_amount or 0, fund.currency)}."))])
    if not balances.move(request.allocation_id, need_available=minor, committed=minor):
        db.session.refresh(request.allocation)
        raise Conflict(f"Only {money.display(request.allocation.available, fund.currency)} "
                       "is available in the partner's allocation: approve less, or raise the "
                       "allocation first.")
    request.approved_amount = minor
    request.approved_at = utcnow()
    request.claim_deadline = request.ends_on + timedelta(days=fund.claim_days)
    request.review_comment = text
    _status_change(request, "approve", by, amount=minor, comment=text)
    return request


def reject(request: FundRequest, *, by: User, reason: str) -> FundRequest:
    workflow.check("reject", request, by)
    request.review_comment = _comment(reason, "reason", required="Say why it is rejected.")
    _status_change(request, "reject", by, comment=request.review_comment)
    return request


def cancel(request: FundRequest, *, by: User, reason: str = "") -> FundRequest:
    """Withdraw a request; an approved one gives its committed money back."""
    workflow.check("cancel", request, by)
    if request.status is S.APPROVED:
        _move(request, committed=-(request.approved_amount or 0))
    _status_change(request, "cancel", by, amount=request.approved_amount,
                   comment=_comment(reason, "reason"))
    return request


# --- claims ----------------------------------------------------------------------------------


def save_claim(request: FundRequest, data: dict[str, Any], *, by: User | None) -> FundRequest:
    """Record the activity's actual cost, the amount claimed and the results (a draft
    claim: nothing is checked against the rules until it is submitted)."""
    workflow.check("edit_claim", request, by)
    try:
        fields = _parsed(ClaimIn, data)
    except ValidationFailed as exc:
        raise _with_amount_errors(exc, data, request.fund.currency,
                                  ("actual_cost", "claimed_amount")) from None
    errors: list[FieldError] = []
    values: dict[str, Any] = {"results_leads": fields.results_leads,
                              "results_attendees": fields.results_attendees,
                              "results_notes": fields.results_notes}
    for name in ("actual_cost", "claimed_amount"):
        try:
            values[name] = money.parse(getattr(fields, name), request.fund.currency, name)
        except ValidationFailed as exc:
            errors += exc.errors
    if errors:
        raise ValidationFailed(errors)
    for name, value in values.items():
        setattr(request, name, value)
    db.session.flush()
    return request


def claim_cap(request: FundRequest) -> int | None:
    """The most the claim may be: the approved amount, and the vendor's share of the actual
    cost, whichever is lower (None until the actual cost is known)."""
    if request.actual_cost is None or request.approved_amount is None:
        return None
    return min(request.approved_amount,
               money.share(request.actual_cost, request.fund.vendor_share_bp))


def submit_claim(request: FundRequest, *, by: User | None, today: date | None = None
                 ) -> FundRequest:
    """File the claim: within the deadline, at most the cap, with proof. A linked launch's
    proof-of-performance report is attached automatically."""
    workflow.check("submit_claim", request, by)
    today = today or utcnow().date()
    fund = request.fund
    errors: list[FieldError] = []
    if request.claim_deadline and today > request.claim_deadline:
        errors.append(FieldError("claimed_amount", "The claim deadline passed on "
                                                   f"{request.claim_deadline}."))
    if request.claimed_amount is None or request.actual_cost is None:
        errors.append(FieldError("claimed_amount", "Enter the actual cost and the amount "
                                                   "claimed."))
    else:
        cap = claim_cap(request) or 0
        if request.claimed_amount > cap:
            errors.append(FieldError("claimed_amount", (
                f"Claim at most {money.display(cap, fund.currency)}: the approved "
                f"{money.display(request.approved_amount or 0, fund.currency)}, and "
                f"{fund.vendor_share_bp / 100:g}% of the actual cost "
                f"{money.display(request.actual_cost, fund.currency)}.")))
    if request.launch_id is not None:
        attach_performance_report(request, by=by)
    if not request.files:
        errors.append(FieldError("files", "Attach proof: invoices, photos, attendee lists "
                                          "or screenshots."))
    if errors:
        raise ValidationFailed(errors)
    claimed = request.claimed_amount
    if request.status is S.APPROVED:
        # The approval's commitment becomes the claim; what is not claimed is free again.
        _move(request, committed=-(request.approved_amount or 0), claimed=claimed)
    else:  # resubmitted after "needs information": the amount under review changes
        delta = claimed - (request.claim_in_review or 0)
        if delta > 0 and not balances.move(request.allocation_id, need_available=delta,
                                           claimed=delta):
            raise ValidationFailed([FieldError("claimed_amount", "Your allocation no longer "
                                               "has enough available for this amount.")])
        if delta < 0:
            _move(request, claimed=delta)
    request.claim_in_review = claimed
    request.claim_submitted_at = utcnow()
    _status_change(request, "submit_claim", by, amount=claimed)
    return request


def claim_ask_info(request: FundRequest, *, by: User, comment: str) -> FundRequest:
    workflow.check("claim_ask_info", request, by)
    request.review_comment = _comment(comment, required="Say what information is needed.")
    _status_change(request, "claim_ask_info", by, comment=request.review_comment)
    return request


def approve_claim(request: FundRequest, *, by: User, amount: object = None,
                  comment: str = "") -> FundRequest:
    """Approve the claim in full or in part (with a reason); the money waits for payment."""
    workflow.check("approve_claim", request, by)
    fund = request.fund
    claimed = request.claim_in_review or 0
    minor = claimed if amount in (None, "") else money.parse(amount, fund.currency, "amount")
    if minor > claimed:
        raise ValidationFailed([FieldError("amount", "Approve at most the amount claimed, "
                                           f"{money.display(claimed, fund.currency)}.")])
    text = _comment(comment, required=(
        "Say why less than claimed is approved." if minor < claimed else None))
    _move(request, claimed=-claimed, approved=minor)
    request.claim_approved_amount = minor
    request.claim_approved_at = utcnow()
    request.review_comment = text
    _status_change(request, "approve_claim", by, amount=minor, comment=text)
    return request


def reject_claim(request: FundRequest, *, by: User, reason: str) -> FundRequest:
    workflow.check("reject_claim", request, by)
    text = _comment(reason, "reason", required="Say why the claim is rejected.")
    _move(request, claimed=-(request.claim_in_review or 0))
    request.review_comment = text
    _status_change(request, "reject_claim", by, amount=request.claim_in_review, comment=text)
    return request


def pay(request: FundRequest, *, by: User, reference: str, paid_on: date | None = None
        ) -> FundRequest:
    """Finance records the payment of an approved claim."""
    workflow.check("pay", request, by)
    reference = (reference or "").strip()
    if not reference or len(reference) > 100:
        raise ValidationFailed([FieldError("reference", "Give the payment reference (at most "
                                                        "100 characters).")])
    paid_on = paid_on or utcnow().date()
    if paid_on > utcnow().date() + timedelta(days=1):
        raise ValidationFailed([FieldError("paid_on", "The payment date cannot be in the "
                                                      "future.")])
    amount = request.claim_approved_amount or 0
    _move(request, approved=-amount, paid=amount)
    request.payment_reference, request.paid_on = reference, paid_on
    _status_change(request, "pay", by, amount=amount, comment=f"reference {reference}, "
                                                              f"paid on {paid_on}")
    return request


def pay_many(requests: list[FundRequest], *, by: User, reference: str,
             paid_on: date | None = None) -> list[FundRequest]:
    """Mark a batch paid under one payment run's reference: all or none."""
    with db.session.begin_nested():
        return [pay(r, by=by, reference=reference, paid_on=paid_on) for r in requests]


# --- proof files -----------------------------------------------------------------------------


def add_proof(request: FundRequest, data: bytes, filename: str, *, by: User | None,
              automatic: bool = False) -> ProofFile:
    """Keep a checked proof file (``mdf.proof``) in storage, attached to the claim."""
    from mdf.proof import check_proof_file
    from tcma.storage import storage

    if not automatic:
        workflow.check("edit_claim", request, by)
    if len(request.files) >= MAX_FILES:
        raise ValidationFailed([FieldError("files", f"Attach at most {MAX_FILES} files.")])
    checked = check_proof_file(data, filename)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in filename)[-80:] or "file"
    key = f"mdf/{request.public_id}/{secrets.token_hex(8)}-{safe}"
    storage().put(key, data, checked.mimetype)
    proof = ProofFile(partner_id=request.partner_id, request_id=request.id, storage_key=key,
                      filename=filename[:255], kind=checked.kind, mimetype=checked.mimetype,
                      size=len(data), detail=checked.detail, automatic=automatic,
                      uploaded_by_id=by.id if by else None)
    request.files.append(proof)
    db.session.flush()
    balances.record("proof_added", by=by, request=request, comment=f"{filename} "
                                                                     f"({checked.detail})")
    return proof


def remove_proof(request: FundRequest, proof: ProofFile, *, by: User | None) -> None:
    from tcma.storage import storage

    workflow.check("edit_claim", request, by)
    if proof.request_id != request.id:
        raise NotFound("No such file.")
    request.files.remove(proof)
    db.session.flush()
    storage().delete(proof.storage_key)
    balances.record("proof_removed", by=by, request=request, comment=proof.filename)


def attach_performance_report(request: FundRequest, *, by: User | None) -> ProofFile | None:
    """Build the linked launch's proof-of-performance PDF and attach it (replacing an
    earlier one), so the partner need not assemble what tcma already knows."""
    if request.launch_id is None:
        return None
    from campaigns.models import Launch
    from mdf.performance import performance_pdf
    from syndication.results import launch_results

    launch = db.session.get(Launch, request.launch_id)
    if launch is None:
        return None
    for old in [f for f in request.files if f.automatic]:
        request.files.remove(old)
    pdf = performance_pdf(launch_results(launch), activity_title=request.title,
                          partner_name=request.partner.name, generated_at=utcnow())
    return add_proof(request, pdf, f"proof-of-performance-{launch.public_id}.pdf", by=by,
                     automatic=True)


# --- the scheduler's work --------------------------------------------------------------------


def expire_due(today: date | None = None) -> int:
    """Approved requests whose claim deadline passed expire; their money returns."""
    today = today or utcnow().date()
    due = db.session.execute(select(FundRequest).where(
        FundRequest.status == S.APPROVED, FundRequest.claim_deadline < today)).scalars().all()
    for request in due:
        workflow.check("expire", request, None)
        amount = request.approved_amount or 0
        _move(request, committed=-amount, expired=amount)
        _status_change(request, "expire", None, amount=amount,
                       comment=f"not claimed by {request.claim_deadline}")
    return len(due)


def remind_due(today: date | None = None) -> int:
    """Remind partners once, ``REMIND_DAYS`` before an approved request's claim is due."""
    today = today or utcnow().date()
    due = db.session.execute(select(FundRequest).where(
        FundRequest.status.in_((S.APPROVED, S.CLAIM_NEEDS_INFO)),
        FundRequest.reminded_at.is_(None),
        FundRequest.claim_deadline <= today + timedelta(days=REMIND_DAYS),
        FundRequest.claim_deadline >= today)).scalars().all()
    for request in due:
        request.reminded_at = utcnow()
        notify.queue(request, "remind", by=None)
    db.session.flush()
    return len(due)


# --- reading ---------------------------------------------------------------------------------


def get_request(public_id: str) -> FundRequest:
    found = db.session.execute(select(FundRequest).where(
        FundRequest.public_id == public_id)).scalar_one_or_none()
    if found is None:
        raise NotFound("No such request.")
    return found


def list_requests(*, partner: Partner | None = None, fund: Fund | None = None,
                  statuses: list[RequestStatus] | None = None, limit: int = 200
                  ) -> list[FundRequest]:
    query = select(FundRequest).order_by(FundRequest.updated_at.desc(), FundRequest.id.desc())
    if partner is not None:
        query = query.where(FundRequest.partner_id == partner.id)
    if fund is not None:
        query = query.where(FundRequest.fund_id == fund.id)
    if statuses:
        query = query.where(FundRequest.status.in_(statuses))
    return list(db.session.execute(query.limit(limit)).scalars())
