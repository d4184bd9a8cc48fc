"""Background work of webhooks."""

from __future__ import annotations

from tcma import scheduler
from tcma.queue import actor


# Network trouble and error answers are not exceptions: they are recorded as attempts and
# retried on the delivery's own schedule. Dramatiq's retries only cover the unexpected (the
# database briefly down); a claim left behind by one of those is reclaimed once stale.
@actor(queue_name="default", max_retries=5, min_backoff=30_000, max_backoff=600_000,
       time_limit=60_000)
def deliver_webhook(delivery_id: int, attempt: int) -> None:
    """Make one attempt of a webhook delivery; a duplicate or late message sends nothing."""
    from tcma.webhooks import attempts

    attempts.deliver(delivery_id, attempt)


@scheduler.every(60, "webhooks.resend_due")
def _resend_due() -> None:
    """Deliveries whose message was lost, or whose worker died mid-POST, go out again."""
    from tcma.extensions import db
    from tcma.webhooks import deliveries

    deliveries.resend_due()
    db.session.commit()
