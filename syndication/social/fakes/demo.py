"""``tcma serve --demo-networks``: the fakes standing in for unconfigured networks."""

from __future__ import annotations

from dataclasses import dataclass

from syndication.social.fakes.base import FakeNetwork
from syndication.social.fakes.facebook import FakeFacebook
from syndication.social.fakes.linkedin import FakeLinkedIn
from syndication.social.fakes.x import FakeX


@dataclass
class DemoNetwork:
    """One network as ``start_demo_networks`` left it: a local fake, or the real network
    when its client id is configured."""

    label: str
    fake: FakeNetwork | None

    def __str__(self) -> str:
        if self.fake is None:
            return f"{self.label}: the real network (its client id is configured)"
        return f"{self.label}: demo network at {self.fake.url} (a local stand-in)"


#: Network setting prefix -> the fake, and the settings holding its base URLs.
_DEMO_NETWORKS = {
    "LINKEDIN": (FakeLinkedIn, ("AUTH", "API")),
    "X": (FakeX, ("AUTH", "API")),
    "FACEBOOK": (FakeFacebook, ("AUTH", "GRAPH")),
}


def start_demo_networks(app) -> list[DemoNetwork]:
    """Start a demo network on loopback for each network the app has no client id for, and
    point the app's settings at it, so a person can connect accounts without credentials.
    Networks with a client id configured are left alone. ``close()`` the fakes when done."""
    started = []
    for prefix, (fake_class, url_settings) in _DEMO_NETWORKS.items():
        if app.config.get(f"SOCIAL_{prefix}_CLIENT_ID"):
            started.append(DemoNetwork(fake_class.label, None))
            continue
        fake = fake_class(ask_member=True)
        app.config[f"SOCIAL_{prefix}_CLIENT_ID"] = fake.client_id
        app.config[f"SOCIAL_{prefix}_CLIENT_SECRET"] = fake.client_secret
        for setting in url_settings:
            app.config[f"SOCIAL_{prefix}_{setting}"] = fake.url
        started.append(DemoNetwork(fake_class.label, fake))
    return started
