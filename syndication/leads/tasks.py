"""Background work of leads."""

from __future__ import annotations

from datetime import datetime

from tcma import scheduler
from tcma.queue import actor


@actor(queue_name="default", max_retries=5, min_backoff=5_000)
def notify_new_lead(lead_id: int) -> None:
    """Email the partner's lead contacts about a new lead (once, however often delivered)."""
    from syndication.leads import notify
    from tcma.extensions import db

    notify.announce_new_lead(lead_id)
    db.session.commit()  # the emails are queued for delivery once this commits


@actor(queue_name="default", max_retries=10, min_backoff=2_000)
def route_new_leads(lead_ids: list[int]) -> None:
    """Offer new vendor leads (a generic page's, an import's) by the routing rules. Each lead
    commits on its own; a redelivered message skips the ones already routed."""
    from syndication.leads import routing
    from tcma.extensions import db

    for lead_id in lead_ids:
        routing.route_new(lead_id)
        db.session.commit()


@actor(queue_name="default", max_retries=10, min_backoff=2_000)
def reoffer_lead(lead_id: int) -> None:
    """Offer a declined lead to its rule's next partner (a no-op once that happened)."""
    from syndication.leads import routing
    from tcma.extensions import db

    routing.reoffer(lead_id)
    db.session.commit()


@scheduler.every(60, "leads.pull_back")
def pull_back_expired_offers(now: datetime | None = None) -> list[int]:
    """Pull back offers nobody answered in time and offer those leads to the next partner;
    also re-offer pulled-back leads whose message was lost. Returns the leads pulled back.

    One commit per lead, so a failure loses nothing done before it; two processes never pull
    back the same offer (the service's UPDATE names the offer's partner and deadline).
    """
    from syndication.leads import routing
    from tcma.extensions import db
    from tcma.models import utcnow

    now = now or utcnow()
    pulled = []
    for lead_id, partner_id, deadline in routing.expired_offers(now):
        if routing.pull_back(lead_id, partner_id, deadline, now=now):
            pulled.append(lead_id)
        db.session.commit()
    for lead_id in routing.waiting_for_reoffer():
        routing.reoffer(lead_id, now=now)
        db.session.commit()
    return pulled
