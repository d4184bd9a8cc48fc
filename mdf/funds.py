"""Funds and their allocations to partners: by hand, by CSV, or by rule.

Services flush but never commit; the caller owns the transaction.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func, select, update

from mdf import balances, money
from mdf.models import ACTIVITY_TYPES, Allocation, Fund, FundStatus
from tcma import audit
from tcma.auth.models import User
from tcma.errors import Conflict, FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.partners.models import Partner

MAX_CSV_BYTES = 2_000_000


class FundIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    currency: str
    period_start: date
    period_end: date
    budget: str = Field(description="Total budget, e.g. \"250000.00\"")
    claim_days: int = Field(default=60, ge=1, le=365,
                            description="Claims are due this many days after the activity")
    activity_types: list[str] = Field(default_factory=lambda: list(ACTIVITY_TYPES))
    vendor_share_percent: str = Field(default="100", description="e.g. \"50\" for 50 %")
    approval_threshold: str | None = Field(
        default=None, description="Requests above this need a second approval")

    @field_validator("budget", "vendor_share_percent", "approval_threshold", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        if isinstance(v, float):
            raise ValueError("Send amounts as strings, e.g. \"1250.00\"")
        return None if v in (None, "") else str(v)

    @field_validator("activity_types", mode="before")
    @classmethod
    def _types(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [t.strip() for t in v.split(",") if t.strip()]
        bad = [t for t in v if t not in ACTIVITY_TYPES]
        if bad:
            raise ValueError(f"Unknown activity type(s) {', '.join(bad)}; use "
                             f"{', '.join(ACTIVITY_TYPES)}")
        if not v:
            raise ValueError("Allow at least one activity type")
        return list(dict.fromkeys(v))


def _fund_values(data: dict[str, Any]) -> dict[str, Any]:
    try:
        fields = FundIn.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic(exc) from exc
    currency = money.check_currency(fields.currency)
    errors: list[FieldError] = []
    if fields.period_end < fields.period_start:
        errors.append(FieldError("period_end", "The period must end after it starts."))
    values: dict[str, Any] = {"name": fields.name, "currency": currency,
                              "period_start": fields.period_start,
                              "period_end": fields.period_end, "claim_days": fields.claim_days,
                              "activity_types": fields.activity_types}
    for name, parse in (
            ("budget", lambda: money.parse(fields.budget, currency, "budget", allow_zero=True)),
            ("vendor_share_bp", lambda: _basis_points(fields.vendor_share_percent)),
            ("approval_threshold", lambda: None if fields.approval_threshold is None else
             money.parse(fields.approval_threshold, currency, "approval_threshold"))):
        try:
            values[name] = parse()
        except ValidationFailed as exc:
            errors += exc.errors
    if errors:
        raise ValidationFailed(errors)
    return values


def _basis_points(percent: str) -> int:
    try:
        value = Decimal(percent)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or not (Decimal("0.01") <= value <= 100) or \
            value != value.quantize(Decimal("0.01")):
        raise ValidationFailed([FieldError("vendor_share_percent",
                                           "Give a share between 0.01 and 100 (percent).")])
    return int(value * 100)


def create_fund(data: dict[str, Any], *, by: User | None) -> Fund:
    fund = Fund(**_fund_values(data), created_by_id=by.id if by else None)
    db.session.add(fund)
    db.session.flush()
    balances.record("fund.create", by=by, fund=fund, amount=fund.budget, comment=fund.name)
    audit.record("mdf.fund.create", target=fund, actor=by, after={"budget": fund.budget})
    return fund


def update_fund(fund: Fund, data: dict[str, Any], *, by: User | None) -> Fund:
    """Change a fund's terms. The budget cannot go below what is allocated, and the currency
    cannot change once money is allocated."""
    values = _fund_values(data)
    allocated = balances.fund_totals(fund).allocated
    if values["currency"] != fund.currency and allocated:
        raise ValidationFailed([FieldError("currency", "Money is already allocated in "
                                                       f"{fund.currency}.")])
    if values["budget"] < allocated:
        shown = money.display(allocated, fund.currency)
        raise ValidationFailed([FieldError("budget", "The budget cannot be less than what is "
                                                     f"allocated ({shown}).")])
    before = fund.budget
    for name, value in values.items():
        setattr(fund, name, value)
    db.session.flush()
    if before != fund.budget:
        balances.record("fund.budget", by=by, fund=fund, amount=fund.budget - before,
                        comment=f"{money.display(before, fund.currency)} → "
                                f"{money.display(fund.budget, fund.currency)}")
    audit.record("mdf.fund.update", target=fund, actor=by, before={"budget": before},
                 after={"budget": fund.budget})
    return fund


def close_fund(fund: Fund, *, by: User | None, reason: str = "") -> Fund:
    """No new requests; approved requests may still be claimed and paid."""
    if fund.status is FundStatus.CLOSED:
        raise Conflict("This fund is already closed.")
    fund.status = FundStatus.CLOSED
    db.session.flush()
    balances.record("fund.close", by=by, fund=fund, comment=reason or "closed")
    return fund


def close_ended(today: date) -> int:
    """The scheduler's job: funds past their period stop taking requests."""
    ended = db.session.execute(select(Fund).where(Fund.status == FundStatus.OPEN,
                                                  Fund.period_end < today)).scalars().all()
    for fund in ended:
        fund.status = FundStatus.CLOSED
        balances.record("fund.close", by=None, fund=fund, comment="the fund's period ended")
    db.session.flush()
    return len(ended)


