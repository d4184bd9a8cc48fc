"""Landing pages: what visitors and share previews see, what is not online, and the vendor's
editor, preview and publishing, through the real pages, API and storage."""

from __future__ import annotations

import html
import io
import re

import pytest
from PIL import Image

from syndication.pages import service as pages
from syndication.pages.models import LandingPage, PageStatus
from tcma.auth.models import Role
from tcma.errors import Conflict, ValidationFailed
from tcma.extensions import db
from tcma.partners import service as partners
from tcma.partners.models import PartnerStatus
from tests.factories import csrf_from, login, make_partner, make_token, make_user

PAGE = {
    "slug": "backup-trial", "kind": "partner", "title": "Cloud Backup trial",
    "headline": "Back up everything", "summary": "Try Acme Cloud Backup free for 30 days.",
    "body": "First paragraph.\n\nSecond paragraph.", "bullets": ["Immutable", "Encrypted"],
    "cta_label": "Start my trial",
    "form_fields": {"first_name": {"enabled": True, "required": True},
                    "company": {"enabled": True}, "country": {"enabled": True},
                    "message": {"enabled": True}, "phone": {"enabled": True}},
    "consent_text": "I agree that {partner} may contact me.", "consent_required": True,
    "thank_you": "Thanks, we will call you.",
}


