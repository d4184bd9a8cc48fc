"""Fifty reviewers approve 1,000 each at the same moment against a 10,000 allocation:
exactly ten approvals go through, the rest are told how much is left, and the books balance
(on PostgreSQL, each approval in its own connection, as in separate web processes)."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from mdf import funds, requests
from mdf.models import Allocation, FundRequest, RequestStatus
from tcma.auth.models import Role, User
from tcma.errors import Conflict
from tcma.extensions import db
from tcma.models import utcnow
from tests.factories import make_partner, make_user


def test_fifty_concurrent_approvals_of_1000_against_10000_approve_exactly_ten(app, ctx):
    today = utcnow().date()
    manager = make_user(Role.CHANNEL_MANAGER)
    partner = make_partner("Northwind")
    author = make_user(Role.PARTNER_USER, partner=partner)
    fund = funds.create_fund({"name": "Q1", "currency": "EUR",
                              "period_start": today.isoformat(),
                              "period_end": (today + timedelta(days=90)).isoformat(),
                              "budget": "100000"}, by=manager)
    funds.set_allocation(fund, partner, "10000", by=manager)
    ids = []
    for n in range(50):
        request = requests.create_request(partner, fund, {
            "activity_type": "event", "title": f"Roadshow stop {n}",
            "starts_on": (today + timedelta(days=5)).isoformat(),
            "ends_on": (today + timedelta(days=5)).isoformat(),
            "estimated_cost": "1000", "requested": "1000"}, by=author)
        requests.submit(request, by=author)
        ids.append(request.id)
    db.session.commit()
    manager_id = manager.id

    start = threading.Barrier(50)
    outcomes: list[str] = []
    lock = threading.Lock()

    def approve(request_id: int) -> None:
        start.wait(timeout=30)
        with app.app_context():
            # The pool lends 15 connections at once; the rest queue for one, as requests
            # in several web processes would.
            reviewer = db.session.get(User, manager_id)
            request = db.session.get(FundRequest, request_id)
            try:
                requests.approve(request, by=reviewer)
                db.session.commit()
                outcome = "approved"
            except Conflict as exc:
                db.session.rollback()
                outcome = exc.message
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=approve, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(outcomes) == 50
    assert outcomes.count("approved") == 10
    refusals = {o for o in outcomes if o != "approved"}
    assert refusals == {"Only 0.00 EUR is available in the partner's allocation: approve "
                        "less, or raise the allocation first."}
    db.session.expire_all()
    allocation = db.session.execute(select(Allocation)).scalar_one()
    assert (allocation.committed, allocation.available) == (1_000_000, 0)
    statuses = db.session.execute(select(FundRequest.status)).scalars().all()
    assert statuses.count(RequestStatus.APPROVED) == 10
    assert statuses.count(RequestStatus.SUBMITTED) == 40
