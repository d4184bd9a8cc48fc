"""Kit social posts: counted the way each network counts, checked against the longest real
partner values before publishing, rendered with the partner's brand, authored through the
editor and the API, and out of partners' reach."""

from __future__ import annotations

import io
import json
import re
from html import unescape as html_unescape

import pytest
from PIL import Image

from campaigns import content, kits, posts
from campaigns.models import KitStatus
from campaigns.post_length import weighted_length
from tcma.auth.models import Role
from tcma.errors import NotFound, ValidationFailed
from tcma.extensions import db
from tcma.partners import service as partners
from tcma.partners.models import PartnerStatus
from tests.campaigns.test_kits import CHOICES, EMAIL
from tests.factories import csrf_from, login, make_partner, make_token, make_user

POST = {"key": "announce", "name": "Launch announcement",
        "texts": {"linkedin": "{{ partner.display_name }} now offers cloud backup.",
                  "x": "Cloud backup, now at {{ partner.display_name }}!"},
        "link": "https://vendor.example/product", "hashtags": ["cloud", "#backup"]}
POST_STEP = [{"day": 0, "time": "10:00", "item": "announce"}]


def _kit(name: str = "Social kit", items=(POST,), steps=POST_STEP):
    kit = kits.create_kit({"name": name}, by=None, **CHOICES)
    content.put_posts(kit, list(items), by=None)
    content.put_steps(kit, list(steps), by=None)
    db.session.commit()
    return kit


def _image(title: str = "Spring banner", kind: str = "png"):
    from assets import library

    out = io.BytesIO()
    Image.new("RGB", (400, 200), (10, 90, 200)).save(out, "PNG")
    asset = library.create_asset({"title": title}, out.getvalue(), f"banner.{kind}", by=None,
                                 tiers=CHOICES["tiers"], regions=CHOICES["regions"])
    db.session.commit()
    return asset


# --- counting ----------------------------------------------------------------------------------


def test_x_counts_like_twitter_text():
    assert weighted_length("x", "Hello") == 5
    # Every address counts 23, short or long, with or without https://; the full stop ending
    # the sentence is not part of it, and an email address is no link.
    assert weighted_length("x", "See https://vendor.example/a/very/long/path?utm=1.") == 4 + 23 + 1
    assert weighted_length("x", "see example.com/x") == 4 + 23
    assert weighted_length("x", "https://a.co") == 23
    assert weighted_length("x", "(www.vendor.com)") == 1 + 23 + 1
    assert weighted_length("x", "mail kim@example.com") == 20
    assert weighted_length("x", "t.co") == 4  # a short country-code name needs a path
    # CJK weighs 2, Latin with accents 1, typographic quotes and dashes 1.
    assert weighted_length("x", "日本語") == 6
    assert weighted_length("x", "Müller – “ok”") == 13
    # An emoji counts 2, however many code points make it.
    assert weighted_length("x", "😀") == 2
    assert weighted_length("x", "❤️") == 2  # heart + variation selector
    assert weighted_length("x", "👍🏽") == 2  # with a skin tone
    assert weighted_length("x", "👩‍💻") == 2  # a ZWJ sequence
    assert weighted_length("x", "👨‍👩‍👧‍👦") == 2  # seven code points
    assert weighted_length("x", "🇩🇪 1️⃣") == 2 + 1 + 2  # a flag and a keycap
    # Normalised first: e + combining accent is one character.
    assert weighted_length("x", "e\u0301") == 1


def test_linkedin_and_facebook_count_code_points():
    text = "👨‍👩‍👧‍👦 https://vendor.example/x 日本"
    assert weighted_length("linkedin", text) == 7 + 1 + 24 + 1 + 2
    assert weighted_length("facebook", "e\u0301") == 1


# --- shape and problems ----------------------------------------------------------------------


