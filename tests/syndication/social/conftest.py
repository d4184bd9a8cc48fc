"""Fixtures for social accounts: the three network fakes, with the app pointed at them."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests

from syndication.social.fakes import FakeFacebook, FakeLinkedIn, FakeX
from tests.factories import csrf_from, login, make_user


@dataclass
class Fakes:
    linkedin: FakeLinkedIn
    x: FakeX
    facebook: FakeFacebook

    def __getitem__(self, network: str):
        return getattr(self, network)


@pytest.fixture
def fakes(app, monkeypatch):
    made = Fakes(FakeLinkedIn(), FakeX(), FakeFacebook())
    for name, fake in (("LINKEDIN", made.linkedin), ("X", made.x), ("FACEBOOK", made.facebook)):
        monkeypatch.setitem(app.config, f"SOCIAL_{name}_CLIENT_ID", fake.client_id)
        monkeypatch.setitem(app.config, f"SOCIAL_{name}_CLIENT_SECRET", fake.client_secret)
    monkeypatch.setitem(app.config, "SOCIAL_LINKEDIN_AUTH", made.linkedin.url)
    monkeypatch.setitem(app.config, "SOCIAL_LINKEDIN_API", made.linkedin.url)
    monkeypatch.setitem(app.config, "SOCIAL_X_AUTH", made.x.url)
    monkeypatch.setitem(app.config, "SOCIAL_X_API", made.x.url)
    monkeypatch.setitem(app.config, "SOCIAL_FACEBOOK_AUTH", made.facebook.url)
    monkeypatch.setitem(app.config, "SOCIAL_FACEBOOK_GRAPH", made.facebook.url)
    yield made
    for fake in (made.linkedin, made.x, made.facebook):
        fake.close()


@pytest.fixture
def partner_admin(app, ctx):
    """A signed-in partner admin: (test client, user)."""
    user = make_user("partner_admin", email="admin@northwind.example")
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    return client, user


def start(client, network: str):
    """Press "Connect <network>": the redirect to the network's authorise page."""
    html = client.get("/social/accounts").get_data(as_text=True)
    response = client.post("/social/connect", data={"network": network,
                                                    "csrf_token": csrf_from(html)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def approve(authorise_url: str) -> str:
    """The member approves on the network: the callback path (with query) it sends back to."""
    answer = requests.get(authorise_url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    return f"{back.path}?{back.query}"


def connect(client, network: str):
    """The whole flow through the browser's eyes; returns the callback's response."""
    return client.get(approve(start(client, network)))
