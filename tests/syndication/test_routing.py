"""Routing vendor leads: rules by country, region, language and tier; fair round robin (also
under concurrent routings); offers accepted, declined and pulled back after the window (time
passed in as ``now``); nobody left; assignment by hand; who sees what; the rule screens and
API. Real database, Redis, queue and outbox."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from syndication.leads import inbox, routing, rules, service
from syndication.leads.form import Submission
from syndication.leads.models import Lead, LeadEventKind, LeadStatus, Routing
from syndication.leads.routing_models import LeadOffer, OfferOutcome, RoutingRule
from syndication.leads.tasks import pull_back_expired_offers
from tcma.auth.models import Role, User
from tcma.errors import Conflict, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners import service as partners_service
from tcma.partners.models import Partner, PartnerStatus
from tests.factories import csrf_from, login, make_partner, make_token, make_user
from tests.syndication.test_pages import published_page

#: "Now" for the tests that pass time in: a whole minute, so deadlines print exactly.
T0 = utcnow().replace(second=0, microsecond=0)


def stamp(hours: int) -> str:
    return (T0 + timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M")


def suspended_partner(name: str, **kw) -> Partner:
    partner = make_partner(name, **kw)
    partners_service.change_status(partner, PartnerStatus.SUSPENDED, by=None)
    db.session.commit()
    return partner


def vendor_lead(email: str, **values) -> int:
    """A lead from the vendor's generic page (no partner), committed; returns its id."""
    page = db.session.execute(select(service.LandingPage).where(
        service.LandingPage.slug == "vendor-event")).scalar_one_or_none()
    page = page or published_page(slug="vendor-event", kind="generic")
    lead, _ = service.capture(page, None, Submission(values={"email": email, **values},
                                                     consent_given=False),
                              consent_text="", first_click_id=None, last_click_id=None,
                              ip="192.0.2.9", user_agent="")
    db.session.commit()
    return lead.id


def rule(name: str = "Everyone", **fields) -> RoutingRule:
    made = rules.create_rule({"name": name, **fields}, by=None)
    db.session.commit()
    return made


def lead(lead_id: int) -> Lead:
    db.session.expire_all()
    return db.session.get(Lead, lead_id)


def holder(lead_id: int) -> str | None:
    found = lead(lead_id)
    return found.partner.name if found.partner else None


# --- which rule, which partner -----------------------------------------------------------------


def test_rules_match_country_region_and_language_and_pick_by_tier(ctx):
    gold = make_partner("Gold DE", tier="gold", region="EMEA", language="de")
    make_partner("Silver DE", tier="silver", region="EMEA", language="de")
    suspended_partner("Gold suspended", tier="gold", region="EMEA")
    apac = make_partner("Tokyo Partner", tier="silver", region="APAC", language="ja")
    french = make_partner("Paris Partner", tier="silver", region="EMEA", language="fr")
    amer = make_partner("Boston Partner", tier="gold", region="AMER", language="en")
    rule("DACH gold", countries=["de", "AT", "CH"], partner_tiers=["gold"],
         partner_regions=["EMEA"])
    rule("APAC", regions=["APAC"], partner_regions=["APAC"])
    rule("French speakers", languages=["fr"], partner_languages=["fr"])
    rule("Americas, own region", regions=["AMER", "LATAM"], same_region=True)

    cases = {"DE": gold, "CH": gold, "JP": apac, "FR": french, "US": amer}
    for country, expected in cases.items():
        lead_id = vendor_lead(f"{country.lower()}@example.com", country=country)
        assert routing.route_new(lead_id, now=T0) is True
        db.session.commit()
        routed = lead(lead_id)
        assert routed.partner_id == expected.id, country
        assert routed.routing is Routing.OFFERED and routed.status is LeadStatus.NEW
        assert routed.offer_expires_at == T0 + timedelta(hours=48)

    # The lead's own language beats its country's: a Swiss lead speaking French is DACH's,
    # a US lead writing in French the French speakers'.
    swiss = lead(vendor_lead("ch-fr@example.com", country="CH"))
    assert routing.matching_rule(swiss).name == "DACH gold"
    us_fr = lead(vendor_lead("us-fr@example.com", country="US"))
    us_fr.language = "fr-CA"
    assert routing.matching_rule(us_fr).name == "French speakers"
    # Brazil is LATAM: "own region" finds no LATAM partner -> unrouted, vendor told.
    brazil = vendor_lead("br@example.com", country="BR")
    assert routing.route_new(brazil, now=T0) is False
    db.session.commit()
    assert lead(brazil).routing is Routing.UNROUTED and lead(brazil).partner_id is None
    # No rule for Kenya... unless it is EMEA: it is, but DACH lists countries only.
    kenya = vendor_lead("ke@example.com", country="KE")
    assert routing.route_new(kenya, now=T0) is False
    db.session.commit()
    assert [e.text for e in lead(kenya).events if e.kind is LeadEventKind.UNROUTED] == [
        "No routing rule matched this lead."]
    # The routing step is done once: a redelivered message changes nothing.
    assert routing.route_new(kenya, now=T0) is False
    db.session.commit()
    assert sum(e.kind is LeadEventKind.UNROUTED for e in lead(kenya).events) == 1


