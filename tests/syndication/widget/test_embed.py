"""The public embed: what a partner's site frames, who may frame it, and its caching."""

from __future__ import annotations

import re
from datetime import timedelta

from syndication.links.service import resolve
from syndication.widget import content
from syndication.widget import service as widgets
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners import service as partners
from tcma.partners.models import Partner, PartnerStatus
from tests.syndication.widget.conftest import AUDIENCE, branded_partner, live_item, widget_for

SITE = "https://partner.example"


def _frame(client, widget, parent=SITE, **headers):
    query = f"?parent={parent}" if parent else ""
    return client.get(f"/embed/w/{widget.token}{query}", headers=headers)


def test_the_frame_shows_live_items_in_the_partners_colours_with_tracking_links(
        client, embed):
    partner, widget, item = embed
    response = _frame(client, widget)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert item.title in html and item.summary in html
    assert "--c: #0a7a3f" in html  # the brand profile's colour, taken when the widget was made
    assert response.headers["Content-Security-Policy"] == (
        "frame-ancestors https://partner.example http://partner.example")
    assert "X-Frame-Options" not in response.headers
    assert "Set-Cookie" not in response.headers  # nothing for the third-party context
    codes = re.findall(r'href="http://localhost/r/([A-Za-z0-9_-]+)"', html)
    assert len(codes) == 1
    target = resolve(codes[0])
    location = target.location(None)
    assert location.startswith(f"http://localhost/embed/w/{widget.token}/items/"
                               f"{item.public_id}?")
    assert "utm_medium=web" in location and f"utm_source={partner.slug}" in location
    assert target.partner_id == partner.id


