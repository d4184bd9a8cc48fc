"""What finance pays, and the CSV it hands to the accounts-payable system."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from mdf import money
from mdf.models import Fund, FundRequest, RequestStatus
from tcma.extensions import db
from tcma.partners.models import Partner

COLUMNS = ("request_id", "partner", "partner_id", "fund", "title", "amount", "currency",
           "claim_approved_on", "status", "payment_reference", "paid_on")


def payable(fund: Fund | None = None) -> list[FundRequest]:
    """Approved claims waiting for payment, oldest approval first."""
    query = (select(FundRequest).where(FundRequest.status == RequestStatus.CLAIM_APPROVED)
             .order_by(FundRequest.claim_approved_at, FundRequest.id))
    if fund is not None:
        query = query.where(FundRequest.fund_id == fund.id)
    return list(db.session.execute(query).scalars())


def paid(fund: Fund | None = None, limit: int = 500) -> list[FundRequest]:
    query = (select(FundRequest).where(FundRequest.status == RequestStatus.PAID)
             .order_by(FundRequest.paid_on.desc(), FundRequest.id.desc()).limit(limit))
    if fund is not None:
        query = query.where(FundRequest.fund_id == fund.id)
    return list(db.session.execute(query).scalars())


def csv_export(rows: list[FundRequest]) -> str:
    """One line per claim: amounts as plain decimals in the fund's currency, dates ISO, so a
    spreadsheet or an AP import reads them without guessing."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    partners = {p.id: p for p in db.session.execute(select(Partner).where(
        Partner.id.in_({r.partner_id for r in rows}))).scalars()} if rows else {}
    for r in rows:
        amount = r.claim_approved_amount or 0
        partner = partners.get(r.partner_id)
        writer.writerow([
            r.public_id, partner.name if partner else "", partner.public_id if partner else "",
            r.fund.name, r.title, money.plain(amount, r.fund.currency), r.fund.currency,
            r.claim_approved_at.date().isoformat() if r.claim_approved_at else "",
            r.status.value, r.payment_reference or "",
            r.paid_on.isoformat() if r.paid_on else ""])
    return out.getvalue()
