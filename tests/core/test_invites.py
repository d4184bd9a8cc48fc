"""Invitations and password resets, followed from the email a person receives.

The vendor admin onboards a partner on the real form, the queued email is delivered by a real
worker into the outbox, and its link is opened in a fresh browser (test client), exactly the
way the partner admin would.
"""

from __future__ import annotations

import html
import time
from urllib.parse import urlsplit

import pytest
from flask import Flask
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from werkzeug.test import TestResponse

from tests.factories import PASSWORD, Outbox, csrf_from, login, make_partner, make_user, post_form

NEW_PASSWORD = "purple elephant dances"


def text(response: TestResponse) -> str:
    return html.unescape(response.get_data(as_text=True))


def link_path(outbox: Outbox, email: str, kind: str) -> str:
    """The path of the one ``kind`` (invite|reset) link emailed to ``email``."""
    (mail,) = outbox.to(email)
    return urlsplit(mail.link(rf"http://localhost/{kind}/\S+")).path


def set_password(client, path: str, password: str, confirm: str | None = None) -> TestResponse:
    page = client.get(path)
    assert page.status_code == 200, text(page)
    return client.post(path, data={"password": password,
                                   "password_confirm": password if confirm is None else confirm,
                                   "csrf_token": csrf_from(page.get_data(as_text=True))})


def new_user(app: Flask, role: str, **kw) -> str:
    with app.app_context():
        return make_user(role, **kw).email


def invite_partner_admin(app: Flask, client, jobs, *, email: str = "pat@northwind.example",
                         name: str = "Pat Partner") -> str:
    """Onboard Northwind on the vendor's form with an admin to invite; return the partner id."""
    admin = new_user(app, "admin", name="Vera Vendor")
    login(client, admin)
    created = post_form(client, "/partners/new", {
        "name": "Northwind Traders", "slug": "", "tier": "gold", "region": "EMEA",
        "type": "reseller", "language": "en", "admin_email": email, "admin_name": name,
    }, page="/partners/new")
    assert created.status_code == 302, text(created)
    jobs.run()
    return urlsplit(created.headers["Location"]).path.rsplit("/", 1)[-1]


# --- invitations -------------------------------------------------------------------------------


def test_partner_admin_accepts_the_invitation_and_lands_on_their_home(
    app, client, jobs, outbox: Outbox
):
    invite_partner_admin(app, client, jobs)
    (mail,) = outbox.to("pat@northwind.example")
    assert mail.subject == f"Vera Vendor invited you to {app.config['VENDOR_NAME']}"
    assert "Northwind Traders" in mail.text
    assert "7 days" in mail.text
    path = link_path(outbox, "pat@northwind.example", "invite")

    guest = app.test_client()  # the partner admin's own browser
    welcome = text(guest.get(path))
    assert "Welcome, Pat Partner" in welcome
    assert "pat@northwind.example" in welcome and "Northwind Traders" in welcome

    short = text(set_password(guest, path, "short"))
    assert "Use at least 10 characters." in short
    mismatch = text(set_password(guest, path, NEW_PASSWORD, "purple elephant dance"))
    assert "The two passwords do not match." in mismatch
    assert login(app.test_client(), "pat@northwind.example", "short").status_code == 401

    done = set_password(guest, path, NEW_PASSWORD)
    assert done.status_code == 302 and urlsplit(done.headers["Location"]).path == "/"
    home = text(guest.get("/"))
    assert "Welcome, Pat Partner" in home
    assert "Welcome! Your password is set." in home
    assert "Complete your brand profile" in home  # the partner home, not the vendor dashboard
    assert guest.get("/brand").status_code == 200

    used = guest.get(path)
    assert used.status_code == 400
    assert "already been used" in text(used)
    assert login(app.test_client(), "pat@northwind.example", NEW_PASSWORD).status_code == 302


def test_invitation_page_refuses_a_forged_or_truncated_link(app, client, jobs, outbox: Outbox):
    invite_partner_admin(app, client, jobs)
    path = link_path(outbox, "pat@northwind.example", "invite")
    # Flip a character in the middle of the signature: the last one partly holds base64
    # padding bits the decoder ignores, so changing it can leave the signature intact.
    middle = len(path) - 10
    flipped = path[:middle] + ("A" if path[middle] != "A" else "B") + path[middle + 1:]
    for broken in (path[:-6], flipped, "/invite/not-a-token-at-all"):
        response = app.test_client().get(broken)
        assert response.status_code == 400, broken
        page = text(response)
        assert "This invitation is not valid" in page, broken
        assert "Check that you copied the whole link" in page
    # the genuine link still works
    assert "Welcome, Pat Partner" in text(app.test_client().get(path))


def _aged(token: str, *, salt: str, secret: str, seconds: int) -> str:
    """The same token as if it had been issued ``seconds`` ago (signed with an older clock)."""

    class EarlierSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - seconds

    payload = URLSafeTimedSerializer(secret, salt=salt).loads(token)
    return URLSafeTimedSerializer(secret, salt=salt, signer=EarlierSigner).dumps(payload)


