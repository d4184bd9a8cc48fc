"""A small but real OpenID Connect provider for tests, built on Authlib's server side.

It runs as its own Flask app on a loopback port in a background thread, so the app under test
discovers it, exchanges the code and fetches the signing keys over real HTTP, exactly as it
would with Okta, Entra ID or Keycloak. Only the person is faked: instead of a sign-in page,
``/authorize`` approves at once for whoever the test put in ``provider.signed_in``.

Authorization code flow with PKCE (S256 only, and required), RS256 ID tokens signed with a key
generated at start, a ``nonce`` required on every request, and ``/userinfo`` behind the access
token. Clients, codes and tokens live in memory.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    AuthorizationCodeGrant,
    ClientMixin,
    InvalidRequestError,
    TokenMixin,
)
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo, UserInfoEndpoint
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from flask import Flask, jsonify, request
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import BaseWSGIServer, make_server

SCOPES = ("openid", "email", "profile")
CODE_LIFETIME = 60


@dataclass
class Identity:
    """The person signed in at the provider; ``email_verified=None`` leaves the claim out."""

    email: str
    name: str = "Sam Single"
    email_verified: bool | None = True
    sub: str = field(default_factory=lambda: secrets.token_hex(8))

    def claims(self, scope: str) -> UserInfo:
        info = UserInfo(sub=self.sub, name=self.name, email=self.email)
        if self.email_verified is not None:
            info["email_verified"] = self.email_verified
        return info.filter(scope)


@dataclass
class Client(ClientMixin):
    """A confidential relying party: authenticates at /token with HTTP Basic."""

    client_id: str
    client_secret: str
    redirect_uris: list[str]

    @property
    def client_metadata(self) -> dict:
        return {}  # registered metadata (RFC 7591); none here, so UserInfo answers plain JSON

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: Identity
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def is_expired(self) -> bool:
        return time.time() > self.auth_time + CODE_LIFETIME


@dataclass
class Token(TokenMixin):
    access_token: str
    client: Client
    user: Identity
    scope: str
    expires_in: int
    issued_at: float = field(default_factory=time.time)

    def check_client(self, client: ClientMixin) -> bool:
        return client.get_client_id() == self.client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() > self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return False

    def get_user(self) -> Identity:
        return self.user

    def get_client(self) -> Client:
        return self.client


class _Server(AuthorizationServer):
    """Authlib's Flask authorization server, holding the provider its grants read from."""

    def __init__(self, app: Flask, provider: OIDCProvider):
        self.provider = provider
        super().__init__(app, query_client=provider.clients.get, save_token=provider._save_token)


class _CodeGrant(AuthorizationCodeGrant):
    server: _Server

    def save_authorization_code(self, code: str, request: Any) -> None:
        payload = request.payload
        self.server.provider.codes[code] = Code(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=payload.redirect_uri,
            scope=payload.scope,
            user=request.user,
            nonce=payload.data.get("nonce"),
            code_challenge=payload.data.get("code_challenge"),
            code_challenge_method=payload.data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        found = self.server.provider.codes.get(code)
        if found and found.client_id == client.client_id and not found.is_expired():
            return found
        return None

    def delete_authorization_code(self, authorization_code: Code) -> None:
        self.server.provider.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: Code) -> Identity:
        return authorization_code.user


