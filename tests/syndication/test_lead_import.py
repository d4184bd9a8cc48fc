"""Importing the vendor's own leads by API and CSV: all or nothing with errors naming each
item, idempotent external ids, direct assignment or routing by the rules, dry runs, and who
may import. Real database, queue and outbox."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from syndication.leads import rules
from syndication.leads.models import Lead, LeadEventKind, LeadStatus, Routing
from tcma.auth.models import Role
from tcma.extensions import db
from tcma.webhooks import service as webhooks
from tcma.webhooks.models import WebhookDelivery
from tests.factories import csrf_from, login, make_partner, make_token, make_user

ADA = {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
       "company": "Analytical Ltd", "job_title": "CTO", "phone": "+44 20 7946 0001",
       "country": "GB", "message": "Call me\nafter 3pm", "source": "website",
       "external_id": "crm-1", "consent_given": True,
       "consent_text": "I agree to be contacted by a partner."}


@pytest.fixture
def vendor(app, client):
    """A channel manager's API headers, and two partners (the ids) with admins."""
    with app.app_context():
        north = make_partner("Northwind", region="EMEA")
        south = make_partner("Southwind", region="EMEA")
        make_user(Role.PARTNER_ADMIN, partner=north, email="admin@northwind.test")
        make_user(Role.PARTNER_ADMIN, partner=south, email="admin@southwind.test")
        rules.create_rule({"name": "Everyone"}, by=None)
        db.session.commit()
        token = make_token(make_user(Role.CHANNEL_MANAGER, email="cm@vendor.test"))
        return {"headers": {"Authorization": f"Bearer {token}"},
                "north": north.public_id, "south": south.public_id}


def post(client, vendor, items, **kw):
    return client.post("/api/v1/leads/import", headers=vendor["headers"],
                       json={"items": items}, **kw)


def leads_now() -> list[Lead]:
    db.session.expire_all()
    return list(db.session.execute(select(Lead).order_by(Lead.id)).scalars())


def test_one_bad_item_imports_nothing_and_every_error_names_its_item(app, client, vendor):
    items = [ADA, {"email": "not-an-email"}, {"email": "b@example.com", "country": "XX"},
             {"email": "c@example.com", "partner_id": "missing"},
             {"email": "d@example.com", "consent_given": True},
             {"email": "e@example.com", "external_id": "crm-1"},
             {"email": "f@example.com", "colour": "blue"}]
    response = post(client, vendor, items)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    fields = {e["field"] for e in response.get_json()["errors"]}
    assert fields == {"items[1].email", "items[2].country", "items[4].consent_text",
                      "items[6].colour"}
    # Item checks that need the database run once every item is well-formed.
    response = post(client, vendor, [ADA, {"email": "c@example.com", "partner_id": "missing"},
                                     {"email": "e@example.com", "external_id": "crm-1"}])
    assert response.status_code == 422
    assert {e["field"]: e["message"] for e in response.get_json()["errors"]} == {
        "items[1].partner_id": "No such partner.",
        "items[2].external_id": "Same as items[0]; send each lead once."}
    assert post(client, vendor, [{"email": f"x{n}@example.com"} for n in range(1001)]
                ).get_json()["errors"][0]["field"] == "items"
    assert post(client, vendor, []).status_code == 422
    with app.app_context():
        assert leads_now() == []


def test_items_are_created_assigned_or_routed_and_announced(app, client, vendor, jobs,
                                                            outbox):
    response = post(client, vendor, [
        {**ADA, "partner_id": vendor["north"]},
        {"email": "bob@example.com", "first_name": "Bob", "country": "DE",
         "language": "de", "source": "trade show"}])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["imported"], body["created"], body["updated"], body["assigned"],
            body["routed"]) == (True, 2, 0, 1, 1)
    jobs.run()  # Bob is routed by the rules; both partners hear of their lead
    with app.app_context():
        ada, bob = leads_now()
        assert [ada.public_id, bob.public_id] == body["leads"]
        assert (ada.partner.name, ada.routing, ada.status) == ("Northwind", Routing.ROUTED,
                                                                LeadStatus.NEW)
        assert (ada.message, ada.source, ada.external_id, ada.consent_given) == (
            "Call me\nafter 3pm", "website", "crm-1", True)
        assert ada.consent_text == ADA["consent_text"] and ada.page_id is None
        assert [e.kind for e in ada.events] == [LeadEventKind.CREATED, LeadEventKind.ASSIGNED]
        assert bob.routing is Routing.OFFERED and bob.partner is not None
        assert (bob.language, bob.source) == ("de", "trade show")
        bob_partner = bob.partner.name.lower()
    assert outbox.to("admin@northwind.test")
    assert outbox.to(f"admin@{bob_partner}.test")


