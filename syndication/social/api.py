"""API routes for partners' social accounts, their posts and autopilot, and the vendor's
token health."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import g, request

from campaigns.models import Launch
from syndication.social import autopilot, posts, service
from syndication.social.api_schemas import (
    AutopilotIn,
    AutopilotOut,
    NetworkHealthOut,
    PostTextIn,
    SocialAccountOut,
    SocialPostOut,
)
from syndication.social.models import PostStatus, SocialAccount, SocialPost
from tcma.api import endpoint
from tcma.api.responses import json_body
from tcma.errors import FieldError, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner


def _out(account: SocialAccount) -> SocialAccountOut:
    partner = db.session.get(Partner, account.partner_id)
    return SocialAccountOut.of(account, partner.public_id, service.health(account))


@endpoint("/social/accounts", "GET", summary="The partner's connected social accounts",
          tag="social", permission="social.connect", response=list[SocialAccountOut])
def list_social_accounts():
    """Each account with its health; tokens are never part of an answer."""
    return json_body([_out(a) for a in service.list_accounts()])


@endpoint("/social/accounts/<account_id>", "GET", summary="One connected social account",
          tag="social", permission="social.connect", response=SocialAccountOut)
def get_social_account(account_id: str):
    return json_body(_out(service.get_account(account_id)))


@endpoint("/social/accounts/<account_id>", "DELETE",
          summary="Disconnect a social account (revoked at the network where it allows)",
          tag="social", permission="social.connect", status=204)
def disconnect_social_account(account_id: str):
    service.disconnect(service.get_account(account_id), by=g.user)
    db.session.commit()
    return "", 204


@endpoint("/social/health", "GET", summary="Token health of all partners' accounts per network",
          tag="social", permission="social.health", response=list[NetworkHealthOut])
def social_health():
    """Counts only: how many accounts per network are healthy, expiring this week, broken."""
    return json_body([NetworkHealthOut.of(row) for row in service.health_counts()])


# --- posts -------------------------------------------------------------------------------------


def _post_out(post: SocialPost) -> SocialPostOut:
    partner = db.session.get(Partner, post.partner_id)
    launch = db.session.get(Launch, post.launch_id) if post.launch_id else None
    account = db.session.get(SocialAccount, post.account_id) if post.account_id else None
    return SocialPostOut.of(post, partner.public_id, launch.public_id if launch else None,
                            account.public_id if account else None)


def _instant(name: str, errors: list[FieldError]) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        errors.append(FieldError(name, "Use an ISO 8601 time, e.g. 2026-12-01T00:00:00Z."))
        return None
    if value.tzinfo is None:
        errors.append(FieldError(name, "Give a time zone, e.g. 2026-12-01T00:00:00Z."))
        return None
    return value


@endpoint("/social/posts", "GET", summary="Scheduled and published social posts (the calendar)",
          tag="social", permission="social.calendar", response=list[SocialPostOut],
          query={"from": "Due at or after (ISO 8601, default 30 days ago)",
                 "to": "Due before (ISO 8601, default 60 days ahead; at most a year after "
                       "from)",
                 "account_id": "Only this account's posts",
                 "status": "scheduled | publishing | published | needs_reconnect | failed | "
                           "skipped | cancelled"})
def list_social_posts():
    errors: list[FieldError] = []
    now = utcnow()
    start = _instant("from", errors) or now - timedelta(days=30)
    end = _instant("to", errors) or start + timedelta(days=90)
    status = request.args.get("status")
    if status and status not in {s.value for s in PostStatus}:
        errors.append(FieldError("status", "Unknown status."))
    if not errors and not start < end <= start + timedelta(days=366):
        errors.append(FieldError("to", "Give a 'to' after 'from', within a year of it."))
    if errors:
        raise ValidationFailed(errors)
    account = (service.get_account(request.args["account_id"])
               if request.args.get("account_id") else None)
    found = posts.calendar(start, end, account=account)
    if status:
        found = [p for p in found if p.status.value == status]
    return json_body([_post_out(p) for p in found])


@endpoint("/social/posts/<post_id>", "GET", summary="One social post", tag="social",
          permission="social.calendar", response=SocialPostOut)
def get_social_post(post_id: str):
    return json_body(_post_out(posts.get_post(post_id)))


@endpoint("/social/posts/<post_id>", "PATCH", summary="Rewrite a post that has not gone out",
          tag="social", permission="social.posts", body=PostTextIn, response=SocialPostOut,
          errors={409: "The post went out, is going out, or may not be changed"})
def edit_social_post(post_id: str, body: PostTextIn):
    post = posts.edit(posts.get_post(post_id), body.text, by=g.user)
    db.session.commit()
    return json_body(_post_out(post))


@endpoint("/social/posts/<post_id>/skip", "POST", summary="Skip a post: it never goes out",
          tag="social", permission="social.posts", response=SocialPostOut,
          errors={409: "The post went out or is going out"})
def skip_social_post(post_id: str):
    post = posts.skip(posts.get_post(post_id), by=g.user)
    db.session.commit()
    return json_body(_post_out(post))


@endpoint("/social/posts/<post_id>/unskip", "POST",
          summary="Schedule a skipped post again, if its time has not passed", tag="social",
          permission="social.posts", response=SocialPostOut,
          errors={409: "The post is not skipped, or it is too late"})
def unskip_social_post(post_id: str):
    post = posts.unskip(posts.get_post(post_id), by=g.user)
    db.session.commit()
    return json_body(_post_out(post))


# --- autopilot -----------------------------------------------------------------------------------


def _autopilot_out(account: SocialAccount) -> AutopilotOut:
    setting = autopilot.setting_for(account)
    return AutopilotOut(
        account_id=account.public_id, enabled=setting is not None,
        categories=list(setting.categories) if setting else [],
        notice_hours=setting.notice_hours if setting else None,
        paused=bool(setting and setting.paused_at), since=setting.since if setting else None,
        available_categories=autopilot.categories())


@endpoint("/social/accounts/<account_id>/autopilot", "GET",
          summary="An account's autopilot settings", tag="social", permission="social.posts",
          response=AutopilotOut)
def get_social_autopilot(account_id: str):
    return json_body(_autopilot_out(service.get_account(account_id)))


@endpoint("/social/accounts/<account_id>/autopilot", "PUT",
          summary="Opt an account into autopilot (or out, with no categories), or pause it",
          tag="social", permission="social.posts", body=AutopilotIn, response=AutopilotOut)
def put_social_autopilot(account_id: str, body: AutopilotIn):
    account = service.get_account(account_id)
    autopilot.save(account, body.model_dump(), by=g.user)
    db.session.commit()
    return json_body(_autopilot_out(account))