class _StrictPKCE(CodeChallenge):
    """PKCE for every client, and only S256: a client that skips it is refused at once."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with code_challenge_method=S256 is required.",
                                      redirect_uri=redirect_uri)
        super().validate_code_challenge(grant, redirect_uri)


class _OpenIDCode(OpenIDCode):
    def __init__(self, provider: OIDCProvider):
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return any(c.nonce == nonce and c.client_id == request.payload.client_id
                   for c in self.provider.codes.values())

    def resolve_client_private_key(self, client: Client) -> RSAKey:
        return self.provider.key

    def get_client_algorithm(self, client: Client) -> str:
        return "RS256"

    def get_encode_header(self, client: Client) -> dict:
        return {"alg": "RS256", "kid": self.provider.key.kid}

    def get_client_claims(self, client: Client) -> dict:
        now = int(time.time())
        return {"iss": self.provider.issuer, "aud": [client.client_id], "iat": now,
                "exp": now + 300}

    def generate_user_info(self, user: Identity, scope: str) -> UserInfo:
        if not self.provider.claims_in_id_token:
            return UserInfo(sub=user.sub)  # profile claims only at /userinfo (OIDC Core 5.4)
        return user.claims(scope)


class _UserInfo(UserInfoEndpoint):
    def __init__(self, provider: OIDCProvider, resource_protector: ResourceProtector):
        super().__init__(resource_protector=resource_protector)
        self.provider = provider

    def get_issuer(self) -> str:
        return self.provider.issuer

    def resolve_private_key(self) -> RSAKey:
        return self.provider.key

    def generate_user_info(self, user: Identity, scope: str) -> UserInfo:
        return user.claims(scope)


class _BearerTokens(BearerTokenValidator):
    def __init__(self, provider: OIDCProvider):
        super().__init__()
        self.provider = provider

    def authenticate_token(self, token_string: str) -> Token | None:
        return self.provider.tokens.get(token_string)


class OIDCProvider:
    """Start with ``start()``, register a relying party, put a person in ``signed_in``."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"},
                                       private=True, auto_kid=True)
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Code] = {}
        self.tokens: dict[str, Token] = {}
        #: Who /authorize approves for; ``None`` answers ``error=access_denied``.
        self.signed_in: Identity | None = None
        #: ``False`` keeps email and name out of the ID token; clients must call /userinfo.
        self.claims_in_id_token = True
        #: Paths requested, in order: shows which calls really reached the provider.
        self.hits: list[str] = []
        self.issuer = ""
        self._http: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.app = self._build_app()

    # --- what tests use ---------------------------------------------------------------------

    def start(self) -> OIDCProvider:
        self._http = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self._http.server_port}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True,
                                        name="oidc-provider")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def register_client(self, redirect_uri: str) -> Client:
        client = Client(client_id=secrets.token_urlsafe(12),
                        client_secret=secrets.token_urlsafe(24), redirect_uris=[redirect_uri])
        self.clients[client.client_id] = client
        return client

    def sign_in(self, email: str, *, name: str = "Sam Single",
                email_verified: bool | None = True) -> Identity:
        self.signed_in = Identity(email=email, name=name, email_verified=email_verified)
        return self.signed_in

    def reset(self) -> None:
        self.codes.clear()
        self.tokens.clear()
        self.hits.clear()
        self.signed_in = None
        self.claims_in_id_token = True

    # --- the provider itself ----------------------------------------------------------------

    def _save_token(self, token: dict, request: Any) -> None:
        self.tokens[token["access_token"]] = Token(
            access_token=token["access_token"], client=request.client, user=request.user,
            scope=token.get("scope", ""), expires_in=int(token.get("expires_in", 3600)))

    def _build_app(self) -> Flask:
        app = Flask("oidc_provider")
        server = _Server(app, self)
        server.register_grant(_CodeGrant, [_StrictPKCE(), _OpenIDCode(self)])
        protector = ResourceProtector()
        protector.register_token_validator(_BearerTokens(self))
        server.register_endpoint(_UserInfo(self, protector))

        @app.before_request
        def _record() -> None:
            self.hits.append(request.path)

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify({
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": list(SCOPES),
                "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                          "client_secret_post"],
                "code_challenge_methods_supported": ["S256"],
                "claims_supported": ["sub", "name", "email", "email_verified"],
            })

        @app.get("/authorize")
        def authorize():
            person = self.signed_in
            try:
                grant = server.get_consent_grant(end_user=person)
            except OAuth2Error as error:
                return server.handle_error_response(None, error)
            if person is None:
                error = AccessDeniedError(redirect_uri=grant.redirect_uri)
                error.state = request.args.get("state")
                return server.handle_error_response(None, error)
            return server.create_authorization_response(grant=grant, grant_user=person)

        @app.post("/token")
        def token():
            return server.create_token_response()

        @app.route("/userinfo", methods=["GET", "POST"])
        def userinfo():
            return server.create_endpoint_response("userinfo")

        @app.get("/jwks")
        def jwks():
            return jsonify(KeySet([self.key]).as_dict(private=False))

        return app
