"""Connecting accounts through each network's OAuth flow, against the loopback fakes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select, text

from syndication.social import service
from syndication.social.models import AccountKind, SocialAccount
from tcma.extensions import db
from tests.factories import csrf_from, login, make_user
from tests.syndication.social.conftest import approve, connect, start


def _accounts() -> list[SocialAccount]:
    db.session.expire_all()
    return list(db.session.execute(select(SocialAccount).order_by(SocialAccount.id)).scalars())


def _flash(client) -> str:
    return client.get("/social/accounts").get_data(as_text=True)


def test_x_connects_with_pkce_and_the_least_scopes(fakes, partner_admin):
    client, user = partner_admin
    authorise = start(client, "x")
    query = parse_qs(urlsplit(authorise).query)
    assert query["scope"] == ["tweet.read tweet.write users.read offline.access media.write"]
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]

    response = client.get(approve(authorise))
    assert response.status_code == 302 and response.headers["Location"] == "/social/accounts"
    page = _flash(client)
    assert "Connected X: Northwind IT." in page and "@northwind_it" in page
    [account] = _accounts()
    assert (account.network.value, account.kind, account.external_id) == (
        "x", AccountKind.PROFILE, "1458312046218625024")
    assert account.partner_id == user.partner_id and account.connected_by_id == user.id
    assert service.access_token(account) in fakes.x.live_tokens()
    assert account.expires_at is not None and fakes.x.pkce_failures == 0


def test_x_refuses_a_code_presented_with_another_connections_verifier(fakes, partner_admin):
    """The code of one attempt, sent back with the state (so the verifier) of another, is
    refused by X's PKCE check: a stolen code is useless without its verifier."""
    client, _ = partner_admin
    first, second = start(client, "x"), start(client, "x")
    stolen_code = parse_qs(urlsplit(approve(first)).query)["code"][0]
    other_state = parse_qs(urlsplit(second).query)["state"][0]
    response = client.get(f"/social/x/callback?code={stolen_code}&state={other_state}")
    assert response.status_code == 303
    assert fakes.x.pkce_failures == 1
    assert "Connecting failed: X refused the authorisation" in _flash(client)
    assert _accounts() == []


def test_a_state_that_does_not_match_is_refused(fakes, partner_admin):
    client, _ = partner_admin
    callback = approve(start(client, "x"))
    code = parse_qs(urlsplit(callback).query)["code"][0]
    response = client.get(f"/social/x/callback?code={code}&state=forged-by-an-attacker")
    assert response.status_code == 303
    assert "unknown, expired or was already used" in _flash(client)
    assert _accounts() == []
    assert ("POST", "/2/oauth2/token") not in fakes.x.calls  # the code was never exchanged


def test_a_replayed_callback_is_refused(fakes, partner_admin):
    client, _ = partner_admin
    callback = approve(start(client, "x"))
    assert client.get(callback).status_code == 302
    replay = client.get(callback)
    assert replay.status_code == 303
    assert "unknown, expired or was already used" in _flash(client)
    assert len(_accounts()) == 1
    assert fakes.x.calls.count(("POST", "/2/oauth2/token")) == 1


def test_a_state_is_bound_to_the_user_who_started(app, fakes, partner_admin):
    client, user = partner_admin
    callback = approve(start(client, "x"))
    colleague = make_user("partner_user", partner=user.partner)
    other = app.test_client()
    login(other, colleague.email)
    assert other.get(callback).status_code == 303
    assert "unknown, expired or was already used" in _flash(other)
    assert _accounts() == []


def test_declining_on_the_network_connects_nothing(fakes, partner_admin):
    client, _ = partner_admin
    state = parse_qs(urlsplit(start(client, "linkedin")).query)["state"][0]
    response = client.get(f"/social/linkedin/callback?error=user_cancelled_login&state={state}")
    assert response.status_code == 303
    assert "LinkedIn did not grant access (user_cancelled_login)" in _flash(client)
    assert _accounts() == []


