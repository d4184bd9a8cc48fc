"""The public landing pages and their forms: what visitors (and share previews) reach.

``/p/<partner-slug>/<page-slug>`` is a partner's co-branded copy of a page, ``/p/<page-slug>``
a generic vendor page. Visitors have no session: the form carries a signed token instead of
the session CSRF token, a honeypot, and Redis-backed rate limits per address and per form.

Settings (``TCMA_<NAME>`` in the environment): ``LEAD_FORM_IP_LIMIT`` (20) and
``LEAD_FORM_PAGE_LIMIT`` (600) posts per ``LEAD_FORM_WINDOW_SECONDS`` (600), per address and
per (page, partner); ``LEAD_FORM_MAX_AGE_SECONDS`` (86400), how long a form stays valid.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for

from syndication.leads import form as lead_form
from syndication.leads import service as leads
from syndication.leads.countries import COUNTRIES
from syndication.pages import render
from syndication.pages import service as pages
from syndication.pages.models import LandingPage
from tcma import ratelimit
from tcma.errors import NotFound, TooManyRequests, ValidationFailed
from tcma.extensions import db
from tcma.partners.models import Partner
from tcma.storage import StorageError, storage
from tcma.tenancy import scope_session_to_partner

blueprint = Blueprint("landing", __name__)

MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
               "webp": "image/webp"}


@blueprint.before_request
def _as_a_visitor() -> None:
    # Public pages look the same to everyone: a signed-in partner user opening another
    # partner's page must not have it hidden (or its lead refused) by their own tenancy.
    g.user = None
    scope_session_to_partner(None)


@blueprint.route("/p/<partner_slug>/<page_slug>", methods=["GET", "POST"])
def partner_page(partner_slug: str, page_slug: str):
    return _serve(page_slug, partner_slug)


@blueprint.route("/p/<page_slug>", methods=["GET", "POST"])
def generic_page(page_slug: str):
    return _serve(page_slug, None)


@blueprint.get("/p/-/media/<token>")
def media(token: str):
    """A hero image or partner logo shown on public pages (signed, content-addressed URL)."""
    key = render.media_key(token)
    if not key or not key.startswith(("pages/", "partners/")):
        abort(404)
    try:
        data = storage().get(key)
    except StorageError:
        abort(404)
    mimetype = MEDIA_TYPES.get(key.rsplit(".", 1)[-1].lower(), "application/octet-stream")
    response = current_app.response_class(data, mimetype=mimetype)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


def _serve(page_slug: str, partner_slug: str | None):
    try:
        page, partner = pages.public_page(page_slug, partner_slug)
    except NotFound:
        return render_template("pages/not_found.html"), 404
    if request.method == "POST":
        return _submit(page, partner)
    if request.args.get("submitted"):
        return _page(page, partner, thanks=True)
    response = _page(page, partner, hidden=_arrival(request.args))
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


def param_names() -> dict[str, str]:
    """The query parameters tracking links put on a page URL (vendor settings of the links
    service): ``cid`` and the UTM keys."""
    from syndication.links.service import settings

    s = settings()
    return {"cid": s.click_param, "source": s.utm_source, "medium": s.utm_medium,
            "campaign": s.utm_campaign, "content": s.utm_content, "term": "utm_term"}


def _arrival(args) -> dict[str, str]:
    """Where the visitor came from, as the form's hidden fields carry it to the POST."""
    names = param_names()
    hidden = {f"utm_{k}": v for k, v in lead_form.utm_from(args, names=names).items()}
    cid = lead_form.click_id(args.get(names["cid"]))
    if cid:
        hidden["cid"] = cid
    return hidden


def _posted_arrival(form) -> dict[str, str]:
    hidden = {f"utm_{k}": v for k, v in lead_form.utm_from(form).items()}
    if cid := lead_form.click_id(form.get("cid")):
        hidden["cid"] = cid
    return hidden


