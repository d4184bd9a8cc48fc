"""The frame's fast path: a WSGI layer in front of Flask, like the tracking redirect's.

A frame this process keeps (``cache``) is answered here, without Flask's request context,
session, user lookup and hooks; under gunicorn those cost more than the frame itself
(``bench/widget.py``). Everything else goes on to Flask: frames not kept yet (the
``widget_embed.frame`` view renders and keeps them), unknown tokens, every other path.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from redis.exceptions import RedisError
from werkzeug.http import parse_etags

from syndication.widget import cache
from syndication.widget.service import origin_of

FRAME_PATH = re.compile(r"^/embed/w/([A-Za-z0-9_-]{16,32})$")
#: What the app's after-request hook adds to an embed answer (``tcma.web``; embeds are meant
#: to be framed, so no X-Frame-Options).
_SAFE_HEADERS = [("X-Content-Type-Options", "nosniff"),
                 ("Referrer-Policy", "strict-origin-when-cross-origin")]


def frame_key(token: str, parent: str | None, referrer: str | None) -> tuple:
    """A kept frame's key: everything of the request the frame depends on."""
    return (token, parent, origin_of(referrer))


def frame_headers(frame: cache.Frame, cache_seconds: int) -> list[tuple[str, str]]:
    return [("Content-Security-Policy", frame.csp), ("ETag", f'"{frame.etag}"'),
            ("Cache-Control", f"public, max-age={cache_seconds}")]


class FrameFastPath:
    """WSGI middleware answering kept widget frames before Flask sees the request."""

    def __init__(self, wsgi_app, app, cache_seconds: int):
        self.wsgi_app = wsgi_app
        self.app = app
        self.cache_seconds = cache_seconds

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        if method in ("GET", "HEAD"):
            match = FRAME_PATH.match(environ.get("PATH_INFO", ""))
            if match:
                query = environ.get("QUERY_STRING")
                parent = parse_qs(query).get("parent", [None])[0] if query else None
                try:
                    frame = cache.cached_frame(
                        frame_key(match.group(1), parent, environ.get("HTTP_REFERER")),
                        self.app)
                except RedisError:
                    frame = None  # Flask's view answers, or fails, as it would without us
                if frame is not None:
                    return self._answer(frame, environ, start_response, method)
        return self.wsgi_app(environ, start_response)

    def _answer(self, frame: cache.Frame, environ, start_response, method: str):
        headers = frame_headers(frame, self.cache_seconds) + _SAFE_HEADERS
        if parse_etags(environ.get("HTTP_IF_NONE_MATCH")).contains(frame.etag):
            start_response("304 Not Modified", headers)
            return [b""]
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                  ("Content-Length", str(len(frame.body))), *headers])
        return [b""] if method == "HEAD" else [frame.body]
