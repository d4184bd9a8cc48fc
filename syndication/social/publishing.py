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
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, or_, select, update

from campaigns import launches
from campaigns.models import Launch, LaunchStatus, LaunchStep
from syndication.social import networks, service
from syndication.social.models import (
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
from syndication.social.scheduling import late_message, lease, open_rows, request_image, timely
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner
from tcma.redis import redis_for

log = logging.getLogger(__name__)

#: Waits between attempts after the network failed (not a rate limit, which says how long).
BACKOFF = (30, 120, 600, 1800, 3600)
#: How long to wait for the partner's co-branded image before asking again.
IMAGE_WAIT = timedelta(seconds=20)
#: After a call with an unknown outcome: give the network a moment before looking it up.
LOOKUP_WAIT = timedelta(seconds=15)
#: How far before ``called_at`` a lookup searches (clocks of ours and the network's differ).
CLOCK_SLACK = timedelta(minutes=5)


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

    def write(self, *, commit: bool = True, **values: Any) -> bool:
        """Record an outcome, only if this worker still holds the row; commits unless told
        not to (the caller then commits it with more)."""
        done = db.session.execute(
            update(SocialPost).where(SocialPost.id == self.post_id,
                                     SocialPost.claim == self.token,
                                     SocialPost.status == PostStatus.PUBLISHING)
            .values(**values).execution_options(synchronize_session=False)).rowcount
        if commit:
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
    db.session.commit()
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
        return _fail(claim, PostStatus.FAILED, late_message(post), "timeout")
    limited_until = _limited_until(account, now)
    if limited_until is not None:
        # Another post of this account hit the network's limit: wait for its reset instead
        # of spending a call on a certain 429.
        return _retry(claim, post, NetworkError(
            f"{account.network.label} asked us to slow down for this account; next try "
            f"{limited_until:%H:%M:%S} UTC.", permanent=False), now,
            wait=limited_until - now)
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
            wait = timedelta(seconds=exc.retry_after)
            _limit(account, now + wait)
            return _retry(claim, post, exc, now, wait=wait)
        except PostRejected as exc:
            return _fail(claim, PostStatus.FAILED, exc.message, exc.reason)
        except NetworkError as exc:
            if exc.permanent:
                return _fail(claim, PostStatus.FAILED, exc.message, "text")
            return _retry(claim, post, exc, now)
        return _published(claim, post, result, now)


class _ImageNotReady(Exception):
    pass


def _limit_key(account: SocialAccount) -> str:
    return (f"{current_app.config['REDIS_NAMESPACE']}:social:limited:"
            f"{account.network.value}:{account.external_id}")


def _limit(account: SocialAccount, until: datetime) -> None:
    """Remember, for every worker, that the network wants this account left alone until
    ``until`` (its rate limit's reset)."""
    seconds = max(1.0, (until - utcnow()).total_seconds())
    redis_for(current_app).set(_limit_key(account), until.timestamp(),
                               px=int((seconds + 60) * 1000))


def _limited_until(account: SocialAccount, now: datetime) -> datetime | None:
    raw = redis_for(current_app).get(_limit_key(account))
    if raw is None:
        return None
    until = datetime.fromtimestamp(float(raw), tz=UTC)
    return until if until > now else None


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
        request_image(partner, post.image_asset_id)
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
    # Committed by ``publish`` with the step's completion, a moment later (one commit
    # fewer per post). Should that commit never happen, the row keeps ``called_at``: the
    # lookup finds the post, which is never posted again.
    if claim.write(status=PostStatus.PUBLISHED, external_id=result.external_id,
                   external_url=result.url, published_at=now, called_at=None, claim=None,
                   lease_until=None, next_attempt_at=None, error="", error_kind=None,
                   commit=False):
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
                     f"{late_message(post)} Last error: {exc.message}", "timeout")
    values: dict[str, Any] = dict(status=PostStatus.SCHEDULED, claim=None, lease_until=None,
                                  next_attempt_at=now + wait, error=exc.message[:500])
    if not keep_called:
        values["called_at"] = None
    claim.write(**values)
    return PostStatus.SCHEDULED


def _finish_step_if_done(step_id: int | None, now: datetime) -> None:
    """Finish the step when this was its last open post; the caller commits.

    The step's row is locked before its open posts are counted. Two posts of one step
    published at the same moment in two transactions would otherwise each count the other
    as still open (neither sees the other's uncommitted state) and neither would finish the
    step; with the lock, the second counts after the first committed. (SQLite writes one
    transaction at a time, so there is no race to lock against.)"""
    if step_id is None:
        return
    step = db.session.execute(select(LaunchStep).where(LaunchStep.id == step_id)
                              .with_for_update()).scalar_one_or_none()
    if step is not None and not open_rows(step_id):
        launches.finish_step(step, now)  # a no-op unless started
