"""What a kit points at outside campaigns: a landing page and co-brandable assets.

Assets sit below campaigns in the dependency order (``syndication -> campaigns -> assets``),
so asset ids are checked directly with ``assets.library``. Landing pages belong to
syndication, above campaigns, so campaigns must not import them: a kit stores the page's
public id, and checks it through a lookup that the app factory registers from syndication
when the app is built (the same arrangement as ``assets.qr.register_link_maker``). Storing a
plain id rather than a foreign key keeps the schema free of the upward dependency too; a page
deleted later shows up as a problem when the kit is next published.
"""

from __future__ import annotations

from collections.abc import Callable

#: page public id -> its title, or None when there is no such page
PageLookup = Callable[[str], "str | None"]
_page_lookup: PageLookup | None = None


def register_landing_page_lookup(lookup: PageLookup | None) -> None:
    global _page_lookup
    _page_lookup = lookup


def landing_page_title(public_id: str) -> str | None:
    """The landing page's title, or None when it does not exist (or no lookup is installed:
    then no page can be referenced, rather than any id being trusted)."""
    return _page_lookup(public_id) if _page_lookup is not None else None


def asset_title(public_id: str) -> str | None:
    from assets.library import get_asset
    from tcma.errors import NotFound

    try:
        return get_asset(public_id).title
    except NotFound:
        return None


def image_asset_title(public_id: str) -> str | None:
    """The title of a co-brandable image asset (what a post may carry), or None when there is
    no such asset or it is not an image."""
    from assets.library import get_asset
    from assets.models import AssetKind
    from tcma.errors import NotFound

    try:
        asset = get_asset(public_id)
    except NotFound:
        return None
    return asset.title if asset.kind is AssetKind.IMAGE else None


def image_assets() -> list[tuple[str, str]]:
    """(public id, title) of the image assets a post may carry, for the editor's picker;
    retired ones are left out."""
    from sqlalchemy import select

    from assets.models import Asset, AssetKind, AssetStatus
    from tcma.extensions import db

    return [(a.public_id, a.title) for a in db.session.execute(
        select(Asset).where(Asset.kind == AssetKind.IMAGE, Asset.status != AssetStatus.RETIRED)
        .order_by(Asset.title)).scalars()]
