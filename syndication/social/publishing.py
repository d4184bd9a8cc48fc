"""Publishing kit posts on partners' accounts, each exactly once.

A launch of a kit with posts gets one ``SocialPost`` row per (post step, account) when it is
scheduled, holding the final text. When the step comes due its rows are queued on the
``social`` queue; ``publish`` then

1. claims the row (a conditional UPDATE, committed) so no other worker touches it,
2. checks what may have changed (launch paused or cancelled, account broken or gone, the
   co-branded image not rendered yet, the post no longer timely),
3. asks the network whether the post is already there when an earlier attempt called it
   and never recorded the answer (``called_at`` set: a timeout, a killed worker),
4. marks ``called_at`` (committed) and calls the network,
5. records the answer under the claim: published with the network's id, held for a
   reconnect, failed with a reason the partner can act on, or back to scheduled with a
   later ``next_attempt_at`` (rate limit, outage).

A row whose worker died stays claimed until its lease ends; the scheduler queues it again and
step 3 makes sure the retry never posts twice. Redelivered messages find the row claimed or
final and do nothing.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, func, or_, select, update

from campaigns import launches
from campaigns.content import partner_values
from campaigns.models import KitVersion, Launch, LaunchStatus, LaunchStep, StepStatus
from campaigns.posts import post_of, posts_of, render
from syndication.links.models import Channel
from syndication.links.service import LinkSource, kit_slug, link_for, short_url
from syndication.social import networks, service
from syndication.social.models import (
    FINAL_POST_STATES,
    AccountStatus,
    Network,
    PostStatus,
    SocialAccount,
    SocialPost,
)
from syndication.social.networks import (
    NetworkError,
    OutcomeUnknown,
    PostContent,
    PostRejected,
    Published,
    RateLimited,
    Target,
    TokenRejected,
)
from tcma import audit, queue
from tcma.auth.models import User
from tcma.errors import Conflict, FieldError, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner

log = logging.getLogger(__name__)

#: Waits between attempts after the network failed (not a rate limit, which says how long).
BACKOFF = (30, 120, 600, 1800, 3600)
#: How long to wait for the partner's co-branded image before asking again.
IMAGE_WAIT = timedelta(seconds=20)
#: After a call with an unknown outcome: give the network a moment before looking it up.
LOOKUP_WAIT = timedelta(seconds=15)
#: How far before ``called_at`` a lookup searches (clocks of ours and the network's differ).
CLOCK_SLACK = timedelta(minutes=5)
_URL = re.compile(r"https?://[^\s<>\"']+", re.I)
_TRAILING = ".,;:!?)]}'\""


def lease() -> timedelta:
    return timedelta(seconds=float(current_app.config["SOCIAL_PUBLISH_LEASE_SECONDS"]))


def timely() -> timedelta:
    return timedelta(hours=float(current_app.config["SOCIAL_TIMELY_HOURS"]))


# --- which accounts a launch posts to ----------------------------------------------------------


def post_networks(version: KitVersion) -> set[str]:
    """The networks the version's scheduled posts have a text for."""
    keys = {s["item"] for s in version.content.get("steps", [])}
    return {network for post in posts_of(version) if post["key"] in keys
            for network, text in post.get("texts", {}).items() if text}


def usable_accounts(partner: Partner, version: KitVersion) -> list[SocialAccount]:
    """The partner's accounts on networks the kit posts to, broken ones included (their
    posts are held until the partner reconnects rather than silently left out)."""
    wanted = post_networks(version)
    return [a for a in db.session.execute(
        select(SocialAccount).where(SocialAccount.partner_id == partner.id)
        .order_by(SocialAccount.network, SocialAccount.display_name)).scalars()
        if a.network.value in wanted]


def choose_accounts(partner: Partner, version: KitVersion, chosen: Any) -> list[str]:
    """The account public ids a launch posts to: ``chosen`` checked against the partner's
    accounts, or every usable account when nothing was chosen."""
    usable = {a.public_id: a for a in usable_accounts(partner, version)}
    if chosen in (None, "", []):
        return list(usable)
    if isinstance(chosen, str):
        chosen = [chosen]
    if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
        raise ValidationFailed([FieldError("social_account_ids", "Send a list of account ids.")])
    unknown = [c for c in chosen if c not in usable]
    if unknown:
        raise ValidationFailed([FieldError(
            "social_account_ids", "Not one of your accounts on this kit's networks: "
            + ", ".join(unknown) + ".")])
    return list(dict.fromkeys(chosen))