def test_first_matching_enabled_rule_wins_and_fixed_partner_gets_it(ctx):
    fixed = make_partner("Fixed One", tier="silver")
    other = make_partner("Round One", tier="gold")
    off = rule("Disabled catch-all", enabled=False)
    rule("Germany to one partner", countries=["DE"], strategy="fixed",
         fixed_partner_id=fixed.public_id)
    rule("The rest", partner_tiers=["gold"])
    first = vendor_lead("a@example.com", country="DE")
    second = vendor_lead("b@example.com", country="IT")
    routing.route_new(first, now=T0)
    routing.route_new(second, now=T0)
    db.session.commit()
    assert (holder(first), holder(second)) == ("Fixed One", "Round One")
    assert rules.eligible_counts([off])[off.id] == 2 and other.tier == "gold"
    with pytest.raises(ValidationFailed) as no_partner:
        rules.create_rule({"name": "Broken", "strategy": "fixed"}, by=None)
    assert "needs a partner" in no_partner.value.message
    db.session.rollback()
    with pytest.raises(ValidationFailed) as bad:
        rules.create_rule({"name": "X", "countries": ["XX"], "partner_tiers": ["diamond"]},
                          by=None)
    assert bad.value.for_field("countries") and bad.value.for_field("partner_tiers")


def test_round_robin_takes_turns_fairly_over_many_leads(ctx):
    partners = [make_partner(f"RR {n}", tier="gold") for n in range(3)]
    make_partner("Silver never", tier="silver")
    rr = rule("Gold round robin", partner_tiers=["gold"])
    got = []
    for n in range(7):
        lead_id = vendor_lead(f"p{n}@example.com")
        routing.route_new(lead_id, now=T0)
        db.session.commit()
        got.append(holder(lead_id))
    names = [p.name for p in partners]
    assert got == names * 2 + names[:1]
    db.session.refresh(rr)
    assert rr.offers_made == 7 and rr.last_partner_id == partners[0].id


def test_concurrent_routings_never_lose_or_double_an_offer(app, ctx):
    partners = [make_partner(f"Busy {n}") for n in range(4)]
    rule("Everyone")
    lead_ids = [vendor_lead(f"c{n}@example.com") for n in range(4)]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def route(lead_id: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                routing.route_new(lead_id, now=T0)
                db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=route, args=(i,)) for i in lead_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    holders = [lead(i).partner_id for i in lead_ids]
    assert sorted(holders) == sorted(p.id for p in partners)  # one each, none twice
    assert len(db.session.execute(select(LeadOffer)).scalars().all()) == 4
    assert db.session.execute(select(RoutingRule.offers_made)).scalar_one() == 4


