"""Faults for real: a worker process killed with SIGKILL in the middle of a send, and queued
messages lost with Redis. Afterwards every contact has the email, nobody has two different
copies, and the ledger says sent for all."""

from __future__ import annotations

import collections
import signal
import time
from datetime import timedelta

from sqlalchemy import func, select

from campaigns import launches
from syndication.email import sending
from syndication.email.models import Delivery, DeliveryStatus
from tcma.extensions import db
from tcma.models import utcnow
from tcma.redis import redis_for
from tests import workers
from tests.core.test_mail import smtp_server
from tests.syndication.email.world import add_contacts, published_kit, ready_partner
from tests.workers import kill

THREADS = 4


def start_worker(app, port: int):
    """A worker sending through a loopback SMTP server, with 2-second batch leases."""
    return workers.start_worker(app, queues=("send", "default"), threads=THREADS, env={
        "MAIL_URL": f"smtp://127.0.0.1:{port}?tls=none", "TCMA_EMAIL_BATCH_LEASE_SECONDS": "2"})


def open_rows() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.status.in_((DeliveryStatus.QUEUED, DeliveryStatus.SENDING))))


def test_a_worker_killed_mid_batch_loses_nobody_and_sends_nobody_two_different_emails(
        app, ctx):
    partner = ready_partner()
    addresses = add_contacts(partner, 600)
    kit = published_kit()
    with smtp_server() as (port, mailbox):
        launch = launches.launch_kit(partner, kit)
        db.session.commit()
        worker = start_worker(app, port)
        try:
            deadline = time.monotonic() + 60
            while len(mailbox.received) < 150 and time.monotonic() < deadline:
                time.sleep(0.005)
            assert len(mailbox.received) >= 150, "the worker never got going"
        finally:
            kill(worker)  # SIGKILL to the whole process group: no cleanup runs
        received_before = len(mailbox.received)
        assert received_before < 600, "finished before the kill: the test proved nothing"
        assert open_rows() > 0

        # Time passes: the dead batches' leases run out and the sweeper (the scheduler's job,
        # run here with the clock moved on) queues what is left again.
        assert sending.sweep(now=utcnow() + timedelta(minutes=10)) == 1
        db.session.commit()
        worker = start_worker(app, port)
        try:
            deadline = time.monotonic() + 120
            while open_rows() and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            kill(worker, signal.SIGTERM)
        time.sleep(0.2)

    assert open_rows() == 0
    statuses = dict(db.session.execute(select(Delivery.status, func.count())
                                       .group_by(Delivery.status)).all())
    assert statuses == {DeliveryStatus.SENT: 600}
    by_address = collections.defaultdict(set)
    copies = collections.Counter()
    for got in mailbox.received:
        by_address[got.rcpt_tos[0]].add(got.message["Message-ID"])
        copies[got.rcpt_tos[0]] += 1
    assert sorted(by_address) == sorted(addresses)  # nobody lost
    assert all(len(ids) == 1 for ids in by_address.values())  # one message per person
    # At most the messages in the servers' hands at the kill went twice, and as the same
    # message (same Message-ID), which mailbox providers show once.
    assert sum(copies.values()) - 600 <= THREADS
    db.session.expire_all()
    assert launches.progress(launch).steps[0].step.status.value == "done"


def test_messages_lost_with_redis_are_queued_again_by_the_sweeper(app, ctx, jobs, outbox):
    partner = ready_partner()
    add_contacts(partner, 250)
    launches.launch_kit(partner, published_kit())
    db.session.commit()
    jobs.run()  # starts the step: the ledger is written and three batches queued ...
    redis = redis_for(app)
    namespace = app.config["REDIS_NAMESPACE"]
    assert outbox.messages() or open_rows()
    sent_before = len(outbox.messages())

    # ... a launch whose batches vanish (Redis restarted without persistence):
    launch2 = launches.launch_kit(partner, published_kit("Second kit"))
    db.session.commit()
    from campaigns.tasks import start_launch_step  # noqa: F401 - the message was queued

    for key in redis.scan_iter(match=f"{namespace}:*"):
        redis.delete(key)
    jobs.run()
    assert len(outbox.messages()) == sent_before  # nothing ran: the messages are gone
    assert launches.queue_due_steps() == 1  # the scheduler finds the step still waiting
    db.session.commit()
    jobs.run()  # the step starts; now its batches are lost too
    db.session.expire_all()
    step = launch2.steps[0]
    assert step.status.value in ("started", "done")
    for key in redis.scan_iter(match=f"{namespace}:*"):
        redis.delete(key)
    # Right after, nothing looks stuck; two quiet minutes later the sweeper requeues.
    assert sending.sweep() == 0 or open_rows() == 0
    touched = sending.sweep(now=utcnow() + timedelta(minutes=3))
    db.session.commit()
    jobs.run()
    assert open_rows() == 0
    assert touched in (0, 1)
    to = collections.Counter(m.to for m in outbox.messages())
    assert len(to) == 250 and set(to.values()) == {2}  # both kits, each once per person
