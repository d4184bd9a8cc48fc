"""The demo networks ``tcma serve --demo-networks`` starts: a person connects an account by
pressing "Allow" on the stand-in's consent page, with no real network credentials."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from sqlalchemy import select

from syndication.social.fakes import start_demo_networks
from syndication.social.models import SocialAccount
from tcma.extensions import db
from tests.factories import csrf_from
from tests.syndication.social.conftest import start


class _ConsentForm(HTMLParser):
    """The consent page's form as a browser reads it: action, method, fields and buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.action = self.method = None
        self.fields: list[tuple[str, str]] = []
        self.buttons: dict[str, tuple[str, str]] = {}  # button text -> (name, value)
        self._button: tuple[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.action, self.method = attrs.get("action"), attrs.get("method", "get")
        elif tag == "input" and attrs.get("type") == "hidden":
            self.fields.append((attrs["name"], attrs.get("value", "")))
        elif tag == "button":
            self._button = (attrs.get("name", ""), attrs.get("value", ""))

    def handle_data(self, data):
        if self._button is not None and data.strip():
            self.buttons[data.strip()] = self._button

    def handle_endtag(self, tag):
        if tag == "button":
            self._button = None


def _press(authorise_url: str, button: str) -> str:
    """Open the network's authorise page and press ``button``: the callback path (with query)
    the network sends the browser back to."""
    page = requests.get(authorise_url, allow_redirects=False, timeout=5)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"], page.text
    form = _ConsentForm()
    form.feed(page.text)
    assert form.method == "post" and button in form.buttons, page.text
    answer = requests.post(urljoin(authorise_url, form.action),
                           data=[*form.fields, form.buttons[button]],
                           allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    return f"{back.path}?{back.query}"


@pytest.fixture
def demo_networks(app, monkeypatch):
    """The app as ``serve --demo-networks`` leaves it; its settings are restored afterwards."""
    for key in [k for k in app.config if k.startswith("SOCIAL_")]:
        monkeypatch.setitem(app.config, key, app.config[key])
    monkeypatch.setitem(app.config, "SOCIAL_FACEBOOK_CLIENT_ID", "real-facebook-app")
    demos = start_demo_networks(app)
    yield demos
    for demo in demos:
        if demo.fake is not None:
            demo.fake.close()


def _accounts() -> list[SocialAccount]:
    db.session.expire_all()
    return list(db.session.execute(select(SocialAccount).order_by(SocialAccount.id)).scalars())


def test_demo_networks_stand_in_only_for_networks_without_a_client_id(app, demo_networks):
    linkedin, x, facebook = demo_networks
    assert str(linkedin) == f"LinkedIn: demo network at {linkedin.fake.url} (a local stand-in)"
    assert str(x) == f"X: demo network at {x.fake.url} (a local stand-in)"
    assert str(facebook) == "Facebook: the real network (its client id is configured)"
    assert facebook.fake is None
    assert app.config["SOCIAL_X_AUTH"] == app.config["SOCIAL_X_API"] == x.fake.url
    assert app.config["SOCIAL_LINKEDIN_CLIENT_ID"] == linkedin.fake.client_id
    assert app.config["SOCIAL_FACEBOOK_GRAPH"] == "https://graph.facebook.com/v21.0"


def test_a_person_connects_x_by_pressing_allow(demo_networks, partner_admin):
    client, _ = partner_admin
    callback = _press(start(client, "x"), "Allow")
    response = client.get(callback)
    assert response.status_code == 302 and response.headers["Location"] == "/social/accounts"
    assert "Connected X: Northwind IT." in client.get("/social/accounts").get_data(as_text=True)
    [account] = _accounts()
    assert account.external_id == "1458312046218625024"
    assert demo_networks[1].fake.pkce_failures == 0  # the form carried the PKCE challenge


def test_a_person_connects_linkedin_by_pressing_allow_and_picking(demo_networks,
                                                                  partner_admin):
    client, _ = partner_admin
    assert client.get(_press(start(client, "linkedin"), "Allow")).headers["Location"] == \
        "/social/pick"
    picker = client.get("/social/pick").get_data(as_text=True)
    done = client.post("/social/pick", data={"csrf_token": csrf_from(picker),
                                             "accounts": ["782bbtaQ"]})
    assert done.status_code == 302
    assert [a.display_name for a in _accounts()] == ["Lina Member"]


def test_cancel_on_the_consent_page_connects_nothing(demo_networks, partner_admin):
    client, _ = partner_admin
    response = client.get(_press(start(client, "linkedin"), "Cancel"))
    assert response.status_code == 303
    assert "LinkedIn did not grant access (user_cancelled_authorize)" in client.get(
        "/social/accounts").get_data(as_text=True)
    assert _accounts() == []
