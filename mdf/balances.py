"""Moving money between an allocation's balances, and the ledger that records each move.

Each move is one UPDATE whose WHERE clause carries the condition (enough available, enough
in the balance it leaves): the database decides, so two web processes approving at the same
moment cannot both spend the last 1,000. On PostgreSQL the second UPDATE waits for the
first's commit and re-checks the condition against the committed row; SQLite runs writers
one at a time. The CHECK constraints on ``mdf_allocations`` are the last line behind this.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update

from mdf import money
from mdf.models import Allocation, Fund, FundRequest, LedgerEntry
from tcma.auth.models import User
from tcma.extensions import db

_BALANCES = ("committed", "claimed", "approved", "paid", "expired")


def _available():
    return (Allocation.amount - Allocation.committed - Allocation.claimed
            - Allocation.approved - Allocation.paid)


def move(allocation_id: int, *, need_available: int = 0, **deltas: int) -> bool:
    """Add ``deltas`` (committed=+x, claimed=-y, ...) to one allocation in one UPDATE, only
    if at least ``need_available`` is available and no balance would go negative. True if
    the row changed; False means the condition failed and nothing changed."""
    unknown = set(deltas) - set(_BALANCES)
    if unknown:
        raise ValueError(f"no balance named {sorted(unknown)}")
    statement = update(Allocation).where(Allocation.id == allocation_id)
    if need_available > 0:
        statement = statement.where(_available() >= need_available)
    for name, delta in deltas.items():
        column = getattr(Allocation, name)
        if delta < 0:
            statement = statement.where(column >= -delta)
    values = {name: getattr(Allocation, name) + delta for name, delta in deltas.items()}
    changed = db.session.execute(
        statement.values(**values).execution_options(synchronize_session=False)).rowcount
    if changed:
        db.session.expire(db.session.get(Allocation, allocation_id))
    return changed == 1


def set_amount(allocation_id: int, amount: int) -> bool:
    """Change what is allocated, never below what is already spoken for."""
    spoken_for = (Allocation.committed + Allocation.claimed + Allocation.approved
                  + Allocation.paid)
    changed = db.session.execute(
        update(Allocation).where(Allocation.id == allocation_id, spoken_for <= amount)
        .values(amount=amount).execution_options(synchronize_session=False)).rowcount
    if changed:
        db.session.expire(db.session.get(Allocation, allocation_id))
    return changed == 1


@dataclass(frozen=True)
class Balances:
    """Where a partner's (or a whole fund's) money stands, in minor units."""

    currency: str
    allocated: int
    committed: int
    claimed: int
    approved: int
    paid: int
    expired: int

    @property
    def available(self) -> int:
        return self.allocated - self.committed - self.claimed - self.approved - self.paid

    def as_dict(self) -> dict[str, str]:
        """Amounts as decimal strings (JSON numbers would turn them into floats)."""
        names = ("allocated", "committed", "claimed", "approved", "paid", "expired",
                 "available")
        return {"currency": self.currency,
                **{n: money.plain(getattr(self, n), self.currency) for n in names}}


def of(allocation: Allocation) -> Balances:
    return Balances(allocation.fund.currency, allocation.amount, allocation.committed,
                    allocation.claimed, allocation.approved, allocation.paid,
                    allocation.expired)


def fund_totals(fund: Fund) -> Balances:
    """The fund's balances: its allocations summed in one query, exactly."""
    row = db.session.execute(
        select(*(func.coalesce(func.sum(getattr(Allocation, n)), 0)
                 for n in ("amount", *_BALANCES)))
        .where(Allocation.fund_id == fund.id)).one()
    return Balances(fund.currency, *(int(v) for v in row))


def record(action: str, *, by: User | None, fund: Fund | None = None,
           request: FundRequest | None = None, partner_id: int | None = None,
           from_status: str | None = None, to_status: str | None = None,
           amount: int | None = None, comment: str = "") -> LedgerEntry:
    """Append one ledger entry (in the caller's transaction)."""
    fund = fund or (request.fund if request is not None else None)
    entry = LedgerEntry(
        fund_id=fund.id if fund else None,
        partner_id=partner_id if partner_id is not None else (
            request.partner_id if request is not None else None),
        request_id=request.id if request is not None else None,
        actor_id=by.id if by else None, actor_name=(by.name or by.email) if by else "tcma",
        action=action, from_status=from_status, to_status=to_status, amount=amount,
        currency=fund.currency if fund else None, comment=comment or "")
    db.session.add(entry)
    return entry


def timeline(request: FundRequest) -> list[LedgerEntry]:
    return list(db.session.execute(
        select(LedgerEntry).where(LedgerEntry.request_id == request.id)
        .order_by(LedgerEntry.id)).scalars())
