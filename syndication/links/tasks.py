"""Background work of tracking links."""

from __future__ import annotations

from tcma import scheduler
from tcma.queue import actor


@actor(queue_name="default", max_retries=20, min_backoff=1_000, max_backoff=60_000,
       time_limit=5 * 60_000)
def drain_clicks() -> None:
    """Store the buffered clicks. While the database is down this fails and is retried with
    backoff; the clicks wait in Redis meanwhile."""
    from flask import current_app

    from syndication.links import clicks

    clicks.drain()
    if clicks.pending_count():
        # Left for later: more than one call drains, or entries held by a drainer that died
        # and are not yet old enough to take over.
        drain_clicks.actor.send_with_options(delay=max(
            current_app.config["CLICK_CLAIM_IDLE_MS"] // 2, 1000))



@scheduler.every(30, "links.drain_leftovers")
def _drain_leftovers() -> None:
    # Clicks a dead drainer held, or buffered while no worker ran, with no new click coming
    # to ask for a drain.
    from syndication.links import clicks

    if clicks.pending_count():
        drain_clicks.send_now()
