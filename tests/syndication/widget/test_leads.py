"""The widget's inline lead form: the landing pages' lead capture, for the widget's partner."""

from __future__ import annotations

import re

from syndication.leads import inbox
from syndication.widget import leads as widget_leads
from tcma.extensions import db
from tests.syndication.widget.conftest import branded_partner, live_item, widget_for

SITE = "https://partner.example"
OURS = {"Origin": "http://localhost"}


def _offer(ctx_partner=None, *, consent: str = "I agree that {partner} may contact me."):
    from syndication.pages import service as pages

    partner = ctx_partner or branded_partner()
    page = pages.create_page({"slug": "talk-to-us", "title": "Talk to us", "headline": "Hi",
                              "consent_text": consent, "consent_required": True,
                              "form_fields": pages.default_form_fields()}, by=None)
    pages.set_status(page, "published", by=None)
    db.session.commit()
    item = live_item("Book a call", kind="cta", landing_page_id=page.public_id)
    widget = widget_for(partner)
    return partner, widget, item, page


def _send(client, widget, item, *, headers=OURS, parent=SITE, **fields):
    data = {"item": item.public_id, "parent": parent, "first_name": "Ada",
            "last_name": "Lovelace", "email": "ada@example.com", "company": "Engines",
            "consent": "yes", **fields}
    return client.post(f"/embed/w/{widget.token}/lead", data=data, headers=headers)


def _leads_of(partner):
    return inbox.list_leads(inbox.LeadFilter(partner=partner.public_id))[0]


def test_the_frame_offers_the_landing_pages_form_on_a_call_to_action(client, ctx):
    partner, widget, item, page = _offer()
    html = client.get(f"/embed/w/{widget.token}?parent={SITE}").get_data(as_text=True)
    form = re.search(r'<form class="tcma-form" data-lead="([\w-]+)" method="post" '
                     r'action="([^"]+)">(.*?)</form>', html, re.S)
    assert form.group(1) == item.public_id
    assert form.group(2) == f"/embed/w/{widget.token}/lead"
    for name in ("first_name", "last_name", "email", "company", "consent", "website_url"):
        assert f'name="{name}"' in form.group(3)
    assert "I agree that Northwind Traders IT may contact me." in form.group(3)


def test_a_lead_from_the_widget_is_the_partners_attributed_to_widget_and_item(client, ctx):
    partner, widget, item, page = _offer()
    other = branded_partner("Contoso", color="#aa0000")
    response = _send(client, widget, item)
    assert response.status_code == 201 and response.get_json() == {"status": "received"}

    (lead,) = _leads_of(partner)
    assert lead.email == "ada@example.com" and lead.page_id == page.id
    assert lead.source == f"widget:{widget.public_id}:{item.public_id}"
    assert lead.utm["medium"] == "web" and lead.utm["source"] == partner.slug
    assert lead.consent_given and lead.consent_text == (
        "I agree that Northwind Traders IT may contact me.")
    assert _leads_of(other) == []

    # The same person again: the landing pages' dedup updates the lead.
    assert _send(client, widget, item, company="Analytical Engines").status_code == 201
    (again,) = _leads_of(partner)
    assert again.id == lead.id and again.submissions == 2


def test_invalid_input_names_each_field(client, ctx):
    partner, widget, item, _ = _offer()
    response = _send(client, widget, item, email="not-an-email", first_name="", consent="")
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert set(errors) == {"email", "first_name", "consent"}
    assert "valid email" in errors["email"]
    assert _leads_of(partner) == []


def test_only_our_frame_on_a_registered_site_may_send_and_only_for_its_offers(client, ctx):
    partner, widget, item, _ = _offer()
    assert _send(client, widget, item, headers={"Origin": "https://evil.example"}
                 ).status_code == 403
    assert _send(client, widget, item, headers={}).status_code == 403
    assert _send(client, widget, item, parent="https://evil.example").status_code == 403
    article = live_item("Just an article")
    assert _send(client, widget, article).status_code == 404
    assert client.post("/embed/w/AAAAAAAAAAAAAAAAAAAAAA/lead", data={},
                       headers=OURS).status_code == 404
    assert _leads_of(partner) == []


def test_a_bot_filling_the_honeypot_is_thanked_and_nothing_is_stored(client, ctx):
    partner, widget, item, _ = _offer()
    assert _send(client, widget, item, website_url="http://spam.example").status_code == 201
    assert _leads_of(partner) == []


def test_the_form_is_rate_limited_like_landing_pages(app, client, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "LEAD_FORM_IP_LIMIT", 2)
    partner, widget, item, _ = _offer()
    assert _send(client, widget, item).status_code == 201
    assert _send(client, widget, item, email="b@example.com").status_code == 201
    limited = _send(client, widget, item, email="c@example.com")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert len(_leads_of(partner)) == 2


def test_the_source_of_a_widgets_leads(ctx):
    partner, widget, item, _ = _offer()
    assert widget_leads.source_of(widget) == f"widget:{widget.public_id}:"
    assert widget_leads.source_of(widget, item).startswith(widget_leads.source_of(widget))
