"""The pages and API where partners and the vendor make links and read honest counts."""

from __future__ import annotations

import pytest

from syndication.links import clicks, service
from syndication.links.models import Channel
from tcma.auth.models import Role
from tcma.extensions import db
from tests.factories import csrf_from, login, make_partner, make_token, make_user

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


@pytest.fixture
def two_partners(app):
    """Northwind with a clicked link, Contoso with its own secret one."""
    with app.app_context():
        north = make_partner("Northwind")
        contoso = make_partner("Contoso Secret")
        n_admin = make_user(Role.PARTNER_ADMIN, partner=north, email="admin@northwind.test")
        make_user(Role.MARKETER, email="mia@vendor.test")
        n_link = service.link_for(north, "https://vendor.example.com/north-offer",
                                  Channel.SOCIAL, service.LinkSource(campaign="q3-kit"))
        c_link = service.link_for(contoso, "https://vendor.example.com/contoso-only",
                                  Channel.EMAIL)
        db.session.commit()
        return {"north_code": n_link.code, "contoso_code": c_link.code,
                "n_admin": n_admin.email, "n_token": make_token(n_admin)}


def click(client, code, agent=BROWSER, ip="203.0.113.5"):
    return client.get(f"/r/{code}", headers={"User-Agent": agent},
                      environ_base={"REMOTE_ADDR": ip})


def test_a_partner_sees_its_own_links_with_people_and_filtered_clicks_apart(app, two_partners):
    visitor = app.test_client()
    click(visitor, two_partners["north_code"])
    click(visitor, two_partners["north_code"], ip="203.0.113.6")
    click(visitor, two_partners["north_code"], agent="facebookexternalhit/1.1")
    with app.app_context():
        clicks.drain()
    partner = app.test_client()
    login(partner, two_partners["n_admin"])
    page = partner.get("/links").get_data(as_text=True)
    assert "north-offer" in page and "contoso-only" not in page
    detail = partner.get(f"/links/{two_partners['north_code']}").get_data(as_text=True)
    assert 'id="unique-clicks">2<' in detail and 'id="filtered-clicks">1<' in detail
    assert "preview 1" in detail and "<svg" in detail
    assert "user agent: facebookexternalhit" in detail
    assert partner.get(f"/links/{two_partners['contoso_code']}").status_code == 404


def test_a_partner_makes_a_link_and_switches_it_off(app, two_partners):
    partner = app.test_client()
    login(partner, two_partners["n_admin"])
    token = csrf_from(partner.get("/links").get_data(as_text=True))
    made = partner.post("/links", data={"csrf_token": token, "channel": "web",
                                        "destination": "https://vendor.example.com/webinar",
                                        "campaign": "webinar-nov"})
    assert made.status_code == 302
    code = made.headers["Location"].rsplit("/", 1)[1]
    page = partner.get(f"/links/{code}").get_data(as_text=True)
    assert f"http://localhost/r/{code}" in page
    assert click(app.test_client(), code).status_code == 302

    bad = partner.post("/links", data={"csrf_token": token, "destination": "javascript:x"},
                       follow_redirects=True)
    assert "destination: Use an address starting with https://" in bad.get_data(as_text=True)

    off = partner.post(f"/links/{code}/status", data={"csrf_token": token, "disabled": "1"},
                       follow_redirects=True)
    assert "Link disabled" in off.get_data(as_text=True)
    service.forget()  # another process would see it within CACHE_SECONDS
    assert click(app.test_client(), code).status_code == 404


def test_the_vendor_sees_every_partners_links_and_sets_parameter_names(app, two_partners):
    vendor = app.test_client()
    login(vendor, "mia@vendor.test")
    page = vendor.get("/links").get_data(as_text=True)
    assert "north-offer" in page and "contoso-only" in page and "Contoso Secret" in page
    token = csrf_from(page)
    refused = vendor.post("/links/settings", data={
        "csrf_token": token, "utm_source": "bad name", "utm_medium": "utm_medium",
        "utm_campaign": "utm_campaign", "utm_content": "utm_content", "click_param": "cid"})
    assert refused.status_code == 422
    assert "Use letters, digits" in refused.get_data(as_text=True)
    saved = vendor.post("/links/settings", data={
        "csrf_token": token, "utm_source": "partner", "utm_medium": "utm_medium",
        "utm_campaign": "utm_campaign", "utm_content": "utm_content", "click_param": "cid",
        "fallback_url": "https://vendor.example.com/", "allowed_hosts": ""})
    assert saved.status_code == 302
    location = click(app.test_client(), two_partners["north_code"]).headers["Location"]
    assert "partner=northwind" in location and "&cid=" in location
    # Partners cannot change the vendor's settings.
    partner = app.test_client()
    login(partner, two_partners["n_admin"])
    assert partner.get("/links/settings").status_code == 404


def test_the_api_keeps_partners_to_their_own_links(app, two_partners, client):
    headers = {"Authorization": f"Bearer {two_partners['n_token']}"}
    listed = client.get("/api/v1/links", headers=headers).get_json()
    assert [link["code"] for link in listed] == [two_partners["north_code"]]
    assert listed[0]["clicks"] == {"unique": 0, "repeats": 0, "human": 0, "filtered": {}}
    with app.app_context():
        from tcma.partners.models import Partner

        contoso = db.session.execute(db.select(Partner).where(
            Partner.name == "Contoso Secret")).scalar_one().public_id
    refused = client.post("/api/v1/links", headers=headers, json={
        "partner_id": contoso, "destination": "https://vendor.example.com/x"})
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "partner_id"
    assert client.get(f"/api/v1/links/{two_partners['contoso_code']}/stats",
                      headers=headers).status_code == 404
    first = client.post("/api/v1/links", headers=headers, json={
        "destination": "https://vendor.example.com/y", "channel": "qr"})
    again = client.post("/api/v1/links", headers=headers, json={
        "destination": "https://vendor.example.com/y", "channel": "qr"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["code"] == again.get_json()["code"]
    bad = client.post("/api/v1/links", headers=headers, json={
        "destination": "https://vendor.example.com/y", "channel": "fax"})
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "channel"
