"""Leads sent from a widget's inline form: the landing pages' lead capture, attributed to
the partner, the widget and the call-to-action item the visitor answered."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import current_app

from syndication.leads.models import Lead
from syndication.pages.models import LandingPage, PageStatus
from syndication.widget import content
from syndication.widget.models import ItemKind, SyndicatedItem, Widget
from tcma import ratelimit
from tcma.errors import NotFound
from tcma.extensions import db
from tcma.partners.models import Partner, PartnerStatus

#: ``Lead.source`` of a widget's lead: ``widget:<widget public id>:<item public id>``.
SOURCE_PREFIX = "widget:"


@dataclass(frozen=True)
class LeadForm:
    """What a call-to-action card's inline form asks, as the landing page's form does."""

    item_id: str
    fields: list[dict]
    consent_text: str
    consent_required: bool
    button: str

    @property
    def consent_html(self):
        """The consent wording with its bold and links, as the landing page shows it."""
        from syndication.pages.render import inline

        return inline(self.consent_text) if self.consent_text else None


def source_of(widget: Widget, item: SyndicatedItem | None = None) -> str:
    """The ``Lead.source`` of a widget's leads (without ``item``: the prefix of them all)."""
    return f"{SOURCE_PREFIX}{widget.public_id}:{item.public_id if item else ''}"


def page_of(partner: Partner, item: SyndicatedItem) -> LandingPage | None:
    """The published landing page behind a call to action, when the partner may use it."""
    from syndication.pages import service as pages

    if item.kind is not ItemKind.CTA:
        return None
    try:
        page = pages.get_page(item.landing_page_id or "")
    except NotFound:
        return None
    if page.status is not PageStatus.PUBLISHED or not pages.visible_to(partner, page):
        return None
    return page


def lead_form(partner: Partner, item: SyndicatedItem) -> LeadForm | None:
    """The inline form a call-to-action card offers, or None when it has no usable page."""
    from syndication.pages import service as pages
    from syndication.pages.render import branding, consent_wording

    page = page_of(partner, item)
    if page is None:
        return None
    return LeadForm(item.public_id, pages.form_config(page),
                    consent_wording(page, branding(partner)), page.consent_required,
                    page.cta_label)


def _cta_item(widget: Widget, partner: Partner, item_id: str) -> SyndicatedItem:
    item = next((i for i in content.live_items(partner, categories=widget.categories,
                                               language=widget.language)
                 if i.public_id == item_id and i.kind is ItemKind.CTA), None)
    if item is None:
        raise NotFound("This offer has ended.")
    return item


def capture_widget_lead(widget: Widget, form: Mapping[str, str], *, ip: str | None,
                        user_agent: str | None) -> Lead | None:
    """Store what a visitor sent from the widget's inline form as the partner's lead.

    The item's landing page decides the fields, consent wording and dedup exactly as its
    own form would; the lead's UTM values are the widget's tracking links' (medium ``web``)
    and its source names the widget and item. Rate-limited like landing-page forms
    (TooManyRequests); NotFound for an item the widget does not offer; ValidationFailed
    naming each wrong field. None for a bot (the honeypot filled): nothing is stored.
    Flushes; the caller commits.
    """
    from syndication.leads import form as lead_forms
    from syndication.leads import service as leads
    from syndication.links.service import kit_slug
    from syndication.pages import service as pages
    from syndication.pages.render import branding, consent_wording

    partner = db.session.get(Partner, widget.partner_id)
    if partner is None or partner.status is not PartnerStatus.ACTIVE:
        raise NotFound("This offer has ended.")
    item = _cta_item(widget, partner, str(form.get("item", "")))
    page = page_of(partner, item)
    if page is None:
        raise NotFound("This offer has ended.")
    cfg = current_app.config
    window = int(cfg.get("LEAD_FORM_WINDOW_SECONDS", 600))
    ratelimit.hit("lead-form-ip", ip or "-", limit=int(cfg.get("LEAD_FORM_IP_LIMIT", 20)),
                  window=window)
    ratelimit.hit("lead-form-page", f"{page.id}:{partner.id}",
                  limit=int(cfg.get("LEAD_FORM_PAGE_LIMIT", 600)), window=window)
    if form.get(lead_forms.HONEYPOT):
        return None
    consent = consent_wording(page, branding(partner))
    submission = lead_forms.parse_submission(form, pages.form_config(page), consent_text=consent,
                                             consent_required=page.consent_required)
    submission.utm = {"source": partner.slug, "medium": "web",
                      "campaign": kit_slug(widget.name), "content": kit_slug(item.title)}
    lead, _ = leads.capture(page, partner, submission, consent_text=consent,
                            first_click_id=None, last_click_id=None, ip=ip,
                            user_agent=user_agent, source=source_of(widget, item))
    return lead
