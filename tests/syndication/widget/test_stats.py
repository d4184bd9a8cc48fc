"""Per-widget clicks and leads beside impressions, and the vendor's adoption view."""

from __future__ import annotations

import re

from syndication.links import clicks
from syndication.links.service import new_click_id
from syndication.widget import stats
from tcma.auth.models import Role
from tcma.extensions import db
from tests.factories import login, make_token, make_user
from tests.syndication.widget.conftest import branded_partner, widget_for
from tests.syndication.widget.test_leads import SITE, _offer, _send

BROWSER = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/131.0.0.0 Safari/537.36")


def _click(code: str, ip: str = "198.51.100.7") -> None:
    clicks.record(new_click_id(code), code, ip=ip, user_agent=BROWSER, referrer="",
                  prefetch=False, delivery_ref=None)


def _seen(client, widget, items):
    assert client.post(f"/embed/w/{widget.token}/seen", json={"items": items},
                       headers={"User-Agent": BROWSER, "Origin": SITE}).status_code == 204


def test_a_widget_counts_impressions_clicks_and_leads_per_item(client, ctx):
    partner, widget, item, _ = _offer()
    html = client.get(f"/embed/w/{widget.token}?parent={SITE}").get_data(as_text=True)
    (code,) = re.findall(r'href="http://localhost/r/([A-Za-z0-9_-]+)"', html)
    _seen(client, widget, [item.public_id])
    _click(code)
    _click(code, ip="198.51.100.8")
    clicks.drain()
    assert _send(client, widget, item).status_code == 201
    other_partner = branded_partner("Contoso", color="#aa0000")
    other = widget_for(other_partner, name="Other")

    counted = stats.widget_stats(widget)
    assert (counted.impressions, counted.clicks, counted.unique_clicks, counted.leads) == (
        1, 2, 2, 1)
    (row,) = counted.by_item
    assert (row.item_id, row.impressions, row.clicks, row.leads) == (item.public_id, 1, 2, 1)
    nothing = stats.widget_stats(other)
    assert (nothing.impressions, nothing.clicks, nothing.leads, nothing.by_item) == (
        0, 0, 0, [])

    user = make_user(Role.PARTNER_ADMIN, partner=partner)
    db.session.commit()
    bearer = {"Authorization": f"Bearer {make_token(user)}"}
    api = client.get(f"/api/v1/widgets/{widget.public_id}/stats", headers=bearer).get_json()
    assert (api["impressions"], api["clicks"], api["leads"]) == (1, 2, 1)
    assert api["items"] == [{"item_id": item.public_id, "title": item.title,
                             "impressions": 1, "clicks": 2, "leads": 1}]
    listed = client.get(f"/api/v1/widgets/{widget.public_id}", headers=bearer).get_json()
    assert (listed["clicks_30_days"], listed["leads_30_days"]) == (2, 1)
    assert client.get(f"/api/v1/widgets/{other.public_id}/stats",
                      headers=bearer).status_code == 404
    login(client, user.email)
    page = client.get(f"/widgets/{widget.public_id}").get_data(as_text=True)
    assert re.search(r'id="clicks">2<', page) and re.search(r'id="leads">1<', page)
    assert re.search(r'<td data-label="Clicks" class="num">2</td>', page)


def test_the_vendor_sees_which_partners_have_a_live_widget_and_where(app, client, ctx):
    live = branded_partner()
    idle = branded_partner("Contoso", color="#aa0000")
    shown = widget_for(live)
    widget_for(live, name="Footer")
    widget_for(idle)
    _seen(client, shown, [])

    report = stats.adoption()
    assert (report.partners_with_widgets, report.partners_live) == (2, 1)
    first, second = report.rows
    assert (first.partner_id, first.widgets, first.live_widgets, first.last_domain) == (
        live.public_id, 2, 1, "partner.example")
    assert (second.partner_id, second.live_widgets, second.last_seen) == (
        idle.public_id, 0, None)

    marketer = make_user(Role.MARKETER)
    db.session.commit()
    api = client.get("/api/v1/widget/adoption",
                     headers={"Authorization": f"Bearer {make_token(marketer)}"}).get_json()
    assert (api["partners_with_widgets"], api["partners_live"]) == (2, 1)
    assert api["partners"][0]["last_domain"] == "partner.example"
    login(client, marketer.email)
    page = client.get("/widgets/adoption").get_data(as_text=True)
    assert 'id="partners-live">1<' in page and "partner.example" in page
    partner_user = make_user(Role.PARTNER_ADMIN, partner=live)
    db.session.commit()
    as_partner = app.test_client()
    login(as_partner, partner_user.email)
    refused = as_partner.get("/widgets/adoption")
    assert refused.status_code in (403, 404) and "partner.example" not in refused.get_data(
        as_text=True)