# --- answering offers --------------------------------------------------------------------------


def _offered(app, *names: str, window: int = 48, **lead_values):
    """Partners (with a partner admin each), one rule, and a lead offered to the first."""
    with app.app_context():
        people = {}
        for name in names:
            partner = make_partner(name)
            people[name] = make_user(Role.PARTNER_ADMIN, partner=partner,
                                     email=f"admin@{name.lower().replace(' ', '-')}.test",
                                     name=f"{name} Admin")
        rule("Everyone", window_hours=window)
        lead_id = vendor_lead("hannah@example.com", first_name="Hannah", company="Schmidt AG",
                              phone="+49 30 5555", **lead_values)
        routing.route_new(lead_id, now=T0)
        db.session.commit()
        return lead_id, lead(lead_id).public_id, {n: u.email for n, u in people.items()}


def test_partner_sees_the_offer_with_contact_details_and_accepts_it(app, client, jobs,
                                                                    outbox):
    lead_id, public_id, emails = _offered(app, "Alpha", "Bravo")
    jobs.run()
    [mail] = outbox.to(emails["Alpha"])
    assert "offered to you" in mail.text and f"{stamp(48)} UTC" in mail.text
    login(client, emails["Alpha"])
    listing = client.get("/leads").get_data(as_text=True)
    assert "Hannah" in listing and "offered" in listing and f"answer by {stamp(48)}" in listing
    detail = client.get(f"/leads/{public_id}").get_data(as_text=True)
    assert "This lead is offered to you" in detail and "+49 30 5555" in detail
    assert "Offered to you" in detail and "Change status" not in detail
    csrf = csrf_from(detail)
    refused = client.post(f"/leads/{public_id}/status", data={"csrf_token": csrf,
                                                              "status": "accepted"})
    assert refused.status_code == 302
    assert "accepted or declined first" in client.get(f"/leads/{public_id}").get_data(
        as_text=True)
    assert client.post(f"/leads/{public_id}/accept",
                       data={"csrf_token": csrf}).status_code == 302
    page = client.get(f"/leads/{public_id}").get_data(as_text=True)
    assert "You accepted the lead" in page and "Accepted the offer (new → accepted)" in page
    with app.app_context():
        accepted = lead(lead_id)
        assert (accepted.routing, accepted.status) == (Routing.ACCEPTED, LeadStatus.ACCEPTED)
        assert accepted.offer_expires_at is None
        offer = db.session.execute(select(LeadOffer)).scalar_one()
        assert offer.outcome is OfferOutcome.ACCEPTED
        with pytest.raises(Conflict):  # answered: no second answer
            routing.decline(accepted, "changed my mind", by=make_user(
                Role.PARTNER_USER, partner=accepted.partner))


def test_decline_needs_a_reason_and_hands_the_lead_to_the_next_partner(app, client, jobs,
                                                                       outbox):
    lead_id, public_id, emails = _offered(app, "Alpha", "Bravo Secret")
    login(client, emails["Alpha"])
    csrf = csrf_from(client.get(f"/leads/{public_id}").get_data(as_text=True))
    client.post(f"/leads/{public_id}/decline", data={"csrf_token": csrf, "reason": "  "})
    assert "Say why you decline" in client.get(f"/leads/{public_id}").get_data(as_text=True)
    gone = client.post(f"/leads/{public_id}/decline",
                       data={"csrf_token": csrf, "reason": "Too far from Lisbon"})
    assert gone.status_code == 302 and gone.headers["Location"].endswith("/leads")
    assert client.get(f"/leads/{public_id}").status_code == 404  # no longer Alpha's
    assert "Hannah" not in client.get("/leads").get_data(as_text=True)
    with app.app_context():
        assert lead(lead_id).routing is Routing.PULLED_BACK
    jobs.run()  # the re-offer message, then Bravo's new-lead email
    with app.app_context():
        assert holder(lead_id) == "Bravo Secret" and lead(lead_id).routing is Routing.OFFERED
    assert outbox.to(emails["Bravo Secret"])

    bravo = app.test_client()
    login(bravo, emails["Bravo Secret"])
    seen = bravo.get(f"/leads/{public_id}").get_data(as_text=True)
    assert "Offered to you" in seen and "This lead is offered to you" in seen
    for secret in ("Alpha", "Too far from Lisbon", "Everyone"):  # partner, reason, rule name
        assert secret not in seen, secret