def _submit(page: LandingPage, partner: Partner | None):
    form = request.form
    cfg = current_app.config
    window = int(cfg.get("LEAD_FORM_WINDOW_SECONDS", 600))
    try:
        ratelimit.hit("lead-form-ip", request.remote_addr or "-",
                      limit=int(cfg.get("LEAD_FORM_IP_LIMIT", 20)), window=window)
        ratelimit.hit("lead-form-page", f"{page.id}:{partner.id if partner else '-'}",
                      limit=int(cfg.get("LEAD_FORM_PAGE_LIMIT", 600)), window=window)
    except TooManyRequests as exc:
        response = _page(page, partner, form=form, hidden=_posted_arrival(form),
                         notice=exc.message, status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if form.get(lead_form.HONEYPOT):
        return _thanks(page, partner)  # a bot: it sees success, nothing is stored
    try:
        lead_form.check_token(form.get("form_token", ""), page.public_id,
                              partner.public_id if partner else None)
    except lead_form.FormTokenInvalid as exc:
        return _page(page, partner, form=form, hidden=_posted_arrival(form),
                     notice=exc.message, status=400)
    brand = render.branding(partner)
    consent = render.consent_wording(page, brand)
    try:
        submission = lead_form.parse_submission(form, pages.form_config(page),
                                                consent_text=consent,
                                                consent_required=page.consent_required)
    except ValidationFailed as exc:
        return _page(page, partner, form=form, hidden=_posted_arrival(form), errors=exc,
                     status=422)
    first, last = leads.touches(submission.click_id,
                                request.cookies.get(leads.FIRST_TOUCH_COOKIE),
                                request.cookies.get(leads.LAST_TOUCH_COOKIE))
    leads.capture(page, partner, submission, consent_text=consent, first_click_id=first,
                  last_click_id=last, ip=request.remote_addr,
                  user_agent=request.user_agent.string)
    db.session.commit()
    return _thanks(page, partner)


def _thanks(page: LandingPage, partner: Partner | None):
    # Post/redirect/get: reloading the thank-you page never sends the form again.
    return redirect(f"{_path(page, partner)}?submitted=1", 303)


def _path(page: LandingPage, partner: Partner | None) -> str:
    if partner is None:
        return url_for("landing.generic_page", page_slug=page.slug)
    return url_for("landing.partner_page", partner_slug=partner.slug, page_slug=page.slug)


def _page(page: LandingPage, partner: Partner | None, *, form=None, hidden=None, errors=None,
          notice: str | None = None, thanks: bool = False, status: int = 200):
    response = current_app.make_response((render_page(
        page, partner, form=form, hidden=hidden, errors=errors, notice=notice,
        thanks=thanks), status))
    if status != 200 or thanks:
        response.headers["Cache-Control"] = "no-store"
    return response


def render_page(page: LandingPage, partner: Partner | None, *, form=None, hidden=None,
                errors=None, notice: str | None = None, thanks: bool = False,
                preview: bool = False) -> str:
    """The page's HTML; the vendor's "preview as partner" uses it too (drafts included)."""
    brand = render.branding(partner)
    canonical = pages.public_url(page, partner)
    og_image = render.media_url(page.hero_key) if page.hero_key else brand.logo_url
    consent = render.consent_wording(page, brand)
    return render_template(
        "pages/public.html", page=page, partner=partner, brand=brand,
        body=render.rich_text(page.body), description=render.plain(page.summary or
                                                                   page.headline),
        fields=pages.form_config(page), form=form or {}, hidden=hidden or {}, errors=errors,
        notice=notice, thanks=thanks, preview=preview, canonical=canonical,
        og_image=og_image, hero_url=render.media_url(page.hero_key) if page.hero_key else None,
        consent_html=render.inline(consent) if consent else None,
        thank_you=render.rich_text(page.thank_you),
        token=lead_form.form_token(page.public_id, partner.public_id if partner else None),
        action=_path(page, partner), honeypot=lead_form.HONEYPOT, countries=COUNTRIES,
    )