def test_linkedin_connects_the_profile_and_the_company_pages_picked(fakes, partner_admin):
    client, _ = partner_admin
    authorise = start(client, "linkedin")
    assert parse_qs(urlsplit(authorise).query)["scope"] == [
        "openid profile w_member_social r_organization_admin w_organization_social"]
    response = client.get(approve(authorise))
    assert response.headers["Location"] == "/social/pick"
    picker = client.get("/social/pick").get_data(as_text=True)
    assert "Lina Member" in picker and "Northwind IT" in picker and "company page" in picker
    assert _accounts() == []  # nothing until the partner picks

    nothing = client.post("/social/pick", data={"csrf_token": csrf_from(picker)})
    assert nothing.status_code == 422 and "Pick at least one" in nothing.get_data(as_text=True)

    done = client.post("/social/pick", data={"csrf_token": csrf_from(picker),
                                             "accounts": ["782bbtaQ", "2414183"]})
    assert done.status_code == 302
    profile, organization = _accounts()
    assert (profile.kind, profile.display_name) == (AccountKind.PROFILE, "Lina Member")
    assert (organization.kind, organization.handle) == (AccountKind.ORGANIZATION, "northwind-it")
    assert profile.grant_id == organization.grant_id
    assert fakes.linkedin.calls.count(("GET", "/rest/organizationAcls")) == 1
    # The pick is used up: the page says so instead of offering it again.
    assert client.get("/social/pick").headers["Location"] == "/social/accounts"


def test_facebook_offers_only_pages_the_user_may_post_to_each_with_its_own_token(
        fakes, partner_admin):
    client, _ = partner_admin
    authorise = start(client, "facebook")
    assert parse_qs(urlsplit(authorise).query)["scope"] == [
        "pages_show_list pages_read_engagement pages_manage_posts"]
    assert client.get(approve(authorise)).headers["Location"] == "/social/pick"
    picker = client.get("/social/pick").get_data(as_text=True)
    assert "Northwind IT Berlin" in picker and "Northwind IT Hamburg" in picker
    assert "Fan Club" not in picker
    client.post("/social/pick", data={"csrf_token": csrf_from(picker), "accounts": ["104858"]})
    [page] = _accounts()
    assert (page.kind, page.external_id, page.expires_at) == (AccountKind.PAGE, "104858", None)
    assert page.refresh_token_encrypted is None
    token = service.access_token(page)
    assert token in fakes.facebook.live_tokens()
    # The Page's own token, not the long-lived user token it was derived from.
    assert fakes.facebook.tokens[token].expires is None


def test_tokens_are_stored_encrypted(fakes, partner_admin):
    """Read the raw columns with SQL: no token the fake issued appears in clear anywhere."""
    client, _ = partner_admin
    connect(client, "x")
    issued = list(fakes.x.tokens)
    assert len(issued) == 2  # the access and the refresh token
    rows = db.session.execute(text("SELECT * FROM social_accounts")).mappings().all()
    assert len(rows) == 1
    stored = " ".join(str(v) for v in rows[0].values())
    for token in issued:
        assert token not in stored
    assert rows[0]["access_token_encrypted"].startswith("gAAAAA")  # a Fernet token
    assert rows[0]["refresh_token_encrypted"].startswith("gAAAAA")


def test_connecting_the_same_account_again_renews_it(fakes, partner_admin):
    client, _ = partner_admin
    connect(client, "x")
    [first] = _accounts()
    old = service.access_token(first)
    connect(client, "x")
    [again] = _accounts()
    assert again.id == first.id and service.access_token(again) != old


def test_a_network_without_a_client_id_is_not_configured(app, fakes, partner_admin,
                                                          monkeypatch):
    client, _ = partner_admin
    monkeypatch.setitem(app.config, "SOCIAL_FACEBOOK_CLIENT_ID", None)
    page = client.get("/social/accounts").get_data(as_text=True)
    assert "Facebook: not configured" in page and "Connect LinkedIn" in page
    response = client.post("/social/connect", data={"network": "facebook",
                                                    "csrf_token": csrf_from(page)})
    assert response.headers["Location"] == "/social/accounts"
    assert "Facebook is not configured for this program." in _flash(client)
