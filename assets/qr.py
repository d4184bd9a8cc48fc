"""QR codes on co-branded files: where each partner's code leads, and its modules.

A QR zone names the address the code leads to. A partner's copy should lead there through the
partner's own tracking link, so every scan counts for that partner. Tracking links belong to
the syndication package, which registers a link maker here when the app is built (assets
does not import syndication: dependencies point the other way); without one, or in previews
(which must not make links), the code carries the address itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from assets.cobrand.qrcode import PREFIX

if TYPE_CHECKING:
    from assets.cobrand.zones import Zone
    from assets.models import Asset
    from tcma.partners.models import Partner

#: (partner, destination, asset) -> the URL the partner's code carries.
LinkMaker = Callable[["Partner", str, "Asset"], str]
_link_maker: LinkMaker | None = None


def register_link_maker(maker: LinkMaker | None) -> None:
    global _link_maker
    _link_maker = maker


def targets(partner: Partner | None, asset: Asset, zones: Iterable[Zone]) -> dict[str, str]:
    """What each QR zone's code carries for ``partner``, keyed ``qr:<destination>`` to go
    beside the brand's token values. May create tracking links (the caller commits)."""
    found = {}
    for zone in zones:
        if zone.kind == "qr":
            destination = zone.template.strip()
            found[PREFIX + destination] = (
                _link_maker(partner, destination, asset)
                if partner is not None and _link_maker is not None else destination)
    return found
