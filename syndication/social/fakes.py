"""Demo networks: local stand-ins for LinkedIn, X and Facebook, for tests and the demo only.

Never for production: no real member stands behind them and everything lives in memory.
Each is a real HTTP server on loopback implementing the networks' documented endpoints that
the adapters call, with their response shapes and error bodies: the OAuth authorise page, the
token endpoint (authorization code, PKCE S256 on X, refresh, expiry), revocation, and who the
token is (LinkedIn userinfo and organizationAcls, X users/me, Facebook me/accounts with Page
tokens). ``revoke_everything`` plays the member removing the app on the network's side.

Publishing: LinkedIn's Posts and Images APIs, X's ``/2/tweets`` and ``/2/media/upload``, the
Graph API's ``/{page-id}/feed`` and ``/{page-id}/photos``, each checking the request shape
its documentation gives and answering with the network's id formats and error bodies. Posts
are kept in ``posts`` (dicts: id, author, text, media, link, created) and every publishing
request in ``received``, for tests and benchmarks to count and inspect. Controls play the
network's bad days: ``latency``, ``rate_limit``, ``fail_next``, ``swallow_next``,
``max_image_bytes``; duplicate texts from one author within 24 hours (of the fake's clock)
are refused the way each network refuses them.

The authorise page approves at once and redirects back with the code and state, which is what
tests want; with ``ask_member=True`` it shows a consent page whose "Allow" button does that,
for a person clicking through ``tcma serve --demo-networks``. ``start_demo_networks`` points
an app at the three of them.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import re
import secrets
import threading
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


class FakeLinkedIn(FakeNetwork):
    """LinkedIn: /oauth/v2 (authorization, accessToken with 60-day tokens and 1-year refresh
    tokens, revoke), /v2/userinfo and the versioned /rest organizationAcls and
    organizations. Posting: /rest/posts (create, find by author, delete; the commentary read
    as "little" text, cut at the first unescaped reserved character as LinkedIn does) and
    /rest/images initializeUpload with the upload URL it hands out. /rest calls need the
    ``LinkedIn-Version`` header, posts and images also Rest.li protocol 2.0.0."""

    label = "LinkedIn"
    access_seconds = 60 * 24 * 3600
    refresh_seconds = 365 * 24 * 3600
    declined_error = "user_cancelled_authorize"
    max_image_bytes = 8 * 1024 * 1024

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.member = {"sub": "782bbtaQ", "name": "Lina Member", "given_name": "Lina",
                       "family_name": "Member", "email": "lina@example.com",
                       "picture": "https://media.licdn.example/lina.jpg"}
        #: Organizations the member administers: id -> (localizedName, vanityName).
        self.organizations: dict[str, tuple[str, str]] = {"2414183": ("Northwind IT",
                                                                      "northwind-it")}

    def routes(self):
        """The endpoints this network has, by (method, path)."""
        return {("GET", "/oauth/v2/authorization"): self._authorize,
                ("POST", "/oauth/v2/authorization"): self._authorize,
                ("POST", "/oauth/v2/accessToken"): self.token,
                ("POST", "/oauth/v2/revoke"): self.revoke,
                ("GET", "/v2/userinfo"): self.userinfo,
                ("GET", "/rest/organizationAcls"): self.acls,
                ("POST", "/rest/posts"): self.create_post,
                ("GET", "/rest/posts"): self.find_posts,
                ("POST", "/rest/images"): self.initialize_upload}

    def fallback(self, request: Request):
        """Organisations and posts are addressed by id in the path; uploads by a key."""
        if request.method == "GET" and request.path.startswith("/rest/organizations/"):
            return self.organization
        if request.method == "DELETE" and request.path.startswith("/rest/posts/"):
            return self.delete_post
        if request.method == "PUT" and request.path.startswith("/dms-uploads/"):
            return self.upload
        return None

    def _oauth_error(self, description: str) -> Response:
        return _json({"error": "invalid_request", "error_description": description}, 400)

    def token(self, request: Request) -> Response:
        """The token endpoint: exchange a code, or refresh."""
        if not self._client_ok(request, basic=False):
            return _json({"error": "invalid_client",
                          "error_description": "Client authentication failed"}, 401)
        grant_type = request.form.get("grant_type")
        if grant_type == "authorization_code":
            code = self._take_code(request.form.get("code"), request.form.get("redirect_uri"))
            if code is None:
                return self._oauth_error(
                    "Unable to retrieve access token: appid/redirect uri/code verifier does "
                    "not match authorization code. Or authorization code expired.")
            issued = self._issue(secrets.token_hex(8), refresh=True)
            return _json({**issued, "refresh_token_expires_in": self.refresh_seconds,
                          "scope": code.scope.replace(" ", ",")})
        if grant_type == "refresh_token":
            token = self.tokens.get(request.form.get("refresh_token", ""))
            if token is None or token.kind != "refresh" or self._state(token) != "ok":
                return self._oauth_error("The provided authorization grant or refresh token "
                                         "is invalid, expired or revoked.")
            access = Token(secrets.token_urlsafe(24), token.grant,
                           self.now() + self.access_seconds)
            self.tokens[access.value] = access
            # LinkedIn keeps the refresh token: its lifetime counts down from the consent.
            return _json({"access_token": access.value, "expires_in": self.access_seconds,
                          "refresh_token": token.value,
                          "refresh_token_expires_in": int(token.expires - self.now())})
        return _json({"error": "unsupported_grant_type",
                      "error_description": "Grant type is not supported"}, 400)

    def revoke(self, request: Request) -> Response:
        """Revoke a token and every token of the same grant."""
        if not self._client_ok(request, basic=False):
            return _json({"error": "invalid_client",
                          "error_description": "Client authentication failed"}, 401)
        self._revoke(request.form.get("token", ""))
        return Response(status=200)

    def _unauthorized(self, state: str) -> Response:
        code, message = {
            "revoked": ("REVOKED_ACCESS_TOKEN",
                        "The token used in the request has been revoked by the user"),
            "expired": ("EXPIRED_ACCESS_TOKEN", "The token used in the request has expired"),
        }.get(state, ("INVALID_ACCESS_TOKEN", "Invalid access token"))
        return _json({"status": 401, "serviceErrorCode": 65600, "code": code,
                      "message": message}, 401)

    def userinfo(self, request: Request) -> Response:
        """Who the token acts for (OpenID Connect userinfo)."""
        _, state = self._bearer(request)
        if state != "ok":
            return self._unauthorized(state)
        return _json({**self.member, "email_verified": True,
                      "locale": {"country": "US", "language": "en"}})

    def _versioned(self, request: Request) -> Response | None:
        _, state = self._bearer(request)
        if state != "ok":
            return self._unauthorized(state)
        version = request.headers.get("LinkedIn-Version", "")
        if not version:
            return _json({"status": 400, "code": "VERSION_MISSING", "message": "A version must "
                          "be present. Please specify a version by adding the LinkedIn-Version "
                          "header."}, 400)
        if not re.fullmatch(r"20\d{4}(\.\d\d)?", version):
            return _json({"status": 426, "code": "NONEXISTENT_VERSION",
                          "message": f"Requested version {version} is not active"}, 426)
        return None

    def acls(self, request: Request) -> Response:
        """The organisations the member administers."""
        refused = self._versioned(request)
        if refused is not None:
            return refused
        if request.args.get("q") != "roleAssignee":
            return _json({"status": 400, "message": "Unsupported finder"}, 400)
        elements = [{"roleAssignee": f"urn:li:person:{self.member['sub']}", "state": "APPROVED",
                     "role": "ADMINISTRATOR", "organization": f"urn:li:organization:{org}"}
                    for org in self.organizations]
        return _json({"paging": {"start": 0, "count": 10, "links": []}, "elements": elements})

    def organization(self, request: Request) -> Response:
        """One organisation's name and vanity name."""
        refused = self._versioned(request)
        if refused is not None:
            return refused
        org_id = request.path.rsplit("/", 1)[-1]
        if org_id not in self.organizations:
            return _json({"status": 404, "message": "Not found"}, 404)
        name, vanity = self.organizations[org_id]
        return _json({"id": int(org_id), "localizedName": name, "vanityName": vanity})

    # --- Posts and Images APIs -----------------------------------------------------------

    #: Fields a post may have (Posts API schema); others are refused as unrecognized.
    POST_FIELDS = {"author", "commentary", "visibility", "distribution", "lifecycleState",
                   "isReshareDisabledByAuthor", "content", "contentLandingPage",
                   "contentCallToActionLabel", "adContext", "container", "reshareContext"}
    REQUIRED_POST_FIELDS = ("author", "commentary", "visibility", "distribution",
                            "lifecycleState")
    #: Unescaped, these end the commentary: LinkedIn keeps the text before the first one.
    LITTLE_RESERVED = set("\\|{}@[]()<>*_~#")
    #: LinkedIn's pixel limit for images.
    max_image_pixels = 36_152_320
    #: Whether the app may list a member's own posts (LinkedIn's restricted
    #: ``r_member_social``); organizations' posts are always listed.
    lists_member_posts = True

    def _restli(self, request: Request) -> Response | None:
        refused = self._versioned(request)
        if refused is not None:
            return refused
        if request.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            return _json({"status": 400, "message": "This endpoint takes Rest.li protocol "
                          "2.0.0 (X-Restli-Protocol-Version)"}, 400)
        return None

    def _authors(self) -> set[str]:
        """Who the member may post as: themself and the organizations they administer."""
        return {f"urn:li:person:{self.member['sub']}",
                *(f"urn:li:organization:{org}" for org in self.organizations)}

    def _denied(self, action: str) -> Response:
        return _json({"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED",
                      "message": f"Not enough permissions to access: {action}"}, 403)

    @staticmethod
    def _unprocessable(errors: list[str]) -> Response:
        return _json({"status": 422, "message": "".join(f"ERROR :: {e}\n" for e in errors)},
                     422)

    def _server_error(self, status: int) -> Response:
        return _json({"status": status, "message": "Internal Server Error"}, status)

    def _too_many(self, reset_in: float) -> Response:
        # LinkedIn's limits are per day and it does not say when they reset.
        return _json({"status": 429, "serviceErrorCode": 101, "code": "TOO_MANY_REQUESTS",
                      "message": "Resource level throttle APPLICATION DAY limit for calls to "
                                 "this resource is reached."}, 429)

    def read_little(self, commentary: str) -> str:
        """What LinkedIn shows for ``commentary``: escapes resolved, and cut at the first
        unescaped reserved character (links and ``#hashtags`` are fine)."""
        out, i = [], 0
        while i < len(commentary):
            url = _URL.match(commentary, i)
            char = commentary[i]
            if url:
                out.append(url.group())
                i = url.end()
            elif char == "\\" and i + 1 < len(commentary):
                out.append(commentary[i + 1])
                i += 2
            elif char == "#" and i + 1 < len(commentary) and commentary[i + 1].isalnum():
                out.append(char)
                i += 1
            elif char in self.LITTLE_RESERVED:
                break
            else:
                out.append(char)
                i += 1
        return "".join(out)

    def _check_post(self, body: dict) -> list[str]:
        errors = [f"/{name} :: field is required but not found and has no default value"
                  for name in self.REQUIRED_POST_FIELDS if name not in body]
        errors += [f"/{name} :: unrecognized field found but not allowed"
                   for name in body if name not in self.POST_FIELDS]
        if "commentary" in body and not isinstance(body["commentary"], str):
            errors.append("/commentary :: not a string")
        if body.get("visibility", "PUBLIC") not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN",
                                                    "CONTAINER"):
            errors.append("/visibility :: not a valid enum value")
        if body.get("lifecycleState", "PUBLISHED") not in ("PUBLISHED", "DRAFT"):
            errors.append("/lifecycleState :: not a valid enum value")
        distribution = body.get("distribution", {})
        if not isinstance(distribution, dict) or distribution.get("feedDistribution") not in (
                "MAIN_FEED", "NONE"):
            errors.append("/distribution/feedDistribution :: field is required but not found "
                          "and has no default value")
        content = body.get("content")
        if content is None:
            return errors
        if not isinstance(content, dict) or len(content) != 1:
            return [*errors, "/content :: exactly one kind of content is allowed"]
        if "media" in content:
            image = self.media.get((content["media"] or {}).get("id", ""))
            if image is None or image["data"] is None or image["owner"] != body.get("author"):
                errors.append("/content/media/id :: the image is not AVAILABLE to the author")
        elif "article" in content:
            article = content["article"] or {}
            if not str(article.get("source", "")).startswith(("http://", "https://")):
                errors.append("/content/article/source :: field is required but not found and "
                              "has no default value")
            if not article.get("title"):
                errors.append("/content/article/title :: field is required but not found and "
                              "has no default value")
        else:
            errors.append(f"/content/{next(iter(content))} :: not supported here")
        return errors

    def create_post(self, request: Request) -> Response:
        """``POST /rest/posts``: 201 with the new post's URN in ``x-restli-id``."""
        refused = self._restli(request)
        if refused is not None:
            return refused
        body = self._receive(request).json
        if not isinstance(body, dict):
            return _json({"status": 400, "code": "ILLEGAL_ARGUMENT",
                          "message": "Request body could not be converted to data map"}, 400)
        errors = self._check_post(body)
        if errors:
            return self._unprocessable(errors)
        if body["author"] not in self._authors():
            return self._denied("partnerApiPostsExternal.CREATE.20241101")
        held = self._before_post()
        if held is not None:
            return held
        text = self.read_little(body["commentary"])
        earlier = self._duplicate_of(body["author"], text)
        if earlier is not None:
            return self._unprocessable([f"Content is a duplicate of {earlier['id']}"])
        content = body.get("content") or {}
        media = [content["media"]["id"]] if "media" in content else []
        link = (content.get("article") or {}).get("source")
        post = self._store_post(f"urn:li:share:{_snowflake()}", body["author"], text, media,
                                link, commentary=body["commentary"],
                                alt=(content.get("media") or {}).get("altText", ""))
        return self._answer_post(Response(status=201, headers={"x-restli-id": post["id"]}))

    def find_posts(self, request: Request) -> Response:
        """``GET /rest/posts?q=author&author=<urn>``: the author's posts, newest first."""
        refused = self._restli(request)
        if refused is not None:
            return refused
        self._receive(request)
        if request.args.get("q") != "author" or not request.args.get("author"):
            return _json({"status": 400, "message": "Unsupported finder"}, 400)
        author = request.args["author"]
        if author not in self._authors() or (
                author.startswith("urn:li:person:") and not self.lists_member_posts):
            return self._denied("partnerApiPostsExternal.FINDER-author.20241101")
        count = min(int(request.args.get("count", 10)), 100)
        found = list(reversed(self.posts_by(author)))[:count]
        return _json({"paging": {"start": 0, "count": count, "links": []}, "elements": [
            {"id": post["id"], "author": post["author"], "commentary": post["commentary"],
             "visibility": "PUBLIC", "lifecycleState": "PUBLISHED",
             "createdAt": int(post["created"] * 1000),
             "publishedAt": int(post["created"] * 1000),
             "lastModifiedAt": int(post["created"] * 1000)} for post in found]})

    def delete_post(self, request: Request) -> Response:
        """``DELETE /rest/posts/{urn}``: 204."""
        refused = self._restli(request)
        if refused is not None:
            return refused
        self._receive(request)
        urn = request.path.removeprefix("/rest/posts/")
        with self._lock:
            post = next((p for p in self.posts if p["id"] == urn), None)
            if post is None:
                return _json({"status": 404, "message": f"Post {urn} not found"}, 404)
            if post["author"] not in self._authors():
                return self._denied("partnerApiPostsExternal.DELETE.20241101")
            self._forget(post)
        return Response(status=204)

    def initialize_upload(self, request: Request) -> Response:
        """``POST /rest/images?action=initializeUpload``: where to PUT the image."""
        refused = self._restli(request)
        if refused is not None:
            return refused
        body = self._receive(request).json
        if request.args.get("action") != "initializeUpload":
            return _json({"status": 400, "message": "Unsupported action"}, 400)
        owner = ((body or {}).get("initializeUploadRequest") or {}).get("owner") \
            if isinstance(body, dict) else None
        if not owner:
            return self._unprocessable(["/initializeUploadRequest/owner :: field is required "
                                        "but not found and has no default value"])
        if owner not in self._authors():
            return self._denied("partnerApiImages.ACTION-initializeUpload.20241101")
        urn = f"urn:li:image:C4E10AQ{secrets.token_urlsafe(9)}"
        key = secrets.token_urlsafe(12)
        self._store_media(urn, owner, None, "")["key"] = key
        return _json({"value": {"uploadUrlExpiresAt": int((self.now() + 86400) * 1000),
                                "uploadUrl": f"{self.url}/dms-uploads/{key}", "image": urn}})

    def upload(self, request: Request) -> Response:
        """``PUT`` the image bytes to the upload URL."""
        _, state = self._bearer(request)
        if state != "ok":
            return self._unauthorized(state)
        data = self._receive(request).data
        image = next((m for m in self.media.values()
                      if m.get("key") == request.path.removeprefix("/dms-uploads/")), None)
        if image is None:
            return _json({"status": 404, "message": "Upload not found"}, 404)
        problem = self._image_problem(data)
        size = _image_size(data)
        if problem is None and size and size[0] * size[1] > self.max_image_pixels:
            problem = f"The image has more than {self.max_image_pixels} pixels"
        if problem:
            return _json({"status": 400, "message": f"Invalid image: {problem}"}, 400)
        image["data"], image["type"] = data, request.content_type or ""
        return Response(status=201)


