"""Social publishing: 1,000 partners on autopilot, one post each, through the real pipeline,
against a raw loop of the same 1,000 HTTP posts.

Network: the X fake (``syndication/social/fakes.py``) in its own process, answering each post
after 200 ms (``--latency``), as a busy network does.

Pipeline: 1,000 partners, each with a connected X account and autopilot on for the kit's
category; the autopilot job (``autopilot.run``, the scheduler's body) schedules the kit for
each of them. The notice period is then skipped (due times moved to now, as if the hours
had passed) and the timer starts with the due-step job (``launches.queue_due_steps``, the
scheduler's body), so the figure is not the scheduler's 5-second tick. From there on it is
the production path: ``start_launch_step`` on the ``send`` queue, ``publish_post`` on the
``social`` queue, 2 ``tcma worker`` processes (the Procfile's command) x ``--threads``, each
post claimed, marked, published and recorded in its own commits. The timer stops when the
database says the last post is published.

Baseline: the same 1,000 posts (same texts, same tokens) sent by one process with
2 x ``--threads`` threads of ``requests`` sessions straight to the fake: no database, no
queue, no claim.

Run: .venv/bin/python bench/social.py [--partners 1000] [--threads 8] [--latency 0.2]
Uses SQLite and an embedded Redis in a temporary folder, or DATABASE_URL / REDIS_URL when set.
Last line: RESULT {json}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.send import build_app, own_database, worker_env  # noqa: E402

#: The fake in its own process: pre-issued tokens for every account, and a stdin command
#: to report what it received (posts, and distinct texts: every partner's text differs, by
#: its name and its tracking link, so a text seen twice is a post published twice).
FAKE = textwrap.dedent("""
    import json, sys
    from syndication.social.fakes import FakeX, Token
    partners, latency = int(sys.argv[1]), float(sys.argv[2])
    fake = FakeX()
    fake.latency = latency
    for n in range(partners):
        for prefix in ("pipe", "raw"):
            value = f"{prefix}-token-{n}"
            fake.tokens[value] = Token(value=value, grant=f"{prefix}-{n}", expires=None)
    print(fake.url, flush=True)
    for line in sys.stdin:
        if line.strip() == "count":
            texts = [p["text"] for p in fake.posts]
            print(json.dumps({"posts": len(texts), "distinct": len(set(texts))}), flush=True)
        elif line.strip() == "reset":
            fake.posts.clear()
            print("{}", flush=True)
    fake.close()
