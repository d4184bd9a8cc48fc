"""Vendor staff single sign-on, driven end to end against a real OpenID Connect provider.

The browser is played by the Flask test client (our app) and ``requests`` (the provider's
/authorize); our app reaches the provider's discovery, token and key endpoints over real HTTP.
"""

from __future__ import annotations

import socket
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from sqlalchemy import select

from tcma.audit import AuditEvent
from tcma.auth import service as accounts
from tcma.auth.models import Role, User, UserStatus
from tcma.auth.sso import DID_NOT_COMPLETE, UNAVAILABLE
from tcma.extensions import db
from tests.factories import make_user
from tests.oidc_provider import OIDCProvider

OIDC_SETTINGS = ("OIDC_ISSUER", "OIDC_DISCOVERY_URL", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET",
                 "OIDC_AUTO_PROVISION_ROLE")
BUTTON = "Sign in with Single sign-on"


def _point_app_at(app, provider: OIDCProvider) -> None:
    relying_party = provider.register_client(app.config["BASE_URL"].rstrip("/") + "/sso/callback")
    app.config.update(OIDC_ISSUER=provider.issuer, OIDC_DISCOVERY_URL=None,
                      OIDC_CLIENT_ID=relying_party.client_id,
                      OIDC_CLIENT_SECRET=relying_party.client_secret,
                      OIDC_AUTO_PROVISION_ROLE=None)


@pytest.fixture(scope="module")
def provider(app):
    """One provider for the module, and the (session-wide) app pointed at it meanwhile."""
    saved = {name: app.config.get(name) for name in OIDC_SETTINGS}
    started = OIDCProvider().start()
    _point_app_at(app, started)
    yield started
    app.config.update(saved)
    started.stop()


@pytest.fixture
def idp(app, provider):
    """The provider with nobody signed in and no history; settings a test changed come back."""
    settings = {name: app.config.get(name) for name in OIDC_SETTINGS}
    provider.reset()
    yield provider
    app.config.update(settings)


def start_sign_in(client, idp: OIDCProvider) -> str:
    """Click the SSO button and let the provider answer; return the callback URL it sends back."""
    start = client.get("/sso/login")
    assert start.status_code == 302
    authorize = start.headers["Location"]
    assert authorize.startswith(idp.issuer + "/authorize?")
    answer = requests.get(authorize, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert (back.scheme, back.netloc, back.path) == ("http", "localhost", "/sso/callback")
    return f"{back.path}?{back.query}"


def sso_sign_in(client, idp: OIDCProvider):
    return client.get(start_sign_in(client, idp))


def assert_refused(client, response, message: str) -> None:
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert message in page
    home = client.get("/")
    assert home.status_code == 302 and urlsplit(home.headers["Location"]).path == "/login"


def assert_on_vendor_dashboard(client, name: str) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"Welcome, {name}" in html
    assert "Active partners" in html


def user_named(email: str) -> User | None:
    db.session.rollback()  # see what the requests committed, not this session's snapshot
    return db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()


def events(action: str) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.execute(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    ).scalars())


def test_existing_staff_signs_in_through_the_provider(client, ctx, idp):
    make_user("channel_manager", email="ada@vendor.test", name="Ada Lovelace")
    idp.sign_in("Ada@Vendor.Test", name="Ada L. at the IdP")

    response = sso_sign_in(client, idp)

    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/"
    assert_on_vendor_dashboard(client, "Ada Lovelace")
    # Discovery, code exchange and key fetch really went to the provider, over HTTP.
    assert {"/.well-known/openid-configuration", "/token", "/jwks"} <= set(idp.hits)
    ada = user_named("ada@vendor.test")
    assert ada.last_login_at is not None
    assert [(e.target_id, e.actor_id, e.after) for e in events("user.login")] == [
        (ada.public_id, ada.id, {"method": "sso"})
    ]


def test_invited_staff_without_password_becomes_active(client, ctx, idp):
    accounts.invite_user(email="grace@vendor.test", name="Grace Hopper", role=Role.MARKETER,
                         notify=False)
    db.session.commit()
    idp.sign_in("grace@vendor.test")

    sso_sign_in(client, idp)

    assert_on_vendor_dashboard(client, "Grace Hopper")
    grace = user_named("grace@vendor.test")
    assert grace.status is UserStatus.ACTIVE
    assert grace.password_hash is None
    assert [e.after for e in events("user.accept_invite")] == [{"method": "sso"}]


@pytest.mark.parametrize("provision_role", [None, "partner_admin", "no-such-role"])
def test_unknown_email_is_refused_unless_provisioning_names_a_vendor_role(
        app, client, ctx, idp, provision_role):
    app.config["OIDC_AUTO_PROVISION_ROLE"] = provision_role
    idp.sign_in("stranger@vendor.test")

    response = sso_sign_in(client, idp)

    assert_refused(client, response, "No staff account exists for stranger@vendor.test. "
                                     "Ask an administrator to add you.")
    assert user_named("stranger@vendor.test") is None


def test_unknown_email_is_created_as_marketer_when_provisioning_is_on(app, client, ctx, idp):
    app.config["OIDC_AUTO_PROVISION_ROLE"] = "marketer"
    idp.sign_in("New.Hire@Vendor.test", name="New Hire")

    sso_sign_in(client, idp)

    assert_on_vendor_dashboard(client, "New Hire")
    hire = user_named("new.hire@vendor.test")
    assert (hire.role, hire.status, hire.partner_id) == (Role.MARKETER, UserStatus.ACTIVE, None)
    assert [e.after for e in events("user.provision_sso")] == [{"role": "marketer"}]
    assert [e.after for e in events("user.login")] == [{"method": "sso"}]


