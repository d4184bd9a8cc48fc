"""What the market development funds API accepts and answers.

Money goes both ways as decimal strings in the fund's currency ("3850.00"), next to a
``currency``; a JSON number is refused, since a client's float would already have lost the
cents the ledger keeps exactly.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mdf import balances, money, workflow
from mdf.models import (
    ACTIVITY_TYPES,
    Allocation,
    Fund,
    FundRequest,
    FundStatus,
    LedgerEntry,
    ProofFile,
    RequestStatus,
)
from tcma.auth.models import User


def _no_json_number(value: Any) -> Any:
    """For ``mode="before"`` validators of amount fields (they name the field on failure)."""
    if isinstance(value, bool | int | float):
        raise ValueError("Send amounts as strings in the fund's currency, e.g. \"1250.00\", "
                         "never as JSON numbers")
    return value


#: An amount a client sends: text, checked to the currency's decimals by ``mdf.money``.
MoneyIn = Annotated[str, Field(description="A decimal string in the fund's currency, e.g. "
                                           "\"1250.00\"", examples=["1250.00"])]
#: An amount tcma answers with: always a string, exact to the currency's minor unit.
Amount = Annotated[str, Field(description="A decimal string, exact to the currency's minor "
                                          "unit", examples=["3850.00"])]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _plain(minor: int | None, currency: str) -> str | None:
    return None if minor is None else money.plain(minor, currency)


def _percent(basis_points: int) -> str:
    return f"{Decimal(basis_points).scaleb(-2):f}"


# --- funds -----------------------------------------------------------------------------------


class FundCreate(BaseModel):
    """A new fund; its amounts are in its own currency."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    currency: str = Field(description="ISO 4217 code, e.g. EUR")
    period_start: date
    period_end: date
    budget: MoneyIn
    claim_days: int = Field(default=60, ge=1, le=365,
                            description="Claims are due this many days after the activity ends")
    activity_types: list[str] = Field(default_factory=lambda: list(ACTIVITY_TYPES),
                                      description=f"Some of {', '.join(ACTIVITY_TYPES)}")
    vendor_share_percent: str = Field(default="100", description="The most the vendor pays of "
                                                                 "an activity's cost, e.g. \"50\"")
    approval_threshold: MoneyIn | None = Field(
        default=None, description="Requests above this need a second approval by finance or "
                                  "an admin; null: never")

    @field_validator("budget", "approval_threshold", mode="before")
    @classmethod
    def _money(cls, v: Any) -> Any:
        return _no_json_number(v)

    @field_validator("vendor_share_percent", mode="before")
    @classmethod
    def _share_text(cls, v: Any) -> Any:
        if isinstance(v, bool | int | float):
            raise ValueError("Send the share as a string, e.g. \"50\"")
        return v


class FundPatch(FundCreate):
    """PATCH semantics: only the fields sent change; ``approval_threshold`` may be null."""

    name: str = Field(default=None, min_length=1, max_length=200,
                      json_schema_extra=_no_default)
    currency: str = Field(default=None, json_schema_extra=_no_default)
    period_start: date = Field(default=None, json_schema_extra=_no_default)
    period_end: date = Field(default=None, json_schema_extra=_no_default)
    budget: MoneyIn = Field(default=None, json_schema_extra=_no_default)
    claim_days: int = Field(default=None, ge=1, le=365, json_schema_extra=_no_default)
    activity_types: list[str] = Field(default=None, json_schema_extra=_no_default)
    vendor_share_percent: str = Field(default=None, json_schema_extra=_no_default)

    @field_validator("name", "currency", "period_start", "period_end", "budget", "claim_days",
                     "activity_types", "vendor_share_percent", mode="before")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("Leave the field out to keep it; it cannot be null")
        return v


class FundOut(BaseModel):
    id: str
    name: str
    currency: str
    status: FundStatus
    period_start: date
    period_end: date
    budget: Amount | None = Field(description="The fund's total; null for partners")
    claim_days: int
    activity_types: list[str]
    vendor_share_percent: str = Field(description="The most the vendor pays of an "
                                                  "activity's cost, in percent")
    approval_threshold: Amount | None = Field(
        description="Above it a request needs a second approval; null: never, or a partner "
                    "asking")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, fund: Fund, *, vendor: bool) -> FundOut:
        return cls(id=fund.public_id, name=fund.name, currency=fund.currency,
                   status=fund.status, period_start=fund.period_start,
                   period_end=fund.period_end,
                   budget=money.plain(fund.budget, fund.currency) if vendor else None,
                   claim_days=fund.claim_days, activity_types=list(fund.activity_types),
                   vendor_share_percent=_percent(fund.vendor_share_bp),
                   approval_threshold=_plain(fund.approval_threshold, fund.currency)
                   if vendor else None,
                   created_at=fund.created_at, updated_at=fund.updated_at)


