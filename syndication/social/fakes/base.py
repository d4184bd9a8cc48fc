"""What every network fake shares: the threaded loopback server, issued codes and tokens, a
clock tests move, stored posts and media, and the controls that play a network's bad days."""

from __future__ import annotations

import functools
import io
import json
import re
import secrets
import threading
import time
import warnings
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import urlencode

from PIL import Image
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request: benchmarks send thousands (errors still log)."""

    def log_request(self, code="-", size="-") -> None:
        pass


def _json(body, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


@dataclass
class Token:
    value: str
    grant: str
    expires: float | None
    kind: str = "access"  # access | refresh
    revoked: bool = False
    #: The Facebook Page a Page token acts for.
    page: str | None = None


@dataclass
class Received:
    """One publishing request as the network saw it."""

    method: str
    path: str
    headers: dict[str, str]
    args: dict[str, str]
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    #: Uploaded files: field name -> (filename, content type, bytes).
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)
    data: bytes = b""


#: How far apart two posts with the same text must be (networks refuse duplicates).
DUPLICATE_WINDOW = 24 * 3600
_URL = re.compile(r"https?://[^\s<>\"']+")


def _snowflake() -> str:
    """A 19-digit id, the shape of X, LinkedIn and Graph ids."""
    return str(10**18 + secrets.randbelow(9 * 10**18))


@functools.lru_cache(maxsize=8192)
def _bare(text: str) -> str:
    """A post's text as duplicate checks see it: links left out (the network wraps each link
    anew, so only the words can repeat) and spacing normalised."""
    return " ".join(_URL.sub("", text).split())


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of an image the network could decode, None when it cannot."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
                return image.size
    except Exception:  # noqa: BLE001 - whatever Pillow raises, the network says "invalid"
        return None


@dataclass
class Code:
    redirect_uri: str
    scope: str
    challenge: str | None = None
    used: bool = False
    expires: float = field(default_factory=lambda: time.time() + 60)


class FakeNetwork:
    """What every fake shares: a threaded server, issued codes and tokens, and a clock that
    tests move forward (``advance``) to make tokens expire. ``ask_member``: the authorise page
    waits for a person to press "Allow" instead of approving at once."""

    label = "Network"
    access_seconds = 3600
    refresh_seconds: int | None = None
    #: The ``error`` the network sends back when the member declines.
    declined_error = "access_denied"
    #: The largest image upload the network takes.
    max_image_bytes = 5 * 1024 * 1024

    def __init__(self, client_id: str = "fake-client-id",
                 client_secret: str = "fake-client-secret", *, ask_member: bool = False) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.ask_member = ask_member
        self.codes: dict[str, Code] = {}
        self.tokens: dict[str, Token] = {}
        #: Tokens a client revoked through the revoke endpoint, in order.
        self.revoked: list[str] = []
        #: (method, path) of every request, for tests to see what was called.
        self.calls: list[tuple[str, str]] = []
        self.offset = 0.0
        #: Posts made on the network, oldest first.
        self.posts: list[dict] = []
        #: Uploaded media by id: owner, bytes, content type, alt text.
        self.media: dict[str, dict] = {}
        #: Every publishing request, in order.
        self.received: list[Received] = []
        #: Seconds each post creation takes before it answers.
        self.latency = 0.0
        self.max_image_bytes = type(self).max_image_bytes
        self._limited = 0
        self._reset_in = 0.0
        self._failures: list[int] = []
        self._swallow: list[float] = []
        self._closing = threading.Event()
        #: Posts by (author, words), for spotting duplicates; ``_indexed`` posts are in it.
        self._by_words: dict[tuple[str, str], list[dict]] = {}
        self._indexed = 0
        self._lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self._wsgi, threaded=True,
                                  request_handler=_QuietHandler)
        # A short poll so close() (which waits for the loop to notice) is quick.
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})
        self._thread.start()

    @property
    def url(self) -> str:
        """Where the fake listens: the base URL for both its authorise and API endpoints."""
        return f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        """Stop serving and release the port (answers still held back are let go)."""
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()

    def now(self) -> float:
        """The fake's clock, which decides token expiry."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock forward, so tokens expire without waiting."""
        self.offset += seconds

    def revoke_everything(self) -> None:
        """The member removed the app on the network: every token stops working."""
        with self._lock:
            for token in self.tokens.values():
                token.revoked = True

    def live_tokens(self) -> list[str]:
        """Tokens the network would still accept."""
        return [t.value for t in self.tokens.values() if self._state(t) == "ok"]

    def issue_token_for_tests(self, *, page: str | None = None) -> str:
        """An access token for the member, as if they had connected; on Facebook a Page
        token for ``page`` (default: the first Page)."""
        token = Token(secrets.token_urlsafe(24), secrets.token_hex(8),
                      self.now() + self.access_seconds, page=page)
        self.tokens[token.value] = token
        return token.value

    # --- the network's bad days ------------------------------------------------------------

    def rate_limit(self, count: int = 1, reset_in: float = 900) -> None:
        """The next ``count`` post creations are refused as over the rate limit, with the
        network's own headers saying the limit resets in ``reset_in`` seconds."""
        with self._lock:
            self._limited, self._reset_in = count, reset_in

    def fail_next(self, status: int = 503, count: int = 1) -> None:
        """The next ``count`` post creations fail with ``status`` (an outage)."""
        with self._lock:
            self._failures = [status] * count

    def swallow_next(self, hold: float = 5.0) -> None:
        """The next post creation is made, but its answer is held back ``hold`` seconds
        (longer than the client waits): the client cannot know the post exists."""
        with self._lock:
            self._swallow.append(hold)

    def posts_by(self, author: str) -> list[dict]:
        """The author's posts, oldest first."""
        return [post for post in self.posts if post["author"] == author]

    # --- publishing plumbing -----------------------------------------------------------------

    def _receive(self, request: Request) -> Received:
        files = {name: (f.filename or "", f.mimetype, f.read())
                 for name, f in request.files.items()}
        seen = Received(request.method, request.path, dict(request.headers),
                        dict(request.args), request.get_json(silent=True),
                        dict(request.form), files,
                        b"" if files or request.form else request.get_data())
        self.received.append(seen)
        return seen

    def _before_post(self) -> Response | None:
        """The outage or rate limit a test asked for, then the network's think time."""
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
            limited = self._limited > 0
            if failure is None and limited:
                self._limited -= 1
        if failure is not None:
            return self._server_error(failure)
        if limited:
            return self._too_many(self._reset_in)
        if self.latency:
            self._closing.wait(self.latency)
        return None

    def _answer_post(self, response: Response) -> Response:
        """The post exists now; answer, or hold the answer back if a test asked to."""
        with self._lock:
            hold = self._swallow.pop(0) if self._swallow else None
        if hold is not None:
            self._closing.wait(hold)
        return response

    def _server_error(self, status: int) -> Response:
        return _json({"message": "Internal error"}, status)

    def _too_many(self, reset_in: float) -> Response:
        return _json({"message": "Too many requests"}, 429)

    def _duplicate_of(self, author: str, text: str) -> dict | None:
        """An earlier post of ``author`` with the same words, within the duplicate window."""
        with self._lock:
            if self._indexed > len(self.posts):  # posts were deleted or the list replaced
                self._by_words, self._indexed = {}, 0
            for post in self.posts[self._indexed:]:  # tests may add posts themselves
                self._by_words.setdefault((post["author"], _bare(post["text"])), []
                                          ).append(post)
            self._indexed = len(self.posts)
            earlier = self._by_words.get((author, _bare(text)), [])
            cutoff = self.now() - DUPLICATE_WINDOW
            return next((post for post in reversed(earlier) if post["created"] > cutoff), None)

    def _store_post(self, post_id: str, author: str, text: str, media: list[str],
                    link: str | None, **extra) -> dict:
        post = {"id": post_id, "author": author, "text": text, "media": media, "link": link,
                "created": self.now(), **extra}
        with self._lock:
            self.posts.append(post)
        return post

    def _forget(self, post: dict) -> None:
        """A deleted post: gone from the account. Call with the lock held."""
        self.posts[:] = [p for p in self.posts if p is not post]

    def _store_media(self, media_id: str, owner: str, data: bytes | None, mimetype: str
                     ) -> dict:
        item = {"id": media_id, "owner": owner, "data": data, "type": mimetype, "alt": ""}
        with self._lock:
            self.media[media_id] = item
        return item

    def _image_problem(self, data: bytes) -> str | None:
        """Why the network would refuse these bytes as an image, if it would."""
        if len(data) > self.max_image_bytes:
            return f"The image is {len(data)} bytes; the largest allowed is " \
                   f"{self.max_image_bytes} bytes"
        if _image_size(data) is None:
            return "The file is not an image the network can read"
        return None

    # --- plumbing --------------------------------------------------------------------------

    def routes(self) -> dict[tuple[str, str], object]:
        """(method, path) -> handler for the endpoints this network has."""
        raise NotImplementedError

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        self.calls.append((request.method, request.path))
        handler = self.routes().get((request.method, request.path))
        if handler is None:
            handler = self.fallback(request)
        response = handler(request) if handler else _json({"message": "Not found"}, 404)
        return response(environ, start_response)

    def fallback(self, request: Request):
        """The handler for a path with an id in it, which ``routes`` cannot name."""
        return None

    def _authorize(self, request: Request, *, pkce: bool = False) -> Response:
        # GET is the page the app sends the member to; POST is its "Allow" or "Cancel"
        # button, carrying the same parameters back.
        args = request.args if request.method == "GET" else request.form
        if args.get("client_id") != self.client_id or not args.get("redirect_uri"):
            return Response("Unknown application or redirect_uri", status=400)
        challenge = None
        if pkce:
            if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
                return Response("code_challenge with S256 is required", status=400)
            challenge = args["code_challenge"]
        if request.method == "GET" and self.ask_member:
            return self._consent_page(request.path, args)
        if request.method == "POST" and args.get("decision") != "allow":
            query = urlencode({"error": self.declined_error, "state": args.get("state", "")})
            return Response(status=302, headers={"Location": f"{args['redirect_uri']}?{query}"})
        code = secrets.token_urlsafe(16)
        self.codes[code] = Code(args["redirect_uri"], args.get("scope", ""), challenge)
        query = urlencode({"code": code, "state": args.get("state", "")})
        return Response(status=302, headers={"Location": f"{args['redirect_uri']}?{query}"})

    def _consent_page(self, path: str, args) -> Response:
        hidden = "".join(f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
                         for name, value in args.items(multi=True))
        scopes = "".join(f"<li>{escape(scope)}</li>"
                         for scope in args.get("scope", "").replace(",", " ").split())
        page = (f"<!doctype html><html><head><meta charset=\"utf-8\">"
                f"<title>{self.label} (demo network)</title></head><body>"
                f"<h1>{self.label} (demo network)</h1>"
                f"<p>A local stand-in for {self.label}: nothing leaves this machine.</p>"
                f"<p>Signed in as the demo member. The application asks to:</p><ul>{scopes}</ul>"
                f'<form method="post" action="{escape(path)}">{hidden}'
                f'<button type="submit" name="decision" value="allow">Allow</button> '
                f'<button type="submit" name="decision" value="cancel">Cancel</button>'
                f"</form></body></html>")
        return Response(page, mimetype="text/html")

    def _take_code(self, code: str | None, redirect_uri: str | None) -> Code | None:
        with self._lock:
            found = self.codes.get(code or "")
            if (found is None or found.used or found.expires < time.time()
                    or found.redirect_uri != redirect_uri):
                return None
            found.used = True
            return found

    def _issue(self, grant: str, *, refresh: bool) -> dict:
        access = Token(secrets.token_urlsafe(24), grant, self.now() + self.access_seconds)
        self.tokens[access.value] = access
        issued = {"access_token": access.value, "expires_in": self.access_seconds}
        if refresh:
            expires = self.now() + self.refresh_seconds if self.refresh_seconds else None
            token = Token(secrets.token_urlsafe(24), grant, expires, kind="refresh")
            self.tokens[token.value] = token
            issued["refresh_token"] = token.value
        return issued

    def _state(self, token: Token | None) -> str:
        if token is None:
            return "invalid"
        if token.revoked:
            return "revoked"
        if token.expires is not None and token.expires < self.now():
            return "expired"
        return "ok"

    def _bearer(self, request: Request) -> tuple[Token | None, str]:
        header = request.headers.get("Authorization", "")
        value = header[7:] if header.startswith("Bearer ") else request.args.get(
            "access_token", "")
        token = self.tokens.get(value)
        if token is not None and token.kind != "access":
            token = None
        return token, self._state(token)

    def _revoke(self, value: str) -> None:
        with self._lock:
            token = self.tokens.get(value)
            if token is not None:
                self.revoked.append(value)
                for other in self.tokens.values():
                    if other.grant == token.grant:
                        other.revoked = True

    def _client_ok(self, request: Request, *, basic: bool) -> bool:
        if basic:
            auth = request.authorization
            return bool(auth and auth.username == self.client_id
                        and auth.password == self.client_secret)
        return (request.form.get("client_id") == self.client_id
                and request.form.get("client_secret") == self.client_secret)
