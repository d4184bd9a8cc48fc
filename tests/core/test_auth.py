"""Signing in and out, and which screens each role reaches, through the real pages.

Every step goes through the server-rendered forms with their CSRF tokens, as a browser would.
Data is set up in short app contexts of its own, so requests never share a database session
with the test.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from tcma.auth.models import Role
from tests.factories import PASSWORD, Outbox, csrf_from, login, make_partner, make_user, post_form

NEW_PASSWORD = "a brand new passphrase"


def text(response: TestResponse) -> str:
    return html.unescape(response.get_data(as_text=True))


def location(response: TestResponse) -> str:
    """The redirect target as path?query, however the server spelled it."""
    parts = urlsplit(response.headers["Location"])
    assert parts.netloc in ("", "localhost"), response.headers["Location"]
    return parts.path + (f"?{parts.query}" if parts.query else "")


def sign_in_at(client, url: str, email: str, password: str = PASSWORD) -> TestResponse:
    """Open ``url`` (a sign-in page, maybe with ``next``) and submit its form."""
    page = client.get(url)
    return client.post(url, data={"email": email, "password": password,
                                  "csrf_token": csrf_from(page.get_data(as_text=True))})


def new_user(app: Flask, role: str, **kw) -> tuple[str, str]:
    """Create a user who can sign in; return (email, public id)."""
    with app.app_context():
        user = make_user(role, **kw)
        return user.email, user.public_id


def is_signed_in(client) -> bool:
    response = client.get("/account")
    if response.status_code == 302:
        assert location(response).startswith("/login")
        return False
    assert response.status_code == 200
    return True


# --- signing in and out ----------------------------------------------------------------------


def test_sign_in_lands_on_home_and_sign_out_ends_the_session(app, client):
    email, _ = new_user(app, "admin", name="Ada Admin")
    response = login(client, email)
    assert response.status_code == 302 and location(response) == "/"
    assert "Welcome, Ada Admin" in text(client.get("/"))

    out = post_form(client, "/logout")
    assert out.status_code == 302 and location(out) == "/login"
    assert "You are signed out." in text(client.get("/login"))
    assert not is_signed_in(client)
    assert location(client.get("/")) == "/login"


def test_sign_out_also_ends_a_copy_of_the_session_cookie(app, client):
    """The session is a signed cookie: signing out must end it on the server too, so a copy
    taken earlier (shared computer, stolen cookie) stops working."""
    email, _ = new_user(app, "admin")
    login(client, email)
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    assert is_signed_in(thief)  # the copy works while the owner is signed in

    post_form(client, "/logout")
    assert not is_signed_in(client)
    assert not is_signed_in(thief)


def test_sign_in_returns_to_the_page_that_asked_for_it(app, client):
    email, _ = new_user(app, "admin")
    asked = client.get("/partners?tier=gold")
    assert asked.status_code == 302
    login_url = location(asked)
    assert login_url.startswith("/login?next=")
    response = sign_in_at(client, login_url, email)
    assert response.status_code == 302
    assert location(response) == "/partners?tier=gold"


#: ``next`` values that would send someone off the site if followed as given.
FOREIGN_TARGETS = (
    "https://evil.example/",
    "//evil.example",
    "/\\evil.example",  # browsers read the backslash as a slash
    "\\\\evil.example",
    "/\t/evil.example",  # browsers drop the tab
    "javascript:alert(1)",
    "partners",
)


def test_next_never_leaves_the_site(app, client):
    email, _ = new_user(app, "admin")
    for target in FOREIGN_TARGETS:
        browser = app.test_client()
        page = browser.get("/login", query_string={"next": target})
        response = browser.post("/login", query_string={"next": target},
                                data={"email": email, "password": PASSWORD,
                                      "csrf_token": csrf_from(page.get_data(as_text=True))})
        assert response.status_code == 302, target
        assert response.headers["Location"] == "/", target


def test_wrong_password_and_unknown_email_get_the_same_answer(app, client):
    """Nobody can learn from the sign-in form whether an address has an account."""
    known, _ = new_user(app, "marketer", email="known@example.test")
    disabled, _ = new_user(app, "marketer", email="gone1@example.test")
    admin, _ = new_user(app, "admin")
    admin_client = app.test_client()
    login(admin_client, admin)
    with app.app_context():
        from tcma.auth.service import find_user_by_email

        gone_id = find_user_by_email(disabled).public_id
    post_form(admin_client, f"/admin/staff/{gone_id}/status", {"status": "disabled"})

    answers = {
        "wrong password": login(client, known, "not the password"),
        "unknown email": login(client, "nobody@example.test", "not the password"),
        # a disabled account answers the same even with its right password
        "disabled": login(client, disabled, PASSWORD),
    }
    emails = {"wrong password": known, "unknown email": "nobody@example.test",
              "disabled": disabled}
    bodies = set()
    for case, response in answers.items():
        assert response.status_code == 401, case
        body = text(response)
        assert "Email or password is incorrect." in body, case
        bodies.add(re.sub(r'value="[^"]*"', 'value=""', body.replace(emails[case], "EMAIL")))
    assert len(bodies) == 1, "the three answers differ in more than the echoed email"
    assert not is_signed_in(client)


def test_repeated_failures_lock_the_email_even_for_the_right_password(app, client):
    email, _ = new_user(app, "admin")
    other, _ = new_user(app, "admin")
    limit = app.config["LOGIN_ATTEMPTS_PER_EMAIL"]
    for attempt in range(limit):
        assert login(client, email, f"wrong {attempt}").status_code == 401, attempt
    refused = login(client, email, PASSWORD)
    assert refused.status_code == 429
    assert "Too many attempts" in text(refused)
    assert not is_signed_in(client)
    # the limit is per email: someone else signing in from the same place is unaffected
    assert login(client, other).status_code == 302


def test_many_failures_from_one_address_are_limited(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_ATTEMPTS_PER_IP", 3)
    email, _ = new_user(app, "admin")
    for n in range(3):
        assert login(client, f"guess{n}@example.test", "guess").status_code == 401
    refused = login(client, email, PASSWORD)
    assert refused.status_code == 429
    assert "Too many attempts" in text(refused)


def test_colleagues_behind_one_address_can_all_sign_in(app, monkeypatch):
    """Only failures count against an address: a partner's whole office shares one NAT."""
    monkeypatch.setitem(app.config, "LOGIN_ATTEMPTS_PER_IP", 3)
    emails = [new_user(app, "partner_user")[0] for _ in range(5)]
    assert [login(app.test_client(), e).status_code for e in emails] == [302] * 5


