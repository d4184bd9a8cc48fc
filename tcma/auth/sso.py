"""Single sign-on for vendor staff through any OpenID Connect provider (Authlib client).

Configured by ``OIDC_ISSUER`` (or ``OIDC_DISCOVERY_URL``), ``OIDC_CLIENT_ID`` and
``OIDC_CLIENT_SECRET``. The provider must assert a verified email; that email must belong to
an active vendor staff user, unless ``OIDC_AUTO_PROVISION_ROLE`` names a vendor role for new
staff. Partner users never sign in through the vendor's SSO: their partner is the boundary.

The redirect URI to register at the provider is ``BASE_URL`` + ``/sso/callback``.
"""

from __future__ import annotations

from authlib.integrations.flask_client import FlaskIntegration, FlaskOAuth2App
from flask import Blueprint, current_app, flash, redirect, render_template, url_for

from tcma import audit
from tcma.auth import service
from tcma.auth.models import Role, User, UserStatus
from tcma.auth.session import login_user
from tcma.errors import DomainError
from tcma.extensions import db

blueprint = Blueprint("sso", __name__)

CLIENT = "oidc"
#: Seconds to wait for the provider (discovery, token, keys, userinfo) before giving up, so a
#: slow provider cannot hold a web worker forever.
PROVIDER_TIMEOUT = 10
DID_NOT_COMPLETE = "Single sign-on did not complete. Try again or sign in with your password."
UNAVAILABLE = "Single sign-on is not available right now. Try again in a few minutes."


def sso_enabled() -> bool:
    cfg = current_app.config
    return bool(cfg.get("OIDC_CLIENT_ID")
                and (cfg.get("OIDC_ISSUER") or cfg.get("OIDC_DISCOVERY_URL")))


@blueprint.app_context_processor
def _template_flags() -> dict:
    # The login page shows the button only when the flow can actually start.
    return {"sso_enabled": sso_enabled()}


def _client() -> FlaskOAuth2App:
    """The OIDC client for this app's current settings.

    Kept per app and rebuilt when the settings change: a single client registered once on the
    shared ``OAuth`` registry would keep the first app's provider (and its cached metadata and
    keys) for every app and every later configuration.
    """
    cfg = current_app.config
    discovery = cfg.get("OIDC_DISCOVERY_URL") or (
        cfg["OIDC_ISSUER"].rstrip("/") + "/.well-known/openid-configuration"
    )
    settings = (discovery, cfg["OIDC_CLIENT_ID"], cfg.get("OIDC_CLIENT_SECRET"))
    cached = current_app.extensions.get("tcma.sso")
    if cached is not None and cached[0] == settings:
        return cached[1]
    client = FlaskOAuth2App(
        FlaskIntegration(CLIENT),
        CLIENT,
        client_id=settings[1],
        client_secret=settings[2],
        server_metadata_url=discovery,
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256",
                       "default_timeout": PROVIDER_TIMEOUT},
    )
    current_app.extensions["tcma.sso"] = (settings, client)
    return client


def _callback_url() -> str:
    # From BASE_URL, not the request's host: behind a proxy the request may name an internal
    # host, and the provider only accepts the exact URI registered with it.
    return current_app.config["BASE_URL"].rstrip("/") + url_for("sso.callback")


@blueprint.get("/sso/login")
def login():
    if not sso_enabled():
        return render_template("errors/error.html", status=404, title="Single sign-on is off",
                               message="Ask your administrator to configure OIDC_* settings."), 404
    try:
        return _client().authorize_redirect(_callback_url())
    except Exception as exc:  # noqa: BLE001 - provider down or its discovery document broken
        current_app.logger.warning("SSO provider unavailable: %s", exc)
        flash(UNAVAILABLE, "error")
        return redirect(url_for("auth.login"))


@blueprint.get("/sso/callback")
def callback():
    if not sso_enabled():
        return redirect(url_for("auth.login"))
    try:
        claims = _verified_claims(_client())
    except Exception as exc:  # noqa: BLE001 - any provider failure ends on the login page
        current_app.logger.warning("SSO callback failed: %s", exc)
        flash(DID_NOT_COMPLETE, "error")
        return redirect(url_for("auth.login"))
    try:
        user = user_for_claims(claims)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("auth.login"))
    login_user(user)
    return redirect(url_for("portal.home"))


def _verified_claims(client: FlaskOAuth2App) -> dict:
    """Exchange the code and return the claims of the verified ID token.

    Authlib checks state, PKCE, the token's signature against the provider's keys, issuer,
    audience, expiry and nonce. Providers may keep email and name out of the ID token and serve
    them from the UserInfo endpoint (OIDC Core 5.4); those fill the gaps only when they speak
    for the same subject (OIDC Core 5.3.2).
    """
    token = client.authorize_access_token()
    if not token.get("userinfo"):
        raise ValueError("the provider returned no ID token")
    claims = dict(token["userinfo"])
    if not claims.get("email"):
        info = client.userinfo(token=token)
        if info.get("sub") != claims.get("sub"):
            raise ValueError("UserInfo is about a different subject than the ID token")
        for name, value in info.items():
            claims.setdefault(name, value)
    return claims


def _asserted(value: object) -> bool:
    # Some providers send booleans as strings.
    return value is True or (isinstance(value, str) and value.lower() == "true")


def user_for_claims(claims: dict) -> User:
    """Match (or provision) the vendor staff user an ID token speaks for.

    Matching is by email, so the provider must vouch that the person controls it: an absent
    ``email_verified`` is refused like a false one (otherwise anyone able to set an arbitrary,
    unverified email at the provider could sign in as that staff member).
    """
    email = service.normalise_email(str(claims.get("email") or ""))
    if "@" not in email:
        raise DomainError("Your identity provider did not share your email address. "
                          "Ask your administrator to include the email scope.")
    if not _asserted(claims.get("email_verified")):
        raise DomainError(f"Your identity provider has not verified {email}. "
                          "Verify it there, then try again.")
    user = service.find_user_by_email(email)
    if user is None:
        user = _provision(email, claims)
    if not user.is_vendor:
        raise DomainError("Partner accounts sign in with their email and password.")
    if user.status is UserStatus.DISABLED:
        raise DomainError(f"The account for {email} is disabled. "
                          "Ask an administrator to re-enable it.")
    if user.status is UserStatus.INVITED:
        user.status = UserStatus.ACTIVE  # the provider vouched for them; no password needed
        audit.record("user.accept_invite", target=user, actor=user, after={"method": "sso"})
    service.refuse_if_locked_out(user)
    service.mark_signed_in(user, method="sso")
    return user


def _provision(email: str, claims: dict) -> User:
    """Create staff on first sign-in when ``OIDC_AUTO_PROVISION_ROLE`` names a vendor role."""
    role_name = current_app.config.get("OIDC_AUTO_PROVISION_ROLE")
    try:
        role = Role(role_name) if role_name else None
    except ValueError:
        role = None
    if role_name and (role is None or not role.is_vendor):
        current_app.logger.warning("OIDC_AUTO_PROVISION_ROLE=%r is not a vendor role; ignored",
                                   role_name)
    if role is None or not role.is_vendor:
        raise DomainError(f"No staff account exists for {email}. "
                          "Ask an administrator to add you.")
    name = str(claims.get("name") or "").strip() or email
    user = User(email=email, name=name[:200], role=role, status=UserStatus.ACTIVE)
    db.session.add(user)
    db.session.flush()
    audit.record("user.provision_sso", target=user, actor=user, after={"role": role.value})
    return user
