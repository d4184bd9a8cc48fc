"""Keeping tokens alive, telling partners when they are not, and disconnecting."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from syndication.social import service
from syndication.social.models import AccountStatus, SocialAccount
from syndication.social.tasks import refresh_social_account
from tcma.extensions import db
from tcma.models import utcnow
from tcma.queue import enqueue
from tests.factories import csrf_from
from tests.syndication.social.conftest import connect


def _only() -> SocialAccount:
    db.session.expire_all()
    [account] = db.session.execute(select(SocialAccount)).scalars().all()
    return account


def _pick_all(client):
    picker = client.get("/social/pick").get_data(as_text=True)
    ids = [line.split('value="')[1].split('"')[0] for line in picker.splitlines()
           if 'name="accounts"' in line]
    client.post("/social/pick", data={"csrf_token": csrf_from(picker), "accounts": ids})


def test_tokens_are_refreshed_once_shortly_before_they_expire(fakes, partner_admin, jobs):
    client, _ = partner_admin
    connect(client, "x")
    account = _only()
    old_access, expires = service.access_token(account), account.expires_at

    # An hour before expiry nothing is due; 20 minutes before, the refresh is queued.
    assert service.refresh_due(now=expires - timedelta(hours=1)) == []
    assert service.refresh_due(now=expires - timedelta(minutes=20)) == [account.id]
    db.session.commit()
    jobs.run()
    account = _only()
    new_access = service.access_token(account)
    assert new_access != old_access and new_access in fakes.x.live_tokens()
    assert old_access in fakes.x.live_tokens()  # X lets the old access token run out
    assert account.expires_at > expires and account.status is AccountStatus.CONNECTED
    assert fakes.x.calls.count(("POST", "/2/oauth2/token")) == 2

    # The same message delivered again finds the tokens renewed: no second refresh, which
    # would also burn X's rotated refresh token.
    enqueue(refresh_social_account, account.id, expires.isoformat())
    db.session.commit()
    jobs.run()
    assert fakes.x.calls.count(("POST", "/2/oauth2/token")) == 2
    assert service.access_token(_only()) == new_access


def test_a_revoked_grant_marks_the_account_broken_and_emails_the_partner(
        fakes, partner_admin, jobs, outbox):
    client, user = partner_admin
    connect(client, "x")
    account = _only()
    fakes.x.revoke_everything()  # the member removed the app on X

    service.refresh_due(now=account.expires_at - timedelta(minutes=5))
    db.session.commit()
    jobs.run()
    account = _only()
    assert account.status is AccountStatus.BROKEN
    assert account.status_reason == ("X refused the authorisation: Value passed for the "
                                     "token was invalid.")
    [mail] = outbox.messages()
    assert mail.to == user.email
    assert mail.subject == "Reconnect your X account Northwind IT"
    assert "Value passed for the token was invalid." in mail.text
    assert mail.link() == "http://localhost/social/accounts"
    page = client.get("/social/accounts").get_data(as_text=True)
    assert "broken" in page and "Value passed for the token was invalid." in page

    # Broken stays broken without more mail; reconnecting heals it.
    service.refresh_due(now=account.expires_at - timedelta(minutes=5))
    db.session.commit()
    jobs.run()
    assert len(outbox.messages()) == 1
    connect(client, "x")
    assert _only().status is AccountStatus.CONNECTED


def test_partners_are_warned_once_before_access_ends_then_told_it_ended(
        fakes, partner_admin, jobs, outbox):
    """LinkedIn tokens cannot outlive the refresh token: when it ends within a week the
    partner is asked to reconnect, once; when it has ended the account is broken."""
    fakes.linkedin.organizations.clear()  # the profile alone: no picking
    fakes.linkedin.access_seconds = 5 * 24 * 3600
    fakes.linkedin.refresh_seconds = 6 * 24 * 3600
    client, user = partner_admin
    connect(client, "linkedin")
    account = _only()
    assert service.health(account).status is AccountStatus.EXPIRING

    now = utcnow()
    service.refresh_due(now=now)
    service.refresh_due(now=now + timedelta(hours=1))
    db.session.commit()
    jobs.run()
    [warning] = outbox.messages()
    assert warning.subject == "Your LinkedIn account Lina Member needs reconnecting soon"
    assert "reconnect before then" in warning.text
    assert _only().status is AccountStatus.EXPIRING

    service.refresh_due(now=now + timedelta(days=6, minutes=1))
    db.session.commit()
    jobs.run()
    account = _only()
    assert account.status is AccountStatus.BROKEN
    assert account.status_reason.startswith("Access expired on ")
    assert [m.subject for m in outbox.messages()][-1] == (
        "Reconnect your LinkedIn account Lina Member")


def test_disconnect_revokes_at_the_network_and_deletes_the_tokens(fakes, partner_admin):
    client, _ = partner_admin
    connect(client, "x")
    account = _only()
    token = service.access_token(account)
    page = client.get("/social/accounts").get_data(as_text=True)
    response = client.post(f"/social/accounts/{account.public_id}/disconnect",
                           data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert fakes.x.revoked == [token]
    assert fakes.x.live_tokens() == []  # the refresh token went with it
    db.session.expire_all()
    assert db.session.execute(select(SocialAccount)).scalars().all() == []
    assert "and revoked at X" in client.get("/social/accounts").get_data(as_text=True)


def test_accounts_from_one_consent_are_revoked_when_the_last_one_goes(fakes, partner_admin):
    client, _ = partner_admin
    connect(client, "linkedin")
    _pick_all(client)
    profile, organization = db.session.execute(
        select(SocialAccount).order_by(SocialAccount.id)).scalars().all()
    service.disconnect(organization, by=None)
    db.session.commit()
    assert fakes.linkedin.revoked == []  # the profile still posts with the same token
    token = service.access_token(profile)
    service.disconnect(profile, by=None)
    db.session.commit()
    assert fakes.linkedin.revoked == [token]


def test_refreshing_one_account_of_a_consent_renews_its_siblings(fakes, partner_admin, jobs):
    client, _ = partner_admin
    connect(client, "linkedin")
    _pick_all(client)
    profile, organization = db.session.execute(
        select(SocialAccount).order_by(SocialAccount.id)).scalars().all()
    assert service.refresh_due(now=profile.expires_at - timedelta(minutes=1)) == [profile.id]
    db.session.commit()
    jobs.run()
    db.session.expire_all()
    assert service.access_token(profile) == service.access_token(organization)
    assert fakes.linkedin.calls.count(("POST", "/oauth/v2/accessToken")) == 2  # code + once
