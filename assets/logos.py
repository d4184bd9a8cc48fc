"""Partner logos prepared for stamping when they are uploaded, and kept in storage.

A partner's first co-branded copy used to pay for preparing their logo (decoding the PNG,
trimming it, deflating its pixels for PDF, resampling it for smaller zones): more than half of
a 20-page copy's time. None of it depends on the file being stamped, so it moves to the
moment the logo arrives: the core announces each new brand-profile version
(``tcma.signals.brand_profile_saved``); when its logo is new we queue
``prepare_partner_logo`` (render queue, after commit), which stores the artefacts
``assets.cobrand.prepared`` describes under ``logos/<sha256 of the logo>/v<recipe>/``, for the
logo's own size and for the logo zones of every PDF in the partner's library. Keyed by the
logo's content, they serve every brand-profile version and every partner using that logo.

``brand_for`` hands stamping a ``PreparedLogo`` reading them; whatever is missing (the job has
not run yet, a zone drawn since, a damaged file, storage briefly down) is prepared on the fly
as before. The output is the same either way.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Iterator

from flask import Flask

from assets.cobrand import Zone, parse_zones
from assets.cobrand.prepared import RECIPE, PreparedLogo, missing_artefacts
from assets.library import current_version, current_zone_set, partner_library
from assets.models import AssetKind
from tcma import queue
from tcma.errors import DomainError
from tcma.extensions import db
from tcma.partners.models import BrandProfile, Partner
from tcma.signals import brand_profile_saved
from tcma.storage import Storage, StorageError, storage

log = logging.getLogger(__name__)

PREFIX = "logos"


def init_app(app: Flask) -> None:
    """Prepare partner logos as they are uploaded (called by the app factory)."""
    brand_profile_saved.connect(_brand_profile_saved)


def _brand_profile_saved(partner: Partner, *, profile: BrandProfile, previous: BrandProfile,
                         **_: object) -> None:
    if profile.logo_key and profile.logo_key != previous.logo_key:
        from assets.tasks import prepare_partner_logo

        queue.enqueue(prepare_partner_logo, profile.id)


def artefact_key(sha: str, name: str) -> str:
    """Where one prepared artefact of the logo with this sha256 (hex) is stored."""
    return f"{PREFIX}/{sha}/v{RECIPE}/{name}"


def prepared_logo(logo: bytes, backend: Storage | None = None) -> PreparedLogo:
    """The artefacts prepared for ``logo``, read from storage as stamping asks for them."""
    return PreparedLogo(logo, functools.partial(_read, backend or storage()))


def _read(backend: Storage, sha: str, name: str) -> bytes | None:
    try:
        return backend.get(artefact_key(sha, name))
    except StorageError:
        return None  # not prepared (yet)
    except Exception:
        # Prepared artefacts only save time: a storage hiccup here must not fail a copy that
        # can be made without them.
        log.warning("could not read prepared logo %s/%s", sha[:12], name, exc_info=True)
        return None


def store_prepared(backend: Storage, logo: bytes, zones: list[Zone] | tuple[Zone, ...] = ()
                   ) -> list[str]:
    """Prepare and store what this logo still lacks for these logo zones; the keys written.

    Idempotent: what is stored already is not made again; a size the partner's library now
    needs is added (``pdf.bin`` is rewritten with it, after the pixels it may need).
    """
    existing = prepared_logo(logo, backend)
    written = []
    for name, data in missing_artefacts(logo, zones, existing).items():
        key = artefact_key(existing.sha, name)
        backend.put(key, data, "application/json" if name.endswith(".json")
                    else "application/octet-stream")
        written.append(key)
    return written


def prepare_for_profile(brand_profile_id: int) -> list[str]:
    """Prepare one brand-profile version's logo (the ``prepare_partner_logo`` actor's body);
    the keys written. Reads only: the artefacts go to storage, the database is untouched."""
    profile = db.session.get(BrandProfile, brand_profile_id)
    if profile is None or not profile.logo_key:
        return []  # deleted since, or no logo: nothing to prepare
    backend = storage()
    try:
        logo = backend.get(profile.logo_key)
    except StorageError:
        log.warning("brand profile %s: logo %s is missing", profile.id, profile.logo_key)
        return []
    partner = db.session.get(Partner, profile.partner_id)
    zones = tuple(_logo_zones(partner)) if partner is not None else ()
    try:
        written = store_prepared(backend, logo, zones)
    except DomainError as exc:  # the stored logo cannot be decoded: trying again cannot help
        log.warning("brand profile %s: logo not prepared: %s", profile.id, exc)
        return []
    log.info("prepared logo %s: %d artefacts", hashlib.sha256(logo).hexdigest()[:12],
             len(written))
    return written


def _logo_zones(partner: Partner) -> Iterator[Zone]:
    """The logo zones of the PDFs in the partner's library now (their current zone sets)."""
    for asset in partner_library(partner):
        if asset.kind is not AssetKind.PDF or not asset.versions:
            continue
        version = current_version(asset)
        try:
            zones = parse_zones(current_zone_set(asset).zones,
                                [tuple(s) for s in version.page_sizes], unit="pt")
        except DomainError:
            continue  # no zone set, or one the current file no longer fits: nothing to size
        yield from (zone for zone in zones if zone.kind == "logo")