def test_an_offer_not_accepted_in_time_is_pulled_back_by_the_scheduled_job(app, client, jobs,
                                                                          outbox):
    lead_id, public_id, emails = _offered(app, "Alpha", "Bravo", "Charlie")
    with app.app_context():
        a_token = make_token(db.session.execute(select(User).where(
            User.email == emails["Alpha"])).scalar_one())
        assert pull_back_expired_offers(now=T0 + timedelta(hours=47)) == []
        assert holder(lead_id) == "Alpha"
        assert pull_back_expired_offers(now=T0 + timedelta(hours=49)) == [lead_id]
        moved = lead(lead_id)
        assert moved.partner.name == "Bravo" and moved.routing is Routing.OFFERED
        assert moved.offer_expires_at == T0 + timedelta(hours=49 + 48)
        assert pull_back_expired_offers(now=T0 + timedelta(hours=49)) == []  # done once
        kinds = [e.kind.value for e in moved.events]
        assert kinds == ["created", "offered", "offer_expired", "offered"]
        outcomes = {o.partner_id: o.outcome for o in db.session.execute(
            select(LeadOffer)).scalars()}
        assert sorted(o.value for o in outcomes.values()) == ["expired", "pending"]
    # Alpha can no longer see it, on the pages or through the API.
    login(client, emails["Alpha"])
    assert client.get(f"/leads/{public_id}").status_code == 404
    api = {"Authorization": f"Bearer {a_token}"}
    assert client.get(f"/api/v1/leads/{public_id}", headers=api).status_code == 404
    assert client.post(f"/api/v1/leads/{public_id}/accept", headers=api).status_code == 404
    assert client.get("/api/v1/leads", headers=api).get_json()["total"] == 0
    # Bravo's turn, then Charlie's: a third window later Charlie has it.
    with app.app_context():
        assert pull_back_expired_offers(now=T0 + timedelta(hours=98)) == [lead_id]
        assert holder(lead_id) == "Charlie"


def test_two_processes_pulling_back_one_offer_move_it_once(app, ctx):
    make_partner("Alpha")
    make_partner("Bravo")
    make_partner("Charlie")
    rule("Everyone")
    lead_id = vendor_lead("race@example.com")
    routing.route_new(lead_id, now=T0)
    db.session.commit()
    [(found_id, partner_id, deadline)] = routing.expired_offers(T0 + timedelta(hours=49))
    barrier, results = threading.Barrier(2), []

    def pull() -> None:
        with app.app_context():
            barrier.wait()
            results.append(routing.pull_back(found_id, partner_id, deadline,
                                             now=T0 + timedelta(hours=49)))
            db.session.commit()

    threads = [threading.Thread(target=pull) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, True]
    assert holder(lead_id) == "Bravo"
    assert len(db.session.execute(select(LeadOffer)).scalars().all()) == 2
    assert sum(e.kind is LeadEventKind.OFFER_EXPIRED for e in lead(lead_id).events) == 1


