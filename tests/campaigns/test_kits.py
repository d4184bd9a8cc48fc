"""Kits: publishing freezes a version, edits go to a new draft, the audience decides the
partner catalogue, previews carry the partner's brand, and the pages keep partners out."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest

from campaigns import content, kits
from campaigns.models import ImmutableVersion, KitStatus
from tcma.auth.models import Role
from tcma.errors import Conflict, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners import service as partners
from tests.campaigns.test_mjml import BODY
from tests.factories import csrf_from, login, make_partner, make_token, make_user

CHOICES = {"tiers": ["platinum", "gold", "silver", "registered"],
           "regions": ["AMER", "EMEA", "APAC", "LATAM"],
           "types": ["reseller", "agency", "consultant", "distributor", "msp"]}
EMAIL = {"key": "welcome", "name": "Welcome", "subject": "Hi {{ contact.first_name }}",
         "preheader": "From {{ partner.display_name }}",
         "from_name": "{{ partner.display_name }}", "mjml": BODY}
STEPS = [{"day": 0, "time": "09:00", "item": "welcome"},
         {"day": 3, "time": "10:30", "item": "welcome", "audience": "non_clickers",
          "audience_step": 1}]


def authored(name: str = "Backup spring kit", **fields):
    kit = kits.create_kit({"name": name, **fields}, by=None, **CHOICES)
    content.put_emails(kit, [EMAIL], by=None)
    content.put_steps(kit, STEPS, by=None)
    db.session.commit()
    return kit


def published(name: str = "Backup spring kit", **fields):
    kit = authored(name, **fields)
    kits.publish(kit, by=None)
    db.session.commit()
    return kit


def test_publishing_freezes_a_version_and_edits_go_to_a_new_draft(ctx):
    kit = authored()
    version = kits.publish(kit, by=None)
    db.session.commit()
    assert (version.number, kit.status) == (1, KitStatus.PUBLISHED)
    assert kits.current_draft(kit) is None
    frozen = dict(version.content)

    changed = {**EMAIL, "subject": "Last chance, {{ contact.first_name }}"}
    draft = content.put_emails(kit, [changed], by=None)
    db.session.commit()
    assert draft.id != version.id and draft.number is None
    db.session.expire_all()
    assert kits.get_version(kit, 1).content == frozen
    assert content.email_of(kits.get_version(kit, 1), "welcome")["subject"] == EMAIL["subject"]

    again = kits.publish(kit, by=None)
    db.session.commit()
    assert again.number == 2 and content.email_of(again, "welcome")["subject"].startswith("Last")
    with pytest.raises(Conflict):
        kits.publish(kit, by=None)  # nothing changed since

    # Even code that bypasses the services cannot rewrite a published version.
    old = kits.get_version(kit, 1)
    old.content = {**old.content, "steps": []}
    with pytest.raises(ImmutableVersion):
        db.session.flush()
    db.session.rollback()


def test_publish_lists_every_problem_with_field_and_line(ctx):
    kit = kits.create_kit({"name": "Broken"}, by=None, **CHOICES)
    bad = {**EMAIL, "subject": "Hi {{ contact.salary }}",
           "mjml": BODY.replace("{{ partner.phone }}", "{{ ''.__class__ }}")}
    content.put_emails(kit, [bad], by=None)
    content.put_steps(kit, [{"day": 0, "time": "09:00", "item": "nope"}], by=None)
    with pytest.raises(ValidationFailed) as caught:
        kits.publish(kit, by=None)
    errors = {e.field: e.message for e in caught.value.errors}
    assert errors["emails[0].subject"].startswith("line 1:")
    assert errors["emails[0].mjml"].startswith("line 6:")
    assert "nope" in errors["steps[0].item"]
    assert kit.status is KitStatus.DRAFT and kits.published_versions(kit) == []


def test_retired_kits_cannot_be_retired_again_and_leave_the_catalogue(ctx):
    kit = published()
    partner = make_partner(tier="gold")
    assert kits.catalogue(partner) == [kit]
    kits.retire(kit, by=None)
    assert kit.status is KitStatus.RETIRED and kits.catalogue(partner) == []
    with pytest.raises(Conflict):
        kits.retire(kit, by=None)
    assert kits.publish(kit, by=None).number == 1  # back, unchanged: no new version
    assert kits.catalogue(partner) == [kit]


def test_the_audience_decides_the_partner_catalogue(ctx):
    now = utcnow()
    everyone = published("Everyone")
    gold = published("Gold EMEA", allowed_tiers=["gold"], allowed_regions=["EMEA"])
    german = published("German agencies", allowed_languages=["de"], allowed_types=["agency"])
    published("Expired", expires_at=(now - timedelta(days=1)).isoformat())
    published("Not yet", publish_at=(now + timedelta(days=1)).isoformat())
    authored("Draft only")
    gold_emea = make_partner(tier="gold", region="EMEA")
    gold_amer = make_partner(tier="gold", region="AMER")
    agency_de = make_partner(tier="silver", type="agency", language="de")
    reseller_de = make_partner(tier="silver", type="reseller", language="de")
    names = {p.id: [k.name for k in kits.catalogue(p)]
             for p in (gold_emea, gold_amer, agency_de, reseller_de)}
    assert names[gold_emea.id] == ["Everyone", "Gold EMEA"]
    assert names[gold_amer.id] == ["Everyone"]
    assert names[agency_de.id] == ["Everyone", "German agencies"]
    assert names[reseller_de.id] == ["Everyone"]
    assert {everyone.id, gold.id, german.id} >= {k.id for k in kits.catalogue(gold_emea)}


def test_preview_as_a_partner_carries_its_brand_escaped(ctx):
    kit = published()
    partner = make_partner("Fabrikam", tier="gold")
    partners.update_brand_profile(partner, {"display_name": "Fabrikam <b>&</b> Sons",
                                            "phone": "+44 20 7946 0958"}, by=None)
    db.session.commit()
    shown = content.preview(kits.latest_published(kit), "welcome", partner)
    assert "+44 20 7946 0958" in shown.html
    assert html.escape("Fabrikam <b>&</b> Sons", quote=False) in shown.html
    assert "<b>&</b>" not in shown.html
    assert shown.from_name == "Fabrikam <b>&</b> Sons"  # a header: plain text, not HTML
    assert shown.subject == "Hi Kim" and "Fabrikam <b>&</b> Sons" in shown.text
    sample = content.preview(kits.latest_published(kit), "welcome", None)
    assert "Müller-Lüdenscheidt" in sample.html and sample.blocks == ["intro"]


def test_landing_page_and_assets_must_exist(ctx):
    kit = authored()
    with pytest.raises(ValidationFailed) as caught:
        content.set_references(kit, landing_page_id="missing", asset_ids=["nope"], by=None)
    assert {e.field for e in caught.value.errors} == {"landing_page_id", "asset_ids"}
    from syndication.pages import service as pages

    page = pages.create_page({"slug": "kit-page", "title": "Trial", "headline": "Try",
                              "consent_text": "Contact me."}, by=None)
    content.set_references(kit, landing_page_id=page.public_id, asset_ids=[], by=None)
    assert kits.publish(kit, by=None).content["landing_page_id"] == page.public_id


def _form(client, url: str, data: dict, page: str):
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


def test_a_marketer_authors_and_publishes_through_the_pages(app, client):
    with app.app_context():
        marketer = make_user(Role.MARKETER, email="mia@vendor.example")
        email = marketer.email
    login(client, email)
    made = _form(client, "/kits/new", {"name": "Webinar kit", "allowed_tiers": "gold",
                                       "goal": "Seats"}, "/kits/new")
    assert made.status_code == 302
    show = made.headers["Location"]
    kit_id = show.rstrip("/").split("/")[-1]
    bad = {**EMAIL, "mjml": BODY.replace("{{ partner.phone }}", "{{ partner.fax }}")}
    saved = _form(client, f"/kits/{kit_id}/emails/new", bad, show)
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "line 6" in page and "partner.fax" in page
    _form(client, f"/kits/{kit_id}/emails/welcome", EMAIL, show)
    _form(client, f"/kits/{kit_id}/steps", {"day": ["0", ""], "time": ["09:00", ""],
                                            "item": ["welcome", ""],
                                            "audience": ["all", "all"],
                                            "audience_step": ["", ""]}, show)
    editor = client.get(f"/kits/{kit_id}/emails/welcome").get_data(as_text=True)
    assert "<iframe sandbox srcdoc=" in editor and "&lt;script" not in editor
    _form(client, f"/kits/{kit_id}/emails/new", {**EMAIL, "key": "spare"}, show)
    assert _form(client, f"/kits/{kit_id}/emails/spare/remove", {}, show).status_code == 302
    assert client.get(f"/kits/{kit_id}/emails/spare").status_code == 404
    assert _form(client, f"/kits/{kit_id}/publish", {}, show).status_code == 302
    with app.app_context():
        kit = kits.get_kit(kit_id)
        assert kit.status is KitStatus.PUBLISHED and kits.latest_published(kit).number == 1
        assert kits.latest_published(kit).content["steps"][0]["time"] == "09:00"


def test_partners_get_404_on_vendor_pages_and_only_see_their_catalogue(app, client):
    with app.app_context():
        kit = published(allowed_tiers=["gold"])
        kit_id = kit.public_id
        silver = make_partner("Silverline", tier="silver")
        silver_user = make_user(Role.PARTNER_USER, partner=silver).email
        gold = make_partner("Goldcrest", tier="gold")
        partners.update_brand_profile(gold, {"display_name": "Goldcrest IT",
                                             "phone": "+1 212 555 0100"}, by=None)
        db.session.commit()
        gold_user = make_user(Role.PARTNER_ADMIN, partner=gold).email
        finance = make_user(Role.FINANCE).email
        channel_manager = make_user(Role.CHANNEL_MANAGER).email
    login(client, silver_user)
    for url in ("/kits", f"/kits/{kit_id}", f"/catalogue/{kit_id}"):
        assert client.get(url).status_code == 404, url
    assert "Backup spring kit" not in client.get("/catalogue").get_data(as_text=True)
    client = app.test_client()
    login(client, gold_user)
    page = client.get("/catalogue").get_data(as_text=True)
    assert "Backup spring kit" in page and "Goldcrest IT" in page and "+1 212 555 0100" in page
    assert client.get(f"/catalogue/{kit_id}").status_code == 200
    client = app.test_client()
    login(client, finance)
    assert client.get("/kits").status_code == 403
    assert client.get("/catalogue").status_code == 403  # the partner's view, not the vendor's
    client = app.test_client()
    login(client, channel_manager)
    assert client.get(f"/kits/{kit_id}").status_code == 200
    assert client.get("/catalogue").status_code == 403
    shown = client.get(f"/kits/{kit_id}").get_data(as_text=True)
    assert client.post(f"/kits/{kit_id}/retire",
                       data={"csrf_token": csrf_from(shown)}).status_code == 403


def test_the_api_publishes_and_shows_versions(app, client):
    with app.app_context():
        token = make_token(make_user(Role.MARKETER))
        partner_token = make_token(make_user(Role.PARTNER_ADMIN,
                                             partner=make_partner(tier="gold")))
    auth = {"Authorization": f"Bearer {token}"}
    made = client.post("/api/v1/kits", json={"name": "API kit"}, headers=auth).get_json()
    base = f"/api/v1/kits/{made['id']}"
    body = client.put(f"{base}/emails", json={"emails": [
        {**EMAIL, "subject": "{{ contact.nope }}"}]}, headers=auth).get_json()
    assert body["problems"][0]["field"] == "emails[0].subject"
    refused = client.post(f"{base}/publish", headers=auth)
    assert refused.status_code == 422
    client.put(f"{base}/emails", json={"emails": [EMAIL]}, headers=auth)
    client.put(f"{base}/steps", json={"steps": STEPS}, headers=auth)
    assert client.post(f"{base}/publish", headers=auth).get_json()["number"] == 1
    assert client.get(f"{base}/versions/1", headers=auth).get_json()["steps"][1][
        "audience"] == "non_clickers"
    preview = client.get(f"{base}/emails/welcome/preview", headers=auth)
    assert preview.mimetype == "text/html" and "sandbox" in preview.headers[
        "Content-Security-Policy"]
    p_auth = {"Authorization": f"Bearer {partner_token}"}
    assert [k["id"] for k in client.get("/api/v1/catalogue/kits",
                                        headers=p_auth).get_json()] == [made["id"]]
    assert client.get(base, headers=p_auth).status_code == 404


def test_the_demo_kit_is_published_once_and_previews(ctx):
    from campaigns import demo

    assert [line.endswith("(published, version 1)") for line in demo.load_demo()] == [
        True, True]
    db.session.commit()
    assert all("already there" in line for line in demo.load_demo())
    kit, social = sorted(kits.catalogue(make_partner(tier="registered", region="APAC")),
                         key=lambda k: k.name != demo.NAME)
    assert social.name == demo.SOCIAL_NAME
    assert [p["key"] for p in content.posts_of(kits.latest_published(social))] == [
        "tile", "trial"]
    shown = content.preview(kits.latest_published(kit), "reminder", None)
    assert shown.subject == "Still thinking about backups, Kim?"
    assert "Müller-Lüdenscheidt" in shown.text


def test_a_kit_mixes_emails_and_posts_in_one_schedule(ctx):
    kit = kits.create_kit({"name": "Mixed"}, by=None, **CHOICES)
    content.put_emails(kit, [EMAIL], by=None)
    content.put_posts(kit, [{"key": "teaser", "name": "Teaser",
                             "texts": {"linkedin": "Soon at {{ partner.display_name }}"}}],
                      by=None)
    content.put_steps(kit, [{"day": 0, "time": "09:00", "item": "teaser"},
                            {"day": 1, "time": "09:00", "item": "welcome",
                             "audience": "non_openers", "audience_step": 1}], by=None)
    problems = {p.field: p.message for p in content.content_problems(kits.draft(kit).content)}
    assert list(problems) == ["steps[1].audience_step"]
    assert "earlier email step" in problems["steps[1].audience_step"]
    content.put_steps(kit, STEPS[:1] + [{"day": 2, "time": "12:00", "item": "teaser"}],
                      by=None)
    version = kits.publish(kit, by=None)
    assert [i["kind"] for i in version.content["items"]] == ["email", "post"]
    # Editing emails keeps the posts, and the other way round.
    content.put_emails(kit, [{**EMAIL, "subject": "Changed"}], by=None)
    assert [p["key"] for p in content.posts_of(kits.draft(kit))] == ["teaser"]
