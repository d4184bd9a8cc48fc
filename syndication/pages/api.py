"""API routes for landing pages: the vendor authors and publishes them; partners list the
pages live at their addresses."""

from __future__ import annotations

from flask import g, request

from syndication.leads.inbox import lead_counts_by_page
from syndication.pages import service as pages
from syndication.pages.api_schemas import PageOut, PagePatch, PageStatusChange
from syndication.pages.models import LandingPage, PageStatus
from syndication.pages.service import PageFields
from tcma.api import endpoint
from tcma.api.responses import json_body
from tcma.errors import FieldError, NotFound, ValidationFailed
from tcma.extensions import db


def _out(page: LandingPage, counts: dict[int, int] | None = None) -> PageOut:
    counts = lead_counts_by_page() if counts is None else counts
    partner = None if g.user.is_vendor else g.user.partner
    return PageOut.of(page, partner=partner, leads=counts.get(page.id, 0))


def _page(page_id: str) -> LandingPage:
    """A page the caller may see: any for vendor staff, a partner's live pages for them."""
    page = pages.get_page(page_id)
    if not g.user.is_vendor and not pages.visible_to(g.user.partner, page):
        raise NotFound("No such landing page.")
    return page


@endpoint("/landing-pages", "GET", summary="Landing pages (for a partner: the pages live at "
          "your addresses)", tag="landing pages", permission="pages.view",
          response=list[PageOut], query={"q": "Search in titles and addresses (vendor)",
                                         "status": "draft | published | retired (vendor)"})
def list_landing_pages():
    if not g.user.is_vendor:
        found = pages.pages_for_partner(g.user.partner)
    else:
        status = request.args.get("status") or None
        if status and status not in {s.value for s in PageStatus}:
            raise ValidationFailed([FieldError("status", "Use draft, published or retired.")])
        found = pages.list_pages(search=request.args.get("q") or None,
                                 status=PageStatus(status) if status else None)
    counts = lead_counts_by_page()
    return json_body([_out(p, counts) for p in found])


@endpoint("/landing-pages", "POST", summary="Create a draft landing page", tag="landing pages",
          permission="pages.manage", body=PageFields, response=PageOut, status=201)
def create_landing_page(body: PageFields):
    """Upload its hero image with ``PUT /landing-pages/{page_id}/hero``."""
    page = pages.create_page(body.model_dump(), by=g.user)
    db.session.commit()
    return json_body(_out(page), 201)


@endpoint("/landing-pages/<page_id>", "GET", summary="One landing page", tag="landing pages",
          permission="pages.view", response=PageOut)
def get_landing_page(page_id: str):
    return json_body(_out(_page(page_id)))


@endpoint("/landing-pages/<page_id>", "PATCH", summary="Change a landing page",
          tag="landing pages", permission="pages.manage", body=PagePatch, response=PageOut)
def update_landing_page(page_id: str, body: PagePatch):
    """Only the fields sent change. The address (slug) and kind are fixed once published;
    changing ``consent_text`` starts a new consent version."""
    page = pages.get_page(page_id)
    current = {name: getattr(page, name) for name in pages.PAGE_FIELDS}
    pages.update_page(page, {**current, **body.model_dump(exclude_unset=True, mode="json")},
                      by=g.user)
    db.session.commit()
    return json_body(_out(page))


@endpoint("/landing-pages/<page_id>/status", "POST", summary="Publish or retire a landing page",
          tag="landing pages", permission="pages.manage", body=PageStatusChange,
          response=PageOut)
def change_landing_page_status(page_id: str, body: PageStatusChange):
    page = pages.get_page(page_id)
    pages.set_status(page, body.status, by=g.user)
    db.session.commit()
    return json_body(_out(page))


@endpoint("/landing-pages/<page_id>/hero", "PUT", summary="Upload a landing page's hero image",
          tag="landing pages", permission="pages.manage", response=PageOut,
          multipart={"hero": "PNG, JPEG or WebP, at least 400 px wide"})
def put_landing_page_hero(page_id: str):
    """The image is re-encoded for the web (at most 1600 px wide) and also becomes the
    picture shown when the page is shared."""
    page = pages.get_page(page_id)
    upload = request.files.get("hero")
    pages.set_hero(page, upload.read() if upload else b"", upload.filename if upload else "",
                   by=g.user)
    db.session.commit()
    return json_body(_out(page))


@endpoint("/landing-pages/<page_id>/hero", "DELETE", summary="Remove a landing page's hero "
          "image", tag="landing pages", permission="pages.manage", response=PageOut)
def delete_landing_page_hero(page_id: str):
    page = pages.get_page(page_id)
    pages.remove_hero(page, by=g.user)
    db.session.commit()
    return json_body(_out(page))
