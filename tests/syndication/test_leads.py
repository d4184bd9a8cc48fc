"""Leads: the public form (token, honeypot, rate limits, validation), attribution and
deduplication, the partner's inbox and the vendor's view, statuses, CSV, notifications, the
API, and tenancy, on the real database, Redis, queue and outbox."""

from __future__ import annotations

import csv
import io
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from syndication.leads import inbox, notify
from syndication.leads.models import Lead, LeadEventKind, LeadStatus, Routing
from tcma.auth.models import Role
from tcma.errors import Conflict, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tests.factories import csrf_from, login, make_partner, make_token, make_user
from tests.syndication.test_pages import branded_partner, published_page

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
PERSON = {"first_name": "Hannah", "email": "hannah@example.com", "company": "Schmidt GmbH",
          "country": "DE", "consent": "yes"}


def form_of(page_html: str) -> dict[str, str]:
    """The hidden fields a browser would send back: the token and where the visitor came from."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page_html))


def submit(client, url: str, data: dict, *, query: dict | None = None, ip: str = "198.51.100.4",
           **kw):
    """Open the page (as a visitor arriving with ``query``), then send its form."""
    opened = client.get(url, query_string=query or {})
    assert opened.status_code == 200, opened.get_data(as_text=True)
    hidden = form_of(opened.get_data(as_text=True))
    return client.post(url, data={**hidden, **data}, headers={"User-Agent": BROWSER},
                       environ_base={"REMOTE_ADDR": ip}, **kw)


def leads_now() -> list[Lead]:
    db.session.expire_all()
    return list(db.session.execute(select(Lead).order_by(Lead.id)).scalars())


@pytest.fixture
def live(ctx):
    """A branded partner and a published page at its address."""
    partner = branded_partner()
    page = published_page()
    return partner, page, f"/p/{partner.slug}/{page.slug}"


# --- the form ----------------------------------------------------------------------------------


def test_a_submission_becomes_a_lead_with_consent_attribution_and_no_raw_ip(client, live):
    partner, page, url = live
    client.set_cookie("tcma_ft", "firstcode.aaaa1111", domain="localhost")
    client.set_cookie("tcma_lt", "othercode.bbbb2222", domain="localhost")
    response = submit(client, url, PERSON, query={
        "tcma_cid": "lastcode.cccc3333", "utm_source": partner.slug, "utm_medium": "email",
        "utm_campaign": "spring-kit", "utm_content": "email-1", "other": "ignored"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"{url}?submitted=1"
    thanks = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Thanks, we will call you." in thanks and 'name="form_token"' not in thanks

    [lead] = leads_now()
    assert (lead.partner_id, lead.page_id, lead.routing) == (partner.id, page.id, Routing.DIRECT)
    assert (lead.first_name, lead.email, lead.company, lead.country) == (
        "Hannah", "hannah@example.com", "Schmidt GmbH", "DE")
    assert lead.consent_given and lead.consent_version == 1
    assert lead.consent_text == "I agree that Northwind IT Solutions may contact me."
    assert (lead.first_click_id, lead.last_click_id) == ("firstcode.aaaa1111",
                                                         "lastcode.cccc3333")
    assert lead.channel == "email"
    assert lead.utm == {"source": partner.slug, "medium": "email", "campaign": "spring-kit",
                        "content": "email-1"}
    assert lead.status is LeadStatus.NEW and lead.submissions == 1
    assert len(lead.ip_hash) == 64 and "198.51.100.4" not in lead.ip_hash
    assert lead.user_agent == BROWSER
    assert [e.kind for e in lead.events] == [LeadEventKind.CREATED]


def test_without_a_click_id_the_cookies_give_both_touches_and_the_channel_is_web(client,
                                                                               live):
    _, _, url = live
    client.set_cookie("tcma_lt", "lastcode.dddd4444", domain="localhost")
    client.set_cookie("tcma_ft", "not a click id", domain="localhost")  # ignored
    assert submit(client, url, PERSON, query={"utm_medium": "carrier-pigeon"}).status_code == 303
    [lead] = leads_now()
    assert (lead.first_click_id, lead.last_click_id) == ("lastcode.dddd4444",
                                                         "lastcode.dddd4444")
    assert lead.channel == "web" and lead.utm == {"medium": "carrier-pigeon"}


def test_invalid_input_is_shown_again_with_messages_and_what_was_typed(client, live):
    _, _, url = live
    response = submit(client, url, {"first_name": "", "email": "not-an-email",
                                    "company": "<b>Acme</b>", "country": "XX",
                                    "phone": "call me maybe", "message": "x" * 5001})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    for message in ("Please fill in first name.", "Please enter a valid email address",
                    "Please choose a country", "Please enter a phone number",
                    "Please keep this to 5,000 characters.", "Please tick the box"):
        assert message in body, message
    assert 'value="not-an-email"' in body and 'value="&lt;b&gt;Acme&lt;/b&gt;"' in body
    assert "<b>Acme</b>" not in body
    assert leads_now() == []


def test_the_honeypot_gets_the_thank_you_and_nothing_is_stored(client, live, jobs, outbox):
    _, _, url = live
    response = submit(client, url, {**PERSON, "website_url": "http://spam.example"})
    assert response.status_code == 303 and response.headers["Location"].endswith(
        "?submitted=1")
    jobs.run()
    assert leads_now() == [] and outbox.messages() == []


def test_forged_foreign_expired_or_missing_tokens_are_refused_keeping_the_input(client, app,
                                                                                live):
    partner, page, url = live
    other = make_partner("Contoso")
    other_url = f"/p/{other.slug}/{page.slug}"
    hidden = form_of(client.get(url).get_data(as_text=True))
    token = hidden["form_token"]
    foreign = form_of(client.get(other_url).get_data(as_text=True))["form_token"]
    for sent in (token[:-4] + "AAAA", foreign, "", None):
        data = {**PERSON, "form_token": sent} if sent is not None else dict(PERSON)
        response = client.post(url, data=data)
        assert response.status_code == 400, sent
        body = response.get_data(as_text=True)
        assert "We could not verify this form" in body and 'value="Schmidt GmbH"' in body
        # A fresh token comes with the answer: sending again works.
        assert form_of(body)["form_token"] != sent
    app.config["LEAD_FORM_MAX_AGE_SECONDS"] = -1
    try:
        expired = client.post(url, data={**PERSON, "form_token": token})
    finally:
        del app.config["LEAD_FORM_MAX_AGE_SECONDS"]
    assert expired.status_code == 400 and "open for too long" in expired.get_data(as_text=True)
    assert leads_now() == []
    assert client.post(url, data={**PERSON, "form_token": token}).status_code == 303


def test_floods_get_429_with_retry_after_per_address_and_per_form(client, app, live):
    _, _, url = live
    app.config.update(LEAD_FORM_IP_LIMIT=2, LEAD_FORM_PAGE_LIMIT=3)
    try:
        for n in range(2):
            assert submit(client, url, {**PERSON, "email": f"p{n}@example.com"}).status_code == 303
        flooded = submit(client, url, {**PERSON, "email": "p2@example.com"})
        assert flooded.status_code == 429
        assert 0 < int(flooded.headers["Retry-After"]) <= 600
        body = flooded.get_data(as_text=True)
        assert "Too many attempts" in body and 'value="p2@example.com"' in body
        # Another address still gets through, until the form's own limit is reached.
        assert submit(client, url, {**PERSON, "email": "p3@example.com"},
                      ip="203.0.113.9").status_code == 303
        assert submit(client, url, {**PERSON, "email": "p4@example.com"},
                      ip="203.0.113.10").status_code == 429
    finally:
        for key in ("LEAD_FORM_IP_LIMIT", "LEAD_FORM_PAGE_LIMIT"):
            del app.config[key]
    assert len(leads_now()) == 3


# --- deduplication ---------------------------------------------------------------------------


def test_the_same_person_again_updates_their_lead_and_is_announced_once(client, live, jobs,
                                                                       outbox):
    partner, page, url = live
    admin = make_user(Role.PARTNER_ADMIN, partner=partner, email="boss@northwind.example")
    make_user(Role.PARTNER_USER, partner=partner, email="staff@northwind.example")
    assert submit(client, url, PERSON, query={"tcma_cid": "one.first111"}).status_code == 303
    jobs.run()
    assert len(outbox.messages()) == 2
    again = {**PERSON, "email": "Hannah@EXAMPLE.com", "company": "Schmidt Logistik GmbH"}
    assert submit(client, url, again, query={"tcma_cid": "two.second22"}).status_code == 303
    jobs.run()

    [lead] = leads_now()
    assert lead.submissions == 2 and lead.company == "Schmidt Logistik GmbH"
    assert (lead.first_click_id, lead.last_click_id) == ("one.first111", "two.second22")
    assert [e.kind for e in lead.events] == [LeadEventKind.CREATED, LeadEventKind.RESUBMITTED]
    assert lead.events[1].data["changed"] == ["company"]
    # One email per lead contact (the partner admin and the brand profile's address), for
    # the first submission only.
    assert sorted(m.to for m in outbox.messages()) == [admin.email, "hello@northwind.example"]
    mail = outbox.to(admin.email)[0]
    assert "New lead: Hannah (Schmidt GmbH)" == mail.subject
    assert f"http://localhost/leads/{lead.public_id}" in mail.text
    assert notify.announce_new_lead(lead.id) == []  # a redelivered message sends nothing


def test_after_the_window_a_new_submission_is_a_new_lead(client, live):
    _, _, url = live
    assert submit(client, url, PERSON).status_code == 303
    [old] = leads_now()
    old.last_submitted_at = utcnow() - timedelta(days=31)
    db.session.commit()
    assert submit(client, url, PERSON).status_code == 303
    first, second = leads_now()
    assert first.dedup_key is None and second.dedup_key is not None
    assert (first.submissions, second.submissions) == (1, 1)


def test_two_submissions_at_the_same_moment_make_one_lead(app, live):
    _, _, url = live
    clients = [app.test_client() for _ in range(4)]
    forms = [form_of(c.get(url).get_data(as_text=True)) for c in clients]
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def post(c, hidden):
        barrier.wait()
        statuses.append(c.post(url, data={**hidden, **PERSON}).status_code)

    threads = [threading.Thread(target=post, args=pair) for pair in zip(clients, forms,
                                                                        strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [303] * 4
    [lead] = leads_now()
    assert lead.submissions == 4
    assert sum(e.kind is LeadEventKind.CREATED for e in lead.events) == 1


# --- the inbox -------------------------------------------------------------------------------


def test_inbox_and_csv_show_hostile_input_as_text(client, app):
    with app.app_context():
        partner = branded_partner()
        page = published_page()
        user = make_user(Role.PARTNER_USER, partner=partner)
        url, email = f"/p/{partner.slug}/{page.slug}", user.email
    visitor = app.test_client()
    assert submit(visitor, url, {**PERSON, "first_name": "<script>alert(1)</script>",
                                 "company": "=HYPERLINK(\"http://evil.example\")",
                                 "message": "@SUM(1+1)\nsecond line"}).status_code == 303
    login(client, email)
    listing = client.get("/leads").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in listing
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing
    lead_url = re.search(r'href="(/leads/[^"]+)"', listing).group(1)
    detail = client.get(lead_url).get_data(as_text=True)
    assert "<script>alert" not in detail and "&lt;script&gt;" in detail

    export = client.get("/leads.csv")
    assert export.mimetype == "text/csv" and "attachment" in export.headers[
        "Content-Disposition"]
    raw = export.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 1
    assert rows[0]["company"] == "'=HYPERLINK(\"http://evil.example\")"
    assert rows[0]["message"] == "'@SUM(1+1)\nsecond line"
    assert rows[0]["first_name"] == "<script>alert(1)</script>"  # CSV is text, not HTML
    assert inbox.safe_cell("-2+3") == "'-2+3" and inbox.safe_cell("\tx") == "'\tx"
    assert inbox.safe_cell("plain") == "plain" and inbox.safe_cell(None) == ""


def test_status_machine_allows_the_path_and_refuses_illegal_moves(ctx):
    partner = branded_partner()
    page = published_page()
    from syndication.leads import service
    from syndication.leads.form import Submission

    lead, created = service.capture(page, partner, Submission(
        values={"email": "x@example.com"}, consent_given=False), consent_text="",
        first_click_id=None, last_click_id=None, ip="1.2.3.4", user_agent="")
    assert created
    with pytest.raises(Conflict) as illegal:
        inbox.change_status(lead, "won", by=None)
    assert "cannot become won" in illegal.value.message
    with pytest.raises(ValidationFailed) as no_reason:
        inbox.change_status(lead, LeadStatus.REJECTED, by=None)
    assert no_reason.value.for_field("reason")
    for step in ("accepted", "working", "qualified", "won"):
        inbox.change_status(lead, step, by=None, note=f"now {step}")
    assert lead.status is LeadStatus.WON
    with pytest.raises(Conflict):
        inbox.change_status(lead, "lost", by=None)
    kinds = [e.kind.value for e in lead.events]
    assert kinds.count("status_changed") == 4 and kinds.count("note_added") == 4
    other, _ = service.capture(page, partner, Submission(values={"email": "y@example.com"},
                                                         consent_given=False),
                               consent_text="", first_click_id=None, last_click_id=None,
                               ip="", user_agent="")
    inbox.change_status(other, "rejected", by=None, reason="Spam")
    assert other.status_reason == "Spam" and inbox.next_statuses(other) == []


def test_partner_works_a_lead_through_the_pages(client, app):
    with app.app_context():
        partner = branded_partner()
        page = published_page()
        user = make_user(Role.PARTNER_USER, partner=partner, name="Pat Partner")
        url, email = f"/p/{partner.slug}/{page.slug}", user.email
    assert submit(app.test_client(), url, PERSON).status_code == 303
    login(client, email)
    listing = client.get("/leads", query_string={"status": "new", "q": "schmidt"})
    lead_url = re.search(r'href="(/leads/[^"]+)"', listing.get_data(as_text=True)).group(1)
    csrf = csrf_from(client.get(lead_url).get_data(as_text=True))
    client.post(f"{lead_url}/status", data={"csrf_token": csrf, "status": "rejected"})
    assert "Say why the lead is rejected." in client.get(lead_url).get_data(as_text=True)
    client.post(f"{lead_url}/status", data={"csrf_token": csrf, "status": "accepted",
                                            "note": "Calling Monday"})
    client.post(f"{lead_url}/notes", data={"csrf_token": csrf, "note": "Left a voicemail"})
    detail = client.get(lead_url).get_data(as_text=True)
    assert "new → accepted" in detail and "Calling Monday" in detail
    assert "Left a voicemail" in detail and "Pat Partner" in detail
    assert "accepted" in client.get("/leads", query_string={"status": "accepted"}).get_data(
        as_text=True)
    assert "Hannah" not in client.get("/leads", query_string={"status": "new"}).get_data(
        as_text=True)


# --- who sees what -----------------------------------------------------------------------------


def test_partners_see_only_their_own_leads_and_never_unrouted_ones(client, app):
    with app.app_context():
        a, b = branded_partner("Alpha"), branded_partner("Bravo")
        page = published_page()
        generic = published_page(slug="vendor-event", kind="generic")
        a_user = make_user(Role.PARTNER_ADMIN, partner=a)
        a_token = make_token(a_user)
        vendor = make_user(Role.CHANNEL_MANAGER)
        vendor_token = make_token(vendor)
        urls = (f"/p/{a.slug}/{page.slug}", f"/p/{b.slug}/{page.slug}",
                f"/p/{generic.slug}")
        a_email, vendor_email, b_id = a_user.email, vendor.email, b.public_id
    for url, name in zip(urls, ("Alice", "Bob", "Gina"), strict=True):
        assert submit(app.test_client(), url, {**PERSON, "first_name": name,
                                               "email": f"{name.lower()}@example.com"}
                      ).status_code == 303
    with app.app_context():
        by_name = {lead.first_name: lead for lead in leads_now()}
        ids = {n: lead.public_id for n, lead in by_name.items()}
        assert by_name["Gina"].partner_id is None
        assert by_name["Gina"].routing is Routing.UNROUTED

    login(client, a_email)
    listing = client.get("/leads").get_data(as_text=True)
    assert "Alice" in listing and "Bob" not in listing and "Gina" not in listing
    assert client.get(f"/leads/{ids['Bob']}").status_code == 404
    assert client.get(f"/leads/{ids['Gina']}").status_code == 404
    csrf = csrf_from(client.get(f"/leads/{ids['Alice']}").get_data(as_text=True))
    assert client.post(f"/leads/{ids['Bob']}/status", data={
        "csrf_token": csrf, "status": "accepted"}).status_code == 404
    assert "Bob" not in client.get("/leads.csv", query_string={"partner": b_id}).get_data(
        as_text=True)

    api = {"Authorization": f"Bearer {a_token}"}
    listed = client.get("/api/v1/leads", headers=api).get_json()
    assert [i["first_name"] for i in listed["items"]] == ["Alice"] and listed["total"] == 1
    for name in ("Bob", "Gina"):
        assert client.get(f"/api/v1/leads/{ids[name]}", headers=api).status_code == 404
        assert client.post(f"/api/v1/leads/{ids[name]}/status", headers=api,
                           json={"status": "accepted"}).status_code == 404
    assert client.get("/api/v1/leads", headers=api,
                      query_string={"partner": b_id}).status_code == 422

    # Vendor staff see everything, with the partner (or "unrouted") beside each lead.
    staff = app.test_client()
    login(staff, vendor_email)
    everything = staff.get("/leads").get_data(as_text=True)
    assert all(n in everything for n in ("Alice", "Bob", "Gina")) and "Unrouted" in everything
    only_b = staff.get("/leads", query_string={"partner": b_id}).get_data(as_text=True)
    assert "Bob" in only_b and "Alice" not in only_b
    vendor_api = {"Authorization": f"Bearer {vendor_token}"}
    unrouted = staff.get("/api/v1/leads", headers=vendor_api,
                         query_string={"partner": "unrouted"}).get_json()
    assert [(i["first_name"], i["partner_id"], i["routing"]) for i in unrouted["items"]] == [
        ("Gina", None, "unrouted")]


def test_leads_api_lists_filters_and_moves_leads(client, app):
    with app.app_context():
        partner = branded_partner()
        page = published_page()
        user = make_user(Role.PARTNER_ADMIN, partner=partner)
        token = make_token(user)
        url, page_id, partner_id = (f"/p/{partner.slug}/{page.slug}", page.public_id,
                                    partner.public_id)
    for name in ("Ann", "Ben"):
        submit(app.test_client(), url, {**PERSON, "first_name": name,
                                        "email": f"{name}@example.com"},
               query={"tcma_cid": "code1.abc", "utm_medium": "social"})
    api = {"Authorization": f"Bearer {token}"}
    found = client.get("/api/v1/leads", headers=api,
                       query_string={"q": "ann", "page": page_id}).get_json()
    assert found["total"] == 1
    ann = found["items"][0]
    assert (ann["partner_id"], ann["page_id"], ann["channel"], ann["last_click_id"]) == (
        partner_id, page_id, "social", "code1.abc")
    assert ann["consent"] == {"given": True, "version": 1,
                              "text": "I agree that Northwind IT Solutions may contact me."}
    moved = client.post(f"/api/v1/leads/{ann['id']}/status", headers=api,
                        json={"status": "accepted", "note": "Mine"})
    assert moved.status_code == 200 and moved.get_json()["status"] == "accepted"
    illegal = client.post(f"/api/v1/leads/{ann['id']}/status", headers=api,
                          json={"status": "new"})
    assert illegal.status_code == 409 and "It can become" in illegal.get_json()["detail"]
    noted = client.post(f"/api/v1/leads/{ann['id']}/notes", headers=api, json={"text": "Hi"})
    assert noted.status_code == 201
    assert [e["kind"] for e in noted.get_json()["events"]] == [
        "created", "status_changed", "note_added", "note_added"]
    assert client.get("/api/v1/leads", headers=api,
                      query_string={"status": "accepted"}).get_json()["total"] == 1
    assert client.get("/api/v1/leads", headers=api,
                      query_string={"status": "bogus"}).status_code == 422


def test_lead_changes_reach_subscribed_webhooks(client, app, live):
    from tcma.webhooks import service as webhooks
    from tcma.webhooks.models import WebhookDelivery

    _, _, url = live
    webhooks.create_endpoint({"url": "http://127.0.0.1:9/crm", "events": ["lead.created"]})
    db.session.commit()
    assert submit(client, url, PERSON).status_code == 303
    assert submit(client, url, PERSON).status_code == 303  # an update: not subscribed
    db.session.expire_all()
    deliveries = db.session.execute(select(WebhookDelivery)).scalars().all()
    assert [d.event for d in deliveries] == ["lead.created"]
    assert deliveries[0].payload["email"] == "hannah@example.com"
    assert deliveries[0].payload["consent"]["version"] == 1


def test_a_partner_scoped_session_never_loads_unrouted_leads(ctx):
    """The mechanism under the pages: NULL-partner rows stay out of every partner's scope."""
    from syndication.leads import service
    from syndication.leads.form import Submission
    from tcma.tenancy import scope_session_to_partner

    partner = branded_partner("Alpha")
    page = published_page()
    generic = published_page(slug="vendor-event", kind="generic")
    for where, who in ((partner, "a@example.com"), (None, "g@example.com")):
        service.capture(generic if where is None else page, where,
                        Submission(values={"email": who}, consent_given=False),
                        consent_text="", first_click_id=None, last_click_id=None, ip="",
                        user_agent="")
    db.session.commit()
    partner_id = partner.id
    db.session.remove()

    scope_session_to_partner(partner_id)
    assert [lead.email for lead in db.session.execute(select(Lead)).scalars()] == [
        "a@example.com"]
    assert inbox.list_leads(inbox.LeadFilter(partner=inbox.UNROUTED)) == ([], 0)
    scope_session_to_partner(None)
    assert len(db.session.execute(select(Lead)).scalars().all()) == 2