def test_with_nobody_left_the_lead_is_unrouted_and_channel_managers_are_emailed(app, jobs,
                                                                               outbox):
    lead_id, public_id, emails = _offered(app, "Alpha", "Bravo", window=1)
    with app.app_context():
        cm = make_user(Role.CHANNEL_MANAGER, email="cm@vendor.test")
        make_user(Role.ADMIN, email="admin@vendor.test")
        pull_back_expired_offers(now=T0 + timedelta(hours=2))
        assert holder(lead_id) == "Bravo"
        pull_back_expired_offers(now=T0 + timedelta(hours=4))
        gone = lead(lead_id)
        assert gone.partner_id is None and gone.routing is Routing.UNROUTED
        assert gone.events[-1].text == "No eligible partner is left after 2 offers."
        listed, total = inbox.list_leads(inbox.LeadFilter(partner=inbox.UNROUTED))
        assert total == 1 and listed[0].id == lead_id
        cm_email = cm.email
    jobs.run()
    [mail] = outbox.to(cm_email)
    assert "needs a partner" in mail.subject and f"/leads/{public_id}" in mail.text
    assert "No eligible partner is left after 2 offers." in mail.text
    assert outbox.to("admin@vendor.test") == []  # channel managers first


def test_vendor_assigns_by_hand_and_a_pending_offer_is_withdrawn(app, client, jobs, outbox):
    lead_id, public_id, emails = _offered(app, "Alpha", "Bravo")
    with app.app_context():
        charlie = make_partner("Charlie")
        make_user(Role.PARTNER_ADMIN, partner=charlie, email="c@charlie.test")
        suspended = suspended_partner("Sleepy")
        cm = make_user(Role.CHANNEL_MANAGER, name="Chris Manager")
        c_id, sleepy_id, cm_email = charlie.public_id, suspended.public_id, cm.email
    login(client, cm_email)
    detail = client.get(f"/leads/{public_id}").get_data(as_text=True)
    assert "Assign to a partner" in detail and "Offered to Alpha" in detail
    csrf = csrf_from(detail)
    client.post(f"/leads/{public_id}/assign", data={"csrf_token": csrf,
                                                   "partner_id": sleepy_id})
    assert "Sleepy is suspended." in client.get(f"/leads/{public_id}").get_data(as_text=True)
    client.post(f"/leads/{public_id}/assign", data={"csrf_token": csrf, "partner_id": c_id,
                                                   "note": "Charlie knows them"})
    with app.app_context():
        moved = lead(lead_id)
        assert moved.partner.name == "Charlie" and moved.routing is Routing.ROUTED
        assert moved.offer_expires_at is None
        assert {o.outcome for o in db.session.execute(select(LeadOffer)).scalars()} == {
            OfferOutcome.WITHDRAWN}
        assert pull_back_expired_offers(now=T0 + timedelta(days=30)) == []  # no window
    jobs.run()
    assert outbox.to("c@charlie.test")
    charlie_client = app.test_client()
    login(charlie_client, "c@charlie.test")
    seen = charlie_client.get(f"/leads/{public_id}").get_data(as_text=True)
    assert "Assigned to you" in seen and "Charlie knows them" in seen and "Alpha" not in seen
    assert "Change status" in seen  # theirs to work, no offer to answer
    alpha = app.test_client()
    login(alpha, emails["Alpha"])
    assert alpha.get(f"/leads/{public_id}").status_code == 404


