"""Background work of the email domain: contact imports and campaign sending."""

from __future__ import annotations

from typing import Any

from tcma import scheduler
from tcma.queue import actor

#: Kept well under ``importer.STALE_RUN``: a live import never looks dead. One message
#: imports at most ``import_run.BATCHES_PER_MESSAGE`` batches (about a minute), then hands over.
IMPORT_TIME_LIMIT_MS = 4 * 60_000


@actor(queue_name="default", max_retries=5, min_backoff=2_000, max_backoff=60_000,
       time_limit=IMPORT_TIME_LIMIT_MS, on_retry_exhausted="fail_contact_import")
def import_contacts(import_id: int) -> None:
    """Import (or continue importing) one uploaded contact file; a redelivered or duplicate
    message imports nothing twice."""
    from syndication.email import import_run

    import_run.run(import_id)


@actor(queue_name="default", max_retries=3)
def fail_contact_import(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """``import_contacts`` kept failing: tell the partner, keep what was imported."""
    from syndication.email import import_run

    import_run.give_up(int(message["args"][0]))


@scheduler.every(60, "email.sweep_contact_imports")
def _sweep_contact_imports() -> None:
    # Imports whose message or worker was lost, and uploads never mapped.
    from syndication.email import importer
    from tcma.extensions import db

    if importer.sweep():
        db.session.commit()


@actor(queue_name="send", max_retries=20, min_backoff=5_000, max_backoff=600_000,
       time_limit=30 * 60_000)
def send_delivery_batch(step_id: int, first_id: int, last_id: int) -> None:
    """Send one batch of a launch step's ledger rows; a duplicate or retried message sends
    nothing twice (see ``sending``)."""
    from syndication.email import sending

    sending.send_batch(step_id, first_id, last_id)


@scheduler.every(30, "email.sweep_deliveries")
def _sweep_deliveries() -> None:
    # Batches whose worker died (lease passed) or whose message was lost.
    from syndication.email import sending
    from tcma.extensions import db

    if sending.sweep():
        db.session.commit()
