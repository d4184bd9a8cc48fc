"""Bulk downloads: a partner's co-branded copies of many assets as one ZIP.

A bundle is asked for with a list of assets (the ticked library cards, the whole library, or
later a kit's assets). Asking requests every copy (``request_rendition`` finds cached ones and
queues the rest) and queues one ``build_bundle`` message. The builder never blocks a worker
waiting for copies: when some are not rendered yet it re-sends itself with a growing delay,
a bounded number of times. Once every copy is done it writes them into a ZIP, stores it and
marks the bundle done.

Like renditions, the row is the source of truth and the builder claims it with a conditional
UPDATE, so a redelivered or duplicated message builds nothing twice. Each message carries the
number of looks the bundle had when it was sent; a message whose number is behind the row's
is a duplicate and is dropped, so redeliveries never start a second chain of re-sends. A
message lost with a broker leaves a queued bundle long past its next check, and the next look
at it (the page's poll, the API) sends a new one.
"""

from __future__ import annotations

import logging
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import url_for
from sqlalchemy import select, update

from assets.library import partner_library, visible_to
from assets.models import (
    Asset,
    AssetDownload,
    BundleStatus,
    CopyBundle,
    Rendition,
    RenditionStatus,
)
from assets.renditions import request_rendition
from tcma import queue
from tcma.auth.models import User
from tcma.errors import Conflict, FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner
from tcma.storage import storage

log = logging.getLogger(__name__)

#: A library is tens of assets; a bound keeps one request from queueing thousands of renders.
MAX_ASSETS = 500
#: The builder looks this many times at most before giving up on copies still not rendered.
#: With the waits below that is about 20 minutes: longer than a rendition takes to be found
#: stale and rendered again (``renditions.STALE_RENDER``), so a lost render is waited for.
MAX_CHECKS = 45
FIRST_WAIT_MS = 500
LONGEST_WAIT_MS = 30_000
#: A bundle "building" this long has lost its worker (the actor's time limit is shorter).
STALE_BUILD = timedelta(minutes=10)
#: A queued bundle this far past its next check has lost its message.
LOST_MESSAGE = timedelta(minutes=2)
#: ZIPs are assembled in memory up to this size, then in a temporary file.
SPOOL_BYTES = 32 * 1024 * 1024

GAVE_UP = ("Something went wrong on our side while packing your ZIP. Ask for it again in a "
           "few minutes; if it fails again, tell your channel manager.")


def wait_ms(checks: int) -> int:
    """How long the builder waits after its ``checks``-th look: quick at first (most copies
    take a second or two), then every half minute."""
    return min(FIRST_WAIT_MS * 2 ** max(0, checks - 1), LONGEST_WAIT_MS)


# --- asking ----------------------------------------------------------------------------------


def library_assets(partner: Partner, public_ids: list[str]) -> list[Asset]:
    """The assets behind ids a partner sent, in their order, duplicates dropped.

    Ids that are unknown or outside the partner's library are refused together, by id (not
    by title: a title would tell the partner about an asset they may not see).
    """
    ids = list(dict.fromkeys(i.strip() for i in public_ids if isinstance(i, str) and i.strip()))
    if not ids:
        raise ValidationFailed([FieldError(
            "asset_ids", "Tick at least one asset, or download your whole library.")])
    if len(ids) > MAX_ASSETS:
        raise ValidationFailed([FieldError(
            "asset_ids", f"A ZIP holds at most {MAX_ASSETS} assets; you chose {len(ids)}.")])
    found = {a.public_id: a for a in db.session.execute(
        select(Asset).where(Asset.public_id.in_(ids))).scalars()}
    outside = [i for i in ids if i not in found or not visible_to(partner, found[i])]
    if outside:
        raise ValidationFailed([FieldError(
            "asset_ids", f"Not in your library: {', '.join(outside)}.")])
    return [found[i] for i in ids]