def test_routing_api_accept_decline_assign_and_partner_views_of_history(app, client, jobs):
    lead_id, public_id, emails = _offered(app, "Alpha", "Bravo")
    with app.app_context():
        users = {n: db.session.execute(select(User).where(
            User.email == e)).scalar_one() for n, e in emails.items()}
        tokens = {n: make_token(u) for n, u in users.items()}
        vendor = make_token(make_user(Role.CHANNEL_MANAGER))
        marketer = make_token(make_user(Role.MARKETER))
        bravo_id = db.session.execute(select(Partner.public_id).where(
            Partner.name == "Bravo")).scalar_one()

    def call(token, method, path, **kw):
        return client.open(f"/api/v1{path}", method=method,
                           headers={"Authorization": f"Bearer {token}"}, **kw)

    assert call(tokens["Bravo"], "POST", f"/leads/{public_id}/accept").status_code == 404
    assert call(vendor, "POST", f"/leads/{public_id}/accept").status_code == 409
    assert call(tokens["Alpha"], "POST", f"/leads/{public_id}/decline",
                json={"reason": ""}).status_code == 422
    answer = call(tokens["Alpha"], "POST", f"/leads/{public_id}/decline",
                  json={"reason": "No capacity"})
    assert answer.status_code == 200
    assert answer.get_json()["outcome"] == "declined"
    assert call(tokens["Alpha"], "GET", f"/leads/{public_id}").status_code == 404
    jobs.run()
    got = call(tokens["Bravo"], "GET", f"/leads/{public_id}").get_json()
    assert got["routing"] == "offered" and got["offer_expires_at"]
    assert [e["kind"] for e in got["events"]] == ["created", "offered"]
    assert all((e["data"] or {}).keys() <= {"expires_at", "click_id", "utm"}
               for e in got["events"])
    assert "Alpha" not in str(got) and "No capacity" not in str(got)
    accepted = call(tokens["Bravo"], "POST", f"/leads/{public_id}/accept")
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "accepted"
    # The vendor sees the whole story, names included.
    full = call(vendor, "GET", f"/leads/{public_id}").get_json()
    assert [e["kind"] for e in full["events"]] == [
        "created", "offered", "offer_declined", "offered", "offer_accepted"]
    assert full["events"][2]["text"] == "No capacity"
    assert full["events"][1]["data"]["partner_name"] == "Alpha"
    # Marketers may look but not route; assigning to the same partner is a conflict.
    assert call(marketer, "POST", f"/leads/{public_id}/assign",
                json={"partner_id": bravo_id}).status_code == 403
    assert call(vendor, "POST", f"/leads/{public_id}/assign",
                json={"partner_id": bravo_id}).status_code == 409
    assert call(vendor, "POST", f"/leads/{public_id}/assign",
                json={"partner_id": "nope"}).status_code == 422
    with app.app_context():
        assert lead(lead_id).status is LeadStatus.ACCEPTED


# --- the rule screens and API ------------------------------------------------------------------


def test_channel_manager_manages_rules_on_the_pages(app, client):
    with app.app_context():
        make_partner("Gold A", tier="gold")
        make_partner("Gold B", tier="gold")
        silver = make_partner("Silver C", tier="silver")
        cm = make_user(Role.CHANNEL_MANAGER).email
        partner_user = make_user(Role.PARTNER_ADMIN, partner=silver).email
    login(client, cm)
    form = client.get("/leads/routing/new").get_data(as_text=True)
    csrf = csrf_from(form)
    bad = client.post("/leads/routing/new", data={"csrf_token": csrf, "name": "Bad",
                                                  "countries": "DE, Atlantis"})
    assert bad.status_code == 422 and "is not an ISO country code" in bad.get_data(
        as_text=True) and 'value="DE, Atlantis"' in bad.get_data(as_text=True)
    for name, tiers in (("Gold only", ["gold"]), ("Anyone", [])):
        made = client.post("/leads/routing/new", data={
            "csrf_token": csrf, "name": name, "enabled": "1", "countries": "de at",
            "partner_tiers": tiers, "strategy": "round_robin", "window_hours": "24"})
        assert made.status_code == 302
    listing = client.get("/leads/routing").get_data(as_text=True)
    assert listing.index("Gold only") < listing.index("Anyone")
    assert re.findall(r'data-testid="eligible">(\d+)<', listing) == ["2", "3"]
    ids = re.findall(r'href="/leads/routing/(?!new")([\w-]+)"', listing)
    client.post(f"/leads/routing/{ids[1]}/move", data={"csrf_token": csrf,
                                                       "direction": "up"})
    listing = client.get("/leads/routing").get_data(as_text=True)
    assert listing.index("Anyone") < listing.index("Gold only")
    edit = client.get(f"/leads/routing/{ids[0]}").get_data(as_text=True)
    assert 'value="DE, AT"' in edit and 'value="24"' in edit
    client.post(f"/leads/routing/{ids[0]}", data={"csrf_token": csrf, "name": "Gold DACH",
                                                  "countries": "DE AT CH",
                                                  "partner_tiers": "gold", "enabled": "1"})
    client.post(f"/leads/routing/{ids[1]}/delete", data={"csrf_token": csrf})
    with app.app_context():
        [left] = rules.list_rules()
        assert (left.name, left.countries, left.position, left.window_hours) == (
            "Gold DACH", ["DE", "AT", "CH"], 1, 48)
    partner = app.test_client()
    login(partner, partner_user)
    for url in ("/leads/routing", "/leads/routing/new", f"/leads/routing/{ids[0]}",
                "/leads/import"):
        assert partner.get(url).status_code == 404, url
    assert "Routing rules" not in partner.get("/leads").get_data(as_text=True)