# --- scheduling ------------------------------------------------------------------------------


def _track(text: str, partner: Partner, source: LinkSource) -> str:
    """Every web address in a post becomes the partner's tracking link."""
    base = current_app.config["BASE_URL"].rstrip("/") + "/r/"

    def rewrite(match: re.Match) -> str:
        url = match.group(0)
        tail = ""
        while url and url[-1] in _TRAILING:  # "see https://x.example." ends a sentence
            url, tail = url[:-1], url[-1] + tail
        if url.startswith(base):
            return match.group(0)
        return short_url(link_for(partner, url, Channel.SOCIAL, source)) + tail

    return _URL.sub(rewrite, text)


def _source(launch: Launch, item: str, network: Network) -> LinkSource:
    # ``content`` carries the post and the network: social clicks report per network.
    return LinkSource(campaign=kit_slug(launch.kit.name), content=f"{item}-{network.value}",
                      type="launch", id=launch.public_id)


def final_text(launch: Launch, item: str, network: Network, text: str | None = None
               ) -> tuple[str, str | None]:
    """The text and link card of one kit post as ``launch``'s partner publishes it on
    ``network``: tokens filled, every link the partner's tracking link (made now: commit)."""
    post = post_of(launch.version, item)
    partner = launch.partner
    source = _source(launch, item, network)
    link = post.get("link") or None
    tracked = short_url(link_for(partner, link, Channel.SOCIAL, source)) if link else None
    rendered = render(post, network.value, partner_values(partner), text=text,
                      link_url=tracked)
    return _track(rendered.text, partner, source), rendered.link


def schedule(launch: Launch) -> int:
    """Make the launch's post rows (one per post step and chosen account); returns how many.
    Rows for accounts that are broken now are made all the same and held when due."""
    ids = launch.options.get("social_account_ids") or []
    accounts = [a for a in db.session.execute(select(SocialAccount).where(
        SocialAccount.partner_id == launch.partner_id,
        SocialAccount.public_id.in_(ids))).scalars()] if ids else []
    made = 0
    edits = launch.blocks or {}
    for step in launch.steps:
        if step.kind != "post":
            continue
        post = post_of(launch.version, step.item)
        for account in accounts:
            network = account.network.value
            if not (post.get("texts") or {}).get(network):
                continue
            edited = (edits.get(step.item) or {}).get(network)
            text, link = final_text(launch, step.item, account.network, edited)
            db.session.add(SocialPost(
                partner_id=launch.partner_id, step_id=step.id, launch_id=launch.id,
                item=step.item, kit_name=launch.kit.name[:200], account_id=account.id,
                network=account.network, account_name=account.display_name[:200],
                text=text, link=link, image_asset_id=post.get("image_asset_id"),
                edited=bool(edited), due_at=step.due_at, status=PostStatus.SCHEDULED))
            made += 1
        if post.get("image_asset_id") and made:
            _request_image(launch.partner, post["image_asset_id"])
    db.session.flush()
    return made


def _request_image(partner: Partner, asset_id: str) -> None:
    """Start co-branding the post's image now, so it is ready when the post is due."""
    from assets.library import get_asset
    from assets.renditions import request_rendition
    from tcma.errors import NotFound

    try:
        request_rendition(partner, get_asset(asset_id), retry_failed=True)
    except NotFound:
        pass  # the asset was withdrawn: the post fails with that reason when due


def start_step(step: LaunchStep, now: datetime | None = None) -> int:
    """A post step came due: queue its rows; a step with none (no accounts) is done."""
    queued = queue_rows(step_id=step.id, now=now)
    if not queued and not _open_rows(step.id):
        launches.finish_step(step, now)
    return queued


