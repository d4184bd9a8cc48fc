"""Co-branded copies: requested by partners, rendered once per key by the worker, cached.

A rendition is keyed by (asset version, zone set, brand-profile version). The first request
for a key inserts a queued row and a ``stamp_rendition`` message; every later request finds
the row. The unique key makes two simultaneous first requests end with one row and one
render. The worker claims a row with a conditional UPDATE, so a redelivered message never
renders twice, and it stores the output before marking the row done, so a done row always
has its file.

The row, not the message, is the source of truth: a message lost with a broker, or a worker
killed mid-render, leaves a row that has been "queued" or "rendering" for too long, and the
next request for it sends a new message (``STALE_RENDER``). A failed row stays failed, with
its message for the partner, until someone asks for it again on purpose.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from assets import logos, qr
from assets.cobrand import Brand, parse_zones
from assets.library import current_version, current_zone_set, unit_of, visible_to
from assets.models import (
    Asset,
    AssetDownload,
    AssetKind,
    AssetLink,
    AssetVersion,
    Rendition,
    RenditionStatus,
    ZoneSet,
)
from tcma import queue
from tcma.errors import DomainError, NotFound
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import BrandProfile, Partner, PartnerStatus
from tcma.partners.service import current_brand_profile
from tcma.storage import storage

log = logging.getLogger(__name__)

#: A rendition "rendering" this long has lost its worker (the actor's time limit is shorter),
#: and one "queued" this long has lost its message: the next request sends a new one.
STALE_RENDER = timedelta(minutes=10)
#: What the partner sees when rendering kept failing for a reason that is not theirs.
GAVE_UP = ("Something went wrong on our side while preparing your copy. Ask for it again in a "
           "few minutes; if it fails again, tell your channel manager.")


def brand_for(profile: BrandProfile) -> Brand:
    """The values and logo one brand-profile version brings to the zones."""
    from assets.cobrand.text import PARTNER_TOKENS

    values = {name: getattr(profile, name, None) for name in PARTNER_TOKENS}
    logo = storage().get(profile.logo_key) if profile.logo_key else None
    # The logo's artefacts prepared at upload (``assets.logos``), read only if stamping needs
    # them; without them the copy is the same, only slower.
    prepared = logos.prepared_logo(logo) if logo else None
    return Brand(values=values, logo=logo, prepared=prepared)


def request_rendition(partner: Partner, asset: Asset, *, retry_failed: bool = True) -> Rendition:
    """The partner's copy of the newest version of ``asset``: existing, or queued now.

    ``retry_failed`` is for an explicit ask (a button, an API POST): a failed copy is queued
    again. Pages that poll pass False, so a failure stays on screen with its message instead
    of being rendered, and failing, every few seconds.
    """
    if not visible_to(partner, asset):
        raise NotFound("This asset is not available to you.")
    version = current_version(asset)
    zone_set = current_zone_set(asset)
    profile = current_brand_profile(partner)
    key = dict(asset_version_id=version.id, zone_set_id=zone_set.id,
               brand_profile_id=profile.id)
    existing = _find(**key)
    if existing is not None:
        if existing.status is RenditionStatus.FAILED and retry_failed:
            existing.status = RenditionStatus.QUEUED
            existing.error = None
            _resend(existing)
        elif _is_stale(existing, utcnow()):
            _resend(existing)
        return existing
    rendition = Rendition(partner_id=partner.id, asset_id=asset.id, **key)
    try:
        with db.session.begin_nested():
            db.session.add(rendition)
    except IntegrityError:
        # Someone asked for the same key at the same moment and committed first: theirs is
        # ours (their message renders it).
        found = _find(**key)
        if found is None:  # their row is gone again (the asset was deleted meanwhile)
            raise NotFound("This asset is not available to you.") from None
        return found
    queue.enqueue(stamp_rendition_actor(), rendition.id)
    return rendition


def _find(**key) -> Rendition | None:
    return db.session.execute(select(Rendition).filter_by(**key)).scalar_one_or_none()


def _is_stale(rendition: Rendition, now: datetime) -> bool:
    """Has this row waited so long that its message or its worker must be gone?"""
    horizon = now - STALE_RENDER
    if rendition.requested_at > horizon:
        return False  # (re)sent recently: give that message its chance
    if rendition.status is RenditionStatus.QUEUED:
        return True
    return (rendition.status is RenditionStatus.RENDERING
            and (rendition.started_at is None or rendition.started_at < horizon))


def _resend(rendition: Rendition) -> None:
    # requested_at doubles as "last sent": it spaces out the re-sends of a stale row.
    rendition.requested_at = utcnow()
    queue.enqueue(stamp_rendition_actor(), rendition.id)


def stamp_rendition_actor():
    from assets.tasks import stamp_rendition

    return stamp_rendition


def _claim(rendition_id: int, now: datetime) -> bool:
    claimable = ((Rendition.status == RenditionStatus.QUEUED)
                 | ((Rendition.status == RenditionStatus.RENDERING)
                    & (Rendition.started_at < now - STALE_RENDER)))
    claimed = db.session.execute(
        update(Rendition).where(Rendition.id == rendition_id).where(claimable)
        .values(status=RenditionStatus.RENDERING, started_at=now,
                attempts=Rendition.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(claimed)


def _finish(rendition_id: int, claimed_at: datetime, **values) -> bool:
    """Record the outcome, unless another worker has reclaimed the row since (it then owns
    the outcome: ours may be older)."""
    finished = db.session.execute(
        update(Rendition).where(Rendition.id == rendition_id)
        .where(Rendition.status == RenditionStatus.RENDERING)
        .where(Rendition.started_at == claimed_at)
        .values(**values).execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(finished)


def render(rendition_id: int) -> None:
    """Render one queued rendition (the ``stamp_rendition`` actor's body).

    Unlike other services this one commits: the claim must be visible to other workers
    before the slow work starts, and the result must be durable before the message is
    acknowledged. Safe to run twice for the same id: only the run that claims the row
    renders it.
    """
    claimed_at = utcnow()
    if not _claim(rendition_id, claimed_at):
        log.info("rendition %s: done already, being rendered elsewhere, or gone", rendition_id)
        return
    rendition = db.session.get(Rendition, rendition_id)
    public_id, version = rendition.public_id, rendition.asset_version
    suffix = version.file_key.rsplit(".", 1)[-1] if "." in version.file_key else "bin"
    # One key per rendition: a worker that lost its claim midway writes the same bytes to the
    # same key, never a second file; storage writes are whole or nothing (local: rename).
    key = f"renditions/{public_id}.{suffix}"
    started = time.perf_counter()
    try:
        output = stamp(version, db.session.get(ZoneSet, rendition.zone_set_id),
                       db.session.get(BrandProfile, rendition.brand_profile_id),
                       db.session.get(Partner, rendition.partner_id))
        storage().put(key, output, version.content_type)
    except DomainError as exc:
        # The file or the brand cannot be stamped as they are: rendering again cannot help.
        db.session.rollback()
        # The partner reads this: the messages without the form field names they never saw.
        message = " ".join(e.message for e in exc.errors) or exc.message
        _finish(rendition_id, claimed_at, status=RenditionStatus.FAILED, error=message,
                finished_at=utcnow())
        log.warning("rendition %s failed: %s", public_id, message)
        return
    except Exception:
        # Unexpected (storage down, a bug, the time limit): back to queued and let Dramatiq's
        # retry render it again; nothing was stored.
        db.session.rollback()
        _finish(rendition_id, claimed_at, status=RenditionStatus.QUEUED)
        raise
    if _finish(rendition_id, claimed_at, status=RenditionStatus.DONE, file_key=key,
               size=len(output), error=None, finished_at=utcnow()):
        log.info("rendered %s in %.0f ms", public_id, (time.perf_counter() - started) * 1000)


def give_up(rendition_id: int) -> None:
    """Mark a rendition failed once Dramatiq's retries are used up, so the partner sees a
    message and can ask again rather than wait for ever."""
    db.session.execute(
        update(Rendition).where(Rendition.id == rendition_id)
        .where(Rendition.status == RenditionStatus.QUEUED)
        .values(status=RenditionStatus.FAILED, error=GAVE_UP, finished_at=utcnow())
        .execution_options(synchronize_session=False))
    db.session.commit()


def stamp(version: AssetVersion, zone_set: ZoneSet, profile: BrandProfile,
          partner: Partner | None = None) -> bytes:
    """The co-branded bytes of one version for one brand profile. With ``partner``, QR codes
    carry the partner's tracking links (which may be created: the caller commits); without
    (previews), the zones' own addresses."""
    original = storage().get(version.file_key)
    zones = parse_zones(zone_set.zones, [tuple(s) for s in version.page_sizes],
                        unit=unit_of(version.asset))
    if not zones:
        return original
    brand = brand_for(profile)
    if any(zone.kind == "qr" for zone in zones):
        brand = replace(brand, values={**brand.values,
                                       **qr.targets(partner, version.asset, zones)})
    if version.asset.kind is AssetKind.PDF:
        from assets.cobrand.pdf import stamp_pdf

        return stamp_pdf(original, zones, brand)
    from assets.cobrand.image import stamp_image

    return stamp_image(original, zones, brand)


@dataclass(frozen=True)
class Download:
    rendition: Rendition
    url: str
    filename: str


def download(partner: Partner, rendition: Rendition, *, via: str) -> Download:
    """A URL for a finished rendition; the download is counted for the partner."""
    if rendition.status is not RenditionStatus.DONE or not rendition.file_key:
        raise DomainError("Your copy is not ready yet.")
    version = rendition.asset_version
    stem = version.filename.rsplit(".", 1)[0]
    suffix = rendition.file_key.rsplit(".", 1)[-1]
    filename = f"{stem}-{partner.slug}.{suffix}"
    db.session.add(AssetDownload(partner_id=partner.id, asset_id=rendition.asset_id,
                                 rendition_id=rendition.id, via=via))
    return Download(rendition, storage().url(rendition.file_key, expires_in=600,
                                             filename=filename), filename)


def link_for(partner: Partner, asset: Asset) -> AssetLink:
    """The partner's stable ``/a/<token>`` link for an asset (made on first use)."""
    link = db.session.execute(
        select(AssetLink).where(AssetLink.partner_id == partner.id,
                                AssetLink.asset_id == asset.id)
    ).scalar_one_or_none()
    if link is None:
        link = AssetLink(partner_id=partner.id, asset_id=asset.id)
        try:
            with db.session.begin_nested():
                db.session.add(link)
        except IntegrityError:
            return link_for(partner, asset)
    return link


def resolve_link(token: str) -> AssetLink:
    """The link behind a public ``/a/<token>``; refuses links of partners no longer active."""
    link = db.session.execute(
        select(AssetLink).where(AssetLink.token == token)).scalar_one_or_none()
    if link is None:
        raise NotFound("This link does not exist.")
    partner = db.session.get(Partner, link.partner_id)
    if partner is None or partner.status is not PartnerStatus.ACTIVE:
        raise NotFound("This link is no longer available.")
    return link


def renditions_of(partner: Partner, limit: int = 100) -> list[Rendition]:
    return list(db.session.execute(
        select(Rendition).where(Rendition.partner_id == partner.id)
        .order_by(Rendition.requested_at.desc()).limit(limit)
    ).scalars())


def get_rendition(public_id: str) -> Rendition:
    rendition = db.session.execute(
        select(Rendition).where(Rendition.public_id == public_id)).scalar_one_or_none()
    if rendition is None:
        raise NotFound("No such rendition.")
    return rendition


def revive_stale(now: datetime | None = None, limit: int = 200) -> int:
    """Re-send renditions whose message or worker is lost (the scheduled sweeper; pages do
    the same for the rows they show). The caller commits; messages leave then."""
    now = now or utcnow()
    horizon = now - STALE_RENDER
    stale = db.session.execute(
        select(Rendition).where(
            Rendition.requested_at <= horizon,
            (Rendition.status == RenditionStatus.QUEUED)
            | ((Rendition.status == RenditionStatus.RENDERING)
               & ((Rendition.started_at.is_(None)) | (Rendition.started_at < horizon))))
        .limit(limit)).scalars().all()
    for rendition in stale:
        _resend(rendition)
    return len(stale)