def test_the_same_external_id_again_updates_the_lead(app, client, vendor, jobs):
    assert post(client, vendor, [ADA]).status_code == 201
    jobs.run()
    again = post(client, vendor, [{**ADA, "company": "Difference Engines plc",
                                   "email": "ADA@example.com"},
                                  {"email": "new@example.com", "external_id": "crm-2"}])
    assert again.status_code == 201
    assert (again.get_json()["created"], again.get_json()["updated"]) == (1, 1)
    with app.app_context():
        ada, new = leads_now()
        assert ada.company == "Difference Engines plc" and ada.email == "ada@example.com"
        assert ada.events[-1].kind is LeadEventKind.UPDATED
        assert ada.events[-1].data["changed"] == ["company"]
        offered_to = ada.partner_id
    # Naming a partner now moves the lead there, by hand, with its history.
    moved = post(client, vendor, [{**ADA, "partner_id": vendor["south"]}]).get_json()
    assert moved["assigned"] == 1 and moved["updated"] == 1
    with app.app_context():
        [ada, _] = leads_now()
        assert ada.partner.public_id == vendor["south"] and ada.routing is Routing.ROUTED
        assert ada.events[-1].kind is LeadEventKind.ASSIGNED
        assert offered_to is not None
        assert db.session.execute(select(func.count()).select_from(Lead)).scalar_one() == 2


def test_a_dry_run_checks_and_counts_but_writes_nothing(app, client, vendor, jobs, outbox):
    response = post(client, vendor, [ADA, {"email": "z@example.com",
                                           "partner_id": vendor["south"]}],
                    query_string={"dry_run": "1"})
    assert response.status_code == 200
    assert response.get_json() == {"imported": False, "created": 2, "updated": 0,
                                   "assigned": 1, "routed": 1, "leads": []}
    jobs.run()
    with app.app_context():
        assert leads_now() == []
    assert outbox.messages() == []


def test_partners_and_marketers_cannot_import(app, client, vendor):
    with app.app_context():
        partner_token = make_token(make_user(Role.PARTNER_ADMIN))
        marketer_token = make_token(make_user(Role.MARKETER))
    for token, status in ((partner_token, 404), (marketer_token, 403)):
        response = client.post("/api/v1/leads/import", json={"items": [ADA]},
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == status
    with app.app_context():
        assert leads_now() == []


def test_csv_upload_page_reports_lines_then_imports(app, client, vendor, jobs):
    login(client, "cm@vendor.test")
    page = client.get("/leads/import")
    assert page.status_code == 200 and "external_id" in page.get_data(as_text=True)
    csrf = csrf_from(page.get_data(as_text=True))

    def upload(text: str, **extra):
        return client.post("/leads/import", data={
            "csrf_token": csrf, "file": (io.BytesIO(text.encode()), "leads.csv"), **extra},
            content_type="multipart/form-data")

    bad = upload("email;first_name;country;consent_given;consent_text;partner_id\n"
                 "ok@example.com;Olga;DE;yes;I agree.;\n"
                 "broken;Ben;DE;no;;\n"
                 "=cmd@example.com;Eve;ZZ;no;;\n"
                 f"p@example.com;Pat;FR;no;;{vendor['south']}x\n")
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Nothing was imported" in text
    for line, field in (("3", "email"), ("4", "country"), ("5", "partner_id")):
        assert f'<td data-label="Line">{line}</td><td data-label="Field">{field}</td>' in text
    assert upload("name,email\nX,x@example.com\n").status_code == 422
    checked = upload("email,first_name,partner_id\nolga@example.com,Olga,\n"
                     f"pat@example.com,Pat,{vendor['south']}\n", dry_run="1")
    assert "Would import: 2 new, 0 updated; 1 given to the partner named, 1 routed" in \
        checked.get_data(as_text=True)
    with app.app_context():
        assert leads_now() == []
    done = upload("email,first_name,partner_id\nolga@example.com,Olga,\n"
                  f"pat@example.com,Pat,{vendor['south']}\n")
    assert done.status_code == 200 and "Imported: 2 new" in done.get_data(as_text=True)
    jobs.run()
    with app.app_context():
        olga, pat = leads_now()
        assert olga.routing is Routing.OFFERED
        assert pat.partner.public_id == vendor["south"] and pat.routing is Routing.ROUTED
    partner = app.test_client()
    login(partner, "admin@northwind.test")
    assert partner.get("/leads/import").status_code == 404


def test_imported_leads_reach_the_crm_webhook(app, client, vendor):
    with app.app_context():
        webhooks.create_endpoint({"url": "http://127.0.0.1:9/crm",
                                  "events": ["lead.created"]})
        db.session.commit()
    assert post(client, vendor, [{**ADA, "partner_id": vendor["north"]},
                                 {"email": "bob@example.com"}]).status_code == 201
    with app.app_context():
        created = db.session.execute(select(WebhookDelivery)).scalars().all()
        assert sorted((d.event, d.payload["email"], d.payload["external_id"])
                      for d in created) == [("lead.created", "ada@example.com", "crm-1"),
                                            ("lead.created", "bob@example.com", None)]