def queue_rows(*, step_id: int | None = None, launch_id: int | None = None,
               now: datetime | None = None, limit: int = 2000) -> int:
    """Queue ``publish_post`` for due rows nobody holds, and for rows whose worker's lease
    ran out. Each row is stamped (``lease_until``) so the scheduler, running every few
    seconds, does not queue it again while its message waits; a message lost with a worker
    is made up for once that lease ends."""
    from syndication.social.tasks import publish_post

    now = now or utcnow()
    query = (select(SocialPost.id).join(LaunchStep, LaunchStep.id == SocialPost.step_id)
             .join(Launch, Launch.id == SocialPost.launch_id)
             .where(LaunchStep.status == StepStatus.STARTED,
                    Launch.status == LaunchStatus.RUNNING,
                    or_(and_(SocialPost.status == PostStatus.SCHEDULED,
                             SocialPost.due_at <= now,
                             or_(SocialPost.next_attempt_at.is_(None),
                                 SocialPost.next_attempt_at <= now),
                             or_(SocialPost.lease_until.is_(None),
                                 SocialPost.lease_until <= now)),
                        and_(SocialPost.status == PostStatus.PUBLISHING,
                             SocialPost.lease_until <= now)))
             .order_by(SocialPost.due_at, SocialPost.id).limit(limit))
    if step_id is not None:
        query = query.where(SocialPost.step_id == step_id)
    if launch_id is not None:
        query = query.where(SocialPost.launch_id == launch_id)
    ids = db.session.execute(query).scalars().all()
    if not ids:
        return 0
    db.session.execute(
        update(SocialPost).where(SocialPost.id.in_(ids),
                                 SocialPost.status == PostStatus.SCHEDULED)
        .values(lease_until=now + lease())
        .execution_options(synchronize_session=False))
    for post_id in ids:
        queue.enqueue(publish_post, post_id)
    return len(ids)


# --- publishing one post -----------------------------------------------------------------------


@dataclass
class _Claim:
    post_id: int
    token: str
    #: The row had no unanswered call: the claim itself marked ``called_at`` (one commit
    #: fewer per post), so leaving without calling must clear it again (``unmarked``).
    fresh: bool = False

    def unmarked(self) -> dict[str, Any]:
        return {"called_at": None} if self.fresh else {}

    def write(self, **values: Any) -> bool:
        """Record an outcome, only if this worker still holds the row; commits."""
        done = db.session.execute(
            update(SocialPost).where(SocialPost.id == self.post_id,
                                     SocialPost.claim == self.token,
                                     SocialPost.status == PostStatus.PUBLISHING)
            .values(**values).execution_options(synchronize_session=False)).rowcount
        db.session.commit()
        return done == 1


def _claim(post_id: int, now: datetime) -> _Claim | None:
    """Take the row for this worker (committed). A row without an unanswered call is
    claimed and marked as called in one statement; only a row with one (``called_at`` kept
    from a timeout or a dead worker) is claimed as it is, to be looked up first."""
    token = secrets.token_hex(8)
    claimable = or_(and_(SocialPost.status == PostStatus.SCHEDULED, SocialPost.due_at <= now,
                         or_(SocialPost.next_attempt_at.is_(None),
                             SocialPost.next_attempt_at <= now)),
                    and_(SocialPost.status == PostStatus.PUBLISHING,
                         SocialPost.lease_until <= now))
    values = dict(status=PostStatus.PUBLISHING, claim=token, lease_until=now + lease(),
                  attempts=SocialPost.attempts + 1)
    for fresh in (True, False):
        condition = (SocialPost.called_at.is_(None) if fresh
                     else SocialPost.called_at.is_not(None))
        claimed = db.session.execute(
            update(SocialPost).where(SocialPost.id == post_id, claimable, condition)
            .values(**values, **({"called_at": now} if fresh else {}))
            .execution_options(synchronize_session=False)).rowcount
        if claimed == 1:
            db.session.commit()
            return _Claim(post_id, token, fresh=fresh)
    db.session.commit()
    return None


def publish(post_id: int, now: datetime | None = None) -> PostStatus | None:
    """Publish one post if it is due and nobody else holds it (the ``publish_post`` actor).
    Commits as it goes. Returns the row's state afterwards, or None if this call did nothing."""
    now = now or utcnow()
    claim = _claim(post_id, now)
    if claim is None:
        return None
    post = db.session.get(SocialPost, post_id)
    outcome = _publish_claimed(post, claim, now)
    _finish_step_if_done(post.step_id, now)
    return outcome


