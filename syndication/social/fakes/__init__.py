"""Demo networks: local stand-ins for LinkedIn, X and Facebook, for tests and the demo only.

Never for production: no real member stands behind them and everything lives in memory.
Each is a real HTTP server on loopback implementing the networks' documented endpoints that
the adapters call, with their response shapes and error bodies: the OAuth authorise page, the
token endpoint (authorization code, PKCE S256 on X, refresh, expiry), revocation, and who the
token is (LinkedIn userinfo and organizationAcls, X users/me, Facebook me/accounts with Page
tokens). ``revoke_everything`` plays the member removing the app on the network's side.

Publishing: LinkedIn's Posts and Images APIs, X's ``/2/tweets`` and ``/2/media/upload``, the
Graph API's ``/{page-id}/feed`` and ``/{page-id}/photos``, each checking the request shape
its documentation gives and answering with the network's id formats and error bodies. Posts
are kept in ``posts`` (dicts: id, author, text, media, link, created) and every publishing
request in ``received``, for tests and benchmarks to count and inspect. Controls play the
network's bad days: ``latency``, ``rate_limit``, ``fail_next``, ``swallow_next``,
``max_image_bytes``; duplicate texts from one author within 24 hours (of the fake's clock)
are refused the way each network refuses them.

The authorise page approves at once and redirects back with the code and state, which is what
tests want; with ``ask_member=True`` it shows a consent page whose "Allow" button does that,
for a person clicking through ``tcma serve --demo-networks``. ``start_demo_networks`` points
an app at the three of them.
"""

from syndication.social.fakes.base import FakeNetwork, Received, Token
from syndication.social.fakes.demo import DemoNetwork, start_demo_networks
from syndication.social.fakes.facebook import FakeFacebook
from syndication.social.fakes.linkedin import FakeLinkedIn
from syndication.social.fakes.x import FakeX, s256

__all__ = ["DemoNetwork", "FakeFacebook", "FakeLinkedIn", "FakeNetwork", "FakeX", "Received",
           "Token", "s256", "start_demo_networks"]