def test_posts_and_emails_share_one_key_space_and_images_must_exist(ctx):
    kit = kits.create_kit({"name": "Mixed"}, by=None, **CHOICES)
    content.put_emails(kit, [EMAIL], by=None)
    with pytest.raises(ValidationFailed) as caught:
        content.put_posts(kit, [{**POST, "key": "welcome"}], by=None)
    assert caught.value.for_field("posts[0].key") == "An email already uses the key 'welcome'."
    content.put_posts(kit, [POST], by=None)
    with pytest.raises(ValidationFailed) as caught:
        content.put_emails(kit, [EMAIL, {**EMAIL, "key": "announce"}], by=None)
    assert "post already uses" in caught.value.for_field("emails[1].key")

    with pytest.raises(ValidationFailed) as caught:
        content.put_post(kit, {**POST, "key": "pic", "image_asset_id": "missing"}, by=None)
    assert caught.value.for_field("posts[1].image_asset_id")
    bad = [({**POST, "texts": {}}, "posts[0].texts"),
           ({**POST, "texts": {"myspace": "Hi"}}, "posts[0].texts"),
           ({**POST, "texts": {"x": "  "}}, "posts[0].texts"),
           ({**POST, "link": "javascript:alert(1)"}, "posts[0].link"),
           ({**POST, "hashtags": ["two words"]}, "posts[0].hashtags"),
           ({**POST, "hashtags": [f"t{n}" for n in range(31)]}, "posts[0].hashtags")]
    for post, field in bad:
        with pytest.raises(ValidationFailed) as caught:
            content.put_posts(kit, [post], by=None)
        assert caught.value.for_field(field), (post, caught.value.errors)

    image = _image()
    version = content.put_post(kit, {**POST, "key": "pic", "image_asset_id": image.public_id},
                               by=None)
    stored = content.post_of(version, "announce")
    assert stored["hashtags"] == ["cloud", "backup"] and stored["editable"] is True
    assert [p["key"] for p in content.posts_of(version)] == ["announce", "pic"]
    content.remove_post(kit, "pic", by=None)
    with pytest.raises(NotFound):
        content.remove_post(kit, "pic", by=None)


def test_a_kit_of_posts_alone_publishes(ctx):
    kit = _kit()
    version = kits.publish(kit, by=None)
    db.session.commit()
    assert kit.status is KitStatus.PUBLISHED and version.number == 1
    assert posts.post_of(version, "announce")["texts"]["x"].startswith("Cloud backup")


def test_an_empty_kit_asks_for_an_email_or_a_post(ctx):
    kit = kits.create_kit({"name": "Empty"}, by=None, **CHOICES)
    problems = content.content_problems(kits.draft(kit).content)
    assert "add at least one email or post." in [p.message for p in problems]


def test_unknown_and_contact_tokens_and_steps_block_publishing(ctx):
    bad = {**POST, "texts": {"x": "Hi {{ partner.fax }}",
                             "linkedin": "Dear {{ contact.first_name }}",
                             "facebook": "{{ partner.x_handle }}"}}
    kit = _kit("Broken", items=[bad], steps=[
        {"day": 0, "time": "10:00", "item": "announce", "audience": "non_clickers",
         "audience_step": 1},
        {"day": 1, "time": "10:00", "item": "ghost"}])
    with pytest.raises(ValidationFailed) as caught:
        kits.publish(kit, by=None)
    errors = {e.field: e.message for e in caught.value.errors}
    assert "unknown token {{ partner.fax }}" in errors["posts[0].texts.x"]
    assert "partner.<field> }} tokens only" in errors["posts[0].texts.linkedin"]
    assert "empty for a partner" in errors["posts[0].texts.facebook"]
    assert "audience is all" in errors["steps[0].audience"]
    assert "ghost" in errors["steps[1].item"]
    assert kit.status is KitStatus.DRAFT


def test_texts_too_long_for_the_longest_partner_values_block_publishing(ctx):
    filler = "Protect every laptop and server with one console. " * 3  # 150 characters
    post = {**POST, "texts": {"x": "News from {{ partner.display_name }}: " + filler,
                              "linkedin": "{{ partner.display_name }} " + filler}}
    kit = _kit(items=[post])
    # No partners yet: the sample partner's long name (68 characters) still fits.
    assert content.content_problems(kits.draft(kit).content) == []

    long_name = "Systemhaus " + "Ä" * 120 + " Informationstechnik GmbH"
    partner = make_partner("Longname AG")
    partners.update_brand_profile(partner, {"display_name": long_name}, by=None)
    make_partner("Short Co")
    db.session.commit()
    assert posts.longest_values()["display_name"] == long_name

    with pytest.raises(ValidationFailed) as caught:
        kits.publish(kit, by=None)
    [error] = caught.value.errors
    stored = posts.post_of(kits.draft(kit), "announce")
    final = posts.render(stored, "x", {"display_name": long_name}).text
    expected = weighted_length("x", final)
    assert expected > 280 and error.field == "posts[0].texts.x"
    assert error.message.startswith(f"X counts {expected} of 280 characters when filled with "
                                    "the longest partner values (display_name: Longname AG)")
    assert kit.status is KitStatus.DRAFT

    # The partner leaves the program: their name no longer counts.
    partners.change_status(partner, PartnerStatus.OFFBOARDED, by=make_user(Role.ADMIN))
    db.session.commit()
    assert kits.publish(kit, by=None).number == 1


