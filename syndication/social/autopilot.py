"""Autopilot: new kits in the categories a partner opted into go out on their accounts.

A partner opts in per account (``AutopilotSetting``): which content categories (the kits'
tags), and how many hours before each post they want to hear about it. The scheduler's job
(``run``) launches the post steps of every newly published kit in those categories for each
opted-in partner, once (``AutopilotLaunch`` is unique per partner and kit), starting after the
notice period, so the partner is emailed (``notify_due``) with the exact text and a one-click
skip before anything goes out. Pausing stops new launches; what is already scheduled stays
visible on the calendar, where each post can still be skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from campaigns import kits, launches
from campaigns.models import Kit, KitStatus
from syndication.social import scheduling
from syndication.social.models import (
    AutopilotLaunch,
    AutopilotSetting,
    PostStatus,
    SocialAccount,
    SocialPost,
)
from tcma import audit, mail
from tcma.auth.models import Role, User, UserStatus
from tcma.errors import FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner, PartnerStatus

log = logging.getLogger(__name__)

MAX_NOTICE_HOURS = 7 * 24
MAX_CATEGORIES = 50
#: A skip link in an email works this long (posts are at most a year ahead).
SKIP_LINK_SECONDS = 400 * 24 * 3600


# --- settings ------------------------------------------------------------------------------------


def categories() -> list[str]:
    """The content categories partners can opt into: the tags of published kits."""
    tags: set[str] = set()
    for kit_tags in db.session.execute(
            select(Kit.tags).where(Kit.status == KitStatus.PUBLISHED)).scalars():
        tags.update(t for t in (kit_tags or []) if t)
    return sorted(tags, key=str.lower)


def default_notice() -> int:
    return int(current_app.config["SOCIAL_AUTOPILOT_NOTICE_HOURS"])


def accounts_on(account_ids: list[int]) -> set[int]:
    """Which of these accounts have autopilot on (paused or not)."""
    if not account_ids:
        return set()
    return set(db.session.execute(select(AutopilotSetting.account_id).where(
        AutopilotSetting.account_id.in_(account_ids))).scalars())


def setting_for(account: SocialAccount) -> AutopilotSetting | None:
    return db.session.execute(select(AutopilotSetting).where(
        AutopilotSetting.account_id == account.id)).scalar_one_or_none()


def save(account: SocialAccount, data: dict[str, Any], *, by: User | None,
         now: datetime | None = None) -> AutopilotSetting | None:
    """Opt ``account`` in (categories, notice hours, paused) or out (no categories: the
    setting is removed). Returns the setting, or None after opting out."""
    now = now or utcnow()
    raw = data.get("categories", [])
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.split(",")]
    errors = []
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        errors.append(FieldError("categories", "Send a list of category names."))
        raw = []
    chosen = list(dict.fromkeys(c.strip() for c in raw if c.strip()))
    if len(chosen) > MAX_CATEGORIES:
        errors.append(FieldError("categories", f"Choose at most {MAX_CATEGORIES}."))
    notice = data.get("notice_hours")
    try:
        notice = int(notice if notice not in (None, "") else default_notice())
    except (TypeError, ValueError):
        notice = -1
    if not 1 <= notice <= MAX_NOTICE_HOURS:
        errors.append(FieldError("notice_hours",
                                 f"Give a whole number of hours from 1 to {MAX_NOTICE_HOURS}."))
    if errors:
        raise ValidationFailed(errors)
    paused = data.get("paused") in (True, "true", "on", "1", 1)
    setting = setting_for(account)
    before = _snapshot(setting)
    if not chosen:
        if setting is not None:
            db.session.delete(setting)
            db.session.flush()
            audit.record("social.autopilot.off", target=account, actor=by, before=before)
        return None
    if setting is None:
        setting = AutopilotSetting(partner_id=account.partner_id, account_id=account.id,
                                   since=now)
        db.session.add(setting)
    setting.categories, setting.notice_hours = chosen, notice
    if paused and setting.paused_at is None:
        setting.paused_at = now
    elif not paused and setting.paused_at is not None:
        # Kits published while paused are not caught up on: resuming starts afresh.
        setting.paused_at, setting.since = None, now
    setting.updated_by_id = by.id if by else None
    db.session.flush()
    audit.record("social.autopilot.save", target=account, actor=by, before=before,
                 after=_snapshot(setting))
    return setting


def _snapshot(setting: AutopilotSetting | None) -> dict[str, Any] | None:
    if setting is None:
        return None
    return {"categories": list(setting.categories), "notice_hours": setting.notice_hours,
            "paused": setting.paused_at is not None}


def launched(partner_id: int, limit: int = 20) -> list[AutopilotLaunch]:
    """What autopilot scheduled (or could not) for a partner, newest first."""
    return list(db.session.execute(
        select(AutopilotLaunch).where(AutopilotLaunch.partner_id == partner_id)
        .order_by(AutopilotLaunch.created_at.desc(), AutopilotLaunch.id.desc())
        .limit(limit)).scalars())


# --- the scheduler's jobs ---------------------------------------------------------------------


@dataclass
class _Optin:
    setting: AutopilotSetting
    account: SocialAccount


def run(now: datetime | None = None) -> int:
    """Launch every new kit in an opted-in category for its partner; returns how many
    launches were made. Safe to run in several processes at once."""
    now = now or utcnow()
    rows = db.session.execute(
        select(AutopilotSetting, SocialAccount)
        .join(SocialAccount, SocialAccount.id == AutopilotSetting.account_id)
        .where(AutopilotSetting.paused_at.is_(None))).all()
    by_partner: dict[int, list[_Optin]] = {}
    for setting, account in rows:
        by_partner.setdefault(setting.partner_id, []).append(_Optin(setting, account))
    if not by_partner:
        return 0
    published = [k for k in db.session.execute(
        select(Kit).where(Kit.status == KitStatus.PUBLISHED)).scalars()
        if any(i.get("kind") == "post"
               for i in (kits.latest_published(k).content.get("items", [])
                         if kits.latest_published(k) else []))]
    if not published:
        return 0
    done = set(db.session.execute(select(AutopilotLaunch.partner_id, AutopilotLaunch.kit_id)
                                  .where(AutopilotLaunch.partner_id.in_(by_partner))).all())
    made = 0
    for partner_id, optins in by_partner.items():
        partner = db.session.get(Partner, partner_id)
        if partner is None or partner.status is not PartnerStatus.ACTIVE:
            continue
        for kit in published:
            if (partner_id, kit.id) in done or not kits.visible_to(partner, kit, now):
                continue
            version = kits.latest_published(kit)
            networks = scheduling.post_networks(version)
            chosen = [o for o in optins
                      if set(o.setting.categories) & set(kit.tags or [])
                      and o.account.network.value in networks
                      and version.published_at is not None
                      and version.published_at >= o.setting.since]
            if chosen and _launch(partner, kit, chosen, now):
                made += 1
    return made


def _launch(partner: Partner, kit: Kit, chosen: list[_Optin], now: datetime) -> bool:
    """Launch ``kit``'s posts for ``partner`` on the chosen accounts, once; a launch that is
    blocked (brand profile incomplete) is recorded with its reason instead."""
    marker = AutopilotLaunch(partner_id=partner.id, kit_id=kit.id)
    try:
        with db.session.begin_nested():
            db.session.add(marker)
    except IntegrityError:
        return False  # another scheduler got there first
    notice = timedelta(hours=max(o.setting.notice_hours for o in chosen))
    try:
        with db.session.begin_nested():
            launch = launches.launch_kit(
                partner, kit, start_at=now + notice, now=now, only_kinds={"post"},
                options={"social_account_ids": [o.account.public_id for o in chosen]})
    except (launches.LaunchBlocked, ValidationFailed, NotFound) as exc:
        marker.problem = exc.message[:500]
        db.session.flush()
        log.info("autopilot: %s not scheduled for %s: %s", kit.public_id, partner.slug,
                 exc.message)
        return False
    marker.launch_id = launch.id
    db.session.flush()
    audit.record("social.autopilot.launch", target=launch, actor=None,
                 after={"kit": kit.public_id, "accounts": len(chosen)})
    return True


def notify_due(now: datetime | None = None, limit: int = 500) -> int:
    """Email the partner about each autopilot post entering its notice period, once, with
    the text and a one-click skip; returns how many posts were announced."""
    now = now or utcnow()
    rows = db.session.execute(
        select(SocialPost, AutopilotSetting)
        .join(AutopilotLaunch, AutopilotLaunch.launch_id == SocialPost.launch_id)
        .join(AutopilotSetting, AutopilotSetting.account_id == SocialPost.account_id)
        .where(SocialPost.status == PostStatus.SCHEDULED, SocialPost.notified_at.is_(None),
               SocialPost.due_at > now)
        .order_by(SocialPost.due_at).limit(limit)).all()
    due = [(post, setting) for post, setting in rows
           if post.due_at - timedelta(hours=setting.notice_hours) <= now]
    base = current_app.config["BASE_URL"].rstrip("/")
    for post, _ in due:
        post.notified_at = now
        partner = db.session.get(Partner, post.partner_id)
        for address in _recipients(post.partner_id):
            mail.send_template(
                address, "social_autopilot_notice", post=post, partner=partner,
                skip_link=f"{base}/social/skip/{skip_token(post)}",
                edit_link=f"{base}/social/posts/{post.public_id}",
                settings_link=f"{base}/social/accounts")
    db.session.flush()
    return len(due)


def _recipients(partner_id: int) -> list[str]:
    return list(db.session.execute(select(User.email).where(
        User.partner_id == partner_id, User.role == Role.PARTNER_ADMIN,
        User.status == UserStatus.ACTIVE).order_by(User.email)).scalars())


# --- the one-click skip ------------------------------------------------------------------------


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="tcma.social.skip")


def skip_token(post: SocialPost) -> str:
    """A signed token naming one post: the email's skip link works without signing in."""
    return _signer().dumps(post.public_id)


def post_for_token(token: str) -> SocialPost:
    """The post a skip link names; a forged, altered or very old link is a 404."""
    try:
        public_id = _signer().loads(token, max_age=SKIP_LINK_SECONDS)
    except (BadSignature, SignatureExpired):
        raise NotFound("This link is not valid.") from None
    post = db.session.execute(select(SocialPost).where(
        SocialPost.public_id == public_id)).scalar_one_or_none()
    if post is None:
        raise NotFound("This link is not valid.")
    return post