""")

TEXT = "Back up before it is too late: {{ partner.display_name }} sets it up in a day."


def start_fake(partners: int, latency: float) -> tuple[subprocess.Popen, str]:
    fake = subprocess.Popen([sys.executable, "-c", FAKE, str(partners), str(latency)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)})
    return fake, fake.stdout.readline().strip()


def ask(fake: subprocess.Popen, command: str) -> dict:
    fake.stdin.write(command + "\n")
    fake.stdin.flush()
    return json.loads(fake.stdout.readline())


def setup_data(partners: int) -> None:
    """Partners with a brand, an X account and autopilot on "backup"; a kit of one post in
    that category; the autopilot job schedules it for every partner."""
    from campaigns import content, kits
    from campaigns.posts import put_posts
    from syndication.social import autopilot, service
    from syndication.social.models import AccountKind, AutopilotSetting, Network, SocialAccount
    from tcma import crypto
    from tcma.extensions import db
    from tcma.models import utcnow
    from tcma.partners import service as partner_service

    since = utcnow() - timedelta(days=1)
    for n in range(partners):
        partner = partner_service.create_partner(
            {"name": f"Partner {n}", "tier": "gold", "region": "EMEA", "type": "reseller",
             "language": "en"}, by=None)
        partner_service.update_brand_profile(partner, {
            "display_name": f"Partner {n} GmbH", "website": f"https://partner{n}.example/",
            "timezone": "Europe/Berlin"}, by=None)
        account = SocialAccount(
            partner_id=partner.id, network=Network.X, kind=AccountKind.PROFILE,
            external_id=f"pipe{n}", display_name=f"Partner {n}", handle=f"@pipe{n}",
            scopes="tweet.read tweet.write users.read offline.access",
            access_token_encrypted=crypto.encrypt(f"pipe-token-{n}", service.TOKEN_PURPOSE),
            grant_id=f"bench{n}")
        db.session.add(account)
        db.session.flush()
        db.session.add(AutopilotSetting(partner_id=partner.id, account_id=account.id,
                                        categories=["backup"], notice_hours=1, since=since))
        if n % 200 == 199:
            db.session.commit()
    db.session.commit()
    kit = kits.create_kit({"name": "Backup week", "tags": ["backup"]}, by=None,
                          tiers=["gold"], regions=["EMEA"], types=["reseller"])
    put_posts(kit, [{"key": "post", "name": "Backup post", "texts": {"x": TEXT},
                     "link": "https://vendor.example/backup", "hashtags": ["backup"]}],
              by=None)
    content.put_steps(kit, [{"day": 0, "time": "00:00", "item": "post"}], by=None)
    kits.publish(kit, by=None)
    db.session.commit()
    made = autopilot.run()
    db.session.commit()
    if made != partners:
        raise SystemExit(f"autopilot scheduled {made} launches, expected {partners}")


def texts() -> list[tuple[int, str, str | None]]:
    """(partner number, text, link) of every scheduled post: what the baseline sends."""
    from sqlalchemy import select

    from syndication.social.models import SocialAccount, SocialPost
    from tcma.extensions import db

    rows = db.session.execute(select(SocialAccount.external_id, SocialPost.text, SocialPost.link)
                              .join(SocialAccount, SocialAccount.id == SocialPost.account_id))
    return [(int(ext.removeprefix("pipe")), text, link) for ext, text, link in rows]


def published() -> int:
    from sqlalchemy import func, select

    from syndication.social.models import PostStatus, SocialPost
    from tcma.extensions import db

    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(SocialPost).where(
        SocialPost.status == PostStatus.PUBLISHED))


def wait_for_workers(app, processes: int, timeout: float = 60) -> None:
    """Until ``processes`` Dramatiq brokers beat in Redis (each worker process has one)."""
    from tcma.redis import redis_for

    redis = redis_for(app)
    key = f"{app.config['REDIS_NAMESPACE']}:__heartbeats__"
    deadline = time.monotonic() + timeout
    while redis.zcard(key) < processes:
        if time.monotonic() > deadline:
            raise SystemExit("the worker processes did not start")
        time.sleep(0.1)
    time.sleep(1.0)  # their other consumer threads join a moment later


def pipeline(app, partners: int, threads: int, fake_url: str) -> dict:
    from sqlalchemy import update

    from campaigns import launches
    from campaigns.models import LaunchStep
    from syndication.social.models import PostStatus, SocialPost
    from tcma.extensions import db
    from tcma.models import utcnow

    env = worker_env(app)
    env.update({"TCMA_SOCIAL_X_API": fake_url, "TCMA_SOCIAL_X_AUTH": fake_url,
                "TCMA_SOCIAL_X_CLIENT_ID": "fake-client-id",
                "TCMA_SOCIAL_X_CLIENT_SECRET": "fake-client-secret"})
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("tcma")), "worker", "--processes", "2",
         "--threads", str(threads), "--queues", "send", "social", "default"],
        env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_workers(app, 2)  # both processes up and consuming before the clock starts
        with app.app_context():
            now = utcnow()
            # The notice period passes: every autopilot post is due now.
            db.session.execute(update(LaunchStep).values(due_at=now))
            db.session.execute(update(SocialPost).values(due_at=now))
            db.session.commit()
            started = time.time()
            launches.queue_due_steps(now=now, limit=partners * 2)
            db.session.commit()
            deadline = time.monotonic() + 600
            done = 0
            while done < partners and time.monotonic() < deadline:
                time.sleep(0.05)
                done = published()
            seconds = time.time() - started
            from sqlalchemy import func, select

            states = dict(db.session.execute(select(SocialPost.status, func.count())
                                             .group_by(SocialPost.status)).all())
            # Where the time went: steps started (send queue) and posts published (social).
            first_start, last_start = db.session.execute(
                select(func.min(LaunchStep.started_at), func.max(LaunchStep.started_at))).one()
            first_post, last_post = db.session.execute(
                select(func.min(SocialPost.published_at), func.max(SocialPost.published_at))
            ).one()
            timeline = {name: round((value - now).total_seconds(), 2)
                        for name, value in (("first step started", first_start),
                                            ("last step started", last_start),
                                            ("first post published", first_post),
                                            ("last post published", last_post)) if value}
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
    return {"seconds": seconds, "published": done, "timeline": timeline,
            "states": {s.value: n for s, n in states.items()},
            "failed": states.get(PostStatus.FAILED, 0)}


def baseline(fake_url: str, posts: list[tuple[int, str, str | None]], concurrency: int
             ) -> dict:
    import threading

    import requests

    local = threading.local()

    def send(entry: tuple[int, str, str | None]) -> int:
        n, text, _ = entry
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        response = session.post(f"{fake_url}/2/tweets", json={"text": text}, timeout=30,
                                headers={"Authorization": f"Bearer raw-token-{n}"})
        return response.status_code

    started = time.time()
    with ThreadPoolExecutor(concurrency) as pool:
        codes = list(pool.map(send, posts))
    return {"seconds": time.time() - started, "ok": sum(c == 201 for c in codes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partners", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8, help="threads per worker process")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the network takes")
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="tcma-bench-social-"))
    fake, fake_url = start_fake(args.partners, args.latency)
    database, drop_database = own_database()
    try:
        app = build_app(instance, 25, database)
        app.config.update(SOCIAL_X_API=fake_url, SOCIAL_X_AUTH=fake_url,
                          SOCIAL_X_CLIENT_ID="fake-client-id")
        with app.app_context():
            from tcma import migrate

            migrate.upgrade()
            setup_data(args.partners)
            posts = texts()
        ours = pipeline(app, args.partners, args.threads, fake_url)
        received = ask(fake, "count")
        ask(fake, "reset")
        raw = baseline(fake_url, posts, 2 * args.threads)
        raw_received = ask(fake, "count")
    finally:
        fake.stdin.close()
        fake.wait(timeout=30)
        if database:
            from tcma.extensions import db

            with app.app_context():
                db.engine.dispose()
        drop_database()
        shutil.rmtree(instance, ignore_errors=True)

    ours_rate = ours["published"] / ours["seconds"]
    raw_rate = raw["ok"] / raw["seconds"]
    duplicates = received["posts"] - received["distinct"]
    database = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") \
        else "sqlite"
    print(f"{args.partners:,} partners x 1 post, network latency {args.latency * 1000:.0f} ms, "
          f"2 worker processes x {args.threads} threads, {database}")
    print(f"{'':<36}{'seconds':>10}{'posts/s':>10}{'posted':>8}")
    print(f"{'tcma pipeline (due -> last)':<36}{ours['seconds']:>10.2f}{ours_rate:>10.1f}"
          f"{received['posts']:>8}")
    print(f"{'raw requests, ' + str(2 * args.threads) + ' threads':<36}{raw['seconds']:>10.2f}"
          f"{raw_rate:>10.1f}{raw_received['posts']:>8}")
    print(f"post states in the database: {ours['states']}")
    print("pipeline timeline (s after the due-step job): " + ", ".join(
        f"{name} {value}" for name, value in ours["timeline"].items()))
    print(f"the network received {received['posts']} posts, {received['distinct']} distinct: "
          f"{duplicates} duplicates")
    result = {"posts_per_s": round(ours_rate, 1), "baseline_posts_per_s": round(raw_rate, 1),
              "ratio": round(ours_rate / raw_rate, 3), "published": ours["published"],
              "duplicates": duplicates}
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