# --- rendering ---------------------------------------------------------------------------------


def test_render_fills_tokens_places_the_link_and_tidies_empty_tokens():
    values = {"display_name": "Fabrikam", "phone": "", "x_handle": "@fabrikam"}
    post = {**POST, "hashtags": ["cloud", "backup"],
            "texts": {"x": "Hi from {{ partner.display_name }} {{ partner.phone }} today!\n\n\n"
                           "{{ partner.phone }}\n\nCall us.",
                      "linkedin": "By {{ partner.display_name }}",
                      "facebook": "By {{ partner.x_handle }}"}}
    x = posts.render(post, "x", values, link_url="https://tcma.example/r/Ab12")
    assert x.text == ("Hi from Fabrikam today!\n\nCall us.\n\nhttps://tcma.example/r/Ab12"
                      "\n\n#cloud #backup")
    assert x.link is None  # X has no link card: the link is in the text
    linkedin = posts.render(post, "linkedin", values)
    assert linkedin.text == "By Fabrikam\n\n#cloud #backup"
    assert linkedin.link == "https://vendor.example/product"  # the link card
    with_image = {**post, "image_asset_id": "img1"}
    facebook = posts.render(with_image, "facebook", values, link_url="https://t.example/r/1")
    assert facebook.text == "By @fabrikam\n\nhttps://t.example/r/1\n\n#cloud #backup"
    assert (facebook.link, facebook.image_asset_id) == (None, "img1")
    assert posts.full_text(post, "x", "Mine, {{ partner.display_name }}") == (
        "Mine, {{ partner.display_name }}\n\nhttps://vendor.example/product\n\n#cloud #backup")
    edited = posts.render(post, "linkedin", values, text="Our own words")
    assert edited.text.startswith("Our own words\n\n")


def test_partner_values_are_data_not_template_source():
    values = {"display_name": "{{ 7 * 7 }} {% if true %}x{% endif %}"}
    shown = posts.render({**POST, "hashtags": []}, "x", values)
    assert shown.text.startswith("Cloud backup, now at {{ 7 * 7 }} {% if true %}x{% endif %}!")


def test_partners_may_rewrite_only_editable_posts_on_their_networks(ctx):
    locked = {**POST, "key": "locked", "editable": False}
    kit = _kit(items=[POST, locked])
    version = kits.publish(kit, by=None)
    assert posts.check_edits(version, {"announce": {"x": "  Our take  ", "linkedin": ""}}) == {
        "announce": {"x": "Our take"}}
    with pytest.raises(ValidationFailed) as caught:
        posts.check_edits(version, {"locked": {"x": "Mine"}, "announce": {
            "facebook": "Mine", "linkedin": "{{ partner.fax }}", "x": 5}, "ghost": {"x": "?"}})
    errors = {e.field: e.message for e in caught.value.errors}
    assert set(errors) == {"posts.locked.x", "posts.announce.facebook",
                           "posts.announce.linkedin", "posts.announce.x", "posts.ghost"}
    assert "partner.fax" in errors["posts.announce.linkedin"]
    with pytest.raises(ValidationFailed):
        posts.check_edits(version, {"announce": {"x": "x" * 63207}})


