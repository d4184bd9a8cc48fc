"""Core background work."""

from __future__ import annotations

from tcma import mail
from tcma.queue import actor


@actor(queue_name="default", max_retries=10, min_backoff=5_000, max_backoff=600_000,
       throws=(mail.PermanentFailure,))
def deliver_email(raw_message: str) -> None:
    """Send one built message; Dramatiq retries with backoff while the mail server is down,
    and not at all once the server refused it for good."""
    mail.deliver(raw_message)
