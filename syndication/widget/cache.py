"""The frame's rendered HTML, kept in each server process so a warm frame costs one Redis read.

Every partner's site asks for the same frame over and over; rendering it takes a handful of
queries and a template. A rendered frame is kept per (token, ``parent``, Referer origin), the
request's only inputs, and is used while:
- the content version in Redis is unchanged: any committed change to items, widgets, partners,
  brand profiles or landing pages bumps it; the process that made the change sees it at
  once, the others within ``WIDGET_VERSION_CHECK_SECONDS`` (a second);
- no item has been published or expired since (its deadline is the next such moment);
- and it is younger than ``WIDGET_FRAME_CACHE_SECONDS``, which bounds what no event reports
  (an asset withdrawn from the library).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from tcma.models import utcnow
from tcma.redis import current_redis, redis_for

_CHANGED = "tcma.widget_content_changed"
#: At most this many frames per process (a guessed-token flood never reaches here: unknown
#: tokens are 404 before anything is kept).
MAX_FRAMES = 5000


@dataclass(frozen=True)
class Frame:
    etag: str
    body: bytes
    csp: str
    version: int
    fresh_until: float  # time.monotonic()


_frames: dict[tuple, Frame] = {}


def _version_key(app: Flask | None = None) -> str:
    return f"{(app or current_app).config['REDIS_NAMESPACE']}:widget-content-version"


#: The content version as this process last read or bumped it, and when (time.monotonic()).
_known = {"version": 0, "read_at": float("-inf")}


def content_version(app: Flask | None = None) -> int:
    """The number every committed content change bumps (0 before the first). Read from Redis
    at most every ``WIDGET_VERSION_CHECK_SECONDS``: that read was most of a warm frame's cost,
    and this process's own changes are known at once anyway."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    now = time.monotonic()
    if now - _known["read_at"] >= float(app.config.get("WIDGET_VERSION_CHECK_SECONDS", 1.0)):
        _known.update(version=int(redis_for(app).get(_version_key(app)) or 0), read_at=now)
    return _known["version"]


def cached_frame(key: tuple, app: Flask | None = None) -> Frame | None:
    """The frame kept for ``key`` while it is still what a render would give."""
    frame = _frames.get(key)
    if frame is None:
        return None
    if frame.fresh_until < time.monotonic() or frame.version != content_version(app):
        _frames.pop(key, None)
        return None
    return frame


def keep_frame(key: tuple, *, etag: str, body: bytes, csp: str, version: int,
               next_change: datetime | None) -> None:
    """Keep a frame rendered at content ``version`` (read before rendering, so a change
    committed meanwhile makes it stale) until the next publish or expiry at the latest."""
    seconds = float(current_app.config.get("WIDGET_FRAME_CACHE_SECONDS", 30))
    if next_change is not None:
        seconds = min(seconds, (next_change - utcnow()).total_seconds())
    if seconds <= 0:
        return
    if len(_frames) >= MAX_FRAMES:
        _frames.clear()
    _frames[key] = Frame(etag, body, csp, version, time.monotonic() + seconds)


def _watched() -> tuple[type, ...]:
    from syndication.pages.models import LandingPage
    from syndication.widget.models import SyndicatedItem, Widget
    from tcma.partners.models import BrandProfile, Partner

    return (SyndicatedItem, Widget, Partner, BrandProfile, LandingPage)


@event.listens_for(Session, "after_flush")
def _note_content_change(session: Session, flush_context) -> None:
    watched = _watched()
    if any(isinstance(obj, watched)
           for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _bump_content_version(session: Session) -> None:
    if session.in_nested_transaction() or not session.info.pop(_CHANGED, False):
        return
    if not has_app_context():
        return  # a script's own session: no server process keeps frames for it
    _known.update(version=current_redis().incr(_version_key()), read_at=time.monotonic())


@event.listens_for(Session, "after_soft_rollback")
def _forget_content_change(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_CHANGED, None)
