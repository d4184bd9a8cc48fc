"""Background work of leads."""

from __future__ import annotations

from tcma.queue import actor


@actor(queue_name="default", max_retries=5, min_backoff=5_000)
def notify_new_lead(lead_id: int) -> None:
    """Email the partner's lead contacts about a new lead (once, however often delivered)."""
    from syndication.leads import notify
    from tcma.extensions import db

    notify.announce_new_lead(lead_id)
    db.session.commit()  # the emails are queued for delivery once this commits
