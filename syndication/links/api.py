"""API routes for tracking links: make one, list them, read their click counts."""

from __future__ import annotations

from flask import g, request
from sqlalchemy import select

from syndication.links import reports, service
from syndication.links.api_schemas import (
    ClickTotals,
    DayOut,
    LinkIn,
    LinkOut,
    LinkPatch,
    LinkStats,
)
from syndication.links.models import TrackingLink
from tcma.api import endpoint
from tcma.api.responses import int_arg, json_body
from tcma.errors import FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.partners.models import Partner


def _link(code: str) -> TrackingLink:
    link = db.session.execute(select(TrackingLink).where(TrackingLink.code == code)
                              ).scalar_one_or_none()
    if link is None:
        raise NotFound("No such link.")
    return link


def _out(link: TrackingLink) -> LinkOut:
    partner = db.session.get(Partner, link.partner_id)
    return LinkOut.of(link, partner.public_id, service.short_url(link),
                      reports.totals([link.id])[link.id])


@endpoint("/links", "POST", summary="Make (or find) a partner's tracking link", tag="links",
          permission="links.create", body=LinkIn, response=LinkOut, status=201,
          also_status=(200,))
def create_tracking_link(body: LinkIn):
    """The same inputs give the same link: 201 when it was made now, 200 when it existed."""
    if g.user.is_vendor:
        partner = db.session.execute(select(Partner).where(
            Partner.public_id == (body.partner_id or ""))).scalar_one_or_none()
        if partner is None:
            raise ValidationFailed([FieldError("partner_id", "Name an existing partner.")])
    else:
        if body.partner_id not in (None, g.user.partner.public_id):
            raise ValidationFailed([FieldError("partner_id", "Leave out: links you make are "
                                                             "your own.")])
        partner = g.user.partner
    try:
        channel = service.Channel(body.channel)
    except ValueError:
        raise ValidationFailed([FieldError("channel", "Use one of: email, social, web, qr, "
                                                      "asset.")]) from None
    link, created = service.ensure_link(partner, body.destination, channel, service.LinkSource(
        campaign=body.campaign, content=body.content, type="api"), by=g.user)
    db.session.commit()
    return json_body(_out(link), 201 if created else 200)


@endpoint("/links", "GET", summary="Tracking links with their click counts", tag="links",
          permission="links.view", response=list[LinkOut],
          query={"partner_id": "Vendor tokens: one partner's links",
                 "channel": "email | social | web | qr | asset",
                 "q": "Text in the destination or campaign, or a code",
                 "page": "Page number (50 links a page)"})
def list_tracking_links():
    errors: list[FieldError] = []
    page = int_arg("page", 1, 1, None, errors)
    if errors:
        raise ValidationFailed(errors)
    listing = reports.list_links(
        partner_public_id=(request.args.get("partner_id") or None) if g.user.is_vendor else None,
        channel=request.args.get("channel") or None, search=request.args.get("q") or None,
        page=page)
    return json_body([LinkOut.of(link, partner.public_id, service.short_url(link), totals)
                      for link, partner, totals in listing.rows])


@endpoint("/links/<code>", "GET", summary="One tracking link", tag="links",
          permission="links.view", response=LinkOut)
def get_tracking_link(code: str):
    return json_body(_out(_link(code)))


@endpoint("/links/<code>", "PATCH", summary="Disable or enable a tracking link", tag="links",
          permission="links.create", body=LinkPatch, response=LinkOut)
def update_tracking_link(code: str, body: LinkPatch):
    link = _link(code)
    service.set_disabled(link, body.disabled)
    db.session.commit()
    return json_body(_out(link))


@endpoint("/links/<code>/stats", "GET", summary="A link's clicks per day", tag="links",
          permission="links.view", response=LinkStats,
          query={"days": "How many days back, today included (1-365, default 30)"})
def tracking_link_stats(code: str):
    errors: list[FieldError] = []
    days = int_arg("days", 30, 1, 365, errors)
    if errors:
        raise ValidationFailed(errors)
    link = _link(code)
    return json_body(LinkStats(code=link.code,
                               totals=ClickTotals.of(reports.totals([link.id])[link.id]),
                               days=[DayOut.of(d) for d in reports.daily(link.id, days)]))