def test_partner_user_is_sent_to_the_password_form(app, client, ctx, idp):
    app.config["OIDC_AUTO_PROVISION_ROLE"] = "marketer"  # must not turn them into staff either
    partner_user = make_user("partner_admin", email="pat@reseller.test")
    idp.sign_in("pat@reseller.test")

    response = sso_sign_in(client, idp)

    assert_refused(client, response, "Partner accounts sign in with their email and password.")
    pat = user_named("pat@reseller.test")
    assert (pat.role, pat.partner_id) == (Role.PARTNER_ADMIN, partner_user.partner_id)
    assert pat.last_login_at is None


@pytest.mark.parametrize("verified", [False, None], ids=["false", "absent"])
def test_unverified_email_is_refused(client, ctx, idp, verified):
    make_user("admin", email="eve@vendor.test")
    idp.sign_in("eve@vendor.test", email_verified=verified)

    response = sso_sign_in(client, idp)

    assert_refused(client, response, "Your identity provider has not verified eve@vendor.test.")
    assert user_named("eve@vendor.test").last_login_at is None
    assert events("user.login") == []


def test_disabled_staff_is_refused(client, ctx, idp):
    mallory = make_user("admin", email="mallory@vendor.test")
    mallory.status = UserStatus.DISABLED
    db.session.commit()
    idp.sign_in("mallory@vendor.test")

    response = sso_sign_in(client, idp)

    assert_refused(client, response, "The account for mallory@vendor.test is disabled.")
    assert user_named("mallory@vendor.test").status is UserStatus.DISABLED
    assert events("user.login") == []


@pytest.mark.parametrize("tamper", ["state", "code", "other browser"])
def test_tampered_or_replayed_callback_signs_nobody_in(app, client, ctx, idp, tamper):
    make_user("admin", email="ada@vendor.test")
    idp.sign_in("ada@vendor.test")
    callback = urlsplit(start_sign_in(client, idp))
    params = {k: v[0] for k, v in parse_qs(callback.query).items()}
    browser = client
    if tamper == "other browser":
        browser = app.test_client()  # a forged link carried to someone else's browser
    else:
        params[tamper] = params[tamper][::-1]

    response = browser.get(f"{callback.path}?{urlencode(params)}")

    assert_refused(browser, response, DID_NOT_COMPLETE)
    assert events("user.login") == []
    if tamper == "code":
        assert "/token" in idp.hits  # the provider itself refused the forged code


def test_callback_cannot_be_replayed_after_success(client, ctx, idp):
    make_user("admin", email="ada@vendor.test", name="Ada")
    idp.sign_in("ada@vendor.test")
    callback = start_sign_in(client, idp)
    client.get(callback)
    assert_on_vendor_dashboard(client, "Ada")
    client.post("/logout", data={"csrf_token": _csrf(client)})

    response = client.get(callback)

    assert_refused(client, response, DID_NOT_COMPLETE)
    assert len(events("user.login")) == 1


def _csrf(client) -> str:
    with client.session_transaction() as session:
        return session["csrf"]


def test_provider_refusing_the_person_ends_on_the_login_page(client, ctx, idp):
    make_user("admin", email="ada@vendor.test")
    idp.signed_in = None  # the provider answers error=access_denied

    response = sso_sign_in(client, idp)

    assert_refused(client, response, DID_NOT_COMPLETE)


def test_email_only_at_userinfo_is_fetched_from_there(client, ctx, idp):
    make_user("finance", email="fin@vendor.test", name="Fin Ance")
    idp.sign_in("fin@vendor.test")
    idp.claims_in_id_token = False

    sso_sign_in(client, idp)

    assert_on_vendor_dashboard(client, "Fin Ance")
    assert "/userinfo" in idp.hits


def test_switching_provider_takes_effect_without_restart(app, client, ctx, idp):
    make_user("admin", email="ada@vendor.test", name="Ada")
    idp.sign_in("ada@vendor.test")
    sso_sign_in(client, idp)  # the app now knows the first provider's metadata and keys
    client.post("/logout", data={"csrf_token": _csrf(client)})
    second = OIDCProvider().start()
    try:
        _point_app_at(app, second)
        second.sign_in("ada@vendor.test")

        sso_sign_in(client, second)

        assert_on_vendor_dashboard(client, "Ada")
        assert {"/token", "/jwks"} <= set(second.hits)
    finally:
        second.stop()


def test_unreachable_provider_is_explained_on_the_login_page(app, client, idp):
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app.config["OIDC_ISSUER"] = f"http://127.0.0.1:{port}"

    response = client.get("/sso/login")

    assert_refused(client, response, UNAVAILABLE)


def test_login_page_offers_sso_only_when_configured(app, client, idp):
    page = client.get("/login").get_data(as_text=True)
    assert BUTTON in page and 'href="/sso/login"' in page

    app.config["OIDC_ISSUER"] = None  # a client id alone cannot start the flow
    assert BUTTON not in client.get("/login").get_data(as_text=True)
    assert client.get("/sso/login").status_code == 404

    app.config.update(OIDC_ISSUER=idp.issuer, OIDC_CLIENT_ID=None)
    assert BUTTON not in client.get("/login").get_data(as_text=True)
    assert client.get("/sso/login").status_code == 404