def get_fund(public_id: str) -> Fund:
    fund = db.session.execute(select(Fund).where(Fund.public_id == public_id)).scalar_one_or_none()
    if fund is None:
        raise NotFound("No such fund.")
    return fund


def list_funds() -> list[Fund]:
    return list(db.session.execute(select(Fund).order_by(Fund.period_start.desc(), Fund.name))
                .scalars())


# --- allocations -----------------------------------------------------------------------------


def allocation_of(fund: Fund, partner: Partner) -> Allocation | None:
    return db.session.execute(select(Allocation).where(
        Allocation.fund_id == fund.id, Allocation.partner_id == partner.id)).scalar_one_or_none()


def allocations(fund: Fund) -> list[Allocation]:
    return list(db.session.execute(
        select(Allocation).join(Partner, Partner.id == Allocation.partner_id)
        .where(Allocation.fund_id == fund.id).order_by(Partner.name)).scalars())


def partner_allocations(partner: Partner) -> list[Allocation]:
    return list(db.session.execute(
        select(Allocation).join(Fund, Fund.id == Allocation.fund_id)
        .where(Allocation.partner_id == partner.id)
        .order_by(Fund.period_start.desc())).scalars())


def _lock_fund(fund: Fund) -> None:
    # A no-op UPDATE takes the fund's row lock (PostgreSQL) or the write lock (SQLite): two
    # people allocating at once are serialised, so the budget check below cannot race.
    db.session.execute(update(Fund).where(Fund.id == fund.id).values(updated_at=Fund.updated_at)
                       .execution_options(synchronize_session=False))


def set_allocation(fund: Fund, partner: Partner, amount: object, *, by: User | None,
                   comment: str = "", field_name: str = "amount") -> Allocation:
    """Give ``partner`` ``amount`` of ``fund`` (raise or lower). Never below what the partner
    has committed, claimed, approved or been paid; never beyond the fund's budget."""
    minor = money.parse(amount, fund.currency, field_name, allow_zero=True)
    _lock_fund(fund)
    allocation = allocation_of(fund, partner)
    before = allocation.amount if allocation else 0
    others = db.session.scalar(select(func.coalesce(func.sum(Allocation.amount), 0)).where(
        Allocation.fund_id == fund.id, Allocation.partner_id != partner.id))
    if others + minor > fund.budget:
        left = fund.budget - others
        raise ValidationFailed([FieldError(field_name, (
            f"Only {money.display(max(left, 0), fund.currency)} of the budget is left to "
            f"allocate."))])
    if allocation is None:
        allocation = Allocation(fund_id=fund.id, partner_id=partner.id, amount=minor)
        db.session.add(allocation)
        db.session.flush()
    elif not balances.set_amount(allocation.id, minor):
        db.session.refresh(allocation)
        spoken = allocation.amount - allocation.available
        raise ValidationFailed([FieldError(field_name, (
            f"{partner.name} already has {money.display(spoken, fund.currency)} committed, "
            "claimed or paid; the allocation cannot go below that."))])
    db.session.flush()
    if minor != before:
        balances.record("allocation", by=by, fund=fund, partner_id=partner.id,
                        amount=minor - before,
                        comment=comment or f"{money.display(before, fund.currency)} → "
                                           f"{money.display(minor, fund.currency)}")
    return allocation


