"""The Procfile's web and worker lines, run as real processes against the test services.

This is what production runs: gunicorn serving ``create_app()`` and ``dramatiq worker:broker``
consuming from Redis, configured only through environment variables.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _procfile() -> dict[str, str]:
    lines = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            lines[name.strip()] = command.strip()
    return lines


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_url(app) -> str:
    if app.config.get("REDIS_URL"):
        return app.config["REDIS_URL"]
    from tcma.redis import redis_for, socket_path

    redis_for(app).ping()  # make sure this run's embedded server is up
    return f"unix://{socket_path(Path(app.instance_path))}"


@pytest.fixture
def process_env(app, instance_dir, tmp_path):
    env = dict(os.environ)
    env.update({
        "PATH": f"{BIN}:{env.get('PATH', '')}",
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": _redis_url(app),
        "TCMA_REDIS_NAMESPACE": app.config["REDIS_NAMESPACE"],
        "STORAGE_URL": app.config["STORAGE_URL"],
        "MAIL_URL": f"outbox:{tmp_path / 'outbox'}",
        "SECRET_KEY": app.config["SECRET_KEY"],
        "BASE_URL": "http://127.0.0.1",
        "PORT": str(_free_port()),
        "WEB_CONCURRENCY": "1",
        "WORKER_PROCESSES": "1",
        "WORKER_THREADS": "2",
    })
    return env


def _start(command: str, env: dict) -> subprocess.Popen:
    # The Procfile line is shell syntax (${PORT:-5000}); run it the way a Procfile runner does.
    return subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        # The main process forwards the signal to its children and waits for them.
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.stdout.read().decode(errors="replace") if proc.stdout else ""


def test_procfile_web_serves_health(process_env):
    web = _start(_procfile()["web"], process_env)
    url = f"http://127.0.0.1:{process_env['PORT']}/healthz"
    try:
        deadline = time.monotonic() + 30
        response = None
        while time.monotonic() < deadline and web.poll() is None:
            try:
                response = requests.get(url, timeout=10)
                break
            except (requests.ConnectionError, requests.Timeout):
                # Not listening yet, or a worker still booting on a busy machine.
                time.sleep(0.2)
        assert response is not None, f"gunicorn did not answer:\n{_stop(web)}"
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "ok"
        login = requests.get(url.replace("/healthz", "/login"), timeout=5)
        assert login.status_code == 200 and "Sign in" in login.text
    finally:
        _stop(web)


def test_procfile_worker_delivers_queued_email(app, process_env, tmp_path):
    from tcma import mail
    from tcma.extensions import db

    worker = _start(_procfile()["worker"], process_env)
    try:
        with app.test_request_context():
            mail.send_template("someone@example.com", "password_reset", user_name="Someone",
                               link="https://example.com/reset/x", minutes=60)
            db.session.commit()  # the message leaves only now
        outbox = tmp_path / "outbox"
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not list(outbox.glob("*.eml")):
            assert worker.poll() is None, f"worker died:\n{_stop(worker)}"
            time.sleep(0.2)
        delivered = list(outbox.glob("*.eml"))
        assert delivered, f"worker did not deliver:\n{_stop(worker)}"
        assert b"someone@example.com" in delivered[0].read_bytes()
    finally:
        output = _stop(worker)
    assert worker.returncode in (0, -signal.SIGTERM), output


def test_a_booting_worker_stores_clicks_a_dead_drainer_left(app, process_env):
    """Clicks buffered with no drain coming (their drainer died holding them, and no new
    click arrives to ask for one) are stored once a worker process starts."""
    from sqlalchemy import func, select

    from syndication.links import clicks, service
    from syndication.links.models import Click
    from tcma.extensions import db
    from tcma.redis import current_redis
    from tests.factories import make_partner

    with app.app_context():
        link = service.link_for(make_partner(), "https://vendor.example.com/x", "web")
        db.session.commit()
        for n in range(3):
            clicks.record(service.new_click_id(link.code), link.code, ip=f"192.0.2.{n}",
                          user_agent="Mozilla/5.0", referrer="", prefetch=False,
                          delivery_ref=None)
        redis = current_redis()
        clicks._ensure_group(redis, clicks._stream())
        redis.xreadgroup(clicks.GROUP, "died", {clicks._stream(): ">"}, count=10)
        # The drain message the first click sent went with the dead process too.
        redis.delete(f"{app.config['REDIS_NAMESPACE']}:default.DQ",
                     f"{app.config['REDIS_NAMESPACE']}:clicks:drain-due")
    worker = _start(_procfile()["worker"], {**process_env, "TCMA_CLICK_CLAIM_IDLE_MS": "0"})
    try:
        deadline, stored = time.monotonic() + 40, 0
        while time.monotonic() < deadline and stored < 3:
            assert worker.poll() is None, f"worker died:\n{_stop(worker)}"
            time.sleep(0.3)
            with app.app_context():
                stored = db.session.execute(select(func.count()).select_from(Click)).scalar()
        assert stored == 3, _stop(worker)
    finally:
        _stop(worker)


def _embedded_servers(instance: Path) -> list:
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "redis-server" in cmdline and str(instance) in cmdline:
            found.append(proc)
    return found


def test_embedded_redis_keeps_queued_work_and_leaves_no_orphan(tmp_path):
    """One-machine mode: a CLI command queues an invite and exits; `tcma serve` picks it up
    and delivers it; killing serve with SIGKILL still takes its redis-server down."""
    instance = tmp_path / "inst"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "REDIS_URL", "STORAGE_URL", "MAIL_URL"))}
    env.update({"PATH": f"{BIN}:{env.get('PATH', '')}", "TCMA_INSTANCE_PATH": str(instance)})
    tcma = str(BIN / "tcma")

    def run(*args):
        return subprocess.run([tcma, *args], env=env, capture_output=True, text=True,
                              timeout=60)

    assert run("db", "upgrade").returncode == 0
    created = run("user", "create", "--email", "new@example.com", "--name", "New",
                  "--role", "admin")
    assert created.returncode == 0, created.stderr
    assert _embedded_servers(instance) == []  # the command's server stopped with it

    port = _free_port()
    serve = subprocess.Popen([tcma, "serve", "--port", str(port)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        outbox = instance / "outbox"
        while time.monotonic() < deadline and not list(outbox.glob("*.eml")):
            assert serve.poll() is None, serve.stdout.read().decode()
            time.sleep(0.2)
        (message,) = outbox.glob("*.eml")
        assert b"new@example.com" in message.read_bytes()
        assert len(_embedded_servers(instance)) == 1
    finally:
        serve.kill()  # no chance to clean up: the kernel must take redis-server down
        serve.wait()
    deadline = time.monotonic() + 10
    while _embedded_servers(instance) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _embedded_servers(instance) == []
