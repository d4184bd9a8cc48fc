"""The click buffer: the redirect appends to a Redis stream; the drainer stores batches.

The request path does one Redis round trip (append the click, and note that a drain is due)
and no database work. ``drain`` reads the stream through a consumer group, classifies a
batch, inserts it and commits, and only then acknowledges and deletes the entries: a drainer
killed mid-batch leaves its entries pending, and the next drain claims them; a batch stored
but not acknowledged is stored again harmlessly, because ``click_id`` is unique. While the
database is down the entries simply wait in Redis.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import redis as redis_lib
from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from syndication.links import classify
from syndication.links.classify import RawClick
from syndication.links.models import Click, TrackingLink
from tcma.extensions import db
from tcma.redis import current_redis, redis_for

log = logging.getLogger(__name__)

GROUP = "drainers"
BATCH = 1000

#: Email deliveries' times, looked up by delivery reference (``?d=`` on an email's links).
#: The email channel registers its lookup here; links know nothing about deliveries.
delivery_lookups: list = []


def _stream(app=None) -> str:
    return f"{(app or current_app).config['REDIS_NAMESPACE']}:clicks"


def _due_key(app=None) -> str:
    return f"{(app or current_app).config['REDIS_NAMESPACE']}:clicks:drain-due"


def visitor_hashes(ip: str, user_agent: str, app=None) -> tuple[str, str]:
    """Keyed hashes of (IP) and (IP, user agent): one visitor recognised again without
    keeping their address."""
    key = (app or current_app).config["SECRET_KEY"].encode()
    ip_hash = hmac.new(key, ip.encode(), hashlib.sha256).hexdigest()[:32]
    visitor = hmac.new(key, f"{ip}\n{user_agent}".encode(), hashlib.sha256).hexdigest()[:32]
    return ip_hash, visitor


#: Separates a buffered click's fields: one stream field packs (and parses) much faster than
#: nine, and the redirect pays for every byte of work.
_SEP = "\x1f"
_last_due: dict[str, float] = {}  # per stream: when this process last asked for a drain


def record(click_id: str, code: str, *, ip: str, user_agent: str, referrer: str,
           prefetch: bool, delivery_ref: str | None, app=None) -> None:
    """Buffer one click; ask for a drain if none is due yet (one message per interval, not
    one per click). ``app``: for callers outside an app context (the WSGI fast path).

    A process asks at most once per interval, so most clicks cost one command. A click that
    arrives just after a drain another process asked for may wait for the next ask; the
    scheduled ``links.drain_leftovers`` job bounds that wait.
    """
    app = app or current_app
    ip_hash, visitor = visitor_hashes(ip, user_agent, app)
    packed = _SEP.join(value.replace(_SEP, " ") for value in (
        click_id, code, f"{time.time():.3f}", visitor, ip_hash, user_agent[:400],
        referrer[:500], "1" if prefetch else "", (delivery_ref or "")[:64]))
    stream = _stream(app)
    redis = redis_for(app)
    delay = app.config["CLICK_DRAIN_DELAY_MS"]
    now = time.monotonic()
    if now - _last_due.get(stream, 0.0) < delay / 1000:
        redis.xadd(stream, {"v": packed})
        return
    _last_due[stream] = now
    pipe = redis.pipeline(transaction=False)
    pipe.xadd(stream, {"v": packed})
    pipe.set(_due_key(app), "1", nx=True, px=max(delay, 1) * 5)
    _, first = pipe.execute()
    if first:
        _drain_actor().actor.send_with_options(delay=delay)


def _drain_actor():
    from syndication.links.tasks import drain_clicks

    return drain_clicks


def drain(*, batch: int = BATCH, max_batches: int = 100, claim_idle_ms: int | None = None
          ) -> int:
    """Store buffered clicks until the stream is empty (or ``max_batches``); return how many
    were stored. Commits after each batch. Entries another drainer has held for
    ``claim_idle_ms`` (default ``CLICK_CLAIM_IDLE_MS``) are taken over: it died, or its
    database writes keep failing."""
    if claim_idle_ms is None:
        claim_idle_ms = current_app.config["CLICK_CLAIM_IDLE_MS"]
    redis = current_redis()
    stream = _stream()
    _ensure_group(redis, stream)
    # Cleared before reading: a click buffered from now on asks for a drain of its own, and
    # one buffered before is read below; none is left waiting for a drain nobody sent.
    redis.delete(_due_key())
    consumer = f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"
    stored = 0
    # This consumer's own unacknowledged entries first (a retry after the database failed),
    # then others' that have waited too long, then new ones.
    entries = _read(redis, stream, consumer, "0", batch)
    if not entries:
        _, claimed, _ = _autoclaim(redis, stream, consumer, claim_idle_ms, batch)
        entries = claimed
    for _ in range(max_batches):
        if not entries:
            entries = _read(redis, stream, consumer, ">", batch)
        if not entries:
            break
        stored += _store(entries)
        ids = [entry_id for entry_id, _ in entries]
        pipe = redis.pipeline(transaction=False)
        pipe.xack(stream, GROUP, *ids)
        pipe.xdel(stream, *ids)
        pipe.execute()
        entries = []
    return stored


def pending_count() -> int:
    """Clicks buffered but not yet stored (read or not)."""
    redis = current_redis()
    stream = _stream()
    return redis.xlen(stream) if redis.exists(stream) else 0


def _ensure_group(redis, stream: str) -> None:
    try:
        redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except redis_lib.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _read(redis, stream: str, consumer: str, start: str, count: int) -> list:
    answer = redis.xreadgroup(GROUP, consumer, {stream: start}, count=count)
    if not answer:
        return []
    # Entries deleted while pending come back with no fields: nothing to store.
    return [(entry_id, fields) for entry_id, fields in answer[0][1] if fields]


def _autoclaim(redis, stream: str, consumer: str, idle_ms: int, count: int):
    answer = redis.xautoclaim(stream, GROUP, consumer, min_idle_time=idle_ms,
                              start_id="0-0", count=count)
    next_id, claimed = answer[0], answer[1]
    return next_id, [(entry_id, fields) for entry_id, fields in claimed if fields], None


def _parse(fields: dict) -> RawClick:
    raw = fields.get(b"v", fields.get("v", b""))
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    (click_id, code, at, visitor, ip_hash, agent, referrer, prefetch,
     delivery) = text.split(_SEP)
    return RawClick(click_id=click_id, code=code, at=datetime.fromtimestamp(float(at), UTC),
                    visitor=visitor, ip_hash=ip_hash, user_agent=agent, referrer=referrer,
                    prefetch=bool(prefetch), delivery_ref=delivery or None)


def _store(entries: list) -> int:
    clicks = [_parse(fields) for _, fields in entries]
    links = {link.code: link for link in db.session.execute(
        select(TrackingLink).where(TrackingLink.code.in_({c.code for c in clicks}))).scalars()}
    delivered = _delivery_times({c.delivery_ref for c in clicks if c.delivery_ref})
    for click in clicks:
        link = links.get(click.code)
        if link is not None:
            click.link_id, click.partner_id = link.id, link.partner_id
        classify.by_request(click, delivered.get(click.delivery_ref))
    _classify_against_history(clicks)
    rows = [{"click_id": c.click_id, "link_id": c.link_id, "partner_id": c.partner_id,
             "occurred_at": c.at, "visitor": c.visitor, "ip_hash": c.ip_hash,
             "user_agent": c.user_agent, "referrer": c.referrer,
             "delivery_ref": c.delivery_ref, "kind": c.kind, "reason": c.reason[:200],
             "is_human": c.human, "is_unique": c.kind is None} for c in clicks]
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    db.session.execute(insert(Click).on_conflict_do_nothing(index_elements=["click_id"]), rows)
    db.session.commit()
    return len(rows)


def _classify_against_history(clicks: list[RawClick]) -> None:
    """Bursts and repeats, looking back at what is stored as well as at this batch. Rows of
    this very batch (stored before, by a drainer that died before acknowledging) are not
    history: the insert skips them anyway, and they must not flag themselves."""
    visitors = {c.visitor for c in clicks}
    link_ids = {c.link_id for c in clicks if c.link_id is not None}
    if not link_ids:
        return
    oldest = min(c.at for c in clicks)
    batch_ids = [c.click_id for c in clicks]
    recent = db.session.execute(
        select(Click.visitor, Click.link_id, Click.occurred_at).where(
            Click.visitor.in_(visitors), Click.link_id.is_not(None),
            Click.occurred_at >= oldest - timedelta(seconds=classify.BURST_SECONDS),
            Click.click_id.not_in(batch_ids))).all()
    classify.bursts(clicks, recent)
    earlier = set(tuple(row) for row in db.session.execute(
        select(Click.visitor, Click.link_id).where(
            Click.visitor.in_(visitors), Click.link_id.in_(link_ids),
            Click.occurred_at >= oldest - classify.REPEAT_WINDOW, Click.is_human.is_(True),
            Click.click_id.not_in(batch_ids))
        .group_by(Click.visitor, Click.link_id)))
    classify.repeats(clicks, earlier)


def _delivery_times(refs: set[str]) -> dict[str, datetime]:
    found: dict[str, datetime] = {}
    for lookup in delivery_lookups:
        if refs:
            found.update(lookup(refs))
    return found
