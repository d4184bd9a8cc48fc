"""Periodic work: a loop in every worker process; each job's tick runs in one process only.

Domains register jobs when their tasks module is imported::

    @scheduler.every(60, "webhooks.resend_due")
    def _resend_due_webhooks():
        deliveries.resend_due()

A job runs in an app context and stays quick: it finds due rows and queues actors, which do
the work on the queues (so a slow job never delays the others). The loop wakes every second;
a job whose period has passed is run by whichever process first takes its Redis lock
(``SET NX PX`` for the period), so ten worker processes still run it once per period, and a
process that dies takes nothing with it: the lock simply expires.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

from tcma.extensions import db
from tcma.redis import redis_for

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0


@dataclass(frozen=True)
class Job:
    name: str
    seconds: float
    fn: Callable[[], object]


_jobs: dict[str, Job] = {}


def every(seconds: float, name: str) -> Callable[[Callable[[], object]], Callable[[], object]]:
    """Register ``fn`` to run about every ``seconds`` across all worker processes."""
    if seconds < TICK_SECONDS:
        raise ValueError("a job runs at most once a second")

    def register(fn: Callable[[], object]) -> Callable[[], object]:
        if name in _jobs and _jobs[name].fn is not fn:
            raise ValueError(f"two scheduled jobs named {name}")
        _jobs[name] = Job(name, seconds, fn)
        return fn

    return register


def jobs() -> list[Job]:
    return list(_jobs.values())


def run_due(app: Flask) -> list[str]:
    """Run every job whose period has passed and whose lock this process takes; return the
    names run. Safe to call from any number of processes at once."""
    redis = redis_for(app)
    namespace = app.config["REDIS_NAMESPACE"]
    ran = []
    for job in list(_jobs.values()):
        key = f"{namespace}:scheduler:{job.name}"
        if not redis.set(key, str(time.time()), nx=True, px=int(job.seconds * 1000)):
            continue
        ran.append(job.name)
        with app.app_context():
            try:
                job.fn()
            except Exception:  # one failing job must not stop the others, nor the loop
                db.session.rollback()
                log.exception("scheduled job %s failed", job.name)
            finally:
                db.session.remove()
    return ran


class Loop(threading.Thread):
    """The scheduler loop of one process (a daemon thread beside the worker's threads)."""

    def __init__(self, app: Flask):
        super().__init__(name="tcma-scheduler", daemon=True)
        self.app = app
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                run_due(self.app)
            except Exception:  # Redis away for a moment: try again next tick
                log.exception("scheduler tick failed")
            self._stopping.wait(TICK_SECONDS)

    def stop(self) -> None:
        self._stopping.set()


def start(app: Flask) -> Loop:
    loop = Loop(app)
    loop.start()
    return loop