class BalancesOut(BaseModel):
    """Where money stands: available = allocated - committed - claimed - approved - paid."""

    currency: str
    allocated: Amount
    committed: Amount = Field(description="Approved requests not yet claimed")
    claimed: Amount = Field(description="Claims under review")
    approved: Amount = Field(description="Approved claims waiting for payment")
    paid: Amount
    expired: Amount = Field(description="Approvals that went unclaimed and came back")
    available: Amount

    @classmethod
    def of(cls, book: balances.Balances) -> BalancesOut:
        return cls(**book.as_dict())


class FundBalancesOut(BalancesOut):
    """A fund's totals over all its allocations, with what is left to allocate."""

    budget: Amount
    unallocated: Amount

    @classmethod
    def of_fund(cls, fund: Fund) -> FundBalancesOut:
        book = balances.fund_totals(fund)
        return cls(**book.as_dict(), budget=money.plain(fund.budget, fund.currency),
                   unallocated=money.plain(fund.budget - book.allocated, fund.currency))


# --- allocations -----------------------------------------------------------------------------


class AllocationIn(BaseModel):
    """Set a partner's allocation (raise or lower; never below what is spoken for)."""

    model_config = ConfigDict(extra="forbid")
    amount: MoneyIn
    comment: str = Field(default="", max_length=500, description="Why, for the ledger")
    currency: str | None = Field(default=None, description="If sent, must be the fund's")

    @field_validator("amount", mode="before")
    @classmethod
    def _money(cls, v: Any) -> Any:
        return _no_json_number(v)


class TierRuleIn(BaseModel):
    """A fixed amount for every active partner of each tier named."""

    model_config = ConfigDict(extra="forbid")
    amounts: dict[str, MoneyIn] = Field(min_length=1, description="{tier: amount}",
                                        examples=[{"gold": "5000.00", "silver": "2500.00"}])

    @field_validator("amounts", mode="before")
    @classmethod
    def _money(cls, v: Any) -> Any:
        if isinstance(v, dict):
            for tier, amount in v.items():
                if isinstance(amount, bool | int | float):
                    raise ValueError(f"Send {tier}'s amount as a string in the fund's "
                                     "currency, e.g. \"1250.00\", never as a JSON number")
        return v


class RevenueRuleForm(BaseModel):
    """Sent beside the CSV of reported revenue (columns partner, revenue)."""

    percent: str = Field(description="The share of each partner's revenue to allocate, "
                                     "e.g. \"2.5\"")


class AllocationOut(BalancesOut):
    fund_id: str
    fund_name: str
    fund_status: FundStatus
    partner_id: str
    partner_name: str
    updated_at: datetime

    @classmethod
    def of_allocation(cls, allocation: Allocation) -> AllocationOut:
        fund, partner = allocation.fund, allocation.partner
        return cls(**balances.of(allocation).as_dict(), fund_id=fund.public_id,
                   fund_name=fund.name, fund_status=fund.status, partner_id=partner.public_id,
                   partner_name=partner.name, updated_at=allocation.updated_at)


class AllocationReportOut(BaseModel):
    """What an import or a rule did; lines in ``errors`` changed nothing, the others applied."""

    changed: int
    unchanged: int
    errors: list[str] = Field(description="One line per refused row, naming it")


# --- requests --------------------------------------------------------------------------------


class RequestFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    activity_type: str = Field(description=f"One of {', '.join(ACTIVITY_TYPES)}")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    starts_on: date
    ends_on: date
    estimated_cost: MoneyIn = Field(description="The activity's whole cost")
    requested: MoneyIn = Field(description="What the fund is asked to pay")
    expected_leads: int | None = Field(default=None, ge=0, le=10_000_000)
    expected_attendees: int | None = Field(default=None, ge=0, le=10_000_000)
    launch_id: str | None = Field(default=None, description="A kit launch of my partner: its "
                                                            "results become automatic proof")
    currency: str | None = Field(default=None, description="If sent, must be the fund's")

    @field_validator("estimated_cost", "requested", mode="before")
    @classmethod
    def _money(cls, v: Any) -> Any:
        return _no_json_number(v)


class FundRequestIn(RequestFields):
    """A draft request against my partner's allocation of a fund."""

    fund_id: str