def _publish_claimed(post: SocialPost, claim: _Claim, now: datetime) -> PostStatus:
    launch_status = db.session.scalar(select(Launch.status).where(
        Launch.id == post.launch_id)) if post.launch_id else None
    if launch_status is LaunchStatus.PAUSED:
        claim.write(status=PostStatus.SCHEDULED, claim=None, lease_until=None,
                    **claim.unmarked())
        return PostStatus.SCHEDULED
    if launch_status is LaunchStatus.CANCELLED:
        return _fail(claim, PostStatus.CANCELLED, "The launch was cancelled.", None)
    account = db.session.get(SocialAccount, post.account_id) if post.account_id else None
    if account is None:
        return _fail(claim, PostStatus.CANCELLED, "The account was disconnected.", None)
    if service.health(account, now).status is AccountStatus.BROKEN:
        return _hold(claim, account, now)
    adapter = networks.adapter_for(account.network)
    target = Target(account.kind, account.external_id, service.access_token(account))

    if not claim.fresh:
        # An earlier attempt called the network and never recorded the answer: the post may
        # be there already. Only a "no" from the network lets us post again.
        try:
            found = adapter.find_published(target, post.text, post.called_at - CLOCK_SLACK)
        except TokenRejected as exc:
            return _token_refused(claim, account, exc, now)
        except NetworkError as exc:
            if exc.permanent:
                # The network will not say (LinkedIn lists a member's posts only to apps
                # with a restricted scope): posting again could post twice, so it stops here.
                label = account.network.label
                return _fail(claim, PostStatus.FAILED, (
                    f"{label} did not confirm this post in time and does not let us check "
                    f"whether it went out. Look at the account on {label}: it was not sent "
                    f"again, to avoid posting it twice."), "unconfirmed")
            return _retry(claim, post, exc, now, keep_called=True)
        if found is not None:
            return _published(claim, post, found, now)

    if now > post.due_at + timely():
        return _fail(claim, PostStatus.FAILED, _late_message(post), "timeout")
    try:
        content = _content(post, account.network)
    except _ImageNotReady:
        claim.write(status=PostStatus.SCHEDULED, claim=None, lease_until=None,
                    next_attempt_at=now + IMAGE_WAIT, **claim.unmarked())
        return PostStatus.SCHEDULED
    except PostRejected as exc:
        return _fail(claim, PostStatus.FAILED, exc.message, exc.reason)

    refreshed = False
    marked = claim.fresh
    while True:
        if not marked and not claim.write(called_at=now):
            return PostStatus.PUBLISHING  # the lease ran out and another worker took over
        marked = False
        try:
            result = adapter.publish(target, content)
        except TokenRejected as exc:
            # Refused before anything was posted: the call's outcome is known.
            if not refreshed and _refresh(account, now):
                refreshed = True
                target = Target(account.kind, account.external_id,
                                service.access_token(account))
                continue
            claim.write(called_at=None)
            return _token_refused(claim, account, exc, now)
        except OutcomeUnknown as exc:
            return _retry(claim, post, exc, now, keep_called=True)
        except RateLimited as exc:
            return _retry(claim, post, exc, now, wait=timedelta(seconds=exc.retry_after))
        except PostRejected as exc:
            return _fail(claim, PostStatus.FAILED, exc.message, exc.reason)
        except NetworkError as exc:
            if exc.permanent:
                return _fail(claim, PostStatus.FAILED, exc.message, "text")
            return _retry(claim, post, exc, now)
        return _published(claim, post, result, now)


class _ImageNotReady(Exception):
    pass


