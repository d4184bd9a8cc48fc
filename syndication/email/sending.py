"""Sending a launch step's email: the delivery ledger, batches, and the sweeper.

When a step starts (``start_step``, inside the transaction that marks it started), every
member of the launch's list gets a ledger row: ``queued``, or ``suppressed`` with the reason.
After commit the rows go to the ``send`` queue in batches of ``BATCH_SIZE`` (a range of row
ids). A batch:

1. claims its queued rows (and rows of a dead batch whose lease ran out) with a random
   token, in one commit;
2. checks each person again (an unsubscribe since the step started counts);
3. sends each message over one mail-server connection and marks it ``sent`` in its own
   commit the moment the server accepts it; a refusal marks it ``failed`` with the server's
   words; a temporary error puts the unsent rows back and lets Dramatiq retry with backoff.

So a batch delivered twice, retried, or run beside a sweeper's copy sends nothing twice:
only the holder of a row's claim sends it, and sent rows are never claimed again. A worker
killed mid-batch leaves at most the message it was handing to the server in doubt; that one
is sent again with the same Message-ID, which receiving systems treat as one message.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, func, insert, or_, select, update

from campaigns import launches
from campaigns.models import Launch, LaunchStatus, LaunchStep, StepStatus
from syndication.email import render
from syndication.email.models import (
    Contact,
    ContactList,
    ContactStatus,
    Delivery,
    DeliveryStatus,
    ListMembership,
)
from syndication.email.models.deliveries import new_ref
from syndication.email.suppression import reasons_by_hash
from syndication.links.models import Click
from tcma import mail, queue
from tcma.extensions import db
from tcma.models import utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 100
INSERT_CHUNK = 1000
#: Give up on a row after this many claims (each a send tried, or a batch that died).
MAX_ATTEMPTS = 5
#: How often (in messages) a batch checks whether its launch was paused or cancelled, or a
#: recipient unsubscribed, since it claimed its rows.
STATUS_EVERY = 20
#: A started step whose queued rows saw no progress for this long lost its messages (Redis
#: restarted, say): the sweeper queues them again.
QUIET = timedelta(minutes=2)


def lease_seconds() -> float:
    return float(current_app.config["EMAIL_BATCH_LEASE_SECONDS"])


# --- starting a step -------------------------------------------------------------------------


def _audience(step: LaunchStep):
    """The contact ids a follow-up step is limited to (recipients of the step it names who
    did not click / open), or None for "all"."""
    if step.audience == "all" or not step.audience_step:
        return None
    earlier = select(LaunchStep.id).where(LaunchStep.launch_id == step.launch_id,
                                          LaunchStep.number == step.audience_step)
    received = (select(Delivery.contact_id)
                .where(Delivery.step_id.in_(earlier), Delivery.status == DeliveryStatus.SENT))
    if step.audience == "non_clickers":
        clicked = select(Click.id).where(Click.delivery_ref == Delivery.ref,
                                         Click.is_human.is_(True))
        return received.where(~clicked.exists())
    # non_openers: opens by machines (privacy proxies, scanners) do not count as opens
    return received.where(or_(Delivery.opened_at.is_(None), Delivery.machine_open.is_(True)))


def start_step(step: LaunchStep) -> None:
    """Write the step's ledger (idempotent: rows already there stay) and queue its batches
    for after commit. A step with nobody to send to finishes at once."""
    launch = step.launch
    render.step_template(launch, step)  # builds it, and its tracking links, in this commit
    contact_list = db.session.execute(
        select(ContactList).where(ContactList.public_id == launch.options.get("list_id"),
                                  ContactList.partner_id == launch.partner_id)
    ).scalar_one_or_none()
    if contact_list is not None:
        _write_ledger(step, contact_list)
    if not queue_batches(step):
        launches.finish_step(step)


def _write_ledger(step: LaunchStep, contact_list: ContactList) -> None:
    members = (select(Contact.id, Contact.status, Contact.email_hash)
               .join(ListMembership, ListMembership.contact_id == Contact.id)
               .where(ListMembership.list_id == contact_list.id)
               .where(~select(Delivery.id).where(Delivery.step_id == step.id,
                                                 Delivery.contact_id == Contact.id).exists())
               .order_by(Contact.id))
    audience = _audience(step)
    if audience is not None:
        members = members.where(Contact.id.in_(audience))
    rows = db.session.execute(members).all()
    now = utcnow()
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start:start + INSERT_CHUNK]
        listed = reasons_by_hash(r.email_hash for r in chunk)
        values = []
        for contact_id, status, email_hash in chunk:
            why = (f"contact is {status.value}" if status is not ContactStatus.SUBSCRIBED
                   else f"address suppressed: {listed[email_hash].value}"
                   if email_hash in listed else None)
            values.append({
                "ref": new_ref(), "step_id": step.id, "launch_id": step.launch_id,
                "partner_id": step.partner_id, "contact_id": contact_id, "attempts": 0,
                "status": DeliveryStatus.SUPPRESSED if why else DeliveryStatus.QUEUED,
                "error": why, "created_at": now})
        db.session.execute(insert(Delivery), values)
    db.session.flush()


def queue_batches(step: LaunchStep) -> int:
    """Queue (after commit) a batch for every ``BATCH_SIZE`` unsent rows of the step; return
    how many rows that covers. Queuing a row twice is harmless: only one claim wins."""
    from syndication.email.tasks import send_delivery_batch

    ids = db.session.execute(
        select(Delivery.id).where(Delivery.step_id == step.id,
                                  Delivery.status.in_((DeliveryStatus.QUEUED,
                                                       DeliveryStatus.SENDING)))
        .order_by(Delivery.id)).scalars().all()
    for start in range(0, len(ids), BATCH_SIZE):
        chunk = ids[start:start + BATCH_SIZE]
        queue.enqueue(send_delivery_batch, step.id, chunk[0], chunk[-1])
    return len(ids)


# --- a batch ---------------------------------------------------------------------------------


def _launch_status(launch_id: int) -> LaunchStatus:
    return db.session.scalar(select(Launch.status).where(Launch.id == launch_id))


def _release(ids: Iterable[int], token: str, reason: str) -> None:
    """Hand claimed, unsent rows back: queued again, or failed once out of attempts."""
    ids = list(ids)
    if not ids:
        return
    mine = and_(Delivery.id.in_(ids), Delivery.claim == token,
                Delivery.status == DeliveryStatus.SENDING)
    db.session.execute(
        update(Delivery).where(mine, Delivery.attempts >= MAX_ATTEMPTS)
        .values(status=DeliveryStatus.FAILED, claim=None, lease_until=None,
                error=f"gave up after {MAX_ATTEMPTS} attempts: {reason}"[:2000])
        .execution_options(synchronize_session=False))
    db.session.execute(
        update(Delivery).where(mine)
        .values(status=DeliveryStatus.QUEUED, claim=None, lease_until=None, error=reason[:2000])
        .execution_options(synchronize_session=False))


def _mark(delivery_id: int, token: str, status: DeliveryStatus, error: str | None = None,
          now: datetime | None = None) -> None:
    values: dict[str, Any] = {"status": status, "claim": None, "lease_until": None,
                              "error": error}
    if status is DeliveryStatus.SENT:
        values["sent_at"] = now or utcnow()
    db.session.execute(
        update(Delivery).where(Delivery.id == delivery_id, Delivery.claim == token)
        .values(**values).execution_options(synchronize_session=False))
    db.session.commit()


def send_batch(step_id: int, first_id: int, last_id: int) -> int:
    """Send the step's unsent rows with ids in [first_id, last_id]; return how many were
    sent. Commits as it goes (it is the boundary: the ``send_delivery_batch`` actor)."""
    step = db.session.get(LaunchStep, step_id)
    if step is None:
        return 0
    launch = step.launch
    if launch.status is LaunchStatus.CANCELLED or step.status is StepStatus.CANCELLED:
        cancel(launch)
        db.session.commit()
        return 0
    if launch.status is not LaunchStatus.RUNNING or step.status is not StepStatus.STARTED:
        return 0  # paused (resume queues it again), or not started yet
    now = utcnow()
    token = secrets.token_hex(8)
    claimable = or_(Delivery.status == DeliveryStatus.QUEUED,
                    and_(Delivery.status == DeliveryStatus.SENDING, Delivery.lease_until < now))
    db.session.execute(
        update(Delivery).where(Delivery.step_id == step_id,
                               Delivery.id.between(first_id, last_id), claimable)
        .values(status=DeliveryStatus.SENDING, claim=token, attempts=Delivery.attempts + 1,
                lease_until=now + timedelta(seconds=lease_seconds()))
        .execution_options(synchronize_session=False))
    db.session.commit()
    rows = db.session.execute(
        select(Delivery.id, Delivery.ref, Delivery.contact_id, Contact.email, Contact.email_hash,
               Contact.status,
               Contact.first_name, Contact.last_name, Contact.company, Contact.job_title,
               Contact.country)
        .outerjoin(Contact, Contact.id == Delivery.contact_id)
        .where(Delivery.claim == token).order_by(Delivery.id)).all()
    if not rows:
        finish_if_done(step)
        return 0
    template = render.step_template(launch, step)
    db.session.commit()  # tracking links made by a process building it for the first time
    listed = reasons_by_hash(r.email_hash for r in rows if r.email_hash)
    from_address = render.sender_address()
    sign = _signer()
    sent = 0
    pending = [r.id for r in rows]
    statuses = {r.contact_id: r.status for r in rows}
    try:
        with mail.transport().open_session() as session:
            for n, row in enumerate(rows):
                if n and n % STATUS_EVERY == 0:
                    # Paused or cancelled meanwhile? Anyone unsubscribed since the claim?
                    if _launch_status(launch.id) is not LaunchStatus.RUNNING:
                        break
                    statuses.update(_statuses(r.contact_id for r in rows[n:]))
                status = statuses.get(row.contact_id)
                if row.email is None:
                    _mark(row.id, token, DeliveryStatus.CANCELLED, "contact deleted")
                elif status is not ContactStatus.SUBSCRIBED:
                    _mark(row.id, token, DeliveryStatus.SUPPRESSED,
                          f"contact is {status.value if status else 'deleted'}")
                elif row.email_hash in listed:
                    _mark(row.id, token, DeliveryStatus.SUPPRESSED,
                          f"address suppressed: {listed[row.email_hash].value}")
                else:
                    recipient = render.Recipient(row.email, row.first_name, row.last_name,
                                                 row.company, row.job_title, row.country)
                    try:
                        address = render.ascii_address(row.email)
                        raw = bytes(render.build(template, recipient, row.ref,
                                                 from_address=from_address))
                    except (ValueError, TypeError, LookupError) as exc:
                        # This person's message cannot be made; the others still go.
                        log.warning("delivery %s cannot be built: %s", row.id, exc)
                        _mark(row.id, token, DeliveryStatus.FAILED,
                              f"message not built: {exc}"[:2000])
                        pending.pop(0)
                        continue
                    if sign is not None:
                        raw = sign(raw)
                    mail.throttle()
                    try:
                        session.send_raw(raw, from_address, [address])
                    except mail.PermanentFailure as exc:
                        _mark(row.id, token, DeliveryStatus.FAILED, str(exc)[:2000])
                    else:
                        _mark(row.id, token, DeliveryStatus.SENT)
                        sent += 1
                pending.pop(0)
    except Exception as exc:  # temporary failures and bugs alike: unsent rows go back
        db.session.rollback()
        _release(pending, token, f"{type(exc).__name__}: {exc}")
        db.session.commit()
        raise
    _release(pending, token, "launch paused")
    db.session.commit()
    finish_if_done(step)
    return sent


def _statuses(contact_ids: Iterable[int | None]) -> dict[int, ContactStatus]:
    ids = [i for i in contact_ids if i is not None]
    if not ids:
        return {}
    db.session.rollback()  # a fresh snapshot: see unsubscribes committed since the claim
    return dict(db.session.execute(
        select(Contact.id, Contact.status).where(Contact.id.in_(ids))).all())


def _signer():
    try:
        from tcma.dkim import configured_signer
    except ImportError:  # pragma: no cover - tcma.dkim ships with the app
        return None
    return configured_signer(current_app)


def finish_if_done(step: LaunchStep) -> None:
    """Finish the step once none of its rows is waiting or in a batch."""
    open_rows = db.session.scalar(
        select(func.count()).select_from(Delivery)
        .where(Delivery.step_id == step.id,
               Delivery.status.in_((DeliveryStatus.QUEUED, DeliveryStatus.SENDING))))
    if not open_rows:
        db.session.refresh(step)
        if step.status is StepStatus.STARTED and launches.finish_step(step):
            db.session.commit()


# --- control, progress and the sweeper -------------------------------------------------------


def cancel(launch: Launch) -> int:
    """Unsent rows of the launch will never go out; returns how many were cancelled."""
    return db.session.execute(
        update(Delivery).where(Delivery.launch_id == launch.id,
                               Delivery.status == DeliveryStatus.QUEUED)
        .values(status=DeliveryStatus.CANCELLED, error="launch cancelled")
        .execution_options(synchronize_session=False)).rowcount


def resume(launch: Launch) -> None:
    for step in launch.steps:
        if step.status is StepStatus.STARTED and step.kind == "email":
            if not queue_batches(step):
                launches.finish_step(step)


def counts(launches_: list[Launch]) -> dict[int, dict[str, int]]:
    """{step id: {status: rows}} for every step of these launches and every status (zeros
    included), in one grouped query."""
    out = {s.id: {status.value: 0 for status in DeliveryStatus}
           for launch in launches_ for s in launch.steps}
    if not out:
        return out
    rows = db.session.execute(
        select(Delivery.step_id, Delivery.status, func.count())
        .where(Delivery.launch_id.in_([launch.id for launch in launches_]))
        .group_by(Delivery.step_id, Delivery.status))
    for step_id, status, n in rows:
        out.setdefault(step_id, {})[status.value] = n
    # Opens are approximate: image proxies, scanners and privacy protection open by machine
    # (flagged, left out here), and some mail apps never load images at all.
    for step_id in out:
        out[step_id]["opened"] = 0
    opened = db.session.execute(
        select(Delivery.step_id, func.count())
        .where(Delivery.launch_id.in_([launch.id for launch in launches_]),
               Delivery.opened_at.is_not(None), Delivery.machine_open.is_not(True))
        .group_by(Delivery.step_id))
    for step_id, n in opened:
        out.setdefault(step_id, {})["opened"] = n
    return out


def sweep(now: datetime | None = None) -> int:
    """Queue again what a dead worker or a lost message left: rows whose lease ran out, and
    started steps that stopped moving. Finish steps that are in fact done. Returns the number
    of steps touched."""
    now = now or utcnow()
    stale = db.session.execute(
        select(Delivery.step_id).where(Delivery.status == DeliveryStatus.SENDING,
                                       Delivery.lease_until < now).distinct()).scalars().all()
    last_move = (select(Delivery.step_id, func.max(Delivery.sent_at).label("moved"))
                 .group_by(Delivery.step_id).subquery())
    quiet = db.session.execute(
        select(LaunchStep.id)
        .join(Launch, Launch.id == LaunchStep.launch_id)
        .outerjoin(last_move, last_move.c.step_id == LaunchStep.id)
        .where(LaunchStep.status == StepStatus.STARTED, LaunchStep.kind == "email",
               Launch.status == LaunchStatus.RUNNING,
               LaunchStep.started_at < now - QUIET,
               or_(last_move.c.moved.is_(None), last_move.c.moved < now - QUIET))
    ).scalars().all()
    touched = 0
    for step_id in dict.fromkeys([*stale, *quiet]):
        step = db.session.get(LaunchStep, step_id)
        if step is None or step.status is not StepStatus.STARTED:
            continue
        if step.launch.status is LaunchStatus.RUNNING and queue_batches(step):
            touched += 1
        elif launches.finish_step(step):
            touched += 1
    return touched


def delivery_times(refs: set[str]) -> dict[str, datetime]:
    """When the deliveries with these references were sent (the click classifier's clock for
    scanners that follow every link seconds after delivery)."""
    rows = db.session.execute(
        select(Delivery.ref, Delivery.sent_at).where(Delivery.ref.in_(list(refs)),
                                                    Delivery.sent_at.is_not(None)))
    return {ref: sent_at for ref, sent_at in rows}