class FundRequestPatch(RequestFields):
    """PATCH semantics for a draft (or one sent back for information)."""

    activity_type: str = Field(default=None, json_schema_extra=_no_default)
    title: str = Field(default=None, min_length=1, max_length=200,
                       json_schema_extra=_no_default)
    description: str = Field(default=None, max_length=10_000, json_schema_extra=_no_default)
    starts_on: date = Field(default=None, json_schema_extra=_no_default)
    ends_on: date = Field(default=None, json_schema_extra=_no_default)
    estimated_cost: MoneyIn = Field(default=None, json_schema_extra=_no_default)
    requested: MoneyIn = Field(default=None, json_schema_extra=_no_default)

    @field_validator("activity_type", "title", "description", "starts_on", "ends_on",
                     "estimated_cost", "requested", mode="before")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("Leave the field out to keep it; it cannot be null")
        return v


class ClaimFields(BaseModel):
    """The claim: what the activity cost, what is claimed, what it achieved."""

    model_config = ConfigDict(extra="forbid")
    actual_cost: MoneyIn
    claimed_amount: MoneyIn = Field(description="At most ``claim_cap`` once submitted")
    results_leads: int | None = Field(default=None, ge=0, le=10_000_000)
    results_attendees: int | None = Field(default=None, ge=0, le=10_000_000)
    results_notes: str = Field(default="", max_length=10_000)
    currency: str | None = Field(default=None, description="If sent, must be the fund's")

    @field_validator("actual_cost", "claimed_amount", mode="before")
    @classmethod
    def _money(cls, v: Any) -> Any:
        return _no_json_number(v)


class ReviewNoteIn(BaseModel):
    """What information the partner should add."""

    model_config = ConfigDict(extra="forbid")
    comment: str = Field(max_length=5000)


class ApprovalIn(BaseModel):
    """Approve in full (no amount) or in part (a lower amount, with a comment saying why)."""

    model_config = ConfigDict(extra="forbid")
    amount: MoneyIn | None = Field(default=None, description="Leave out for the full amount")
    comment: str = Field(default="", max_length=5000)
    currency: str | None = Field(default=None, description="If sent, must be the fund's")

    @field_validator("amount", mode="before")
    @classmethod
    def _money(cls, v: Any) -> Any:
        return _no_json_number(v)


class RejectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=5000)


class CancellationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=5000)


class PaymentIn(BaseModel):
    """The payment of one approved claim."""

    model_config = ConfigDict(extra="forbid")
    reference: str = Field(max_length=100, description="The payment's reference in the "
                                                       "accounts-payable system")
    paid_on: date | None = Field(default=None, description="Leave out for today")


class PaymentRunIn(PaymentIn):
    """Several approved claims paid under one reference: all of them, or none."""

    request_ids: list[str] = Field(min_length=1, max_length=500)


class ProofFileOut(BaseModel):
    id: str
    filename: str
    kind: str = Field(description="pdf | png | jpeg | webp | csv")
    mimetype: str
    size: int
    detail: str = Field(description="What the check found: pages, pixels, rows")
    automatic: bool = Field(description="tcma's proof-of-performance report of the linked "
                                        "launch, not an upload")
    created_at: datetime
    url: str = Field(description="A download link valid for ten minutes")

    @classmethod
    def of(cls, proof: ProofFile) -> ProofFileOut:
        from tcma.storage import storage

        return cls(id=proof.public_id, filename=proof.filename, kind=proof.kind,
                   mimetype=proof.mimetype, size=proof.size, detail=proof.detail,
                   automatic=proof.automatic, created_at=proof.created_at,
                   url=storage().url(proof.storage_key, expires_in=600,
                                     filename=proof.filename))


def launch_public_id(r: FundRequest) -> str | None:
    """The public id of the kit launch a request is linked to, if any."""
    if r.launch_id is None:
        return None
    from campaigns.models import Launch
    from tcma.extensions import db

    launch = db.session.get(Launch, r.launch_id)
    return launch.public_id if launch else None