def test_etag_gives_304_and_changes_with_content_brand_and_expiry(client, embed):
    partner, widget, item = embed
    first = _frame(client, widget)
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, max-age=60"
    again = _frame(client, widget, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag

    content.update_item(item, {"title": "Backup in four minutes"}, by=None, **AUDIENCE)
    db.session.commit()
    changed = _frame(client, widget, **{"If-None-Match": etag})
    assert changed.status_code == 200 and "Backup in four minutes" in changed.get_data(
        as_text=True)

    etag = changed.headers["ETag"]
    partners.update_brand_profile(partner, {"display_name": "Northwind Renamed"}, by=None)
    db.session.commit()
    rebranded = _frame(client, widget, **{"If-None-Match": etag})
    assert rebranded.status_code == 200

    etag = rebranded.headers["ETag"]
    item.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    expired = _frame(client, widget, **{"If-None-Match": etag})
    assert expired.status_code == 200
    assert "Backup in four minutes" not in expired.get_data(as_text=True)


def test_unregistered_sites_get_nothing(client, embed):
    _, widget, item = embed
    for response in (_frame(client, widget, parent="https://evil.example"),
                     _frame(client, widget, parent=None),
                     # the parameter names a registered site, the request came from another
                     _frame(client, widget, Referer="https://evil.example/page")):
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert item.title not in html and "/r/" not in html
        assert "frame-ancestors https://partner.example" in response.headers[
            "Content-Security-Policy"]
    no_domains = widget_for(db.session.get(Partner, widget.partner_id), name="Nowhere",
                            domains=[])
    response = _frame(client, no_domains)
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert item.title not in response.get_data(as_text=True)


def test_unknown_and_guessed_tokens_are_404(client, embed):
    _, widget, _ = embed
    assert len(widget.token) >= 22  # 128 random bits
    assert client.get("/embed/w/" + "A" * 22 + f"?parent={SITE}").status_code == 404
    assert client.get("/embed/w/x").status_code == 404
    assert client.get(f"/embed/w/{widget.public_id}").status_code == 404  # the portal id
    assert client.post("/embed/w/" + "A" * 22 + "/seen").status_code == 404


def test_a_suspended_partners_widget_is_blank_but_for_the_vendor_link(client, embed):
    partner, widget, item = embed
    partners.change_status(partner, PartnerStatus.SUSPENDED, by=None)
    db.session.commit()
    html = _frame(client, widget).get_data(as_text=True)
    assert item.title not in html and "/r/" not in html
    assert re.search(r'<a href="http://localhost"[^>]*>[^<]+</a>', html)
    assert client.get(f"/embed/w/{widget.token}/items/{item.public_id}").status_code == 404


def test_script_in_content_or_partner_fields_never_reaches_the_page_unescaped(client, ctx):
    partner = branded_partner('Evil <script>alert("p")</script> Ltd')
    item = live_item('<script>alert("t")</script>Title',
                     summary='<img src=x onerror=alert("s")>',
                     body='<p>Fine</p><script>alert("b")</script><a href="javascript:x()">y</a>')
    widget = widget_for(partner, name='<script>alert("w")</script>')
    pages = [_frame(client, widget).get_data(as_text=True),
             client.get(f"/embed/w/{widget.token}/items/{item.public_id}").get_data(
                 as_text=True),
             client.get(f"/embed/w/{widget.token}/items").get_data(as_text=True),
             widgets.snippet(widget, partner)]
    for html in pages:
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "javascript:" not in html
    assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;Title" in pages[0]
    assert "<p>Fine</p>" in pages[1] and "Evil &lt;script&gt;" in pages[1]


def test_the_reader_page_shows_one_article_in_the_partners_branding(client, embed):
    partner, widget, item = embed
    content.update_item(item, {"body": '<p>Backup body, see <a href="https://vendor.example/'
                                       'guide?x=1">the guide</a>.</p>'}, by=None, **AUDIENCE)
    db.session.commit()
    response = client.get(f"/embed/w/{widget.token}/items/{item.public_id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Northwind Traders IT" in html and "<p>Backup body, see <a href=" in html
    assert "--c: #0a7a3f" in html
    # The article's own links are the partner's tracking links too.
    [code] = re.findall(r'<a href="http://localhost/r/([A-Za-z0-9_-]+)"[^>]*>the guide</a>',
                        html)
    location = resolve(code).location(None)
    assert location.startswith("https://vendor.example/guide?x=1&")
    assert "utm_medium=web" in location and f"utm_source={partner.slug}" in location
    other = live_item("German", language="de")
    assert client.get(f"/embed/w/{widget.token}/items/{other.public_id}").status_code == 404
    fallback = client.get(f"/embed/w/{widget.token}/items").get_data(as_text=True)
    assert item.title in fallback and "http://localhost/r/" in fallback


def test_the_loader_is_small_and_defines_one_namespaced_object(client):
    import gzip

    response = client.get("/embed/v1.js")
    source = response.get_data()
    assert response.status_code == 200 and response.mimetype in ("text/javascript",
                                                                  "application/javascript")
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Set-Cookie" not in response.headers
    assert len(gzip.compress(source, 9)) < 10 * 1024
    assigned = set(re.findall(rb"window\.([A-Za-z_$][\w$]*)\s*=", source))
    assert assigned == {b"TCMA"}


def test_the_snippet_loads_the_versioned_long_cached_loader(client, embed):
    partner, widget, _ = embed
    snippet = widgets.snippet(widget, partner)
    src = re.search(r'<script async src="([^"]+)"', snippet).group(1)
    assert src == "http://localhost/embed/v1.js"
    response = client.get(src.removeprefix("http://localhost"))
    assert response.status_code == 200 and b"window.TCMA" in response.get_data()
    assert "immutable" in response.headers["Cache-Control"]
    revalidated = client.get("/embed/v1.js", headers={"If-None-Match": response.headers["ETag"]})
    assert revalidated.status_code == 304


def test_videos_assets_and_calls_to_action_open_through_the_partners_links(client, ctx):
    import io

    from PIL import Image

    from assets import library
    from assets.models import AssetStatus
    from syndication.pages import service as pages

    partner = branded_partner()
    image = io.BytesIO()
    Image.new("RGB", (300, 200), "white").save(image, "PNG")
    asset = library.create_asset({"title": "Datasheet"}, image.getvalue(), "sheet.png", by=None,
                                 tiers=AUDIENCE["tiers"], regions=AUDIENCE["regions"])
    asset.status = AssetStatus.PUBLISHED
    page = pages.create_page({"slug": "talk-to-us", "title": "Talk to us", "headline": "Hi"},
                             by=None)
    pages.set_status(page, "published", by=None)
    db.session.commit()
    live_item("Demo video", kind="video", video_url="https://video.example/watch?v=1")
    live_item("The datasheet", kind="asset", asset_id=asset.public_id)
    live_item("Book a call", kind="cta", landing_page_id=page.public_id)
    widget = widget_for(partner)

    html = _frame(client, widget).get_data(as_text=True)
    found = dict(re.findall(r'href="http://localhost/r/([A-Za-z0-9_-]+)"[^>]*'
                            r'aria-label="(\w[\w ]*): ', html))
    destinations = {label: resolve(code).location(None) for code, label in found.items()}
    assert destinations["Watch"].startswith("https://video.example/watch?v=1&")
    assert destinations["Download"].startswith("http://localhost/a/")
    assert destinations["Learn more"].startswith(f"http://localhost/p/{partner.slug}/talk-to-us?")
    assert all("utm_medium=web" in url for url in destinations.values())

    widgets.update_widget(widget, {"layout": "banner"}, by=None)
    db.session.commit()
    banner = _frame(client, widget).get_data(as_text=True)
    assert banner.count('class="tcma-card"') == 1 and "layout-banner" in banner
