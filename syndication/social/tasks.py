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


#: How often due posts (and posts whose worker died) are looked for. A step that comes due
#: queues its posts at once; this catches retries, releases and lost messages.
DUE_POST_SECONDS = 5


@actor(queue_name="social", max_retries=5, min_backoff=2_000, max_backoff=60_000,
       time_limit=300_000)
def publish_post(post_id: int) -> None:
    """Publish one post on its account; a redelivered message publishes nothing twice."""
    from syndication.social import publishing

    publishing.publish(post_id)


@scheduler.every(DUE_POST_SECONDS, "social.queue_due_posts")
def _queue_due_posts() -> None:
    from syndication.social import scheduling
    from tcma.extensions import db

    scheduling.queue_rows()
    scheduling.expire_held()
    scheduling.finish_done_steps()
    db.session.commit()


@scheduler.every(60, "social.autopilot")
def _autopilot() -> None:
    """New kits in opted-in categories are scheduled; partners hear of posts before they
    go out."""
    from syndication.social import autopilot
    from tcma.extensions import db

    autopilot.run()
    autopilot.notify_due()
    db.session.commit()