class FundRequestSummary(BaseModel):
    id: str
    fund_id: str
    fund_name: str
    partner_id: str
    partner_name: str
    status: RequestStatus
    activity_type: str
    title: str
    starts_on: date
    ends_on: date
    currency: str
    requested: Amount
    approved_amount: Amount | None
    claimed_amount: Amount | None
    claim_approved_amount: Amount | None
    claim_deadline: date | None
    allowed_actions: list[str] = Field(description="What I may do now (``mdf.workflow`` "
                                                   "names)")
    updated_at: datetime

    @classmethod
    def fields_of(cls, r: FundRequest, user: User) -> dict[str, Any]:
        cur = r.fund.currency
        return dict(id=r.public_id, fund_id=r.fund.public_id, fund_name=r.fund.name,
                    partner_id=r.partner.public_id, partner_name=r.partner.name,
                    status=r.status, activity_type=r.activity_type, title=r.title,
                    starts_on=r.starts_on, ends_on=r.ends_on, currency=cur,
                    requested=money.plain(r.requested, cur),
                    approved_amount=_plain(r.approved_amount, cur),
                    claimed_amount=_plain(r.claimed_amount, cur),
                    claim_approved_amount=_plain(r.claim_approved_amount, cur),
                    claim_deadline=r.claim_deadline,
                    allowed_actions=workflow.allowed(r, user), updated_at=r.updated_at)

    @classmethod
    def of(cls, r: FundRequest, user: User) -> FundRequestSummary:
        return cls(**cls.fields_of(r, user))


class FundRequestOut(FundRequestSummary):
    """A request and its claim, with what the caller may do next.

    ``allowed_actions`` names: edit (PATCH), submit, ask_info, approve, reject, cancel,
    edit_claim (PUT claim, upload and delete files), submit_claim, claim_ask_info,
    approve_claim, reject_claim, pay; routes spell them with hyphens.
    """

    description: str
    estimated_cost: Amount
    vendor_share_percent: str = Field(description="The most the fund pays of the cost")
    expected_leads: int | None
    expected_attendees: int | None
    launch_id: str | None
    submitted_at: datetime | None
    awaiting_second_approval: bool = Field(description="Above the fund's threshold: one "
                                                       "approval given, one to come")
    first_approved_amount: Amount | None
    approved_at: datetime | None
    actual_cost: Amount | None
    claim_cap: Amount | None = Field(description="The most the claim may be: the approved "
                                                 "amount or the vendor share of the actual "
                                                 "cost, whichever is lower")
    claim_in_review: Amount | None = Field(description="What the claim holds while reviewed")
    results_leads: int | None
    results_attendees: int | None
    results_notes: str
    claim_submitted_at: datetime | None
    claim_approved_at: datetime | None
    payment_reference: str | None
    paid_on: date | None
    review_comment: str = Field(description="The reviewer's last word: why lower, what is "
                                            "missing, why not")
    created_at: datetime
    files: list[ProofFileOut]

    @classmethod
    def of(cls, r: FundRequest, user: User) -> FundRequestOut:
        from mdf.requests import claim_cap

        cur = r.fund.currency
        return cls(**cls.fields_of(r, user), description=r.description,
                   estimated_cost=money.plain(r.estimated_cost, cur),
                   vendor_share_percent=_percent(r.fund.vendor_share_bp),
                   expected_leads=r.expected_leads, expected_attendees=r.expected_attendees,
                   launch_id=launch_public_id(r), submitted_at=r.submitted_at,
                   awaiting_second_approval=(r.status is RequestStatus.SUBMITTED
                                             and r.first_approved_by_id is not None),
                   first_approved_amount=_plain(r.first_approved_amount, cur)
                   if r.status is RequestStatus.SUBMITTED else None,
                   approved_at=r.approved_at, actual_cost=_plain(r.actual_cost, cur),
                   claim_cap=_plain(claim_cap(r), cur),
                   claim_in_review=_plain(r.claim_in_review, cur),
                   results_leads=r.results_leads, results_attendees=r.results_attendees,
                   results_notes=r.results_notes, claim_submitted_at=r.claim_submitted_at,
                   claim_approved_at=r.claim_approved_at,
                   payment_reference=r.payment_reference, paid_on=r.paid_on,
                   review_comment=r.review_comment, created_at=r.created_at,
                   files=[ProofFileOut.of(f) for f in r.files])


class LedgerEntryOut(BaseModel):
    """One step of a request's history, from the append-only ledger."""

    at: datetime
    actor: str = Field(description="Who, by name (\"tcma\" for the scheduler)")
    action: str
    from_status: str | None
    to_status: str | None
    amount: Amount | None
    currency: str | None
    comment: str

    @classmethod
    def of(cls, entry: LedgerEntry) -> LedgerEntryOut:
        amount = (money.plain(entry.amount, entry.currency)
                  if entry.amount is not None and entry.currency else None)
        return cls(at=entry.at, actor=entry.actor_name, action=entry.action,
                   from_status=entry.from_status, to_status=entry.to_status, amount=amount,
                   currency=entry.currency, comment=entry.comment)