def test_routing_rules_api(app, client):
    with app.app_context():
        fixed = make_partner("Fixed Partner").public_id
        cm = make_token(make_user(Role.CHANNEL_MANAGER))
        partner_token = make_token(make_user(Role.PARTNER_ADMIN))
    api = {"Authorization": f"Bearer {cm}"}
    first = client.post("/api/v1/routing-rules", headers=api, json={
        "name": "Americas", "regions": ["amer", "LATAM"], "partner_regions": ["AMER"]})
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["regions"] == ["AMER", "LATAM"]
    second = client.post("/api/v1/routing-rules", headers=api, query_string={"position": 1},
                         json={"name": "VIP", "strategy": "fixed",
                               "fixed_partner_id": fixed}).get_json()
    assert second["position"] == 1 and second["eligible_partners"] == 1
    assert second["fixed_partner_name"] == "Fixed Partner"
    rid = first.get_json()["id"]
    moved = client.patch(f"/api/v1/routing-rules/{rid}", headers=api,
                         json={"position": 1, "window_hours": 12}).get_json()
    assert (moved["position"], moved["window_hours"], moved["name"]) == (1, 12, "Americas")
    assert [r["name"] for r in client.get("/api/v1/routing-rules",
                                          headers=api).get_json()] == ["Americas", "VIP"]
    bad = client.patch(f"/api/v1/routing-rules/{rid}", headers=api,
                       json={"window_hours": 0, "partner_tiers": ["diamond"]})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.get_json()["errors"]} == {"window_hours", "partner_tiers"}
    assert client.delete(f"/api/v1/routing-rules/{rid}", headers=api).status_code == 204
    assert client.get(f"/api/v1/routing-rules/{rid}", headers=api).status_code == 404
    theirs = {"Authorization": f"Bearer {partner_token}"}
    assert client.get("/api/v1/routing-rules", headers=theirs).status_code == 404
    assert client.post("/api/v1/routing-rules", headers=theirs,
                       json={"name": "Mine"}).status_code == 404
    assert client.get(f"/api/v1/routing-rules/{second['id']}",
                      headers=theirs).status_code == 404


def test_a_generic_page_submission_is_routed_by_the_queued_message(app, jobs, outbox):
    with app.app_context():
        partner = make_partner("Northwind")
        make_user(Role.PARTNER_ADMIN, partner=partner, email="nw@northwind.test")
        rule("Everyone")
        lead_id = vendor_lead("gina@example.com", first_name="Gina")
        assert lead(lead_id).routing is Routing.UNROUTED
    jobs.run()  # route_new_leads, then the partner's new-lead email
    with app.app_context():
        assert holder(lead_id) == "Northwind" and lead(lead_id).routing is Routing.OFFERED
    [mail] = outbox.to("nw@northwind.test")
    assert "Gina" in mail.subject and "accept or decline it by" in mail.text
