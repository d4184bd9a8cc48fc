"""A partner's copy of an asset as it stands now, read without asking for one.

``renditions.request_rendition`` finds the copy or queues it. Reads that must not queue work
(the API's GET of a copy's state, and its download) look the same key up here instead: the
newest file version, the current zone set and the partner's current brand profile.
"""

from __future__ import annotations

from sqlalchemy import select

from assets.library import current_version, current_zone_set
from assets.models import Asset, Rendition
from tcma.extensions import db
from tcma.partners.models import Partner
from tcma.partners.service import current_brand_profile


def current_copy(partner: Partner, asset: Asset) -> Rendition | None:
    """The partner's rendition for the current key, or None if nobody asked for it yet.

    A changed file, zone set or brand profile makes a new key, so an older copy is not
    "current" any more: the caller asks for a new one with ``request_rendition``.
    """
    return db.session.execute(
        select(Rendition).filter_by(asset_version_id=current_version(asset).id,
                                    zone_set_id=current_zone_set(asset).id,
                                    brand_profile_id=current_brand_profile(partner).id)
    ).scalar_one_or_none()