def whole_library(partner: Partner) -> list[Asset]:
    """Every asset in the partner's library now, for "Download all"."""
    assets = partner_library(partner)
    if not assets:
        raise ValidationFailed([FieldError(
            "asset_ids", "Your library is empty: there is nothing to download yet.")])
    if len(assets) > MAX_ASSETS:  # never a silently partial "all"
        raise ValidationFailed([FieldError(
            "asset_ids", f"Your library holds {len(assets)} assets and a ZIP at most "
                         f"{MAX_ASSETS}: tick the ones you need.")])
    return assets


def request_bundle(partner: Partner, assets: list[Asset], *, by: User | None = None
                   ) -> CopyBundle:
    """Ask for one ZIP of the partner's copies of ``assets``; it is built in the background.

    Each copy is requested as an explicit ask would (a failed copy is tried again), so the
    bundle starts from the best state. The caller commits; the builder's message and the
    render messages are sent after that commit.
    """
    chosen = list({a.id: a for a in assets}.values())
    if not chosen:
        raise ValidationFailed([FieldError("asset_ids", "Choose at least one asset.")])
    if len(chosen) > MAX_ASSETS:
        raise ValidationFailed([FieldError(
            "asset_ids", f"A ZIP holds at most {MAX_ASSETS} assets; you chose {len(chosen)}.")])
    outside = [a.public_id for a in chosen if not visible_to(partner, a)]
    if outside:
        raise ValidationFailed([FieldError(
            "asset_ids", f"Not in your library: {', '.join(outside)}.")])
    copies = [request_rendition(partner, asset) for asset in chosen]
    now = utcnow()
    bundle = CopyBundle(partner_id=partner.id, asset_ids=[a.id for a in chosen],
                        rendition_ids=[r.id for r in copies], status=BundleStatus.QUEUED,
                        requested_by_id=by.id if by else None, requested_at=now,
                        next_check_at=now)
    db.session.add(bundle)
    db.session.flush()
    queue.enqueue(build_bundle_actor(), bundle.id, 0)
    return bundle


def build_bundle_actor():
    from assets.tasks import build_bundle

    return build_bundle


# --- building (the ``build_bundle`` actor's body) ---------------------------------------------


