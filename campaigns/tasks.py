"""Background work of campaigns: starting launch steps when they come due."""

from __future__ import annotations

from tcma import scheduler
from tcma.queue import actor

#: How often waiting steps are looked for. A step launched "now" does not wait for this: the
#: launch queues it as it commits.
DUE_STEP_SECONDS = 5


@actor(queue_name="send", max_retries=10, min_backoff=1_000, max_backoff=60_000)
def start_launch_step(step_id: int) -> None:
    """Start one due step (its channel queues the sending); a duplicate message starts
    nothing twice."""
    from campaigns import launches
    from tcma.extensions import db

    if launches.start_step(step_id):
        db.session.commit()


@scheduler.every(DUE_STEP_SECONDS, "campaigns.queue_due_steps")
def _queue_due_steps() -> None:
    from campaigns import launches
    from tcma.extensions import db

    if launches.queue_due_steps():
        db.session.commit()