def _content(post: SocialPost, network: Network) -> PostContent:
    """What the adapter sends: the text, the link card, the partner's co-branded image."""
    if not post.image_asset_id:
        return PostContent(text=post.text, link=post.link)
    from assets.copies import current_copy
    from assets.library import get_asset
    from assets.models import RenditionStatus
    from syndication.social.media import fit
    from tcma.errors import NotFound
    from tcma.storage import storage

    partner = db.session.get(Partner, post.partner_id)
    try:
        asset = get_asset(post.image_asset_id)
    except NotFound:
        raise PostRejected("The post's image was withdrawn by the vendor.",
                           reason="image") from None
    copy = current_copy(partner, asset)
    if copy is None or copy.status in (RenditionStatus.QUEUED, RenditionStatus.RENDERING):
        _request_image(partner, post.image_asset_id)
        db.session.commit()
        raise _ImageNotReady
    if copy.status is RenditionStatus.FAILED or not copy.file_key:
        raise PostRejected(f"Your co-branded image could not be made: {copy.error}",
                           reason="image")
    data, mimetype = fit(storage().get(copy.file_key), network)
    return PostContent(text=post.text, link=post.link, image=data, image_type=mimetype,
                       image_alt=asset.title[:1000])


def _refresh(account: SocialAccount, now: datetime) -> bool:
    """Refresh the account's tokens once, when the network has refresh tokens."""
    if not account.refresh_token_encrypted or account.expires_at is None \
            or not networks.ADAPTERS[account.network].can_refresh:
        return False
    ok = service.refresh_account(account.id, account.expires_at, now)
    db.session.commit()
    db.session.refresh(account)
    return ok


def _published(claim: _Claim, post: SocialPost, result: Published, now: datetime
               ) -> PostStatus:
    if claim.write(status=PostStatus.PUBLISHED, external_id=result.external_id,
                   external_url=result.url, published_at=now, called_at=None, claim=None,
                   lease_until=None, next_attempt_at=None, error="", error_kind=None):
        log.info("post %s published on %s as %s", post.public_id, post.network.value,
                 result.external_id)
    return PostStatus.PUBLISHED


def _fail(claim: _Claim, status: PostStatus, message: str, kind: str | None) -> PostStatus:
    claim.write(status=status, error=message[:500], error_kind=kind, called_at=None,
                claim=None, lease_until=None, next_attempt_at=None)
    return status


def _hold(claim: _Claim, account: SocialAccount, now: datetime) -> PostStatus:
    reason = account.status_reason or service.health(account, now).reason
    claim.write(status=PostStatus.NEEDS_RECONNECT, claim=None, lease_until=None,
                **claim.unmarked(),
                error=f"Reconnect {account.network.label} ({account.display_name}) to publish "
                      f"this post. {reason}"[:500], error_kind="token")
    return PostStatus.NEEDS_RECONNECT


def _token_refused(claim: _Claim, account: SocialAccount, exc: NetworkError,
                   now: datetime) -> PostStatus:
    service.mark_broken(account, exc.message)
    db.session.commit()
    return _hold(claim, account, now)


def _retry(claim: _Claim, post: SocialPost, exc: NetworkError, now: datetime, *,
           wait: timedelta | None = None, keep_called: bool = False) -> PostStatus:
    """Try again later; give up when that would be later than a post is still timely."""
    if wait is None:
        wait = LOOKUP_WAIT if keep_called else timedelta(
            seconds=BACKOFF[min(post.attempts, len(BACKOFF)) - 1])
    if now + wait > post.due_at + timely() and not keep_called:
        return _fail(claim, PostStatus.FAILED,
                     f"{_late_message(post)} Last error: {exc.message}", "timeout")
    values: dict[str, Any] = dict(status=PostStatus.SCHEDULED, claim=None, lease_until=None,
                                  next_attempt_at=now + wait, error=exc.message[:500])
    if not keep_called:
        values["called_at"] = None
    claim.write(**values)
    return PostStatus.SCHEDULED


def _late_message(post: SocialPost) -> str:
    hours = current_app.config["SOCIAL_TIMELY_HOURS"]
    return (f"Not published: it could not go out within {hours} hours of its time "
            f"({post.due_at:%Y-%m-%d %H:%M} UTC).")


def _finish_step_if_done(step_id: int | None, now: datetime) -> None:
    if step_id is None or _open_rows(step_id):
        return
    step = db.session.get(LaunchStep, step_id)
    if step is not None and launches.finish_step(step, now):  # a no-op unless started
        db.session.commit()


def _open_rows(step_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(SocialPost).where(
        SocialPost.step_id == step_id, SocialPost.status.not_in(FINAL_POST_STATES)))


