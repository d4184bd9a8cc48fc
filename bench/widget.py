"""The widget's frame under load, against a bare Flask route returning the same bytes, in one run.

Starts gunicorn twice with the same settings as bench/redirect.py (2 workers x 4 threads,
overridable with BENCH_WORKERS / BENCH_THREADS):
- baseline: a bare Flask app whose ``/embed/w/<token>`` answers a static string as long as
  our frame's HTML (the very bytes ours serves);
- ours: ``tcma.app:create_app()`` serving one partner's widget frame for a registered site
  (``?parent=https://partner.example``): six live articles, the partner's colours, tracking
  links, CSP and ETag headers.
Each is loaded with ``wrk`` for 10 s at 50 connections after a 2 s warm-up (so ours runs with
a warm cache: links made, the rendered frame cached). Both run on SQLite and a private
redis-server in a temporary folder.
Targets (issue 9): rps >= 0.7x baseline, p99 < 50 ms, loader < 10 KB gzipped.
Run: .venv/bin/python bench/widget.py
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.redirect import (  # noqa: E402
    CONNECTIONS,
    DURATION,
    ROOT,
    THREADS,
    WORKERS,
    environment,
    measure,
    need_wrk,
    start_redis,
)

BIN = Path(sys.executable).parent
SITE = "https://partner.example"
LOADER = ROOT / "tcma" / "static" / "widget" / "v1.js"


def baseline_app():
    """The least Flask can do for the frame: the same bytes from memory (gunicorn imports
    this)."""
    from flask import Flask

    app = Flask("baseline")
    body = Path(os.environ["BENCH_BODY"]).read_bytes()

    @app.get("/embed/w/<token>")
    def frame(token: str):
        return body, 200, {"Content-Type": "text/html; charset=utf-8"}

    return app


def make_widget(env: dict[str, str], body_file: Path) -> str:
    """Migrate, then make one branded partner, six live articles and the partner's widget;
    write the frame's HTML to ``body_file`` and answer the widget's token."""
    subprocess.run([str(BIN / "tcma"), "db", "upgrade"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    script = (
        "import sys\n"
        "from datetime import timedelta\n"
        "from tcma.app import create_app\n"
        "from tcma.extensions import db\n"
        "from tcma.models import utcnow\n"
        "from tcma.partners import service as partners\n"
        "from syndication.widget import content, service as widgets\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    p = partners.create_partner({'name': 'Bench Partner', 'tier': 'gold',"
        " 'region': 'EMEA', 'type': 'reseller', 'language': 'en'}, by=None)\n"
        "    partners.update_brand_profile(p, {'display_name': 'Bench Partner IT',"
        " 'primary_color': '#0a7a3f', 'secondary_color': '#223344'}, by=None)\n"
        "    for n in range(6):\n"
        "        content.create_item({'kind': 'article', 'title': f'Backup lesson {n}',"
        " 'summary': 'What a partner tells customers about backups, in two lines.',"
        " 'body': '<p>Body</p>', 'category': 'backup',"
        " 'publish_at': (utcnow() - timedelta(hours=1)).isoformat()}, by=None,"
        " tiers=[], regions=[], types=[])\n"
        "    w = widgets.create_widget(p, {'name': 'Blog sidebar',"
        " 'domains': ['partner.example']}, by=None)\n"
        "    db.session.commit()\n"
        "    token = w.token\n"
        f"page = app.test_client().get(f'/embed/w/{{token}}?parent={SITE}')\n"
        "assert page.status_code == 200, page.status_code\n"
        f"open({str(body_file)!r}, 'wb').write(page.get_data())\n"
        "print(token)\n")
    out = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                         capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


def loader_gzip_bytes() -> int:
    return len(gzip.compress(LOADER.read_bytes(), compresslevel=9))


def main() -> None:
    wrk = need_wrk()
    folder = Path(tempfile.mkdtemp(prefix="tcma-bench-widget-"))
    redis_proc, redis_url = start_redis(folder)
    try:
        env = environment(folder, redis_url)
        body_file = folder / "frame.html"
        token = make_widget(env, body_file)
        path = f"/embed/w/{token}?parent={SITE}"
        results: dict = {}

        _, results["baseline"] = measure(wrk, "bench.widget:baseline_app()",
                                         {**env, "BENCH_BODY": str(body_file)}, path)
        _, results["ours"] = measure(wrk, "tcma.app:create_app()", env, path)
        size = body_file.stat().st_size
    finally:
        redis_proc.terminate()
        redis_proc.wait()
        shutil.rmtree(folder, ignore_errors=True)

    ours, base = results["ours"], results["baseline"]
    ratio = ours["rps"] / base["rps"]
    loader = loader_gzip_bytes()
    print(f"\nwrk -c{CONNECTIONS} -d{DURATION}s, gunicorn --workers {WORKERS} --threads "
          f"{THREADS}, SQLite + redis-server, {os.cpu_count()} cores, frame {size} bytes")
    print(f"{'':40}{'requests/s':>12}{'p99 ms':>10}{'requests':>10}{'non-2xx':>9}")
    for name, row in (("baseline: bare Flask, same bytes", base),
                      ("ours: /embed/w/<token> for a partner", ours)):
        print(f"{name:40}{row['rps']:>12.0f}{row['p99_ms']:>10.2f}{row['requests']:>10}"
              f"{row['non_3xx']:>9}")
    print(f"ratio ours / baseline: {ratio:.3f} (target >= 0.7); p99 target < 50 ms")
    print(f"loader {LOADER.name}: {loader} bytes gzipped (target < 10240)")
    if ours["socket_errors"] or base["socket_errors"]:
        print(f"socket errors: ours {ours['socket_errors']!r}, baseline "
              f"{base['socket_errors']!r}")
    print("RESULT " + json.dumps({
        "rps": round(ours["rps"], 1), "baseline_rps": round(base["rps"], 1),
        "ratio": round(ratio, 3), "p99_ms": round(ours["p99_ms"], 2),
        "loader_gzip_bytes": loader}))


if __name__ == "__main__":
    main()
