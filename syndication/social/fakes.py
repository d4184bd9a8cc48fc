"""Demo networks: local stand-ins for LinkedIn, X and Facebook, for tests and the demo only.

Never for production: no real member stands behind them and everything lives in memory.
Each is a real HTTP server on loopback implementing the networks' documented endpoints that
the adapters call, with their response shapes and error bodies: the OAuth authorise page, the
token endpoint (authorization code, PKCE S256 on X, refresh, expiry), revocation, and who the
token is (LinkedIn userinfo and organizationAcls, X users/me, Facebook me/accounts with Page
tokens). ``revoke_everything`` plays the member removing the app on the network's side.

The authorise page approves at once and redirects back with the code and state, which is what
tests want; with ``ask_member=True`` it shows a consent page whose "Allow" button does that,
for a person clicking through ``tcma serve --demo-networks``. ``start_demo_networks`` points
an app at the three of them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from html import escape
from urllib.parse import urlencode

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


def _json(body, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


@dataclass
class Token:
    value: str
    grant: str
    expires: float | None
    kind: str = "access"  # access | refresh
    revoked: bool = False


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
        self._lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Where the fake listens: the base URL for both its authorise and API endpoints."""
        return f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        """Stop serving and release the port."""
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
    organizations."""

    label = "LinkedIn"
    access_seconds = 60 * 24 * 3600
    refresh_seconds = 365 * 24 * 3600
    declined_error = "user_cancelled_authorize"

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
                ("GET", "/rest/organizationAcls"): self.acls}

    def fallback(self, request: Request):
        """Organisations are addressed by id in the path."""
        if request.method == "GET" and request.path.startswith("/rest/organizations/"):
            return self.organization
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
        if not request.headers.get("LinkedIn-Version"):
            return _json({"status": 426, "code": "NONEXISTENT_VERSION",
                          "message": "Requested version  is not active"}, 426)
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


def s256(verifier: str) -> str:
    """The PKCE S256 challenge for ``verifier`` (RFC 7636)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                    ).rstrip(b"=").decode()


class FakeX(FakeNetwork):
    """X API v2 OAuth 2.0: /i/oauth2/authorize (PKCE required), /2/oauth2/token (confidential
    client with HTTP Basic, two-hour tokens, rotating refresh tokens), /2/oauth2/revoke and
    /2/users/me."""

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
                ("GET", "/2/users/me"): self.me}

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
                          "scope": "tweet.read tweet.write users.read offline.access"})
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


class FakeFacebook(FakeNetwork):
    """Graph API: /dialog/oauth, /oauth/access_token (code for a short-lived user token,
    ``fb_exchange_token`` for a 60-day one) and /me/accounts with each Page's own token."""

    label = "Facebook"
    access_seconds = 2 * 3600
    long_lived_seconds = 60 * 24 * 3600

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
            page_token = Token(secrets.token_urlsafe(24), token.grant, None)
            self.tokens[page_token.value] = page_token
            data.append({"id": page_id, "name": name, "access_token": page_token.value,
                         "tasks": tasks, "category": "Software",
                         "picture": {"data": {"url": f"https://fb.example/{page_id}.jpg"}}})
        return _json({"data": data, "paging": {"cursors": {"before": "QVFIU", "after": "QVFIX"}}})


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
