"""The tracking redirect, and the pages where partners and the vendor see their links."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from syndication.links import reports, service
from syndication.links.models import Channel, TrackingLink
from syndication.links.redirect import click_headers
from tcma import ratelimit
from tcma.auth.permissions import can, requires
from tcma.errors import FieldError, ValidationFailed
from tcma.extensions import db
from tcma.partners.models import Partner
from tcma.web import ANONYMOUS_ENDPOINTS

blueprint = Blueprint("links", __name__)
ANONYMOUS_ENDPOINTS.add("links.follow")

#: Unknown codes one address may ask for per minute before 429: guessing codes is slow.
MISSES_PER_MINUTE = 60


def init_app(app) -> None:
    """Put the redirect's fast path in front of the app, and give co-branded QR codes each
    partner's tracking link (called by the app factory)."""
    from assets import qr
    from syndication.links.redirect import RedirectFastPath

    app.wsgi_app = RedirectFastPath(app.wsgi_app, app)
    qr.register_link_maker(qr_link)


def qr_link(partner: Partner, destination: str, asset) -> str:
    """The partner's ``qr`` link to ``destination`` for a QR code on ``asset``: scans of the
    printed brochure count for the partner, with the asset as the campaign."""
    from tcma.partners.service import slugify

    link = service.link_for(partner, destination, Channel.QR, service.LinkSource(
        campaign=slugify(asset.title)[:100], type="asset", id=asset.public_id))
    return service.short_url(link)


@blueprint.route("/r/<code>", methods=["GET", "HEAD"])
def follow(code: str):
    """A code the fast path had not cached (``redirect.RedirectFastPath`` answers the rest):
    look it up, then record the click and redirect exactly as the fast path does."""
    target = service.resolve(code)
    if target is None:
        return _unknown()
    headers = click_headers(current_app._get_current_object(), target, code, request.environ)
    response = Response(status=302, headers=headers)
    response.autocorrect_location_header = False
    return response


def _redirect(location: str) -> Response:
    response = Response(status=302, headers={"Location": location,
                                             "Cache-Control": "no-store"})
    response.autocorrect_location_header = False
    return response


def _unknown():
    ratelimit.hit("link-miss", request.remote_addr or "unknown", limit=MISSES_PER_MINUTE,
                  window=60)
    fallback = service.settings().fallback_url
    if fallback:
        return _redirect(fallback)
    return render_template("links/not_found.html"), 404


# --- pages -------------------------------------------------------------------------------------


def _link_or_404(code: str) -> TrackingLink:
    link = db.session.execute(db.select(TrackingLink).where(TrackingLink.code == code)
                              ).scalar_one_or_none()
    if link is None:
        abort(404)
    return link


@blueprint.get("/links")
@requires("links.view")
def index():
    user = g.user
    partner_filter = request.args.get("partner") if user.is_vendor else None
    listing = reports.list_links(
        partner_public_id=partner_filter or None, channel=request.args.get("channel") or None,
        search=request.args.get("q", "").strip() or None,
        page=max(1, request.args.get("page", 1, type=int)))
    partners = (db.session.execute(db.select(Partner).order_by(Partner.name)).scalars().all()
                if user.is_vendor else [])
    return render_template("links/index.html", listing=listing, partners=partners,
                           channels=[c.value for c in Channel], args=request.args,
                           short_url=service.short_url)


@blueprint.post("/links")
@requires("links.create")
def create():
    user = g.user
    form = request.form
    try:
        if user.is_vendor:
            partner = db.session.execute(db.select(Partner).where(
                Partner.public_id == form.get("partner_id", ""))).scalar_one_or_none()
            if partner is None:
                raise ValidationFailed([FieldError("partner_id", "Choose a partner.")])
        else:
            partner = user.partner
        link = service.link_for(partner, form.get("destination", ""),
                                _channel(form.get("channel")),
                                service.LinkSource(campaign=form.get("campaign") or None,
                                                   content=form.get("content") or None,
                                                   type="manual"), by=user)
    except ValidationFailed as exc:
        db.session.rollback()
        for error in exc.errors:
            flash(f"{error.field}: {error.message}", "error")
        return redirect(url_for("links.index"))
    db.session.commit()
    flash(f"Your link: {service.short_url(link)}", "success")
    return redirect(url_for("links.show", code=link.code))


def _channel(value: str | None) -> Channel:
    try:
        return Channel(value or "web")
    except ValueError:
        raise ValidationFailed([FieldError("channel", "Choose a channel.")]) from None


@blueprint.get("/links/<code>")
@requires("links.view")
def show(code: str):
    link = _link_or_404(code)
    days = min(max(request.args.get("days", 30, type=int), 1), 365)
    return render_template("links/show.html", link=link, partner=db.session.get(
        Partner, link.partner_id), short_url=service.short_url(link),
        totals=reports.totals([link.id])[link.id], series=reports.daily(link.id, days),
        recent=reports.recent_clicks(link.id), days=days,
        can_manage=can(g.user, "links.create"))


@blueprint.post("/links/<code>/status")
@requires("links.create")
def set_status(code: str):
    link = _link_or_404(code)
    service.set_disabled(link, request.form.get("disabled") == "1")
    db.session.commit()
    flash("Link disabled: it now answers “not found”." if link.disabled_at
          else "Link enabled again.", "success")
    return redirect(url_for("links.show", code=code))


@blueprint.route("/links/settings", methods=["GET", "POST"])
@requires("links.settings")
def settings():
    row = service.settings()
    if request.method == "POST":
        try:
            service.update_settings(request.form)
        except ValidationFailed as exc:
            db.session.rollback()
            return render_template("links/settings.html", row=row, errors=exc,
                                   form=request.form), 422
        db.session.commit()
        flash("Link settings saved.", "success")
        return redirect(url_for("links.settings"))
    return render_template("links/settings.html", row=row, errors=None, form=None)
