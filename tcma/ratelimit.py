"""Fixed-window rate limits kept in Redis, shared by every web process."""

from __future__ import annotations

import hashlib
import time

from flask import current_app

from tcma.errors import TooManyRequests
from tcma.redis import current_redis


def hit(bucket: str, key: str, *, limit: int, window: int) -> None:
    """Count one attempt for ``key``; raise TooManyRequests once ``limit`` is passed."""
    window_start = int(time.time()) // window * window
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]  # no raw emails or IPs in Redis
    name = f"{current_app.config['REDIS_NAMESPACE']}:rl:{bucket}:{digest}:{window_start}"
    redis = current_redis()
    pipe = redis.pipeline()
    pipe.incr(name)
    pipe.expire(name, window + 1)
    count, _ = pipe.execute()
    if count > limit:
        retry_after = window_start + window - int(time.time())
        minutes = max(1, round(retry_after / 60))
        raise TooManyRequests(
            f"Too many attempts. Try again in about {minutes} minute{'s' if minutes > 1 else ''}.",
            retry_after=max(1, retry_after),
        )


def undo(bucket: str, key: str, *, window: int) -> None:
    """Give back one attempt counted by ``hit`` (e.g. it turned out to be a success).

    Counting first and giving back later keeps the check atomic under parallel requests.
    """
    window_start = int(time.time()) // window * window
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    name = f"{current_app.config['REDIS_NAMESPACE']}:rl:{bucket}:{digest}:{window_start}"
    redis = current_redis()
    if redis.decr(name) < 0:  # the window turned over since the hit
        redis.delete(name)


def reset(bucket: str, key: str, *, window: int) -> None:
    window_start = int(time.time()) // window * window
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    current_redis().delete(
        f"{current_app.config['REDIS_NAMESPACE']}:rl:{bucket}:{digest}:{window_start}")