def s256(verifier: str) -> str:
    """The PKCE S256 challenge for ``verifier`` (RFC 7636)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                    ).rstrip(b"=").decode()


class FakeX(FakeNetwork):
    """X API v2 OAuth 2.0: /i/oauth2/authorize (PKCE required), /2/oauth2/token (confidential
    client with HTTP Basic, two-hour tokens, rotating refresh tokens), /2/oauth2/revoke and
    /2/users/me. Posting: /2/media/upload (one shot) and /2/media/metadata, /2/tweets
    (create, delete; links shown as t.co links) and /2/users/{id}/tweets. Every token acts
    for ``user``; the ``media.write`` scope is not checked."""

    label = "X"
    access_seconds = 7200

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.user = {"id": "1458312046218625024", "name": "Northwind IT",
                     "username": "northwind_it",
                     "profile_image_url": "https://pbs.twimg.example/northwind.jpg"}
        #: Verifiers presented at the token endpoint that did not match their challenge.
        self.pkce_failures = 0

    def routes(self):
        """The endpoints this network has, by (method, path)."""
        return {("GET", "/i/oauth2/authorize"): lambda r: self._authorize(r, pkce=True),
                ("POST", "/i/oauth2/authorize"): lambda r: self._authorize(r, pkce=True),
                ("POST", "/2/oauth2/token"): self.token,
                ("POST", "/2/oauth2/revoke"): self.revoke,
                ("GET", "/2/users/me"): self.me,
                ("POST", "/2/media/upload"): self.upload_media,
                ("POST", "/2/media/metadata"): self.media_metadata,
                ("POST", "/2/tweets"): self.create_tweet}

    def fallback(self, request: Request):
        """Tweets and users are addressed by id in the path."""
        if request.method == "DELETE" and request.path.startswith("/2/tweets/"):
            return self.delete_tweet
        if request.method == "GET" and re.fullmatch(r"/2/users/\d+/tweets", request.path):
            return self.user_tweets
        return None

    def token(self, request: Request) -> Response:
        """The token endpoint: exchange a code, or refresh."""
        if not self._client_ok(request, basic=True):
            return _json({"error": "unauthorized_client",
                          "error_description": "Missing valid authorization header"}, 401)
        grant_type = request.form.get("grant_type")
        if grant_type == "authorization_code":
            code = self._take_code(request.form.get("code"), request.form.get("redirect_uri"))
            verifier = request.form.get("code_verifier", "")
            if code is not None and s256(verifier) != code.challenge:
                self.pkce_failures += 1
                code = None
            if code is None:
                return _json({"error": "invalid_request", "error_description":
                              "Value passed for the authorization code was invalid."}, 400)
            issued = self._issue(secrets.token_hex(8), refresh="offline.access" in code.scope)
            return _json({"token_type": "bearer", **issued, "scope": code.scope})
        if grant_type == "refresh_token":
            with self._lock:
                token = self.tokens.get(request.form.get("refresh_token", ""))
                if token is None or token.kind != "refresh" or self._state(token) != "ok":
                    return _json({"error": "invalid_request", "error_description":
                                  "Value passed for the token was invalid."}, 400)
                token.revoked = True  # X rotates refresh tokens: the old one is spent
                issued = self._issue(token.grant, refresh=True)
            return _json({"token_type": "bearer", **issued,
                          "scope": "tweet.read tweet.write users.read offline.access media.write"})
        return _json({"error": "invalid_request",
                      "error_description": "Missing required parameter [grant_type]."}, 400)

    def revoke(self, request: Request) -> Response:
        """Revoke a token and every token of the same grant."""
        if not self._client_ok(request, basic=True):
            return _json({"error": "unauthorized_client",
                          "error_description": "Missing valid authorization header"}, 401)
        self._revoke(request.form.get("token", ""))
        return _json({"revoked": True})

    def me(self, request: Request) -> Response:
        """The user the token acts for."""
        _, state = self._bearer(request)
        if state != "ok":
            return _json({"title": "Unauthorized", "type": "about:blank", "status": 401,
                          "detail": "Unauthorized"}, 401)
        return _json({"data": self.user})

    # --- posting: /2/tweets and /2/media --------------------------------------------------

    #: Fields ``POST /2/tweets`` takes.
    TWEET_FIELDS = {"text", "media", "reply", "quote_tweet_id", "poll", "reply_settings",
                    "for_super_followers_only", "direct_message_deep_link", "geo",
                    "nullcast", "card_uri"}
    MEDIA_CATEGORIES = {"tweet_image", "tweet_gif", "tweet_video", "dm_image", "dm_gif",
                        "dm_video", "subtitles"}

    @staticmethod
    def _problem(status: int, title: str, detail: str, kind: str = "about:blank",
                 **extra) -> Response:
        return _json({"title": title, "detail": detail, "type": kind, "status": status,
                      **extra}, status)

    def _invalid(self, message: str, parameter: str) -> Response:
        return _json({"errors": [{"parameters": {parameter: []}, "message": message}],
                      "title": "Invalid Request", "detail": "One or more parameters to your "
                      "request was invalid.",
                      "type": "https://api.twitter.com/2/problems/invalid-request"}, 400)

    def _user_or_refusal(self, request: Request) -> Response | None:
        _, state = self._bearer(request)
        if state != "ok":
            return self._problem(401, "Unauthorized", "Unauthorized")
        return None

    def _server_error(self, status: int) -> Response:
        return self._problem(status, "Service Unavailable" if status == 503 else
                             "Internal Server Error", "Service Unavailable")

    def _too_many(self, reset_in: float) -> Response:
        response = self._problem(429, "Too Many Requests", "Too Many Requests")
        response.headers.update({"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0",
                                 "x-rate-limit-reset": str(int(time.time() + reset_in))})
        return response

    @staticmethod
    def shorten(text: str) -> str:
        """The text as X shows it: every link wrapped as a t.co link."""
        return _URL.sub(lambda _: f"https://t.co/{secrets.token_urlsafe(7)[:10]}", text)

    def _tweet(self, post: dict, fields: str = "") -> dict:
        tweet = {"id": post["id"], "text": post["shown"], "edit_history_tweet_ids": [post["id"]]}
        if "created_at" in fields:
            tweet["created_at"] = datetime.fromtimestamp(post["created"], UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.000Z")
        return tweet

    def upload_media(self, request: Request) -> Response:
        """``POST /2/media/upload`` (one shot, multipart): the media id."""
        refused = self._user_or_refusal(request)
        if refused is not None:
            return refused
        seen = self._receive(request)
        if "media" not in seen.files:
            return self._invalid("The `media` field is required.", "media")
        category = seen.form.get("media_category", "tweet_image")
        if category not in self.MEDIA_CATEGORIES:
            return self._invalid(f"`{category}` is not a valid media_category.",
                                 "media_category")
        _, mimetype, data = seen.files["media"]
        problem = self._image_problem(data)
        if problem:
            return self._invalid(problem, "media")
        media_id = _snowflake()
        self._store_media(media_id, self.user["id"], data, seen.form.get("media_type")
                          or mimetype)
        width, height = _image_size(data)
        return _json({"data": {"id": media_id, "media_key": f"3_{media_id}", "size": len(data),
                               "expires_after_secs": 86400, "image": {
                                   "image_type": seen.form.get("media_type") or mimetype,
                                   "w": width, "h": height}}})

    def media_metadata(self, request: Request) -> Response:
        """``POST /2/media/metadata``: alt text for an uploaded image."""
        refused = self._user_or_refusal(request)
        if refused is not None:
            return refused
        body = self._receive(request).json or {}
        item = self.media.get(str(body.get("id", ""))) if isinstance(body, dict) else None
        alt = ((body.get("metadata") or {}).get("alt_text") or {}).get("text") \
            if item else None
        if item is None or not isinstance(alt, str):
            return self._invalid("The `id` and `metadata.alt_text.text` fields are required.",
                                 "id")
        item["alt"] = alt
        return _json({"data": {"id": item["id"],
                               "associated_metadata": {"alt_text": {"text": alt}}}})

    def create_tweet(self, request: Request) -> Response:
        """``POST /2/tweets``: 201 with the tweet (its links as t.co links)."""
        refused = self._user_or_refusal(request)
        if refused is not None:
            return refused
        body = self._receive(request).json
        if not isinstance(body, dict):
            return self._invalid("The request body must be a JSON object.", "body")
        unknown = sorted(set(body) - self.TWEET_FIELDS)
        if unknown:
            return self._invalid(f"The `{unknown[0]}` field is not allowed.", unknown[0])
        media_ids = (body.get("media") or {}).get("media_ids") or []
        if not isinstance(body.get("text", ""), str) or not (body.get("text") or media_ids):
            return self._invalid("Post text or media is required.", "text")
        if any(not isinstance(m, str) or self.media.get(m, {}).get("owner") != self.user["id"]
               for m in media_ids):
            return self._invalid("Your media IDs are invalid.", "media.media_ids")
        held = self._before_post()
        if held is not None:
            return held
        text = body.get("text") or ""
        if self._duplicate_of(self.user["id"], text) is not None:
            return self._problem(403, "Forbidden", "You are not allowed to create a Tweet with "
                                 "duplicate content.")
        links = _URL.findall(text)
        post = self._store_post(_snowflake(), self.user["id"], text, list(media_ids),
                                links[0] if links else None, shown=self.shorten(text))
        return self._answer_post(_json({"data": self._tweet(post)}, 201))

    def user_tweets(self, request: Request) -> Response:
        """``GET /2/users/{id}/tweets``: the user's tweets since ``start_time``, newest
        first."""
        refused = self._user_or_refusal(request)
        if refused is not None:
            return refused
        self._receive(request)
        try:
            limit = int(request.args.get("max_results", 10))
            since = datetime.fromisoformat(request.args["start_time"].replace("Z", "+00:00")
                                           ).timestamp() if "start_time" in request.args else 0
        except ValueError:
            return self._invalid("Invalid max_results or start_time.", "start_time")
        if not 5 <= limit <= 100:
            return self._invalid(f"The `max_results` query parameter value [{limit}] is not "
                                 "between 5 and 100", "max_results")
        user_id = request.path.split("/")[3]
        found = [p for p in reversed(self.posts_by(user_id)) if p["created"] >= since][:limit]
        if not found:
            return _json({"meta": {"result_count": 0}})
        fields = request.args.get("tweet.fields", "")
        return _json({"data": [self._tweet(p, fields) for p in found],
                      "meta": {"result_count": len(found), "newest_id": found[0]["id"],
                               "oldest_id": found[-1]["id"]}})

    def delete_tweet(self, request: Request) -> Response:
        """``DELETE /2/tweets/{id}``."""
        refused = self._user_or_refusal(request)
        if refused is not None:
            return refused
        self._receive(request)
        tweet_id = request.path.rsplit("/", 1)[-1]
        with self._lock:
            post = next((p for p in self.posts if p["id"] == tweet_id), None)
            if post is None:
                return self._problem(404, "Not Found Error", f"Could not find tweet with id: "
                                     f"[{tweet_id}].", "https://api.twitter.com/2/problems/"
                                     "resource-not-found")
            if post["author"] != self.user["id"]:
                return self._problem(403, "Forbidden", "You are not allowed to delete this "
                                     "Tweet.")
            self._forget(post)
        return _json({"data": {"deleted": True}})


class FakeFacebook(FakeNetwork):
    """Graph API: /dialog/oauth, /oauth/access_token (code for a short-lived user token,
    ``fb_exchange_token`` for a 60-day one) and /me/accounts with each Page's own token.
    Posting, with that Page's token only: /{page-id}/feed (create, list), /{page-id}/photos
    and DELETE /{post-id}; errors carry Graph's codes (190 token, 200 permission, 324
    image, 506 duplicate, 80001 Page rate limit)."""

    label = "Facebook"
    access_seconds = 2 * 3600
    long_lived_seconds = 60 * 24 * 3600
    #: Photos over 4 MB are refused.
    max_image_bytes = 4 * 1024 * 1024

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        #: The user's Pages: id -> (name, tasks).
        self.pages: dict[str, tuple[str, list[str]]] = {
            "104857": ("Northwind IT Berlin", ["ANALYZE", "ADVERTISE", "CREATE_CONTENT",
                                               "MODERATE", "MANAGE"]),
            "104858": ("Northwind IT Hamburg", ["ANALYZE", "CREATE_CONTENT"]),
            "104859": ("Northwind Fan Club", ["ANALYZE"]),  # may not post: never offered
        }

    def routes(self):
        """The endpoints this network has, by (method, path)."""
        return {("GET", "/dialog/oauth"): self._authorize,
                ("POST", "/dialog/oauth"): self._authorize,
                ("GET", "/oauth/access_token"): self.token,
                ("GET", "/me/accounts"): self.accounts}

    def fallback(self, request: Request):
        """Pages and posts are addressed by id in the path."""
        parts = request.path.strip("/").split("/")
        if len(parts) == 2 and parts[0] in self.pages:
            return {("POST", "feed"): self.create_post, ("GET", "feed"): self.feed,
                    ("POST", "photos"): self.create_photo}.get((request.method, parts[1]))
        if len(parts) == 1 and request.method == "DELETE":
            return self.delete_post
        return None

    def issue_token_for_tests(self, *, page: str | None = None) -> str:
        """A Page token (the kind that posts), for ``page`` or the first Page."""
        token = Token(secrets.token_urlsafe(24), secrets.token_hex(8), None,
                      page=page or next(iter(self.pages)))
        self.tokens[token.value] = token
        return token.value

    def _error(self, message: str, code: int, status: int = 400, subcode: int | None = None
               ) -> Response:
        error = {"message": message, "type": "OAuthException", "code": code,
                 "fbtrace_id": secrets.token_urlsafe(8)}
        if subcode:
            error["error_subcode"] = subcode
        return _json({"error": error}, status)

    def token(self, request: Request) -> Response:
        """The token endpoint: exchange a code, or a short-lived user token for a 60-day one."""
        args = request.args
        if args.get("client_id") != self.client_id or args.get("client_secret") != \
                self.client_secret:
            return self._error("Error validating client secret.", 1)
        if args.get("grant_type") == "fb_exchange_token":
            token = self.tokens.get(args.get("fb_exchange_token", ""))
            if self._state(token) != "ok":
                return self._error("Error validating access token: Session has expired.", 190)
            long_lived = Token(secrets.token_urlsafe(24), token.grant,
                               self.now() + self.long_lived_seconds)
            self.tokens[long_lived.value] = long_lived
            return _json({"access_token": long_lived.value, "token_type": "bearer",
                          "expires_in": self.long_lived_seconds})
        code = self._take_code(args.get("code"), args.get("redirect_uri"))
        if code is None:
            return self._error("This authorization code has been used.", 100, subcode=36009)
        issued = self._issue(secrets.token_hex(8), refresh=False)
        return _json({**issued, "token_type": "bearer"})

    def accounts(self, request: Request) -> Response:
        """The user's Pages, each with its own Page token."""
        token, state = self._bearer(request)
        if state != "ok":
            return self._error("Error validating access token: The user has not authorized "
                               "application.", 190, status=400, subcode=458)
        data = []
        for page_id, (name, tasks) in self.pages.items():
            page_token = Token(secrets.token_urlsafe(24), token.grant, None, page=page_id)
            self.tokens[page_token.value] = page_token
            data.append({"id": page_id, "name": name, "access_token": page_token.value,
                         "tasks": tasks, "category": "Software",
                         "picture": {"data": {"url": f"https://fb.example/{page_id}.jpg"}}})
        return _json({"data": data, "paging": {"cursors": {"before": "QVFIU", "after": "QVFIX"}}})

    # --- Pages posting: /{page-id}/feed, /{page-id}/photos ---------------------------------

    def _page_token(self, request: Request, page_id: str) -> Response | None:
        """Refuse unless a live Page token of ``page_id``, whose member may create content
        there, is presented."""
        token, state = self._bearer(request)
        if state != "ok":
            return self._error("Error validating access token: The session has been "
                               "invalidated because the user changed their password or "
                               "Facebook has changed the session for security reasons.",
                               190, subcode=460 if state == "revoked" else 463)
        if token.page != page_id or "CREATE_CONTENT" not in self.pages[page_id][1]:
            return self._error("(#200) If posting to a page, requires both "
                               "pages_read_engagement and pages_manage_posts as an admin with "
                               "sufficient administrative permission", 200, status=403)
        return None

    def _server_error(self, status: int) -> Response:
        response = self._error("An unexpected error has occurred. Please retry your request "
                               "later.", 2, status=status)
        body = json.loads(response.get_data())
        body["error"]["is_transient"] = True
        response.set_data(json.dumps(body))
        return response

    def _too_many(self, reset_in: float) -> Response:
        # Page tokens fall under Business Use Case limits: Graph answers 400 with code 80001
        # and says in X-Business-Use-Case-Usage how many minutes until calls work again.
        response = self._error("(#80001) There have been too many calls to this Page "
                               "account. Wait a bit and try again. For more info, please "
                               "refer to https://developers.facebook.com/docs/graph-api/"
                               "overview/rate-limiting.", 80001)
        minutes = max(1, -(-int(reset_in) // 60))
        response.headers["X-Business-Use-Case-Usage"] = json.dumps({
            next(iter(self.pages)): [{"type": "pages", "call_count": 100, "total_cputime": 20,
                                      "total_time": 25,
                                      "estimated_time_to_regain_access": minutes}]})
        return response

    @staticmethod
    def _params(seen: Received) -> dict:
        """Graph takes parameters in the query, a form or a JSON body alike."""
        params = {**seen.args, **seen.form}
        if isinstance(seen.json, dict):
            params.update({k: v for k, v in seen.json.items() if isinstance(v, str)})
        return params

    def create_post(self, request: Request) -> Response:
        """``POST /{page-id}/feed``: ``{"id": "<page>_<post>"}``."""
        page_id = request.path.strip("/").split("/")[0]
        refused = self._page_token(request, page_id)
        if refused is not None:
            return refused
        params = self._params(self._receive(request))
        message, link = params.get("message", ""), params.get("link")
        if not message and not link:
            return self._error("(#100) Missing message or attachment", 100)
        if link and not _URL.fullmatch(link):
            return self._error("(#100) The parameter link must be a valid URL", 100)
        held = self._before_post()
        if held is not None:
            return held
        if message and self._duplicate_of(page_id, message) is not None:
            return self._error("(#506) Duplicate status message", 506)
        post = self._store_post(f"{page_id}_{_snowflake()}", page_id, message, [], link)
        return self._answer_post(_json({"id": post["id"]}))

    def create_photo(self, request: Request) -> Response:
        """``POST /{page-id}/photos`` with ``source``: ``{"id": <photo>, "post_id": ...}``."""
        page_id = request.path.strip("/").split("/")[0]
        refused = self._page_token(request, page_id)
        if refused is not None:
            return refused
        seen = self._receive(request)
        params = self._params(seen)
        if "source" not in seen.files:
            return self._error("(#324) Requires upload file", 324)
        _, mimetype, data = seen.files["source"]
        problem = self._image_problem(data)
        if problem:
            return self._error(f"(#324) Missing or invalid image file: {problem}", 324)
        held = self._before_post()
        if held is not None:
            return held
        photo_id = _snowflake()
        self._store_media(photo_id, page_id, data, mimetype)
        post = self._store_post(f"{page_id}_{_snowflake()}", page_id,
                                params.get("message", ""), [photo_id], None)
        return self._answer_post(_json({"id": photo_id, "post_id": post["id"]}))

    def feed(self, request: Request) -> Response:
        """``GET /{page-id}/feed``: the Page's posts since ``since``, newest first."""
        page_id = request.path.strip("/").split("/")[0]
        refused = self._page_token(request, page_id)
        if refused is not None:
            return refused
        self._receive(request)
        try:
            since = float(request.args.get("since", 0))
            limit = min(int(request.args.get("limit", 25)), 100)
        except ValueError:
            return self._error("(#100) Invalid since or limit", 100)
        fields = request.args.get("fields", "id").split(",")
        found = [p for p in reversed(self.posts_by(page_id)) if p["created"] >= since][:limit]
        data = []
        for post in found:
            item = {"id": post["id"]}
            if "message" in fields and post["text"]:
                item["message"] = post["text"]
            if "created_time" in fields:
                item["created_time"] = datetime.fromtimestamp(post["created"], UTC).strftime(
                    "%Y-%m-%dT%H:%M:%S+0000")
            data.append(item)
        return _json({"data": data, "paging": {"cursors": {"before": "QVFIU",
                                                           "after": "QVFIX"}}})

    def delete_post(self, request: Request) -> Response:
        """``DELETE /{post-id}``: ``{"success": true}``."""
        post_id = request.path.strip("/")
        post = next((p for p in self.posts if p["id"] == post_id), None)
        if post is None:
            _, state = self._bearer(request)
            if state != "ok":
                return self._page_token(request, "")
            return self._error(f"Unsupported delete request. Object with ID '{post_id}' does "
                               "not exist, cannot be loaded due to missing permissions, or "
                               "does not support this operation.", 100, subcode=33)
        refused = self._page_token(request, post["author"])
        if refused is not None:
            return refused
        self._receive(request)
        with self._lock:
            self._forget(post)
        return _json({"success": True})


@dataclass
class DemoNetwork:
    """One network as ``start_demo_networks`` left it: a local fake, or the real network
    when its client id is configured."""

    label: str
    fake: FakeNetwork | None

    def __str__(self) -> str:
        if self.fake is None:
            return f"{self.label}: the real network (its client id is configured)"
        return f"{self.label}: demo network at {self.fake.url} (a local stand-in)"


#: Network setting prefix -> the fake, and the settings holding its base URLs.
_DEMO_NETWORKS = {
    "LINKEDIN": (FakeLinkedIn, ("AUTH", "API")),
    "X": (FakeX, ("AUTH", "API")),
    "FACEBOOK": (FakeFacebook, ("AUTH", "GRAPH")),
}


def start_demo_networks(app) -> list[DemoNetwork]:
    """Start a demo network on loopback for each network the app has no client id for, and
    point the app's settings at it, so a person can connect accounts without credentials.
    Networks with a client id configured are left alone. ``close()`` the fakes when done."""
    started = []
    for prefix, (fake_class, url_settings) in _DEMO_NETWORKS.items():
        if app.config.get(f"SOCIAL_{prefix}_CLIENT_ID"):
            started.append(DemoNetwork(fake_class.label, None))
            continue
        fake = fake_class(ask_member=True)
        app.config[f"SOCIAL_{prefix}_CLIENT_ID"] = fake.client_id
        app.config[f"SOCIAL_{prefix}_CLIENT_SECRET"] = fake.client_secret
        for setting in url_settings:
            app.config[f"SOCIAL_{prefix}_{setting}"] = fake.url
        started.append(DemoNetwork(fake_class.label, fake))
    return started
