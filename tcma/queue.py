"""Background work on Dramatiq: actors, the broker, and enqueue-after-commit.

Dramatiq actors bind to whatever broker is global when their module is imported, which makes
import order a trap: an actor imported before the app configures Redis silently binds to a
default broker. Our ``actor`` decorator sidesteps that: it records the function and creates
the real ``dramatiq.Actor`` only when the app's broker exists (or at once, if it already does).

Messages are sent only after the database transaction commits (``enqueue``), so a worker
never picks up a message about a row it cannot see yet, and a rolled-back request sends
nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from tcma.extensions import db
from tcma.redis import redis_for

log = logging.getLogger(__name__)

#: Workloads get their own queues so a 10,000-email send never starves a PDF render.
QUEUES = ("default", "render", "send", "social")

_registry: dict[str, LazyActor] = {}
_broker: dramatiq.Broker | None = None
_app: Flask | None = None
_broker_lock = threading.Lock()


class LazyActor:
    """An actor declared now and bound to the app's broker once it exists."""

    def __init__(self, fn: Callable[..., Any], queue_name: str, options: dict[str, Any]):
        if queue_name not in QUEUES:
            raise ValueError(f"unknown queue {queue_name!r}; use one of {QUEUES}")
        self.fn = fn
        self.actor_name = fn.__name__
        self.queue_name = queue_name
        self.options = options
        self._actor: dramatiq.Actor | None = None

    def bind(self, broker: dramatiq.Broker) -> None:
        # Called once per process, when the broker is first built.
        self._actor = dramatiq.Actor(
            self.fn,
            broker=broker,
            actor_name=self.actor_name,
            queue_name=self.queue_name,
            priority=0,
            options=self.options,
        )

    @property
    def actor(self) -> dramatiq.Actor:
        if self._actor is None:
            get_broker()  # builds the broker, which binds every declared actor
        return self._actor

    def message(self, *args: Any, **kwargs: Any) -> dramatiq.Message:
        return self.actor.message(*args, **kwargs)

    def send_now(self, *args: Any, **kwargs: Any) -> dramatiq.Message:
        """Send immediately, outside any transaction (CLI, sweepers). Prefer ``enqueue``."""
        return self.actor.send(*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


def actor(
    fn: Callable[..., Any] | None = None, *, queue_name: str = "default", **options: Any
) -> Any:
    """Declare a Dramatiq actor; arguments must be ids and JSON primitives."""

    def decorate(f: Callable[..., Any]) -> LazyActor:
        lazy = LazyActor(f, queue_name, options)
        if lazy.actor_name in _registry:
            raise ValueError(f"two actors named {lazy.actor_name}")
        _registry[lazy.actor_name] = lazy
        if _broker is not None:
            lazy.bind(_broker)
        return lazy

    return decorate(fn) if fn is not None else decorate


def actors() -> dict[str, LazyActor]:
    return dict(_registry)


def get_broker() -> dramatiq.Broker:
    """The process's broker, created on first use so commands that never queue work (``tcma
    db upgrade``) do not start an embedded Redis."""
    global _broker
    with _broker_lock:
        if _broker is None:
            if _app is None:
                raise RuntimeError("broker not set up; call create_app first")
            if _app.config["BROKER"] == "stub":
                broker: dramatiq.Broker = StubBroker()
                broker.emit_after("process_boot")
            else:
                broker = RedisBroker(client=redis_for(_app),
                                     namespace=_app.config["REDIS_NAMESPACE"])
            for queue in QUEUES:
                broker.declare_queue(queue)
            broker.add_middleware(AppContextMiddleware())
            dramatiq.set_broker(broker)
            _broker = broker
            for lazy in _registry.values():
                lazy.bind(broker)
        return _broker


class AppContextMiddleware(Middleware):
    """One app context, and so one clean database session, per message."""

    def __init__(self):
        self._local = threading.local()

    def before_process_message(self, broker, message):
        if _app is None:
            raise RuntimeError("no app to run the message in")
        ctx = _app.app_context()
        ctx.push()
        self._local.ctx = ctx

    def _pop(self):
        ctx = getattr(self._local, "ctx", None)
        if ctx is not None:
            self._local.ctx = None
            db.session.remove()
            ctx.pop()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self._pop()

    def after_skip_message(self, broker, message):
        self._pop()


def init_app(app: Flask) -> None:
    """Make ``app`` the one whose context messages run in.

    One broker per process; tests that build a second app reuse it, and messages then run in
    the newest app's context.
    """
    global _app
    _app = app


_PENDING = "tcma.pending_messages"


def enqueue(lazy: LazyActor, *args: Any, **kwargs: Any) -> None:
    """Send a message once the current database transaction commits; drop it on rollback.

    A message queued inside a savepoint (``begin_nested``) is dropped if that savepoint rolls
    back, and still waits for the outermost commit if it is released.
    """
    session = db.session()
    if not session.in_transaction():
        # Rolling back a session that never began fires no event, so begin one now (no
        # connection is taken until a query needs it) for the rollback to drop this message.
        session.begin()
    pending = session.info.setdefault(_PENDING, [])
    pending.append((session.get_nested_transaction(), lazy, args, kwargs))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released: the real commit is still to come
    pending = session.info.pop(_PENDING, [])
    for _, lazy, args, kwargs in pending:
        lazy.actor.send(*args, **kwargs)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
        return
    pending = session.info.get(_PENDING)
    if pending:  # a savepoint rolled back: drop what was queued inside it
        session.info[_PENDING] = [
            entry for entry in pending if not _inside(entry[0], previous_transaction)
        ]


def _inside(transaction: SessionTransaction | None, savepoint: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is savepoint:
            return True
        transaction = transaction.parent
    return False


def start_embedded_worker(app: Flask, threads: int = 2) -> dramatiq.Worker:
    """Run a worker, and the scheduler loop, inside this process, for ``tcma serve`` on one
    machine."""
    from tcma import scheduler

    worker = dramatiq.Worker(get_broker(), worker_threads=threads)
    worker.start()
    scheduler.start(app)
    return worker
