"""Scheduling kit posts: which accounts a launch posts to, the post rows made when it is
scheduled (the exact text, links tracked), queueing them when due, holds for reconnecting,
and launch control (cancel, resume, counts). ``publishing`` publishes one row."""

from __future__ import annotations

import re
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
from syndication.social.models import (
    FINAL_POST_STATES,
    Network,
    PostStatus,
    SocialAccount,
    SocialPost,
)
from tcma import queue
from tcma.errors import FieldError, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner

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


def track_links(text: str, partner: Partner, source: LinkSource) -> str:
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


def link_source(launch: Launch, item: str, network: Network) -> LinkSource:
    # ``content`` carries the post and the network: social clicks report per network.
    return LinkSource(campaign=kit_slug(launch.kit.name), content=f"{item}-{network.value}",
                      type="launch", id=launch.public_id)


def final_text(launch: Launch, item: str, network: Network, text: str | None = None
               ) -> tuple[str, str | None]:
    """The text and link card of one kit post as ``launch``'s partner publishes it on
    ``network``: tokens filled, every link the partner's tracking link (made now: commit)."""
    post = post_of(launch.version, item)
    partner = launch.partner
    source = link_source(launch, item, network)
    link = post.get("link") or None
    tracked = short_url(link_for(partner, link, Channel.SOCIAL, source)) if link else None
    rendered = render(post, network.value, partner_values(partner), text=text,
                      link_url=tracked)
    return track_links(rendered.text, partner, source), rendered.link


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
            request_image(launch.partner, post["image_asset_id"])
    db.session.flush()
    return made


def request_image(partner: Partner, asset_id: str) -> None:
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
    if not queued and not open_rows(step.id):
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


def late_message(post: SocialPost) -> str:
    hours = current_app.config["SOCIAL_TIMELY_HOURS"]
    return (f"Not published: it could not go out within {hours} hours of its time "
            f"({post.due_at:%Y-%m-%d %H:%M} UTC).")


def open_rows(step_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(SocialPost).where(
        SocialPost.step_id == step_id, SocialPost.status.not_in(FINAL_POST_STATES)))


# --- holds, reconnecting, control ------------------------------------------------------------


def finish_done_steps(now: datetime | None = None) -> int:
    """Finish started post steps with nothing left open (the scheduler's job): the safety
    net under a worker that died between publishing a step's last post and finishing it."""
    open_posts = select(SocialPost.id).where(SocialPost.step_id == LaunchStep.id,
                                             SocialPost.status.not_in(FINAL_POST_STATES))
    steps = db.session.execute(select(LaunchStep).where(
        LaunchStep.kind == "post", LaunchStep.status == StepStatus.STARTED,
        ~open_posts.exists())).scalars().all()
    return sum(launches.finish_step(step, now) for step in steps)


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
            post.error = late_message(post)
    db.session.flush()
    for step_id in {p.step_id for p in held if p.step_id}:
        step = db.session.get(LaunchStep, step_id)
        if step is not None and step.status is StepStatus.STARTED:
            if not queue_rows(step_id=step_id, now=now) and not open_rows(step_id):
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
        post.error = (f"{late_message(post)} The account was not reconnected in time.")[:500]
    db.session.flush()
    for step_id in {p.step_id for p in late if p.step_id}:
        step = db.session.get(LaunchStep, step_id)
        if step is not None and step.status is StepStatus.STARTED and not open_rows(step_id):
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
            if not queue_rows(step_id=step.id) and not open_rows(step.id):
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