def image_bytes(size=(800, 420), color=(10, 90, 200), fmt="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


def published_page(**overrides) -> LandingPage:
    """A published page (needs an app context); ``hero=True`` uploads a hero image."""
    hero = overrides.pop("hero", False)
    page = pages.create_page({**PAGE, **overrides}, by=None)
    if hero:
        pages.set_hero(page, image_bytes(), "hero.png", by=None)
    pages.set_status(page, PageStatus.PUBLISHED, by=None)
    db.session.commit()
    return page


def branded_partner(name: str = "Northwind IT", **brand):
    partner = make_partner(name)
    partners.update_brand_profile(partner, {
        "display_name": f"{name} Solutions", "phone": "+44 20 7946 0000",
        "email": "hello@northwind.example", "primary_color": "#0a7c5a",
        "website": "https://northwind.example", "city": "London", **brand},
        by=None, logo=(image_bytes((300, 120), (200, 30, 30)), "logo.png"))
    db.session.commit()
    return partner


def meta(page_html: str, prop: str) -> str:
    match = re.search(rf'<meta (?:property|name)="{re.escape(prop)}" content="([^"]*)"',
                      page_html)
    assert match, f"no {prop} meta tag"
    return html.unescape(match.group(1))


# --- what visitors see ---------------------------------------------------------------------------


def test_partner_page_is_co_branded_with_title_open_graph_and_canonical(client, ctx):
    partner = branded_partner()
    page = published_page(hero=True)
    response = client.get(f"/p/{partner.slug}/{page.slug}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    canonical = f"http://localhost/p/{partner.slug}/backup-trial"
    assert "<title>Cloud Backup trial · Northwind IT Solutions</title>" in body
    assert f'<link rel="canonical" href="{canonical}">' in body
    assert meta(body, "og:url") == canonical
    assert meta(body, "og:title") == "Cloud Backup trial"
    assert meta(body, "og:description") == "Try Acme Cloud Backup free for 30 days."
    og_image = meta(body, "og:image")
    assert og_image.startswith("http://localhost/p/-/media/")
    image = client.get(og_image.removeprefix("http://localhost"))
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    assert "immutable" in image.headers["Cache-Control"]
    # The partner's brand: colour, logo, contact block; the consent names the partner.
    assert "--brand: #0a7c5a" in body
    logo = re.search(r'<header><div class="wrap">\s*<img src="([^"]+)"', body).group(1)
    assert client.get(logo.removeprefix("http://localhost")).mimetype == "image/png"
    contact = body[body.index('data-testid="contact"'):]
    assert "+44 20 7946 0000" in contact and "hello@northwind.example" in contact
    assert "I agree that Northwind IT Solutions may contact me." in body
    assert "<p>First paragraph.</p>" in body and "<li>Encrypted</li>" in body
    assert 'name="form_token"' in body and 'name="website_url"' in body
    assert response.headers["Cache-Control"] == "public, max-age=60"


def test_generic_page_speaks_for_the_vendor(client, ctx):
    page = published_page(slug="vendor-webinar", kind="generic")
    body = client.get("/p/vendor-webinar").get_data(as_text=True)
    assert '<link rel="canonical" href="http://localhost/p/vendor-webinar">' in body
    assert "Acme Partner Program" in body  # the program's name stands in for a partner
    assert page.kind.value == "generic"


def test_pages_that_are_not_online_answer_a_friendly_404(client, ctx):
    live = branded_partner()
    suspended = make_partner("Suspended Co")
    offboarded = make_partner("Gone Co")
    silver = make_partner("Silver Co", tier="silver")
    admin = make_user(Role.ADMIN)
    partners.change_status(suspended, PartnerStatus.SUSPENDED, by=admin)
    partners.change_status(offboarded, PartnerStatus.OFFBOARDED, by=admin)
    published_page(allowed_tiers=["gold"])
    pages.create_page({**PAGE, "slug": "still-draft"}, by=None)
    retired = published_page(slug="old-offer")
    pages.set_status(retired, PageStatus.RETIRED, by=None)
    published_page(slug="vendor-only", kind="generic")
    db.session.commit()

    assert client.get(f"/p/{live.slug}/backup-trial").status_code == 200
    for url in (f"/p/{live.slug}/no-such-page", "/p/no-such-partner/backup-trial",
                f"/p/{live.slug}/still-draft", f"/p/{live.slug}/old-offer",
                f"/p/{suspended.slug}/backup-trial", f"/p/{offboarded.slug}/backup-trial",
                f"/p/{silver.slug}/backup-trial",  # outside the page's audience
                "/p/backup-trial",  # a partner page has no vendor address
                f"/p/{live.slug}/vendor-only",  # and a generic page no partner one
                "/p/-/media/forged-token"):
        response = client.get(url)
        assert response.status_code == 404, url
        if "/media/" not in url:
            assert "This page is not available" in response.get_data(as_text=True), url
            assert client.post(url, data={"email": "a@example.com"}).status_code == 404


def test_a_signed_in_partner_user_sees_another_partners_page(client, app):
    """Public pages look the same to everyone, whoever is signed in in that browser."""
    with app.app_context():
        other = branded_partner("Contoso")
        published_page()
        user = make_user(Role.PARTNER_ADMIN, partner=make_partner("Alpha"))
        other_slug, email = other.slug, user.email
    login(client, email)
    body = client.get(f"/p/{other_slug}/backup-trial").get_data(as_text=True)
    assert "Contoso Solutions" in body


def test_text_is_escaped_and_only_the_tiny_markup_subset_becomes_html(client, ctx):
    partner = branded_partner(display_name="<b>Bold & Co</b>")
    published_page(
        headline="<script>alert('h')</script>",
        body="**Strong** words. <img src=x onerror=alert(1)> "
             "[docs](https://acme.example/docs?a=1&b=2) "
             "[evil](javascript:alert(1)) [quote](https://x.example/\"onmouseover=\"alert(1))",
        bullets=["<i>bullet</i>"])
    body = client.get(f"/p/{partner.slug}/backup-trial").get_data(as_text=True)
    assert "<script>alert" not in body and "&lt;script&gt;" in body
    assert "<img src=x" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "<strong>Strong</strong>" in body
    assert ('<a href="https://acme.example/docs?a=1&amp;b=2" rel="nofollow noopener" '
            'target="_blank">docs</a>') in body
    assert 'href="javascript:' not in body and "[evil](javascript:alert(1))" in body
    # A quote cannot end the URL and start an attribute: the "link" stays text.
    assert 'href="https://x.example/' not in body
    assert "[quote](https://x.example/&#34;onmouseover=&#34;alert(1))" in body
    assert "<b>Bold" not in body and "&lt;b&gt;Bold &amp; Co&lt;/b&gt;" in body
    assert "<i>bullet</i>" not in body


# --- authoring -----------------------------------------------------------------------------------


def _editor_form(csrf: str, **fields) -> dict:
    data = {"csrf_token": csrf, "slug": "spring-offer", "kind": "partner",
            "title": "Spring offer", "headline": "Save 20% this spring", "summary": "",
            "body": "Body text.", "bullets": "One\nTwo\n", "cta_label": "Get the offer",
            "hero_alt": "", "consent_text": "Contact me, {partner}.", "consent_required": "1",
            "thank_you": "Thanks!", "ff_email": "required", "ff_first_name": "required",
            "fl_first_name": "Your first name", "ff_company": "optional"}
    data.update(fields)
    return data


def test_vendor_writes_previews_and_publishes_a_page(client, app):
    with app.app_context():
        marketer = make_user(Role.MARKETER)
        partner = branded_partner()
        partner_id, slug, email = partner.public_id, partner.slug, marketer.email
    login(client, email)
    csrf = csrf_from(client.get("/landing-pages/new").get_data(as_text=True))

    refused = client.post("/landing-pages/new", data=_editor_form(csrf, slug="Not A Slug!",
                                                                  headline=""))
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "Use lower-case letters" in text and 'value="Not A Slug!"' in text
    assert "Contact me, {partner}." in text  # the rest of the input is kept

    created = client.post("/landing-pages/new", data={
        **_editor_form(csrf), "hero": (io.BytesIO(image_bytes()), "hero.png")},
        content_type="multipart/form-data")
    assert created.status_code == 302
    editor_url = created.headers["Location"]
    assert f"/p/{slug}/spring-offer" not in client.get(editor_url).get_data(as_text=True)

    assert client.get(f"/p/{slug}/spring-offer").status_code == 404  # still a draft
    preview = client.get(f"{editor_url}/preview", query_string={"partner": partner_id})
    shown = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Preview as Northwind IT" in shown
    assert "Contact me, Northwind IT Solutions." in shown and "Your first name" in shown
    assert 'content="noindex"' in shown and "disabled" in shown

    assert client.post(f"{editor_url}/status", data={"csrf_token": csrf,
                                                     "status": "published"}).status_code == 302
    live = client.get(f"/p/{slug}/spring-offer").get_data(as_text=True)
    assert "Save 20% this spring" in live and 'property="og:image"' in live
    edit_page = client.get(editor_url).get_data(as_text=True)
    assert "published" in edit_page and "/p/&lt;partner-slug&gt;/spring-offer" in edit_page

    # Once published, the address is fixed: shared links must keep working.
    moved = client.post(editor_url, data=_editor_form(csrf, slug="renamed"))
    assert moved.status_code == 422 and "address cannot change" in moved.get_data(as_text=True)


def test_consent_version_goes_up_only_when_the_wording_changes(ctx):
    page = pages.create_page(PAGE, by=None)
    assert page.consent_version == 1
    current = {name: getattr(page, name) for name in pages.PAGE_FIELDS}
    pages.update_page(page, {**current, "headline": "New headline"}, by=None)
    assert page.consent_version == 1
    pages.update_page(page, {**current, "consent_text": "New wording."}, by=None)
    assert page.consent_version == 2 and page.consent_text == "New wording."
    with pytest.raises(Conflict):
        pages.set_status(page, PageStatus.RETIRED, by=None)  # a draft is not online


def test_hero_uploads_are_checked_by_content(ctx):
    page = pages.create_page(PAGE, by=None)
    for data, name, message in (
            (b"%PDF-1.4 not an image", "hero.png", "not an image we can read"),
            (image_bytes((120, 80)), "small.png", "at least 400 px"),
            (b"", "empty.png", "Choose an image")):
        with pytest.raises(ValidationFailed) as refused:
            pages.set_hero(page, data, name, by=None)
        assert message in refused.value.for_field("hero")
    big = image_bytes((3000, 1000), fmt="JPEG")
    pages.set_hero(page, big, "banner.jpg", by=None)
    assert (page.hero_width, page.hero_height) == (1600, 533)
    assert page.hero_key.endswith(".jpg")


def test_partners_see_the_pages_live_at_their_addresses(client, app):
    with app.app_context():
        gold = make_partner("Gold Co", tier="gold")
        silver = make_partner("Silver Co", tier="silver")
        published_page(slug="for-everyone", title="Everyone's page")
        published_page(slug="gold-only", title="Gold page", allowed_tiers=["gold"])
        pages.create_page({**PAGE, "slug": "draft-page", "title": "Draft page"}, by=None)
        db.session.commit()
        user = make_user(Role.PARTNER_USER, partner=silver)
        token = make_token(user)
        email, silver_slug = user.email, silver.slug
        gold_page = db.session.execute(db.select(LandingPage.public_id).where(
            LandingPage.slug == "gold-only")).scalar_one()
        assert gold.tier == "gold"
    login(client, email)
    listed = client.get("/landing-pages").get_data(as_text=True)
    assert f"http://localhost/p/{silver_slug}/for-everyone" in listed
    assert "Gold page" not in listed and "Draft page" not in listed
    assert client.get("/landing-pages/new").status_code == 404  # vendor screens stay hidden

    headers = {"Authorization": f"Bearer {token}"}
    api = client.get("/api/v1/landing-pages", headers=headers).get_json()
    assert [p["url"] for p in api] == [f"http://localhost/p/{silver_slug}/for-everyone"]
    assert client.get(f"/api/v1/landing-pages/{gold_page}", headers=headers).status_code == 404
