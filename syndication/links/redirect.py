"""The tracking redirect's fast path: a WSGI layer in front of Flask.

A click on a live link this process has cached is answered here, without Flask's request
context, session, user lookup and hooks: parse the path, append the click to the Redis stream
(one round trip), answer 302. Measured under gunicorn this is what keeps the redirect at the
speed of a bare Flask route (``bench/redirect.py``). Everything else goes on to Flask: a code
not cached yet, unknown or disabled codes (the ``links.follow`` view looks them up, which
fills the cache, and answers them), and every other path.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qs

from redis.exceptions import RedisError
from werkzeug.http import parse_cookie

from syndication.links import clicks, service

log = logging.getLogger(__name__)

CODE_PATH = re.compile(r"^/r/([A-Za-z0-9_-]{8,16})$")
#: How long the first- and last-touch cookies keep a visitor's click ids.
TOUCH_COOKIE_SECONDS = 90 * 24 * 3600
FIRST_TOUCH, LAST_TOUCH = "tcma_ft", "tcma_lt"
_COOKIE = f"; Max-Age={TOUCH_COOKIE_SECONDS}; Path=/; HttpOnly; SameSite=Lax"
_COOKIE_SECURE = _COOKIE + "; Secure"
#: What the app's own after-request hook adds to every answer (``tcma.web``).
_SAFE_HEADERS = [("X-Content-Type-Options", "nosniff"),
                 ("Referrer-Policy", "strict-origin-when-cross-origin"),
                 ("X-Frame-Options", "SAMEORIGIN")]
_PURPOSE_HEADERS = ("HTTP_PURPOSE", "HTTP_SEC_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ")


class RedirectFastPath:
    """WSGI middleware answering cached tracking links before Flask sees the request."""

    def __init__(self, wsgi_app, app):
        self.wsgi_app = wsgi_app
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            match = CODE_PATH.match(environ.get("PATH_INFO", ""))
            if match:
                code = match.group(1)
                target = service.cached_target(code)
                if target is not None:
                    start_response("302 Found",
                                   [*click_headers(self.app, target, code, environ),
                                    ("Content-Length", "0"), *_SAFE_HEADERS])
                    return [b""]
        return self.wsgi_app(environ, start_response)


def is_prefetch(environ) -> bool:
    purpose = " ".join(environ.get(name, "") for name in _PURPOSE_HEADERS).lower()
    return "prefetch" in purpose or "preview" in purpose or "prerender" in purpose


def click_headers(app, target: service.Target, code: str, environ) -> list[tuple[str, str]]:
    """Record the click (GET; HEAD records nothing) and return the redirect's headers:
    Location with UTM values and the click id, no caching, and the touch cookies."""
    if environ.get("REQUEST_METHOD") == "HEAD":
        return [("Location", target.location(None)), ("Cache-Control", "no-store")]
    click_id = service.new_click_id(code)
    query = environ.get("QUERY_STRING")
    delivery = parse_qs(query).get("d", [None])[0] if query else None
    try:
        clicks.record(click_id, code, ip=environ.get("REMOTE_ADDR") or "",
                      user_agent=environ.get("HTTP_USER_AGENT", ""),
                      referrer=environ.get("HTTP_REFERER", ""), prefetch=is_prefetch(environ),
                      delivery_ref=delivery, app=app)
    except RedisError:
        # The visitor still gets where they were going; the count is what suffers, loudly.
        log.exception("click %s on %s not recorded: Redis unavailable", click_id, code)
    headers = [("Location", target.location(click_id)), ("Cache-Control", "no-store")]
    # Written by hand (werkzeug's dump_cookie is a tenth of this path's time): the value is
    # URL-safe base64 and a dot, which needs no quoting.
    attributes = _COOKIE_SECURE if app.config["SESSION_COOKIE_SECURE"] else _COOKIE
    cookie = environ.get("HTTP_COOKIE", "")
    has_first = FIRST_TOUCH in cookie and FIRST_TOUCH in parse_cookie(cookie)
    for name in (LAST_TOUCH,) if has_first else (FIRST_TOUCH, LAST_TOUCH):
        headers.append(("Set-Cookie", f"{name}={click_id}{attributes}"))
    return headers
