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
