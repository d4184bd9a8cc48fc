"""Background work of social accounts: keeping their tokens alive."""

from __future__ import annotations

from datetime import datetime

from tcma import scheduler
from tcma.queue import actor


@actor(queue_name="social", max_retries=3, time_limit=60_000)
def refresh_social_account(account_id: int, seen_expires_at: str) -> None:
    """Refresh one account's tokens if they still expire at ``seen_expires_at`` (ISO 8601):
    a redelivered message finds them renewed and calls no network."""
    from syndication.social import service
    from tcma.extensions import db

    service.refresh_account(account_id, datetime.fromisoformat(seen_expires_at))
    db.session.commit()


@scheduler.every(300, "social.refresh_due")
def _refresh_due() -> None:
    """Tokens near expiry are refreshed; partners hear of expiring and broken accounts."""
    from syndication.social import service
    from tcma.extensions import db

    service.refresh_due()
    db.session.commit()
