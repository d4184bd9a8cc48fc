"""Demo MDF for ``tcma demo``: a half-year fund, allocations by tier, and Northwind's
requests at different steps (one submitted, one approved, one paid).

Idempotent: a fund with the demo name is left as it is.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from mdf import funds, requests
from mdf.models import Fund
from tcma.auth import service as accounts
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner

NAME = "Partner MDF, next two quarters"
TIERS = {"platinum": "20000", "gold": "10000", "silver": "5000"}


def load_demo() -> list[str]:
    if db.session.execute(select(Fund.id).where(Fund.name == NAME)).first():
        return [f"MDF fund “{NAME}” (already there)"]
    manager = accounts.find_user_by_email("channel@vendor.example")
    finance = accounts.find_user_by_email("finance@vendor.example")
    today = utcnow().date()
    fund = funds.create_fund({
        "name": NAME, "currency": "EUR", "period_start": today.replace(day=1).isoformat(),
        "period_end": (today + timedelta(days=180)).isoformat(), "budget": "250000.00",
        "claim_days": 60, "vendor_share_percent": "50", "approval_threshold": "8000"},
        by=manager)
    report = funds.allocate_by_tier(fund, TIERS, by=manager)
    northwind = db.session.execute(select(Partner).where(Partner.name == "Northwind IT")
                                   ).scalar_one_or_none()
    lines = [f"MDF fund “{NAME}” (250,000 EUR, {report.changed} partners allocated)"]
    if northwind is None or manager is None or finance is None:
        return lines
    author = accounts.find_user_by_email("admin@northwind.example")
    soon = (today + timedelta(days=14)).isoformat()

    def request(title: str, kind: str, cost: str, amount: str):
        made = requests.create_request(northwind, fund, {
            "activity_type": kind, "title": title, "starts_on": soon, "ends_on": soon,
            "estimated_cost": cost, "requested": amount,
            "description": "Demo request.", "expected_leads": 40}, by=author)
        requests.submit(made, by=author)
        return made

    request("Backup roadshow, Manchester", "event", "9000.00", "4500.00")
    webinar = request("Ransomware webinar series", "webinar", "6000.00", "3000.00")
    requests.approve(webinar, by=manager, amount="2500.00",
                     comment="Platform costs are capped at 2,500 per series.")
    db.session.flush()
    return [*lines, "MDF requests for Northwind IT: one submitted, one approved"]