@pytest.mark.parametrize("kind", ["invite", "reset"])
def test_an_expired_link_says_so_and_what_to_do(app, client, jobs, outbox: Outbox, kind):
    if kind == "invite":
        invite_partner_admin(app, client, jobs)
        email, max_age = "pat@northwind.example", app.config["INVITE_MAX_AGE_SECONDS"]
        advice = "Ask your administrator to send a new one."
    else:
        email, max_age = new_user(app, "marketer"), app.config["RESET_MAX_AGE_SECONDS"]
        post_form(client, "/forgot", {"email": email}, page="/forgot")
        jobs.run()
        advice = "Request a new one below."
    path = link_path(outbox, email, kind)
    token = path.rsplit("/", 1)[-1]
    old = _aged(token, salt=f"tcma.{kind}", secret=app.config["SECRET_KEY"],
                seconds=max_age + 60)
    fresh = app.test_client()
    response = fresh.get(f"/{kind}/{old}")
    assert response.status_code == 400
    page = text(response)
    assert "has expired" in page and advice in page
    if kind == "reset":
        assert 'href="/forgot"' in page
    csrf = csrf_from(text(fresh.get("/login")))
    refused = fresh.post(f"/{kind}/{old}", data={
        "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD, "csrf_token": csrf})
    assert refused.status_code == 400
    assert login(app.test_client(), email, NEW_PASSWORD).status_code == 401
    # a token just inside its lifetime still opens the page
    recent = _aged(token, salt=f"tcma.{kind}", secret=app.config["SECRET_KEY"],
                   seconds=max_age - 60)
    assert app.test_client().get(f"/{kind}/{recent}").status_code == 200


def test_resending_an_invitation_retires_the_earlier_link(app, client, jobs, outbox: Outbox):
    partner_id = invite_partner_admin(app, client, jobs)
    first = link_path(outbox, "pat@northwind.example", "invite")
    with app.app_context():
        from tcma.auth.service import find_user_by_email

        user_id = find_user_by_email("pat@northwind.example").public_id
    resent = post_form(client, f"/partners/{partner_id}/users/{user_id}/resend")
    assert resent.status_code == 302
    assert "A new invitation is on its way to pat@northwind.example." in text(
        client.get(f"/partners/{partner_id}"))
    jobs.run()
    mails = outbox.to("pat@northwind.example")
    assert len(mails) == 2
    second = urlsplit(mails[-1].link(r"http://localhost/invite/\S+")).path
    assert second != first

    stale = app.test_client().get(first)
    assert stale.status_code == 400
    assert "replaced by a newer one" in text(stale)
    assert set_password(app.test_client(), second, NEW_PASSWORD).status_code == 302


def test_staff_invitation_from_the_staff_screen(app, client, jobs, outbox: Outbox):
    admin = new_user(app, "admin")
    login(client, admin)
    sent = post_form(client, "/admin/staff", {"email": "Fin@Vendor.test", "name": "Fin Ance",
                                              "role": "finance"}, page="/admin/staff")
    assert sent.status_code == 302
    assert "Invitation sent to fin@vendor.test." in text(client.get("/admin/staff"))
    jobs.run()
    path = link_path(outbox, "fin@vendor.test", "invite")
    browser = app.test_client()
    assert set_password(browser, path, NEW_PASSWORD).status_code == 302
    home = text(browser.get("/"))
    assert "Fin Ance" in home
    assert browser.get("/partners").status_code == 200  # a vendor role
    assert browser.get("/partners/new").status_code == 403  # but finance, not a manager


# --- password reset ----------------------------------------------------------------------------


def test_reset_request_answers_the_same_for_unknown_addresses_and_sends_nothing(
    app, client, jobs, outbox: Outbox
):
    known = new_user(app, "marketer", email="known@example.test")
    answers = []
    for email in ("known@example.test", "unknown@example.test"):
        browser = app.test_client()
        response = post_form(browser, "/forgot", {"email": email}, page="/forgot")
        answers.append((response.status_code, text(response)))
    assert answers[0] == answers[1]
    assert answers[0][0] == 200
    assert "If an account exists for that address" in answers[0][1]
    jobs.run()
    assert [m.to for m in outbox.messages()] == [known]


def test_reset_link_works_once_and_replaces_the_old_password(app, client, jobs, outbox: Outbox):
    email = new_user(app, "channel_manager", name="Cara Channel")
    post_form(client, "/forgot", {"email": email.upper()}, page="/forgot")
    jobs.run()
    (mail,) = outbox.to(email)
    assert mail.subject == f"Reset your {app.config['VENDOR_NAME']} password"
    path = link_path(outbox, email, "reset")

    browser = app.test_client()
    assert "Choose a new password" in text(browser.get(path))
    assert "Use at least 10 characters." in text(set_password(browser, path, "tiny"))
    done = set_password(browser, path, NEW_PASSWORD)
    assert done.status_code == 302
    assert "Your password has been changed." in text(browser.get("/"))

    used = app.test_client().get(path)
    assert used.status_code == 400
    assert "already been used" in text(used)
    assert login(app.test_client(), email, PASSWORD).status_code == 401
    assert login(app.test_client(), email, NEW_PASSWORD).status_code == 302


def test_an_invited_user_cannot_use_password_reset_to_skip_the_invitation(
    app, client, jobs, outbox: Outbox
):
    """Reset links go only to active accounts; an invited person uses their invitation."""
    with app.app_context():
        from tcma.auth import service as accounts
        from tcma.auth.models import Role
        from tcma.extensions import db

        accounts.invite_user(email="new@partner.test", name="New", role=Role.PARTNER_USER,
                             partner=make_partner(), notify=False)
        db.session.commit()
    post_form(client, "/forgot", {"email": "new@partner.test"}, page="/forgot")
    jobs.run()
    assert outbox.to("new@partner.test") == []
