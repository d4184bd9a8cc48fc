"""Who sees which accounts: partners their own, the vendor counts only; and the API."""

from __future__ import annotations

from sqlalchemy import select

from syndication.social import service
from syndication.social.models import AccountStatus, SocialAccount
from tcma.auth.models import User
from tcma.extensions import db
from tcma.tenancy import scope_session_to_partner
from tests.factories import csrf_from, login, make_token, make_user
from tests.syndication.social.conftest import connect


def _connected(app, fakes, network: str, email: str):
    """A new partner's admin who connected ``network``: (their client, user, account), the
    rows loaded in a session free of the requests' partner scope."""
    user = make_user("partner_admin", email=email)
    user_id = user.id
    client = app.test_client()
    login(client, email)
    connect(client, network)
    # The requests ran in this test's app context, scoping its session to the partner.
    scope_session_to_partner(None)
    db.session.remove()
    user = db.session.get(User, user_id)
    account = db.session.execute(select(SocialAccount).where(
        SocialAccount.partner_id == user.partner_id)).scalar_one()
    return client, user, account


def test_partner_a_cannot_see_or_disconnect_partner_bs_account(app, ctx, fakes):
    _, _, b_account = _connected(app, fakes, "x", "admin@bravo.example")
    b_token, b_id, b_public_id = (service.access_token(b_account), b_account.id,
                                  b_account.public_id)
    a_client, a_user, _ = _connected(app, fakes, "x", "admin@alpha.example")
    a_token = make_token(a_user)
    fakes.x.revoked.clear()

    page = a_client.get("/social/accounts").get_data(as_text=True)
    assert page.count("Disconnect") == 1
    assert b_public_id not in page
    response = a_client.post(f"/social/accounts/{b_public_id}/disconnect",
                             data={"csrf_token": csrf_from(page)})
    assert response.status_code == 404

    api = {"Authorization": f"Bearer {a_token}"}
    listed = a_client.get("/api/v1/social/accounts", headers=api).get_json()
    assert b_public_id not in [a["id"] for a in listed] and len(listed) == 1
    url = f"/api/v1/social/accounts/{b_public_id}"
    assert a_client.get(url, headers=api).status_code == 404
    assert a_client.delete(url, headers=api).status_code == 404

    assert fakes.x.revoked == [] and b_token in fakes.x.live_tokens()
    scope_session_to_partner(None)
    db.session.remove()
    assert db.session.get(SocialAccount, b_id) is not None


def test_the_api_shows_accounts_with_their_health_and_never_a_token(app, ctx, fakes):
    client, user, account = _connected(app, fakes, "x", "admin@northwind.example")
    public_id = account.public_id
    api = {"Authorization": f"Bearer {make_token(user)}"}
    body = client.get(f"/api/v1/social/accounts/{public_id}", headers=api)
    data = body.get_json()
    assert (data["network"], data["kind"], data["handle"], data["status"]) == (
        "x", "profile", "@northwind_it", "connected")
    assert data["scopes"] == ["tweet.read", "tweet.write", "users.read", "offline.access",
                              "media.write"]
    for token in fakes.x.tokens:
        assert token not in body.get_data(as_text=True)

    removed = client.delete(f"/api/v1/social/accounts/{public_id}", headers=api)
    assert removed.status_code == 204
    assert fakes.x.live_tokens() == []
    assert client.get("/api/v1/social/accounts", headers=api).get_json() == []


def test_the_vendor_sees_counts_per_network_and_no_tokens(app, ctx, fakes):
    _, _, healthy = _connected(app, fakes, "x", "admin@alpha.example")
    healthy_id = healthy.id
    _, _, broken = _connected(app, fakes, "x", "admin@bravo.example")
    service.mark_broken(broken, "X refused the authorisation: revoked.")
    db.session.commit()
    marketer = make_user("marketer")
    client = app.test_client()
    login(client, marketer.email)
    page = client.get("/social/health").get_data(as_text=True)
    assert "Social token health" in page
    for token in fakes.x.tokens:
        assert token not in page
    api = {"Authorization": f"Bearer {make_token(marketer)}"}
    rows = {r["network"]: r for r in client.get("/api/v1/social/health", headers=api).get_json()}
    assert rows["x"] == {"network": "x", "configured": True, "healthy": 1, "expiring": 0,
                         "broken": 1}
    assert rows["linkedin"]["healthy"] == 0
    assert db.session.get(SocialAccount, healthy_id).status is AccountStatus.CONNECTED
    # Vendor staff never reach partners' account pages, finance not even the counts.
    assert client.get("/social/accounts").status_code == 403
    finance = make_user("finance")
    other = app.test_client()
    login(other, finance.email)
    assert other.get("/social/health").status_code == 403
