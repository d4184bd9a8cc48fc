"""Pages: the post calendar, one post (preview, edit, skip), autopilot settings, and the
skip link from autopilot's emails."""

from __future__ import annotations

import calendar as months
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import flash, g, redirect, render_template, request, url_for

from campaigns.launches import zone_of
from syndication.social import autopilot, posts, service
from syndication.social.models import PostStatus
from syndication.social.views import blueprint
from tcma import ratelimit
from tcma.auth.permissions import can, requires
from tcma.errors import Conflict, ValidationFailed
from tcma.extensions import db
from tcma.partners.models import Partner


def _zone() -> ZoneInfo:
    partner = g.user.partner if g.user and g.user.partner_id else None
    return zone_of(partner) if partner is not None else ZoneInfo("UTC")


def _month(value: str | None, zone: ZoneInfo) -> date:
    try:
        year, month = (int(p) for p in (value or "").split("-"))
        return date(year, month, 1)
    except ValueError:
        today = datetime.now(UTC).astimezone(zone).date()
        return today.replace(day=1)


@blueprint.get("/social/calendar")
@requires("social.calendar")
def calendar():
    """A month of posts, by day in the partner's time zone; filter by account."""
    zone = _zone()
    first = _month(request.args.get("month"), zone)
    last_day = months.monthrange(first.year, first.month)[1]
    start = datetime(first.year, first.month, 1, tzinfo=zone).astimezone(UTC)
    end = (datetime(first.year, first.month, last_day, tzinfo=zone)
           + timedelta(days=1)).astimezone(UTC)
    account = None
    if request.args.get("account"):
        account = service.get_account(request.args["account"])
    found = posts.calendar(start, end, account=account)
    by_day: dict[date, list] = {}
    for post in found:
        by_day.setdefault(post.due_at.astimezone(zone).date(), []).append(post)
    weeks = months.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    previous = (first - timedelta(days=1)).replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    partners = {}
    if g.user.partner_id is None:
        ids = {p.partner_id for p in found}
        partners = {p.id: p for p in db.session.query(Partner).filter(Partner.id.in_(ids))}
    return render_template(
        "social/calendar.html", first=first, weeks=weeks, by_day=by_day, zone=zone,
        accounts=service.list_accounts() if g.user.partner_id else [], account=account,
        previous=previous, following=following, partners=partners, total=len(found))


def _post(post_id: str):
    return posts.get_post(post_id)


@blueprint.get("/social/posts/<post_id>")
@requires("social.calendar")
def post_page(post_id: str):
    post = _post(post_id)
    return _post_page(post, can_change=can(g.user, "social.posts"))


def _post_page(post, *, can_change: bool, error: str | None = None, **extra):
    from campaigns.content import partner_values
    from campaigns.posts import LIMITS, NETWORK_LABELS

    partner = db.session.get(Partner, post.partner_id)
    return render_template("social/post.html", post=post, zone=_zone(), partner=partner,
                           can_change=can_change, error=error, labels=NETWORK_LABELS,
                           limits=LIMITS, brand=partner_values(partner), **extra)


@blueprint.post("/social/posts/<post_id>/edit")
@requires("social.posts")
def post_edit(post_id: str):
    post = _post(post_id)
    try:
        posts.edit(post, request.form.get("text", ""), by=g.user)
    except (ValidationFailed, Conflict) as exc:
        db.session.rollback()
        post = _post(post_id)
        message = "; ".join(e.message for e in getattr(exc, "errors", [])) or exc.message
        return _post_page(post, can_change=True, error=message,
                          draft=request.form.get("text", "")), 422
    db.session.commit()
    flash("Saved: this is the text that goes out.", "success")
    return redirect(url_for("social.post_page", post_id=post_id))


@blueprint.post("/social/posts/<post_id>/skip")
@requires("social.posts")
def post_skip(post_id: str):
    return _change(post_id, posts.skip, "Skipped: this post will not go out.")


@blueprint.post("/social/posts/<post_id>/unskip")
@requires("social.posts")
def post_unskip(post_id: str):
    return _change(post_id, posts.unskip, "Scheduled again.")


def _change(post_id: str, action, done: str):
    try:
        action(_post(post_id), by=g.user)
    except Conflict as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("social.post_page", post_id=post_id)), 303
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("social.post_page", post_id=post_id))


@blueprint.route("/social/skip/<token>", methods=["GET", "POST"])
def skip_link(token: str):
    """The skip link of an autopilot email: a page with one button (a GET never changes
    anything, because mail scanners open every link), then the skip, without signing in."""
    ratelimit.hit("social-skip", request.remote_addr or "-", limit=60, window=3600)
    post = autopilot.post_for_token(token)
    done = None
    if request.method == "POST":
        if post.status is PostStatus.SKIPPED:
            done = "This post was already skipped."
        else:
            try:
                posts.skip(post, by=None)
                db.session.commit()
                done = "Skipped: this post will not go out."
            except Conflict as exc:
                db.session.rollback()
                done = exc.message
    return render_template("social/skip.html", post=post, token=token, done=done)


@blueprint.route("/social/accounts/<account_id>/autopilot", methods=["GET", "POST"])
@requires("social.posts")
def autopilot_page(account_id: str):
    account = service.get_account(account_id)
    setting = autopilot.setting_for(account)
    errors = {}
    if request.method == "POST":
        data = {"categories": request.form.getlist("categories"),
                "notice_hours": request.form.get("notice_hours"),
                "paused": request.form.get("paused")}
        try:
            setting = autopilot.save(account, data, by=g.user)
        except ValidationFailed as exc:
            db.session.rollback()
            errors = {e.field: e.message for e in exc.errors}
        else:
            db.session.commit()
            flash("Autopilot is off for this account." if setting is None else
                  "Autopilot saved." + (" It is paused." if setting.paused_at else ""),
                  "success")
            return redirect(url_for("social.autopilot_page", account_id=account_id))
    return render_template(
        "social/autopilot.html", account=account, setting=setting, errors=errors,
        categories=autopilot.categories(), history=autopilot.launched(account.partner_id),
        default_notice=autopilot.default_notice()), 422 if errors else 200