# --- holds, reconnecting, control ------------------------------------------------------------


def release_held(account: SocialAccount, now: datetime | None = None) -> int:
    """The partner reconnected ``account``: its held posts go out if still timely, the
    others fail saying why. Returns how many were released."""
    now = now or utcnow()
    held = db.session.execute(select(SocialPost).where(
        SocialPost.account_id == account.id,
        SocialPost.status == PostStatus.NEEDS_RECONNECT)).scalars().all()
    released = 0
    for post in held:
        if now <= post.due_at + timely():
            post.status, post.error, post.error_kind = PostStatus.SCHEDULED, "", None
            post.next_attempt_at, post.lease_until = None, None
            released += 1
        else:
            post.status, post.error_kind = PostStatus.FAILED, "timeout"
            post.error = _late_message(post)
    db.session.flush()
    for step_id in {p.step_id for p in held if p.step_id}:
        step = db.session.get(LaunchStep, step_id)
        if step is not None and step.status is StepStatus.STARTED:
            if not queue_rows(step_id=step_id, now=now) and not _open_rows(step_id):
                launches.finish_step(step, now)
    return released


def expire_held(now: datetime | None = None) -> int:
    """Held posts past their timely window fail (the scheduler's job), so their steps end."""
    now = now or utcnow()
    late = db.session.execute(select(SocialPost).where(
        SocialPost.status == PostStatus.NEEDS_RECONNECT,
        SocialPost.due_at < now - timely())).scalars().all()
    for post in late:
        post.status, post.error_kind = PostStatus.FAILED, "timeout"
        post.error = (f"{_late_message(post)} The account was not reconnected in time.")[:500]
    db.session.flush()
    for step_id in {p.step_id for p in late if p.step_id}:
        step = db.session.get(LaunchStep, step_id)
        if step is not None and step.status is StepStatus.STARTED and not _open_rows(step_id):
            launches.finish_step(step, now)
    return len(late)


def cancel_account_posts(account: SocialAccount) -> int:
    """The account is being disconnected: nothing unpublished goes to it any more."""
    return db.session.execute(
        update(SocialPost).where(SocialPost.account_id == account.id,
                                 SocialPost.status.in_((PostStatus.SCHEDULED,
                                                        PostStatus.NEEDS_RECONNECT)))
        .values(status=PostStatus.CANCELLED, error="The account was disconnected.")
        .execution_options(synchronize_session=False)).rowcount


def cancel(launch: Launch) -> int:
    return db.session.execute(
        update(SocialPost).where(SocialPost.launch_id == launch.id,
                                 SocialPost.status.in_((PostStatus.SCHEDULED,
                                                        PostStatus.NEEDS_RECONNECT)))
        .values(status=PostStatus.CANCELLED, error="The launch was cancelled.")
        .execution_options(synchronize_session=False)).rowcount


def resume(launch: Launch) -> None:
    for step in launch.steps:
        if step.status is StepStatus.STARTED and step.kind == "post":
            if not queue_rows(step_id=step.id) and not _open_rows(step.id):
                launches.finish_step(step)


def counts(found: list[Launch]) -> dict[int, dict[str, int]]:
    """{step id: counts} in the launch page's words: queued (scheduled), sending
    (publishing), sent (published), held (needs reconnect), failed, skipped, cancelled."""
    names = {PostStatus.SCHEDULED: "queued", PostStatus.PUBLISHING: "sending",
             PostStatus.PUBLISHED: "sent", PostStatus.NEEDS_RECONNECT: "held",
             PostStatus.FAILED: "failed", PostStatus.SKIPPED: "skipped",
             PostStatus.CANCELLED: "cancelled"}
    out = {s.id: {name: 0 for name in names.values()}
           for launch in found for s in launch.steps if s.kind == "post"}
    if not out:
        return out
    rows = db.session.execute(
        select(SocialPost.step_id, SocialPost.status, func.count())
        .where(SocialPost.launch_id.in_([launch.id for launch in found]))
        .group_by(SocialPost.step_id, SocialPost.status))
    for step_id, status, n in rows:
        out.setdefault(step_id, {})[names[status]] = n
    return out


# --- the partner's own changes ---------------------------------------------------------------


