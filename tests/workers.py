"""A real ``tcma worker`` process (as the Procfile runs it) on the test's database and Redis
namespace, in its own process group so a test can kill it whole, mid-work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

TCMA = str(Path(sys.executable).with_name("tcma"))


def start_worker(app, *, queues: tuple[str, ...], threads: int = 4,
                 env: dict[str, str] | None = None) -> subprocess.Popen:
    settings = {k: v for k, v in os.environ.items() if not k.startswith("TCMA_TEST_")}
    settings.update({
        "TCMA_INSTANCE_PATH": app.instance_path,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "BASE_URL": app.config["BASE_URL"],
        "STORAGE_URL": app.config["STORAGE_URL"],
        "MAIL_URL": app.config["MAIL_URL"],
        "TCMA_REDIS_NAMESPACE": app.config["REDIS_NAMESPACE"],
        **(env or {}),
    })
    if app.config.get("REDIS_URL"):
        settings["REDIS_URL"] = app.config["REDIS_URL"]
    else:
        settings.pop("REDIS_URL", None)
    return subprocess.Popen(
        [TCMA, "worker", "--processes", "1", "--threads", str(threads), "--queues", *queues],
        env=settings, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)


def kill(worker: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """SIGKILL (by default) to the whole process group: no cleanup runs."""
    try:
        os.killpg(worker.pid, sig)
    except ProcessLookupError:
        pass
    worker.wait(timeout=30)
