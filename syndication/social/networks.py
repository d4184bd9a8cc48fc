"""One adapter per social network, behind one small interface, speaking its documented API.

Each adapter does what connecting needs: the authorisation URL with the least scopes posting
needs, the code exchange, refresh and revocation where the network has them, and who the
tokens act as (the identities a partner may pick). Base URLs come from configuration, so
tests and demos point them at local servers (``syndication/social/fakes.py``).

Publishing (``publish``, ``find_published``, ``delete``) is the other half of each adapter,
in ``syndication/social/publishers.py``. The words of that interface (``Target``,
``PostContent``, ``Published``) and every error (``NetworkError`` and its kinds) are defined
there, below both halves so both can raise them, and imported from here by callers.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from flask import current_app

from syndication.social.models import AccountKind, Network
from syndication.social.publishers import (
    FacebookPosts,
    LinkedInPosts,
    NetworkError,
    TokenRejected,
    XPosts,
)
from syndication.social.publishers import OutcomeUnknown as OutcomeUnknown
from syndication.social.publishers import PostContent as PostContent
from syndication.social.publishers import PostRejected as PostRejected
from syndication.social.publishers import Published as Published
from syndication.social.publishers import RateLimited as RateLimited
from syndication.social.publishers import Target as Target


@dataclass(frozen=True)
class Grant:
    """What a token endpoint answered, with expiry as instants instead of seconds."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    refresh_expires_at: datetime | None
    scopes: str


@dataclass(frozen=True)
class Identity:
    """An account a grant can act as. ``access_token`` is the account's own token where the
    network gives one (Facebook Pages); otherwise the grant's token acts for it."""

    kind: AccountKind
    external_id: str
    display_name: str
    handle: str = ""
    avatar_url: str | None = None
    access_token: str | None = field(default=None, repr=False)



