"""The screens: a marketer authors items; a partner builds a widget, previews it, copies the
snippet; partners never reach each other's widgets."""

from __future__ import annotations

import re

from sqlalchemy import select

from syndication.widget.impressions import record_impression
from syndication.widget.models import SyndicatedItem, Widget
from tcma.auth.models import Role
from tcma.extensions import db
from tests.factories import login, make_user, post_form
from tests.syndication.widget.conftest import branded_partner, live_item, widget_for


def test_a_marketer_creates_edits_and_retires_an_item(client, ctx):
    marketer = make_user(Role.MARKETER)
    login(client, marketer.email)
    assert client.get("/widgets/content/new").status_code == 200
    response = post_form(client, "/widgets/content/new", {
        "kind": "article", "title": "Ransomware checklist", "summary": "Ten steps",
        "body": "<p>Step one</p><script>alert(1)</script>", "category": "Security",
        "language": "en", "allowed_tiers": "gold, silver", "publish_at": "2026-01-01T09:00"})
    assert response.status_code == 302
    item = db.session.execute(select(SyndicatedItem)).scalar_one()
    assert item.body == "<p>Step one</p>" and item.category == "security"
    assert item.allowed_tiers == ["gold", "silver"]
    assert item.publish_at.isoformat() == "2026-01-01T09:00:00+00:00"  # the form says UTC

    edit = f"/widgets/content/{item.public_id}"
    invalid = post_form(client, edit, {"kind": "video", "title": "Now a video"})
    assert invalid.status_code == 422 and "video" in invalid.get_data(as_text=True).lower()
    assert post_form(client, edit, {"kind": "article", "title": "Checklist v2",
                                    "body": "<p>Two</p>", "language": "en",
                                    "publish_at": "2026-01-01T09:00"}).status_code == 302
    listing = client.get("/widgets/content").get_data(as_text=True)
    assert "Checklist v2" in listing and "live" in listing
    assert post_form(client, f"{edit}/retire").status_code == 302
    db.session.expire_all()
    assert db.session.get(SyndicatedItem, item.id).retired_at is not None
    assert "retired: it is gone" in client.get("/widgets/content").get_data(as_text=True)
    assert "Checklist v2" not in client.get("/widgets/content").get_data(as_text=True)


def test_a_partner_builds_a_widget_from_their_brand_and_copies_its_snippet(client, ctx):
    partner = branded_partner(color="#aa3300")
    user = make_user(Role.PARTNER_USER, partner=partner)
    live_item("Zero trust explained")
    login(client, user.email)
    form = client.get("/widgets/new").get_data(as_text=True)
    assert 'value="#aa3300"' in form  # the brand profile's colour is the default
    response = post_form(client, "/widgets/new", {
        "name": "Blog <b>sidebar</b>", "layout": "list", "item_count": "3",
        "color": "#aa3300", "accent": "#223344", "font": "serif", "language": "en",
        "domains": "https://www.northwind.example/blog\nshop.northwind.example:8443",
        "categories": ""})
    assert response.status_code == 302
    widget = db.session.execute(select(Widget)).scalar_one()
    assert widget.domains == ["shop.northwind.example:8443", "www.northwind.example"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Blog &lt;b&gt;sidebar&lt;/b&gt;" in page
    snippet = re.search(r'<textarea id="snippet"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert (f'&lt;script async src=&#34;http://localhost/embed/v1.js&#34; '
            f'data-tcma-widget=&#34;{widget.token}&#34;&gt;&lt;/script&gt;') in snippet
    assert f"http://localhost/embed/w/{widget.token}/items" in snippet
    preview_src = re.search(r'id="widget-preview"[^>]*src="([^"]+)"', page).group(1)
    preview = client.get(preview_src.replace("&amp;", "&"))
    assert preview.status_code == 200 and "Zero trust explained" in preview.get_data(
        as_text=True)
    assert "--c: #aa3300" in preview.get_data(as_text=True)
    assert "layout-list" in preview.get_data(as_text=True)
    # The preview follows unsaved changes.
    changed = client.get("/widgets/preview?layout=banner&color=%23112233").get_data(
        as_text=True)
    assert "layout-banner" in changed and "--c: #112233" in changed

    [item] = db.session.execute(select(SyndicatedItem)).scalars()
    record_impression(widget, [item.public_id], ip="198.51.100.7",
                      user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0")
    db.session.commit()
    stats_page = client.get(f"/widgets/{widget.public_id}").get_data(as_text=True)
    assert '<strong id="impressions">1</strong>' in stats_page
    assert re.search(r"Zero trust explained</td><td[^>]*>1</td>", stats_page)

    bad = post_form(client, f"/widgets/{widget.public_id}", {
        "name": "x", "layout": "grid", "item_count": "99", "font": "Comic Sans",
        "domains": "not a domain!", "color": "red"})
    assert bad.status_code == 422
    assert post_form(client, f"/widgets/{widget.public_id}/delete").status_code == 302
    assert db.session.execute(select(Widget)).scalar_one_or_none() is None


def test_partners_never_reach_each_others_widgets_and_vendors_cannot_build(app, ctx):
    alpha = branded_partner("Alpha")
    bravo = branded_partner("Bravo")
    bravo_widget = widget_for(bravo, name="Bravo secret widget")
    alpha_user = make_user(Role.PARTNER_ADMIN, partner=alpha)
    client = app.test_client()
    login(client, alpha_user.email)
    assert client.get(f"/widgets/{bravo_widget.public_id}").status_code == 404
    assert post_form(client, f"/widgets/{bravo_widget.public_id}/delete").status_code == 404
    assert "Bravo secret widget" not in client.get("/widgets").get_data(as_text=True)
    assert client.get("/widgets/content").status_code == 404  # vendor screen

    vendor = app.test_client()
    login(vendor, make_user(Role.MARKETER).email)
    assert vendor.get("/widgets").status_code == 403
