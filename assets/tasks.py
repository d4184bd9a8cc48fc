"""Background work of the asset library."""

from __future__ import annotations

from typing import Any

from tcma import scheduler
from tcma.queue import actor

#: Kept well under ``renditions.STALE_RENDER``: a live worker never looks dead.
RENDER_TIME_LIMIT_MS = 5 * 60_000


@actor(queue_name="render", max_retries=3, min_backoff=2_000,
       time_limit=RENDER_TIME_LIMIT_MS, on_retry_exhausted="fail_rendition")
def stamp_rendition(rendition_id: int) -> None:
    """Render one partner's co-branded copy; a redelivered message renders nothing twice."""
    from assets import renditions

    renditions.render(rendition_id)


@actor(queue_name="render", max_retries=3)
def fail_rendition(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """Dramatiq used up ``stamp_rendition``'s retries: tell the partner it failed."""
    from assets import renditions

    renditions.give_up(int(message["args"][0]))


#: Kept well under ``bundles.STALE_BUILD``: a live builder never looks dead.
BUNDLE_TIME_LIMIT_MS = 5 * 60_000


@actor(queue_name="render", max_retries=3, min_backoff=2_000,
       time_limit=BUNDLE_TIME_LIMIT_MS, on_retry_exhausted="fail_bundle")
def build_bundle(bundle_id: int, check: int = 0) -> None:
    """Pack a partner's copies into one ZIP once they are all rendered; until then this
    message re-sends itself with a delay instead of holding a worker. ``check`` is how many
    looks the bundle had when the message was sent: duplicates are recognised by it."""
    from assets import bundles

    bundles.build(bundle_id, check)


@actor(queue_name="render", max_retries=3)
def fail_bundle(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """Dramatiq used up ``build_bundle``'s retries: tell the partner the ZIP failed."""
    from assets import bundles

    bundles.give_up(int(message["args"][0]))


@actor(queue_name="render", max_retries=3, min_backoff=2_000, time_limit=2 * 60_000)
def prepare_partner_logo(brand_profile_id: int) -> None:
    """Prepare a partner's newly uploaded logo for stamping (trimmed pixels, PDF images at the
    sizes their library's zones use) and store it, so their first copy does not pay for it.
    Safe to run again: what is stored already is not made twice."""
    from assets import logos

    logos.prepare_for_profile(brand_profile_id)


@scheduler.every(60, "assets.sweep")
def _sweep() -> None:
    """Copies and ZIPs whose message or worker was lost go out again; old ZIPs are removed."""
    from assets import bundles, renditions
    from tcma.extensions import db

    renditions.revive_stale()
    bundles.sweep()
    db.session.commit()