def test_a_successful_sign_in_clears_earlier_failures(app, client):
    email, _ = new_user(app, "admin")
    limit = app.config["LOGIN_ATTEMPTS_PER_EMAIL"]
    for attempt in range(limit - 1):
        login(client, email, f"wrong {attempt}")
    assert login(client, email).status_code == 302
    post_form(client, "/logout")
    for attempt in range(limit - 1):
        assert login(client, email, f"wrong again {attempt}").status_code == 401
    assert login(client, email).status_code == 302


def test_forms_without_their_csrf_token_are_refused(app, client):
    email, _ = new_user(app, "admin")
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 400
    assert "This form has expired" in text(response)
    assert not is_signed_in(client)

    login(client, email)
    forged = client.post("/logout", data={"csrf_token": "not-the-token"})
    assert forged.status_code == 400
    assert "This form has expired" in text(forged)
    assert is_signed_in(client)  # a cross-site POST cannot sign the user out either


# --- other sessions end when access changes ------------------------------------------------


def test_resetting_the_password_ends_other_open_sessions(app, client, jobs, outbox: Outbox):
    email, _ = new_user(app, "marketer")
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, email)
    login(phone, email)
    assert is_signed_in(laptop) and is_signed_in(phone)

    post_form(client, "/forgot", {"email": email}, page="/forgot")
    jobs.run()
    (mail,) = outbox.to(email)
    path = urlsplit(mail.link(r"http://localhost/reset/\S+")).path
    page = client.get(path)
    done = client.post(path, data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD,
                                   "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert done.status_code == 302
    assert is_signed_in(client)  # the person who reset it is signed in
    assert not is_signed_in(laptop)
    assert not is_signed_in(phone)


def test_disabling_a_user_ends_their_open_sessions(app, client):
    admin, _ = new_user(app, "admin")
    email, user_id = new_user(app, "marketer", name="Mo Marketer")
    login(client, admin)
    theirs = app.test_client()
    login(theirs, email)
    assert theirs.get("/partners").status_code == 200

    done = post_form(client, f"/admin/staff/{user_id}/status", {"status": "disabled"})
    assert done.status_code == 302
    assert "Mo Marketer is now disabled." in text(client.get("/admin/staff"))
    answer = theirs.get("/partners")
    assert answer.status_code == 302 and location(answer).startswith("/login")
    assert login(theirs, email).status_code == 401


def test_suspended_partner_users_are_signed_out_and_told_why(app, client):
    admin, _ = new_user(app, "admin")
    with app.app_context():
        partner = make_partner("Northwind Traders")
        partner_id = partner.public_id
        user = make_user("partner_admin", partner=partner)
        email = user.email
    login(client, admin)
    theirs = app.test_client()
    login(theirs, email)
    assert theirs.get("/brand").status_code == 200

    post_form(client, f"/partners/{partner_id}/status", {"status": "suspended"})
    answer = theirs.get("/brand")
    assert answer.status_code == 302 and location(answer).startswith("/login")
    refused = login(theirs, email)
    assert refused.status_code == 401
    assert "Access for Northwind Traders is suspended" in text(refused)
    assert "Contact your channel manager" in text(refused)

    post_form(client, f"/partners/{partner_id}/status", {"status": "active"})
    assert login(theirs, email).status_code == 302
    assert theirs.get("/brand").status_code == 200


# --- who sees which screen -------------------------------------------------------------------

PAGES = ("/partners", "/partners/new", "/partners/import", "/admin/staff", "/admin/audit",
         "/admin/program", "/outbox", "/brand", "/team", "/account")


def _row(*codes: int) -> dict[str, int]:
    return dict(zip(PAGES, codes, strict=True))


#: Written out by hand rather than derived from permissions.py, so a permission that changes
#: by accident shows up here. Vendor staff without a permission get 403; partner users asking
#: for a vendor screen get 404 so they cannot map what exists.
EXPECTED = {
    #                          partners new  import staff audit progr outbox brand team  account
    Role.ADMIN:           _row(200,     200, 200,   200,  200,  200,  200,   403,  403,  200),
    Role.MARKETER:        _row(200,     403, 403,   403,  403,  403,  403,   403,  403,  200),
    Role.CHANNEL_MANAGER: _row(200,     200, 200,   403,  403,  403,  403,   403,  403,  200),
    Role.FINANCE:         _row(200,     403, 403,   403,  403,  403,  403,   403,  403,  200),
    Role.PARTNER_ADMIN:   _row(404,     404, 404,   404,  404,  404,  404,   200,  200,  200),
    Role.PARTNER_USER:    _row(404,     404, 404,   404,  404,  404,  404,   200,  200,  200),
}


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_each_role_reaches_only_its_screens(app, client, role):
    email, _ = new_user(app, role.value)
    assert login(client, email).status_code == 302
    seen = {page: client.get(page).status_code for page in PAGES}
    assert seen == EXPECTED[role]


def test_the_menu_offers_only_reachable_screens(app, client):
    email, _ = new_user(app, "marketer")
    login(client, email)
    menu = text(client.get("/"))
    assert 'href="/partners"' in menu
    for hidden in ("/admin/staff", "/admin/audit", "/admin/program", "/outbox", "/brand"):
        assert f'href="{hidden}"' not in menu, hidden


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, page):
    response = client.get(page)
    assert response.status_code == 302
    target = urlsplit(location(response))
    assert target.path == "/login"
    assert parse_qs(target.query)["next"][0].rstrip("?") == page