def edit(post: SocialPost, text: str, *, by: User | None) -> SocialPost:
    """The partner rewrites a post that has not gone out: the whole text as it will appear
    (link and hashtags included, as shown to them). Links become tracking links and the
    network's limit is checked on the final text."""
    from campaigns.posts import LIMITS, weighted_length

    if post.status not in (PostStatus.SCHEDULED, PostStatus.NEEDS_RECONNECT):
        raise Conflict(f"A {post.status.value.replace('_', ' ')} post cannot be edited.")
    text = (text or "").strip()
    if not text:
        raise ValidationFailed([FieldError("text", "Write the post's text.")])
    launch = db.session.get(Launch, post.launch_id)
    kit_post = post_of(launch.version, post.item)
    if not kit_post.get("editable", True):
        raise Conflict("The vendor does not allow this post's text to be changed.")
    final = _track(text, launch.partner, _source(launch, post.item, post.network))
    limit = LIMITS[post.network.value]
    length = weighted_length(post.network.value, final)
    if length > limit:
        raise ValidationFailed([FieldError(
            "text", f"{post.network.label} allows {limit:,} characters; this is {length:,}.")])
    before = post.text
    post.text, post.edited = final, True
    db.session.flush()
    audit.record("social.post.edit", target=post, actor=by, before={"text": before},
                 after={"text": final})
    return post


def skip(post: SocialPost, *, by: User | None) -> SocialPost:
    """The partner does not want this post out: it never goes (unless un-skipped)."""
    if post.status not in (PostStatus.SCHEDULED, PostStatus.NEEDS_RECONNECT):
        raise Conflict(f"A {post.status.value.replace('_', ' ')} post cannot be skipped.")
    claimed = db.session.execute(
        update(SocialPost).where(SocialPost.id == post.id,
                                 SocialPost.status.in_((PostStatus.SCHEDULED,
                                                        PostStatus.NEEDS_RECONNECT)))
        .values(status=PostStatus.SKIPPED, error="Skipped by the partner.")
        .execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise Conflict("The post is being published right now.")
    db.session.refresh(post)
    audit.record("social.post.skip", target=post, actor=by)
    if post.step_id:
        step = db.session.get(LaunchStep, post.step_id)
        if step is not None and step.status is StepStatus.STARTED and not _open_rows(step.id):
            launches.finish_step(step)
    return post


def unskip(post: SocialPost, *, by: User | None, now: datetime | None = None) -> SocialPost:
    """Changed their mind: the post goes out again, if it still can in time."""
    now = now or utcnow()
    if post.status is not PostStatus.SKIPPED:
        raise Conflict("Only a skipped post can be scheduled again.")
    step = db.session.get(LaunchStep, post.step_id) if post.step_id else None
    if now > post.due_at + timely() or step is None or step.status not in (
            StepStatus.WAITING, StepStatus.STARTED):
        raise Conflict("Too late: this post's time has passed.")
    post.status, post.error, post.next_attempt_at, post.lease_until = (
        PostStatus.SCHEDULED, "", None, None)
    db.session.flush()
    audit.record("social.post.unskip", target=post, actor=by)
    if step.status is StepStatus.STARTED:
        queue_rows(step_id=step.id, now=now)
    return post


# --- reading -----------------------------------------------------------------------------------


def get_post(public_id: str) -> SocialPost:
    from tcma.errors import NotFound

    post = db.session.execute(select(SocialPost).where(
        SocialPost.public_id == public_id)).scalar_one_or_none()
    if post is None:
        raise NotFound("No such post.")
    return post


def calendar(start: datetime, end: datetime, *, account: SocialAccount | None = None,
             partner_id: int | None = None) -> list[SocialPost]:
    """Posts due (or published) between ``start`` and ``end``, oldest first; tenancy limits
    a partner to their own."""
    query = (select(SocialPost).where(SocialPost.due_at >= start, SocialPost.due_at < end)
             .order_by(SocialPost.due_at, SocialPost.network, SocialPost.id))
    if account is not None:
        query = query.where(SocialPost.account_id == account.id)
    if partner_id is not None:
        query = query.where(SocialPost.partner_id == partner_id)
    return list(db.session.execute(query).scalars())