def _claim(bundle_id: int, check: int, now: datetime) -> bool:
    # A builder that died holding the bundle is taken over by any message: which one does
    # not matter once the claim has been stale for so long.
    claimable = (((CopyBundle.status == BundleStatus.QUEUED) & (CopyBundle.checks == check))
                 | ((CopyBundle.status == BundleStatus.BUILDING)
                    & (CopyBundle.started_at < now - STALE_BUILD)))
    claimed = db.session.execute(
        update(CopyBundle).where(CopyBundle.id == bundle_id).where(claimable)
        .values(status=BundleStatus.BUILDING, started_at=now, checks=CopyBundle.checks + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(claimed)


def _finish(bundle_id: int, claimed_at: datetime, **values) -> bool:
    """Record the outcome (and commit), unless another builder has reclaimed the bundle."""
    finished = db.session.execute(
        update(CopyBundle).where(CopyBundle.id == bundle_id)
        .where(CopyBundle.status == BundleStatus.BUILDING)
        .where(CopyBundle.started_at == claimed_at)
        .values(**values).execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(finished)


def build(bundle_id: int, check: int = 0) -> None:
    """Look at a bundle's copies: wait for them (re-sending this message with a delay),
    fail naming the assets that cannot be had, or pack the ZIP.

    Commits, as ``renditions.render`` does: the claim must be visible to other workers
    before the slow work, and the ZIP stored before the bundle says done. Safe to run twice
    for the same id: only the run that claims the bundle touches it, and a message sent for
    an earlier look (``check`` behind the row's ``checks``) is a duplicate and is dropped.
    """
    claimed_at = utcnow()
    if not _claim(bundle_id, check, claimed_at):
        log.info("bundle %s: done, being built elsewhere, a duplicate message, or gone",
                 bundle_id)
        return
    bundle = db.session.get(CopyBundle, bundle_id)
    try:
        _build_claimed(bundle, claimed_at)
    except Exception:
        # Unexpected (storage down, a bug, the time limit): back to queued, this look not
        # counted, so Dramatiq's retry of this same message claims it again (its retries are
        # bounded by Dramatiq); nothing half-made was recorded.
        db.session.rollback()
        _finish(bundle_id, claimed_at, status=BundleStatus.QUEUED,
                checks=CopyBundle.checks - 1, next_check_at=utcnow())
        raise


def _build_claimed(bundle: CopyBundle, claimed_at: datetime) -> None:
    bundle_id, checks = bundle.id, bundle.checks
    partner = db.session.get(Partner, bundle.partner_id)
    assets = {a.id: a for a in db.session.execute(
        select(Asset).where(Asset.id.in_(bundle.asset_ids))).scalars()}
    copies: list[tuple[Asset, Rendition]] = []
    problems: list[str] = []
    for asset_id in bundle.asset_ids:
        asset = assets.get(asset_id)
        if asset is None:
            problems.append("an asset you chose was deleted")
        elif not visible_to(partner, asset):
            problems.append(f"“{asset.title}” is no longer in your library")
        else:
            # The copy as of now: finds the same rendition, or a new one when the file, the
            # zones or the brand profile changed meanwhile; re-sends a lost render.
            rendition = request_rendition(partner, asset, retry_failed=False)
            if rendition.status is RenditionStatus.FAILED:
                problems.append(f"“{asset.title}”: {rendition.error or 'it could not be made'}")
            copies.append((asset, rendition))
    rendition_ids = [r.id for _, r in copies]
    if problems:
        _fail(bundle_id, claimed_at, "Some copies could not be made, so the ZIP was not "
                                     "built: " + "; ".join(problems) + ".", rendition_ids)
        return
    pending = [a for a, r in copies if r.status is not RenditionStatus.DONE]
    if pending:
        if checks >= MAX_CHECKS:
            titles = ", ".join(f"“{a.title}”" for a in pending)
            _fail(bundle_id, claimed_at, f"These copies were still not ready after a long "
                                         f"wait: {titles}. Ask for the ZIP again.",
                  rendition_ids)
            return
        delay = wait_ms(checks)
        if _finish(bundle_id, claimed_at, status=BundleStatus.QUEUED,
                   rendition_ids=rendition_ids,
                   next_check_at=utcnow() + timedelta(milliseconds=delay)):
            # Sent after the commit above, as ``queue.enqueue`` would (it has no delay).
            build_bundle_actor().actor.send_with_options(args=(bundle_id, checks), delay=delay)
        return
    key = f"bundles/{bundle.public_id}.zip"
    size = _pack(key, copies, partner.slug)
    if _finish(bundle_id, claimed_at, status=BundleStatus.DONE, file_key=key, size=size,
               rendition_ids=rendition_ids, error=None, finished_at=utcnow()):
        log.info("bundle %s: %d copies, %d bytes", bundle.public_id, len(copies), size)


def _fail(bundle_id: int, claimed_at: datetime, message: str, rendition_ids: list[int]) -> None:
    if _finish(bundle_id, claimed_at, status=BundleStatus.FAILED, error=message,
               rendition_ids=rendition_ids, finished_at=utcnow()):
        log.warning("bundle %s failed: %s", bundle_id, message)


def _pack(key: str, copies: list[tuple[Asset, Rendition]], slug: str) -> int:
    """Write the copies into a ZIP one at a time and store it; returns its size.

    PDFs and images are compressed already, so entries are stored, not deflated: packing
    costs a copy, not CPU. Entry dates are the copies' own, so a rebuild writes the same
    bytes to the same key.
    """
    names: set[str] = set()
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as archive:
            for asset, rendition in copies:
                suffix = rendition.file_key.rsplit(".", 1)[-1].lower()
                entry = zipfile.ZipInfo(entry_name(asset.title, slug, suffix, names),
                                        date_time=_zip_time(rendition.finished_at))
                entry.external_attr = 0o644 << 16  # a plain readable file when unzipped
                archive.writestr(entry, storage().get(rendition.file_key))
        size = spool.tell()
        spool.seek(0)
        # The storage layer takes whole bytes; the ZIP is read back once to hand it over.
        storage().put(key, spool.read(), "application/zip")
    return size


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def entry_name(title: str, slug: str, suffix: str, taken: set[str]) -> str:
    """``<title>-<partner slug>.<ext>``, safe on every desktop, unique in ``taken`` (which
    it extends), ignoring case as Windows and macOS do."""
    stem = _UNSAFE.sub("-", unicodedata.normalize("NFC", title))
    stem = " ".join(stem.split()).strip(" .-")[:120].strip(" .-") or "asset"
    name, n = f"{stem}-{slug}.{suffix}", 1
    while name.lower() in taken:
        n += 1
        name = f"{stem} ({n})-{slug}.{suffix}"
    taken.add(name.lower())
    return name


def _zip_time(moment: datetime | None) -> tuple[int, int, int, int, int, int]:
    moment = moment or utcnow()
    return (max(moment.year, 1980), moment.month, moment.day, moment.hour, moment.minute,
            moment.second)


def give_up(bundle_id: int) -> None:
    """Mark a bundle failed once Dramatiq's retries are used up, so the partner sees a
    message and can ask again rather than wait for ever."""
    db.session.execute(
        update(CopyBundle).where(CopyBundle.id == bundle_id)
        .where(CopyBundle.status == BundleStatus.QUEUED)
        .values(status=BundleStatus.FAILED, error=GAVE_UP, finished_at=utcnow())
        .execution_options(synchronize_session=False))
    db.session.commit()


# --- reading -------------------------------------------------------------------------------


def get_bundle(public_id: str) -> CopyBundle:
    """A bundle as the current session may see it (tenancy hides other partners')."""
    bundle = db.session.execute(
        select(CopyBundle).where(CopyBundle.public_id == public_id)).scalar_one_or_none()
    if bundle is None:
        raise NotFound("No such ZIP.")
    return bundle


def revive(bundle: CopyBundle, now: datetime | None = None) -> bool:
    """Send a new builder message if the bundle's message or worker must be lost; the
    caller commits. Pages and the API call this when they look, like renditions do."""
    now = now or utcnow()
    lost = (bundle.status is BundleStatus.QUEUED
            and (bundle.next_check_at is None or bundle.next_check_at < now - LOST_MESSAGE))
    dead = (bundle.status is BundleStatus.BUILDING
            and (bundle.started_at is None or bundle.started_at < now - STALE_BUILD))
    if not (lost or dead):
        return False
    if lost:
        bundle.next_check_at = now
    queue.enqueue(build_bundle_actor(), bundle.id, bundle.checks)
    return True


@dataclass(frozen=True)
class BundleItem:
    asset_id: str | None  # None once the asset was deleted
    title: str
    status: str  # the copy's status: queued | rendering | done | failed | gone


@dataclass(frozen=True)
class BundleSummary:
    bundle: CopyBundle
    items: list[BundleItem]

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def ready(self) -> int:
        if self.bundle.status is BundleStatus.DONE:
            return self.total
        return sum(1 for item in self.items if item.status == "done")


def summary(bundle: CopyBundle) -> BundleSummary:
    """Each asset of the bundle with the state of its copy, for "n of m copies ready"."""
    assets = {a.id: a for a in db.session.execute(
        select(Asset).where(Asset.id.in_(bundle.asset_ids))).scalars()}
    states = dict(db.session.execute(
        select(Rendition.asset_id, Rendition.status)
        .where(Rendition.id.in_(bundle.rendition_ids or [-1]))).all())
    items = []
    for asset_id in bundle.asset_ids:
        asset = assets.get(asset_id)
        state = states.get(asset_id)
        items.append(BundleItem(asset.public_id if asset else None,
                                asset.title if asset else "(deleted)",
                                state.value if state else ("queued" if asset else "gone")))
    return BundleSummary(bundle, items)


def state(bundle: CopyBundle, *, download_endpoint: str) -> dict:
    """What the bundle page polls: status, progress, the error, and where to download."""
    progress = summary(bundle)
    return {"status": bundle.status.value, "ready": progress.ready, "total": progress.total,
            "items": [item.status for item in progress.items], "error": bundle.error,
            "download_url": url_for(download_endpoint, bundle_id=bundle.public_id)
            if bundle.status is BundleStatus.DONE else None}


@dataclass(frozen=True)
class Download:
    url: str
    filename: str


def download(partner: Partner, bundle: CopyBundle, *, via: str = "bundle") -> Download:
    """A short-lived URL of a finished ZIP. Each copy in it counts as one download for the
    partner. A ZIP holding an asset the vendor has withdrawn since is not handed out."""
    if bundle.status is not BundleStatus.DONE or not bundle.file_key:
        state_text = bundle.status.value
        raise Conflict(f"This ZIP is not ready (status: {state_text}).")
    assets = {a.id: a for a in db.session.execute(
        select(Asset).where(Asset.id.in_(bundle.asset_ids))).scalars()}
    withdrawn = [f"“{a.title}”" for a in assets.values() if not visible_to(partner, a)]
    if withdrawn or len(assets) < len(set(bundle.asset_ids)):
        names = ", ".join(withdrawn) or "an asset"
        raise Conflict(f"This ZIP holds {names}, no longer in your library: ask for a new "
                       f"ZIP.")
    copies = db.session.execute(
        select(Rendition.id, Rendition.asset_id)
        .where(Rendition.id.in_(bundle.rendition_ids or [-1]))).all()
    for rendition_id, asset_id in copies:
        db.session.add(AssetDownload(partner_id=partner.id, asset_id=asset_id,
                                     rendition_id=rendition_id, via=via))
    stamp = (bundle.finished_at or utcnow()).strftime("%Y-%m-%d")
    filename = f"{partner.slug}-cobranded-{stamp}.zip"
    return Download(storage().url(bundle.file_key, expires_in=600, filename=filename), filename)


#: A finished ZIP is a convenience, not a record (the copies stay): kept this long.
ZIP_KEPT = timedelta(days=7)


def sweep(now: datetime | None = None, limit: int = 200) -> tuple[int, int]:
    """The scheduled sweeper: revive bundles whose message or builder is lost, and delete
    ZIPs older than ``ZIP_KEPT`` (the bundle then says so; the partner asks again). Returns
    (revived, expired); the caller commits."""
    now = now or utcnow()
    waiting = db.session.execute(
        select(CopyBundle).where(CopyBundle.status.in_([BundleStatus.QUEUED,
                                                        BundleStatus.BUILDING]))
        .limit(limit)).scalars().all()
    revived = sum(1 for bundle in waiting if revive(bundle, now))
    old = db.session.execute(
        select(CopyBundle).where(CopyBundle.status == BundleStatus.DONE,
                                 CopyBundle.file_key.is_not(None),
                                 CopyBundle.finished_at < now - ZIP_KEPT)
        .limit(limit)).scalars().all()
    for bundle in old:
        storage().delete(bundle.file_key)
        bundle.status = BundleStatus.FAILED
        bundle.file_key = None
        bundle.error = (f"This ZIP was removed after {ZIP_KEPT.days} days; your copies are "
                        "still here. Ask for a new ZIP.")
    return revived, len(old)