class NetworkAdapter(Protocol):
    network: Network
    scopes: tuple[str, ...]
    can_refresh: bool
    can_revoke: bool

    def authorize_url(self, redirect_uri: str, state: str, code_verifier: str) -> str: ...

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str,
                      now: datetime) -> Grant: ...

    def refresh(self, refresh_token: str, now: datetime) -> Grant: ...

    def revoke(self, token: str) -> None: ...

    def identities(self, grant: Grant) -> list[Identity]: ...

    def publish(self, target: Target, content: PostContent) -> Published: ...

    def find_published(self, target: Target, text: str, since: datetime
                       ) -> Published | None: ...

    def delete(self, target: Target, external_id: str) -> None: ...


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a code verifier (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _after(now: datetime, seconds: Any) -> datetime | None:
    return now + timedelta(seconds=int(seconds)) if seconds not in (None, "", 0) else None


def _grant(token: dict, now: datetime, *, refresh_token: str | None = None) -> Grant:
    scope = token.get("scope") or ""
    return Grant(access_token=token["access_token"],
                 refresh_token=token.get("refresh_token") or refresh_token,
                 expires_at=_after(now, token.get("expires_in")),
                 refresh_expires_at=_after(now, token.get("refresh_token_expires_in")),
                 scopes=" ".join(scope) if isinstance(scope, list) else scope.replace(",", " "))



class _Base:
    network: Network
    scopes: tuple[str, ...] = ()
    can_refresh = True
    can_revoke = True
    #: How the token endpoint wants the client's credentials.
    auth_method = "client_secret_post"
    pkce = False

    def __init__(self, config):
        prefix = f"SOCIAL_{self.network.name}_"
        self.client_id = config[prefix + "CLIENT_ID"]
        self.client_secret = config.get(prefix + "CLIENT_SECRET")
        self.timeout = float(config.get("SOCIAL_HTTP_TIMEOUT") or 15)
        self.config = config

    def _oauth(self, redirect_uri: str | None = None) -> OAuth2Session:
        return OAuth2Session(self.client_id, self.client_secret, scope=" ".join(self.scopes),
                             redirect_uri=redirect_uri, token_endpoint_auth_method=self.auth_method,
                             revocation_endpoint_auth_method=self.auth_method,
                             code_challenge_method="S256" if self.pkce else None)

    def _token_call(self, call, *args, **kwargs) -> dict:
        """Run an Authlib token request, turning its failures into ``NetworkError``s."""
        try:
            return dict(call(*args, timeout=self.timeout, **kwargs))
        except OAuthError as exc:
            detail = exc.description or exc.error
            if isinstance(exc.error, dict):  # Graph API: {"error": {"message": ...}}
                detail = exc.error.get("message") or str(exc.error)
            raise TokenRejected(f"{self.network.label} refused the authorisation: {detail}"
                                ) from None
        except requests.RequestException as exc:
            raise NetworkError(f"{self.network.label} could not be reached ({type(exc).__name__})",
                               permanent=False) from None
        except ValueError as exc:  # not JSON: a proxy's error page, a network's outage page
            raise NetworkError(f"{self.network.label} answered something unreadable ({exc})",
                               permanent=False) from None

    def _get(self, url: str, token: str, *, params: dict | None = None,
             headers: dict | None = None) -> dict:
        try:
            response = requests.get(url, params=params, timeout=self.timeout, headers={
                "Authorization": f"Bearer {token}", **(headers or {})})
        except requests.RequestException as exc:
            raise NetworkError(f"{self.network.label} could not be reached ({type(exc).__name__})",
                               permanent=False) from None
        if response.status_code >= 400:
            self._raise_for(response)
        return response.json()

    def _raise_for(self, response: requests.Response) -> None:
        message = self._error_message(response)
        if response.status_code == 401:
            raise TokenRejected(f"{self.network.label}: {message}")
        raise NetworkError(f"{self.network.label} answered {response.status_code}: {message}",
                           permanent=400 <= response.status_code < 500
                           and response.status_code != 429)

    def _error_message(self, response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return response.text[:200] or response.reason
        return str(body.get("message") or body.get("detail") or body)[:300]

    def refresh(self, refresh_token: str, now: datetime) -> Grant:
        """New tokens from a refresh token; the network's refusal is ``TokenRejected``."""
        token = self._token_call(self._oauth().refresh_token, self.token_url,
                                 refresh_token=refresh_token)
        return _grant(token, now, refresh_token=refresh_token)

    def revoke(self, token: str) -> None:
        """Ask the network to forget ``token`` (RFC 7009)."""
        try:
            response = self._oauth().revoke_token(self.revoke_url, token=token,
                                                  timeout=self.timeout)
        except requests.RequestException as exc:
            raise NetworkError(f"{self.network.label} could not be reached ({type(exc).__name__})",
                               permanent=False) from None
        if response.status_code >= 400:
            self._raise_for(response)


class LinkedIn(LinkedInPosts, _Base):
    """LinkedIn: the member's profile (OpenID Connect userinfo) and the organizations they
    administer (``organizationAcls``, Rest.li 2.0 with the ``LinkedIn-Version`` header)."""

    network = Network.LINKEDIN
    scopes = ("openid", "profile", "w_member_social", "r_organization_admin",
              "w_organization_social")

    def __init__(self, config):
        super().__init__(config)
        auth = config["SOCIAL_LINKEDIN_AUTH"].rstrip("/")
        self.api = config["SOCIAL_LINKEDIN_API"].rstrip("/")
        self.authorize_endpoint = f"{auth}/oauth/v2/authorization"
        self.token_url = f"{auth}/oauth/v2/accessToken"
        self.revoke_url = f"{auth}/oauth/v2/revoke"
        self.version = str(config.get("SOCIAL_LINKEDIN_VERSION") or "202411")

    def authorize_url(self, redirect_uri: str, state: str, code_verifier: str) -> str:
        url, _ = self._oauth(redirect_uri).create_authorization_url(self.authorize_endpoint,
                                                                    state=state)
        return url

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str,
                      now: datetime) -> Grant:
        token = self._token_call(self._oauth(redirect_uri).fetch_token, self.token_url,
                                 code=code, grant_type="authorization_code")
        return _grant(token, now)

    def _error_message(self, response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return super()._error_message(response)
        return str(body.get("message") or body.get("error_description") or body)[:300]

    def identities(self, grant: Grant) -> list[Identity]:
        me = self._get(f"{self.api}/v2/userinfo", grant.access_token)
        found = [Identity(AccountKind.PROFILE, str(me["sub"]), me.get("name") or "LinkedIn member",
                          avatar_url=me.get("picture"))]
        rest = {"LinkedIn-Version": self.version, "X-Restli-Protocol-Version": "2.0.0"}
        try:
            acls = self._get(f"{self.api}/rest/organizationAcls", grant.access_token, params={
                "q": "roleAssignee", "role": "ADMINISTRATOR", "state": "APPROVED"}, headers=rest)
        except TokenRejected:
            raise
        except NetworkError as exc:
            if exc.permanent:  # the app lacks the organization scopes: the profile only
                return found
            raise
        for element in acls.get("elements", []):
            org_id = str(element["organization"]).rsplit(":", 1)[-1]
            org = self._get(f"{self.api}/rest/organizations/{org_id}", grant.access_token,
                            headers=rest)
            found.append(Identity(AccountKind.ORGANIZATION, org_id,
                                  org.get("localizedName") or f"Organization {org_id}",
                                  handle=org.get("vanityName") or ""))
        return found


class X(XPosts, _Base):
    """X API v2: OAuth 2.0 with PKCE (S256), rotating refresh tokens (``offline.access``)."""

    network = Network.X
    # media.write: the v2 media upload, for posts with an image.
    scopes = ("tweet.read", "tweet.write", "users.read", "offline.access", "media.write")
    auth_method = "client_secret_basic"
    pkce = True

    def __init__(self, config):
        super().__init__(config)
        auth = config["SOCIAL_X_AUTH"].rstrip("/")
        self.api = config["SOCIAL_X_API"].rstrip("/")
        self.authorize_endpoint = f"{auth}/i/oauth2/authorize"
        self.token_url = f"{self.api}/2/oauth2/token"
        self.revoke_url = f"{self.api}/2/oauth2/revoke"

    def authorize_url(self, redirect_uri: str, state: str, code_verifier: str) -> str:
        url, _ = self._oauth(redirect_uri).create_authorization_url(
            self.authorize_endpoint, state=state, code_verifier=code_verifier)
        return url

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str,
                      now: datetime) -> Grant:
        token = self._token_call(self._oauth(redirect_uri).fetch_token, self.token_url,
                                 code=code, code_verifier=code_verifier,
                                 grant_type="authorization_code")
        return _grant(token, now)

    def identities(self, grant: Grant) -> list[Identity]:
        me = self._get(f"{self.api}/2/users/me", grant.access_token,
                       params={"user.fields": "profile_image_url"})["data"]
        return [Identity(AccountKind.PROFILE, str(me["id"]), me.get("name") or me["username"],
                         handle=f"@{me['username']}", avatar_url=me.get("profile_image_url"))]

    def _error_message(self, response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return super()._error_message(response)
        details = [e.get("message") for e in body.get("errors") or [] if isinstance(e, dict)]
        found = [body.get("detail") or body.get("title"), *details]
        return " ".join(str(part) for part in found if part)[:300] or str(body)[:300]

class Facebook(FacebookPosts, _Base):
    """Facebook Pages through the Graph API: the user's token is exchanged for a long-lived
    one, whose Page tokens do not expire. There is no refresh token (reconnect instead), and
    no per-Page revocation: revoking the user's grant would cut off every Page they picked."""

    network = Network.FACEBOOK
    scopes = ("pages_show_list", "pages_read_engagement", "pages_manage_posts")
    can_refresh = False
    can_revoke = False

    def __init__(self, config):
        super().__init__(config)
        self.graph = config["SOCIAL_FACEBOOK_GRAPH"].rstrip("/")
        self.authorize_endpoint = config["SOCIAL_FACEBOOK_AUTH"].rstrip("/") + "/dialog/oauth"
        self.token_url = f"{self.graph}/oauth/access_token"

    def authorize_url(self, redirect_uri: str, state: str, code_verifier: str) -> str:
        url, _ = self._oauth(redirect_uri).create_authorization_url(self.authorize_endpoint,
                                                                    state=state)
        return url

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str,
                      now: datetime) -> Grant:
        # The Graph API's token endpoint takes GET with the client's credentials in the query,
        # which Authlib's client authentication (a request body) cannot express.
        client = {"client_id": self.client_id, "client_secret": self.client_secret}
        short = self._graph_token({**client, "redirect_uri": redirect_uri, "code": code})
        long_lived = self._graph_token({**client, "grant_type": "fb_exchange_token",
                                        "fb_exchange_token": short["access_token"]})
        return _grant({**long_lived, "scope": " ".join(self.scopes)}, now)

    def _graph_token(self, params: dict) -> dict:
        try:
            response = requests.get(self.token_url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise NetworkError(f"Facebook could not be reached ({type(exc).__name__})",
                               permanent=False) from None
        if response.status_code >= 400:
            self._raise_for(response)
        return response.json()

    def refresh(self, refresh_token: str, now: datetime) -> Grant:
        raise NetworkError("Facebook has no refresh tokens: reconnect the account.",
                           permanent=True)

    def revoke(self, token: str) -> None:
        raise NetworkError("Facebook Pages cannot be revoked one by one.", permanent=True)

    def _error_message(self, response: requests.Response) -> str:
        try:
            error = response.json().get("error") or {}
        except ValueError:
            return super()._error_message(response)
        return str(error.get("message") or error)[:300]

    def _raise_for(self, response: requests.Response) -> None:
        try:
            code = (response.json().get("error") or {}).get("code")
        except ValueError:
            code = None
        if code == 190:  # OAuthException: the token is invalid, expired or revoked
            raise TokenRejected(f"Facebook: {self._error_message(response)}")
        super()._raise_for(response)

    def identities(self, grant: Grant) -> list[Identity]:
        pages = self._get(f"{self.graph}/me/accounts", grant.access_token,
                          params={"fields": "id,name,access_token,tasks,picture{url}"})
        found = []
        for page in pages.get("data", []):
            if "CREATE_CONTENT" not in (page.get("tasks") or []):
                continue  # the partner cannot post on this Page
            picture = ((page.get("picture") or {}).get("data") or {}).get("url")
            found.append(Identity(AccountKind.PAGE, str(page["id"]), page.get("name") or "Page",
                                  avatar_url=picture, access_token=page["access_token"]))
        return found

ADAPTERS: dict[Network, type[_Base]] = {Network.LINKEDIN: LinkedIn, Network.X: X,
                                         Network.FACEBOOK: Facebook}


def is_configured(network: Network) -> bool:
    """Whether the vendor set up an OAuth app (a client id) for ``network``."""
    return bool(current_app.config.get(f"SOCIAL_{network.name}_CLIENT_ID"))


def adapter_for(network: Network) -> NetworkAdapter:
    """The adapter for ``network``, configured from the app's settings."""
    return ADAPTERS[network](current_app.config)