@dataclass
class AllocationReport:
    changed: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


def _partners_by_key() -> dict[str, Partner]:
    found: dict[str, Partner] = {}
    for partner in db.session.execute(select(Partner)).scalars():
        found[partner.slug.lower()] = partner
        found[partner.public_id.lower()] = partner
        found.setdefault(partner.name.strip().lower(), partner)
    return found


def _rows(text: str | bytes) -> list[dict[str, str]]:
    if isinstance(text, bytes):
        if len(text) > MAX_CSV_BYTES:
            raise ValidationFailed([FieldError("file", "Keep the file under 2 MB.")])
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = text.decode("cp1252", errors="replace")
    reader = csv.DictReader(io.StringIO(text))
    headers = [h.strip().lower() for h in reader.fieldnames or []]
    if "partner" not in headers:
        raise ValidationFailed([FieldError("file", "The first line must name the columns, "
                                                   "with one called partner.")])
    return [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            for row in reader]


def allocate_csv(fund: Fund, data: str | bytes, *, by: User | None) -> AllocationReport:
    """Set allocations from a CSV with columns ``partner`` (slug, id or name) and
    ``amount``; each line's problem is reported by its line number, the others applied."""
    report = AllocationReport()
    partners = _partners_by_key()
    for line, row in enumerate(_rows(data), start=2):
        partner = partners.get(row.get("partner", "").lower())
        if partner is None:
            report.errors.append(f"line {line}: no partner {row.get('partner')!r}")
            continue
        _apply(fund, partner, row.get("amount", ""), by, report, f"line {line}", "CSV import")
    return report


def allocate_by_tier(fund: Fund, amounts: dict[str, object], *, by: User | None
                     ) -> AllocationReport:
    """A fixed amount for every active partner of each tier named."""
    from tcma.partners.models import PartnerStatus

    report = AllocationReport()
    for tier, amount in amounts.items():
        if amount in (None, ""):
            continue
        members = db.session.execute(select(Partner).where(
            Partner.tier == tier, Partner.status == PartnerStatus.ACTIVE)
            .order_by(Partner.name)).scalars()
        for partner in members:
            _apply(fund, partner, amount, by, report, partner.name, f"tier rule: {tier}")
    return report


def allocate_by_revenue(fund: Fund, data: str | bytes, percent: object, *,
                        by: User | None) -> AllocationReport:
    """``percent`` of each partner's reported revenue for the prior period, from a CSV with
    columns ``partner`` and ``revenue`` (in the fund's currency)."""
    try:
        share = Decimal(str(percent))
        if not (Decimal(0) < share <= 100):
            raise InvalidOperation
    except InvalidOperation:
        raise ValidationFailed([FieldError("percent", "Give a percentage between 0 and "
                                                      "100.")]) from None
    report = AllocationReport()
    partners = _partners_by_key()
    for line, row in enumerate(_rows(data), start=2):
        partner = partners.get(row.get("partner", "").lower())
        if partner is None:
            report.errors.append(f"line {line}: no partner {row.get('partner')!r}")
            continue
        try:
            revenue = money.parse(row.get("revenue", ""), fund.currency, "revenue",
                                  allow_zero=True)
        except ValidationFailed as exc:
            report.errors.append(f"line {line}: {exc.errors[0].message}")
            continue
        amount = money.plain(money.percent_of(revenue, share), fund.currency)
        _apply(fund, partner, amount, by, report, f"line {line}",
               f"{share}% of revenue {money.display(revenue, fund.currency)}")
    return report


def _apply(fund: Fund, partner: Partner, amount: object, by: User | None,
           report: AllocationReport, where: str, comment: str) -> None:
    before = allocation_of(fund, partner)
    old = before.amount if before else None
    try:
        with db.session.begin_nested():
            allocation = set_allocation(fund, partner, amount, by=by, comment=comment)
    except ValidationFailed as exc:
        report.errors.append(f"{where}: {partner.name}: {exc.errors[0].message}")
        return
    if old == allocation.amount:
        report.unchanged += 1
    else:
        report.changed += 1
