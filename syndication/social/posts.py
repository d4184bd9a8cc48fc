"""A partner's own changes to scheduled posts (rewrite, skip, take back), and reading them
(one post, the calendar)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from campaigns import launches
from campaigns.models import Launch, LaunchStep, StepStatus
from campaigns.posts import post_of
from syndication.social.models import (
    PostStatus,
    SocialAccount,
    SocialPost,
)
from syndication.social.scheduling import (
    link_source,
    open_rows,
    queue_rows,
    timely,
    track_links,
)
from tcma import audit
from tcma.auth.models import User
from tcma.errors import Conflict, FieldError, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow

# --- the partner's own changes ---------------------------------------------------------------


def edit(post: SocialPost, text: str, *, by: User | None) -> SocialPost:
    """The partner rewrites a post that has not gone out: the whole text as it will appear
    (link and hashtags included, as shown to them). Links become tracking links and the
    network's limit is checked on the final text."""
    from campaigns.post_length import weighted_length
    from campaigns.posts import LIMITS

    if post.status not in (PostStatus.SCHEDULED, PostStatus.NEEDS_RECONNECT):
        raise Conflict(f"A {post.status.value.replace('_', ' ')} post cannot be edited.")
    text = (text or "").strip()
    if not text:
        raise ValidationFailed([FieldError("text", "Write the post's text.")])
    launch = db.session.get(Launch, post.launch_id)
    kit_post = post_of(launch.version, post.item)
    if not kit_post.get("editable", True):
        raise Conflict("The vendor does not allow this post's text to be changed.")
    final = track_links(text, launch.partner, link_source(launch, post.item, post.network))
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
        if step is not None and step.status is StepStatus.STARTED and not open_rows(step.id):
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
