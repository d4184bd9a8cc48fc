"""The scheduler: each job's tick runs in one process however many loops run, and a failing
job does not stop the others."""

from __future__ import annotations

import threading
import time

import pytest

from tcma import scheduler


@pytest.fixture
def registered():
    """Jobs this test registers, removed afterwards."""
    names: list[str] = []

    def register(name: str, seconds: float, fn):
        names.append(name)
        scheduler.every(seconds, name)(fn)

    yield register
    for name in names:
        scheduler._jobs.pop(name, None)


def test_a_tick_runs_once_across_processes_and_again_after_its_period(app, registered):
    calls: list[float] = []
    registered("test.counting", 1, lambda: calls.append(time.time()))
    # Four loops (as four worker processes would) ticking at the same moment.
    ran = []
    threads = [threading.Thread(target=lambda: ran.append(scheduler.run_due(app)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and sum("test.counting" in r for r in ran) == 1
    assert "test.counting" not in scheduler.run_due(app)  # within the period: nothing
    time.sleep(1.1)
    assert "test.counting" in scheduler.run_due(app)
    assert len(calls) == 2


def test_a_failing_job_does_not_stop_the_others(app, registered, caplog):
    done = []

    def broken():
        raise RuntimeError("boom")

    registered("test.broken", 60, broken)
    registered("test.fine", 60, lambda: done.append(True))
    ran = scheduler.run_due(app)
    assert {"test.broken", "test.fine"} <= set(ran) and done == [True]
    assert "scheduled job test.broken failed" in caplog.text


def test_the_loop_runs_jobs_in_the_background(app, registered):
    seen = threading.Event()
    registered("test.loop", 60, seen.set)
    loop = scheduler.start(app)
    try:
        assert seen.wait(5)
    finally:
        loop.stop()
        loop.join(5)
    assert not loop.is_alive()


def test_domains_register_their_sweepers():
    names = {job.name for job in scheduler.jobs()}
    assert {"links.drain_leftovers", "webhooks.resend_due"} <= names
