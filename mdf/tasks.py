"""Background work of MDF: deadlines, reminders and funds whose period ended."""

from __future__ import annotations

from mdf import funds, requests
from tcma import scheduler
from tcma.extensions import db
from tcma.models import utcnow

#: Deadlines are dates, so checking a few times an hour is plenty.
DEADLINE_SECONDS = 600


@scheduler.every(DEADLINE_SECONDS, "mdf.deadlines")
def _deadlines() -> None:
    today = utcnow().date()
    requests.expire_due(today)
    requests.remind_due(today)
    funds.close_ended(today)
    db.session.commit()