def test_preview_shows_each_network_with_the_partners_brand(ctx):
    kit = _kit()
    partner = make_partner("Fabrikam")
    partners.update_brand_profile(partner, {"display_name": "Fabrikam IT"}, by=None)
    db.session.commit()
    shown = content.preview_post(kits.editing_version(kit), "announce", partner)
    assert list(shown) == ["linkedin", "x"]
    assert shown["x"].text.startswith("Cloud backup, now at Fabrikam IT!")
    sample = content.preview_post(kits.editing_version(kit), "announce", None)
    assert "Müller-Lüdenscheidt" in sample["linkedin"].text
    assert sample["linkedin"].link == "https://vendor.example/product"


# --- pages and API -----------------------------------------------------------------------------


def test_a_marketer_writes_a_post_in_the_editor(app, client):
    with app.app_context():
        email = make_user(Role.MARKETER).email
        kit = kits.create_kit({"name": "Editor kit"}, by=None, **CHOICES)
        db.session.commit()
        kit_id = kit.public_id
        image_id = _image("Co-branded tile").public_id
    login(client, email)
    page = client.get(f"/kits/{kit_id}/posts/new")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "post_counter.js" in html
    assert "Co-branded tile" in html and 'data-limit="280"' in html
    token = csrf_from(html)
    saved = client.post(f"/kits/{kit_id}/posts/new", data={
        "csrf_token": token, "key": "announce", "name": "Announcement",
        "text_linkedin": "Hello from {{ partner.display_name }}", "text_x": "",
        "text_facebook": "Hi {{ partner.fax }}", "link": "https://vendor.example/p",
        "image_asset_id": image_id, "hashtags": "#cloud security", "editable": "1"})
    assert saved.status_code == 302
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "partner.fax" in page and "block publishing" in page  # the server's problems
    with app.app_context():
        post = posts.post_of(kits.editing_version(kits.get_kit(kit_id)), "announce")
        assert post["texts"] == {"linkedin": "Hello from {{ partner.display_name }}",
                                 "facebook": "Hi {{ partner.fax }}"}
        assert post["hashtags"] == ["cloud", "security"] and post["image_asset_id"] == image_id
    client.post(f"/kits/{kit_id}/posts/announce", data={
        "csrf_token": token, "key": "announce", "name": "Announcement",
        "text_linkedin": "Hello from {{ partner.display_name }}\nSecond line",
        "text_x": "Short and sweet 👩‍💻", "link": "https://vendor.example/p",
        "image_asset_id": "", "hashtags": "cloud"})
    page = client.get(f"/kits/{kit_id}/posts/announce").get_data(as_text=True)
    assert 'class="social-post linkedin"' in page and 'class="social-post x"' in page
    assert "Müller-Lüdenscheidt" in page  # previewed as the sample partner
    assert "vendor.example/p" in page and "block publishing" not in page
    client.post(f"/kits/{kit_id}/posts/announce", data={
        "csrf_token": token, "key": "announce", "name": "Announcement",
        "text_linkedin": "Hello", "link": "https://vendor.example/p",
        "image_asset_id": image_id})
    page = client.get(f"/kits/{kit_id}/posts/announce").get_data(as_text=True)
    src = re.search(r'<img src="([^"]+)" alt="The post\'s image', page).group(1)
    image = client.get(html_unescape(src))
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert "Hello\n\nhttps://vendor.example/p" in page  # beside an image, the link is text
    kit_page = client.get(f"/kits/{kit_id}").get_data(as_text=True)
    assert "Social posts" in kit_page and "LinkedIn 31/3,000" in kit_page  # with the link
    assert '<optgroup label="Social posts"><option >announce</option>' in kit_page
    client.post(f"/kits/{kit_id}/posts/announce", data={
        "csrf_token": token, "key": "announce", "name": "Announcement",
        "text_x": "Short and sweet 👩‍💻", "link": "https://vendor.example/p",
        "hashtags": "cloud"})
    kit_page = client.get(f"/kits/{kit_id}").get_data(as_text=True)
    assert "X 51/280" in kit_page  # 18, the link 23, #cloud 6, two blank-line breaks 4
    client.post(f"/kits/{kit_id}/steps", data={
        "csrf_token": token, "day": ["0"], "time": ["09:00"], "item": ["announce"],
        "audience": ["all"], "audience_step": [""]})
    assert client.post(f"/kits/{kit_id}/publish", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert kits.get_kit(kit_id).status is KitStatus.PUBLISHED
    # A shape error is refused and the form comes back with what was typed.
    refused = client.post(f"/kits/{kit_id}/posts/new", data={
        "csrf_token": token, "key": "Bad Key", "name": "X", "text_x": "Kept text"})
    assert refused.status_code == 422 and "Kept text" in refused.get_data(as_text=True)


def test_partners_cannot_reach_the_post_editor(app, client):
    with app.app_context():
        kit = _kit()
        kits.publish(kit, by=None)
        db.session.commit()
        kit_id = kit.public_id
        partner_user = make_user(Role.PARTNER_ADMIN, partner=make_partner()).email
        finance = make_user(Role.FINANCE).email
        token = make_token(make_user(Role.PARTNER_ADMIN, partner=make_partner()))
    login(client, partner_user)
    for url in (f"/kits/{kit_id}/posts/new", f"/kits/{kit_id}/posts/announce"):
        assert client.get(url).status_code == 404, url
    html = client.get("/account").get_data(as_text=True)
    assert client.post(f"/kits/{kit_id}/posts/announce/remove",
                       data={"csrf_token": csrf_from(html)}).status_code == 404
    client = app.test_client()
    login(client, finance)
    assert client.get(f"/kits/{kit_id}/posts/announce").status_code == 403
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/kits/{kit_id}/posts", headers=auth).status_code == 404
    assert client.put(f"/api/v1/kits/{kit_id}/posts/announce", headers=auth,
                      json={**POST, "hashtags": []}).status_code == 404


def test_the_api_round_trip(app, client):
    with app.app_context():
        token = make_token(make_user(Role.MARKETER))
        partner = make_partner("Northwind")
        partners.update_brand_profile(partner, {"display_name": "Northwind Traders"}, by=None)
        db.session.commit()
        partner_id = partner.public_id
    auth = {"Authorization": f"Bearer {token}"}
    made = client.post("/api/v1/kits", json={"name": "API posts"}, headers=auth).get_json()
    base = f"/api/v1/kits/{made['id']}"
    body = client.put(f"{base}/posts", headers=auth, json={"posts": [
        {**POST, "texts": {"x": "{{ partner.nope }}"}}]}).get_json()
    assert [p["field"] for p in body["problems"]] == ["posts[0].texts.x", "steps"]
    assert body["draft"]["posts"][0]["texts"] == {"x": "{{ partner.nope }}"}
    refused = client.put(f"{base}/posts", headers=auth, json={"posts": [
        {**POST, "texts": {"tiktok": "Hi"}}]})
    assert refused.status_code == 422
    assert refused.get_json()["errors"][0]["field"] == "posts.0.texts"

    one = client.put(f"{base}/posts/announce", headers=auth, json=POST).get_json()
    assert one["problems"] == [] and one["hashtags"] == ["cloud", "backup"]
    assert one["limits"] == {"linkedin": 3000, "x": 280}
    assert one["lengths"]["x"] == weighted_length("x", posts.render(
        one, "x", {"display_name": "Northwind Traders"}).text)
    assert client.put(f"{base}/posts/other", headers=auth, json=POST).status_code == 422
    listed = client.get(f"{base}/posts", headers=auth).get_json()
    assert [p["key"] for p in listed] == ["announce"]
    shown = client.get(f"{base}/posts/announce/preview", headers=auth,
                       query_string={"partner": partner_id}).get_json()
    x = next(n for n in shown["networks"] if n["network"] == "x")
    assert x["text"].startswith("Cloud backup, now at Northwind Traders!")
    assert x["text"].endswith("https://vendor.example/product\n\n#cloud #backup")
    assert x["link"] is None and x["limit"] == 280 and x["length"] == weighted_length(
        "x", x["text"])
    client.put(f"{base}/steps", headers=auth, json={"steps": POST_STEP})
    assert client.post(f"{base}/publish", headers=auth).status_code == 201
    version = client.get(f"{base}/versions/1", headers=auth).get_json()
    assert json.dumps(version["posts"][0]["texts"]) == json.dumps(POST["texts"])
    assert client.delete(f"{base}/posts/announce", headers=auth).status_code == 204
    assert client.get(f"{base}/posts/announce", headers=auth).status_code == 404
    assert client.get(f"{base}/posts/announce", headers=auth,
                      query_string={"version": 1}).status_code == 200
