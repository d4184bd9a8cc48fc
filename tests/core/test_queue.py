"""The queue: messages leave only when the transaction commits, and actors run in the app.

Runs on the app's real broker: Redis (embedded by default, the server named by
``TCMA_TEST_REDIS_URL`` otherwise) with a real Dramatiq worker in this process.
"""

from __future__ import annotations

import threading

import pytest
from dramatiq.brokers.redis import RedisBroker
from flask import current_app, has_app_context

from tcma import queue
from tcma.extensions import db
from tcma.partners.models import Partner
from tests.factories import make_partner

#: What the test actors saw, in the order they ran (worker threads append, tests read).
seen: list[tuple] = []
_lock = threading.Lock()


@queue.actor(queue_name="default", max_retries=0)
def tq_record(tag: str) -> None:
    """Remember that a message ran."""
    with _lock:
        seen.append(("ran", tag))


@queue.actor(queue_name="render", max_retries=0)
def tq_read_partner_name(partner_id: int) -> None:
    """Read a row the test committed, in whatever context the worker gives the actor."""
    partner = db.session.get(Partner, partner_id)
    with _lock:
        seen.append((has_app_context() and current_app.name, partner.name if partner else None))


@pytest.fixture(autouse=True)
def _forget_seen():
    seen.clear()
    yield
    seen.clear()


def ran() -> list[str]:
    return [tag for kind, tag in seen if kind == "ran"]


def test_messages_leave_only_after_commit(ctx, jobs):
    partner = make_partner()
    partner.name = "Renamed in this transaction"
    db.session.flush()
    queue.enqueue(tq_record, "after-commit")
    jobs.run()
    assert ran() == []  # not even on the broker yet

    db.session.commit()
    jobs.run()
    assert ran() == ["after-commit"]


def test_rollback_drops_messages(ctx, jobs):
    queue.enqueue(tq_record, "rolled-back")
    db.session.rollback()
    queue.enqueue(tq_record, "next-transaction")
    db.session.commit()
    jobs.run()
    assert ran() == ["next-transaction"]


def test_savepoint_rollback_keeps_the_outer_transactions_messages(ctx, jobs):
    queue.enqueue(tq_record, "outer-before")
    try:
        with db.session.begin_nested():
            queue.enqueue(tq_record, "inside-failed-savepoint")
            raise RuntimeError("the nested step failed")
    except RuntimeError:
        pass
    with db.session.begin_nested():
        queue.enqueue(tq_record, "inside-released-savepoint")
    queue.enqueue(tq_record, "outer-after")
    db.session.commit()
    jobs.run()
    assert sorted(ran()) == ["inside-released-savepoint", "outer-after", "outer-before"]


def test_releasing_a_savepoint_does_not_send_early(ctx, jobs):
    """Releasing a savepoint is not a commit: the worker must not see uncommitted rows."""
    queue.enqueue(tq_record, "outer")
    with db.session.begin_nested():
        queue.enqueue(tq_record, "inner")
    jobs.run()
    assert ran() == []
    db.session.commit()
    jobs.run()
    assert sorted(ran()) == ["inner", "outer"]


def test_outer_rollback_drops_messages_from_released_savepoints(ctx, jobs):
    with db.session.begin_nested():
        queue.enqueue(tq_record, "released-then-rolled-back")
    db.session.rollback()
    db.session.commit()
    jobs.run()
    assert ran() == []


def test_actor_runs_in_the_app_with_a_fresh_session_per_message(app, ctx, jobs):
    partner = make_partner("Before")
    queue.enqueue(tq_read_partner_name, partner.id)
    db.session.commit()
    jobs.run()

    # Renamed after the first message loaded the row: a session kept between messages
    # would still hand out the stale "Before" from its identity map.
    partner.name = "After"
    queue.enqueue(tq_read_partner_name, partner.id)
    db.session.commit()
    jobs.run()
    assert seen == [(app.name, "Before"), (app.name, "After")]


def test_unknown_queue_is_refused():
    def tq_wrong_queue() -> None: ...

    with pytest.raises(ValueError, match="unknown queue 'email'; use one of"):
        queue.actor(queue_name="email")(tq_wrong_queue)
    assert "tq_wrong_queue" not in queue.actors()


def test_two_actors_with_one_name_are_refused():
    def tq_record(tag: str) -> None: ...  # same name as the module's actor

    original = queue.actors()["tq_record"]
    with pytest.raises(ValueError, match="two actors named tq_record"):
        queue.actor(tq_record)
    assert queue.actors()["tq_record"] is original


def test_every_declared_actor_is_bound_to_the_broker(app):
    broker = queue.get_broker()
    assert isinstance(broker, RedisBroker)  # delivery semantics here are Redis's, not a stub's
    declared = queue.actors()
    assert {"deliver_email", "tq_record", "tq_read_partner_name"} <= set(declared)
    for name, lazy in declared.items():
        bound = broker.get_actor(name)
        assert bound.fn is lazy.fn
        assert bound.queue_name == lazy.queue_name
        assert bound.queue_name in broker.get_declared_queues()
    assert set(queue.QUEUES) <= broker.get_declared_queues()


def test_actor_declared_after_the_broker_exists_binds_at_once(app, ctx, jobs):
    queue.get_broker()

    def tq_late_comer(tag: str) -> None:
        with _lock:
            seen.append(("ran", tag))

    # Declared once per run (the name is unique), like a tasks module imported late.
    late = queue.actor(queue_name="send")(tq_late_comer)
    assert queue.get_broker().get_actor("tq_late_comer").queue_name == "send"
    queue.enqueue(late, "late")
    db.session.commit()
    jobs.run()
    assert ran() == ["late"]
