"""Launch pages and API: one click on the catalogue page launches a kit and its page shows the
sending reach 100%; the advanced form names the field it refuses; what blocks a launch is
listed with where to fix it; pause, resume and cancel follow the state machine; another
partner's launch does not exist for you; vendor staff watch read-only."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from campaigns import launches
from campaigns.models import Launch, LaunchStatus
from syndication.email import lists
from tcma.auth.models import Role
from tcma.extensions import db
from tcma.models import utcnow
from tests.factories import csrf_from, login, make_partner, make_token, make_user
from tests.syndication.email.world import add_contacts, published_kit, ready_partner

BERLIN = ZoneInfo("Europe/Berlin")


def _signed_in(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def _post(client, url: str, page: str, data: dict | None = None):
    """Submit a form of ``page`` as a browser would (its CSRF token included)."""
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(url, data={**(data or {}), "csrf_token": token})


def _controls(page: str) -> set[str]:
    """The launch controls a person sees (forms not marked hidden)."""
    return {m.group(1) for m in re.finditer(r'data-control="(\w+)"(?! hidden)', page)}


def _error_for(page: str, field: str) -> str:
    match = re.search(rf'<p class="error-text" id="e-{re.escape(field)}">([^<]*)</p>', page)
    assert match, f"no error shown next to {field}"
    return html.unescape(match.group(1))


def test_one_click_launch_sends_to_every_contact_and_the_page_reaches_100_percent(
        app, jobs, outbox):
    with app.app_context():
        partner = ready_partner()
        add_contacts(partner, 3)
        kit_id = published_kit().public_id
        user = make_user(Role.PARTNER_USER, partner=partner).email
    client = _signed_in(app, user)
    kit_page = client.get(f"/catalogue/{kit_id}").get_data(as_text=True)
    assert "Before you can launch" not in kit_page
    assert re.search(r'<button type="submit" id="launch-button"[^>]*>Launch</button>', kit_page)
    assert "disabled" not in re.search(r'<button[^>]*id="launch-button"[^>]*>', kit_page)[0]

    launched = _post(client, f"/catalogue/{kit_id}/launch", f"/catalogue/{kit_id}")
    assert launched.status_code == 302
    launch_url = launched.headers["Location"]
    launch_id = launch_url.rstrip("/").split("/")[-1]
    assert launch_url.endswith(f"/launches/{launch_id}")
    first = client.get(launch_url).get_data(as_text=True)
    assert "Backup spring kit" in first and "is launched" in first
    assert "this page updates by itself" in first and _controls(first) == {"pause", "cancel"}

    jobs.run()
    assert sorted(m.to for m in outbox.messages()) == [
        f"Person{n} Tester <person{n}@example.com>" for n in range(3)]
    page = client.get(launch_url).get_data(as_text=True)
    assert '<strong id="launch-percent">100%</strong>' in page
    assert re.search(r'data-count="sent">3<', page)
    assert "Contact list</dt><dd>All contacts" in page
    live = client.get(f"{launch_url}/progress.json").get_json()
    assert (live["status"], live["percent"]) == ("running", 100)
    welcome, reminder = live["steps"]
    assert (welcome["counts"]["sent"], welcome["percent"], welcome["status"]) == (3, 100, "done")
    assert reminder["status"] == "waiting" and reminder["due_local"].endswith(("CET", "CEST"))
    listed = client.get("/launches").get_data(as_text=True)
    assert "Backup spring kit" in listed and "100%" in listed and launch_id in listed


def test_the_kit_page_lists_what_blocks_a_launch_with_where_to_fix_it(app):
    with app.app_context():
        kit_id = published_kit().public_id
        bare = make_partner("Bare Partner")  # no postal address, no phone, no contacts
        user = make_user(Role.PARTNER_ADMIN, partner=bare).email
    client = _signed_in(app, user)
    page = client.get(f"/catalogue/{kit_id}").get_data(as_text=True)
    assert "Before you can launch" in page
    assert re.search(r'<button[^>]*id="launch-button"[^>]*disabled', page)
    assert "Add your postal address (street) to your brand profile." in page
    assert '<a href="/brand">Open your brand profile</a>' in page
    assert "has no subscribed contacts: import contacts first." in page
    assert '<a href="/contacts/import">Import contacts</a>' in page

    refused = _post(client, f"/catalogue/{kit_id}/launch", f"/catalogue/{kit_id}")
    assert refused.status_code == 409
    assert "Add phone to your brand profile." in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Launch).count() == 0


def test_the_advanced_form_names_the_field_it_refuses_and_launches_as_asked(app):
    with app.app_context():
        partner = ready_partner()
        add_contacts(partner, 3)
        guests = lists.create_list(partner, "Webinar guests")  # nobody in it yet
        db.session.commit()
        guests_id = guests.public_id
        kit_id = published_kit().public_id
        user = make_user(Role.PARTNER_USER, partner=partner).email
    client = _signed_in(app, user)
    url, page_url = f"/catalogue/{kit_id}/launch", f"/catalogue/{kit_id}"
    form = client.get(page_url).get_data(as_text=True)
    assert "All contacts (3 can be emailed)" in form
    assert "Webinar guests (0 can be emailed)" in form
    assert 'name="blocks.welcome.intro"' in form
    assert 'placeholder="Hi {{ contact.first_name }},"' in form  # the kit's own text
    assert "Europe/Berlin" in form

    past = _post(client, url, page_url, {"start_at": "2020-01-01T09:00"})
    assert past.status_code == 422
    assert _error_for(past.get_data(as_text=True), "start_at") == \
        "Choose a time that has not passed."
    garbled = _post(client, url, page_url, {"start_at": "next tuesday"})
    assert "Give a date and a time" in _error_for(garbled.get_data(as_text=True), "start_at")
    too_long = _post(client, url, page_url, {"blocks.welcome.intro": "x" * 5001})
    assert _error_for(too_long.get_data(as_text=True), "blocks.welcome.intro") == \
        "Keep it under 5,000 characters."
    unknown = _post(client, url, page_url, {"list_id": "not-a-list"})
    shown = unknown.get_data(as_text=True)
    assert unknown.status_code == 422 and "<details open>" in shown
    assert _error_for(shown, "list_id") == "No such contact list."
    empty = _post(client, url, page_url, {"list_id": guests_id})
    assert empty.status_code == 409
    assert "“Webinar guests” has no subscribed contacts" in empty.get_data(as_text=True)

    tomorrow = (utcnow().astimezone(BERLIN) + timedelta(days=1)).date()
    done = _post(client, url, page_url, {
        "start_at": f"{tomorrow.isoformat()}T09:00", "blocks.welcome.intro": "Dear friends,",
        "blocks.reminder.intro": "  "})
    assert done.status_code == 302
    with app.app_context():
        launch = db.session.query(Launch).one()
        assert launch.start_at == datetime(tomorrow.year, tomorrow.month, tomorrow.day, 9, 0,
                                           tzinfo=BERLIN)
        assert launch.blocks == {"welcome": {"intro": "Dear friends,"}}
        assert launch.status is LaunchStatus.SCHEDULED
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert f"{tomorrow.isoformat()} 09:00 CE" in page


def test_pause_resume_and_cancel_follow_the_state_machine(app):
    with app.app_context():
        partner = ready_partner()
        add_contacts(partner, 2)
        launch = launches.launch_kit(partner, published_kit(),
                                     start_at=utcnow() + timedelta(days=1))
        db.session.commit()
        page_url, launch_pk = f"/launches/{launch.public_id}", launch.id
        user = make_user(Role.PARTNER_ADMIN, partner=partner).email
    client = _signed_in(app, user)
    page = client.get(page_url).get_data(as_text=True)
    assert "scheduled" in page and _controls(page) == {"pause", "cancel"}
    assert "confirm(" in page  # cancelling asks first

    assert _post(client, f"{page_url}/pause", page_url).status_code == 302
    page = client.get(page_url).get_data(as_text=True)
    assert "Paused: nothing more goes out" in page and _controls(page) == {"resume", "cancel"}
    assert 'data-status="paused"' in page and '<span class="muted" id="launch-live" hidden>' \
        in page  # a paused launch is not polled
    _post(client, f"{page_url}/resume", page_url)
    assert client.get(f"{page_url}/progress.json").get_json()["status"] == "scheduled"
    _post(client, f"{page_url}/cancel", page_url)
    page = client.get(page_url).get_data(as_text=True)
    assert "Cancelled: nothing more" in page and _controls(page) == set()

    again = _post(client, f"{page_url}/resume", page_url)
    assert again.status_code == 302
    assert "A cancelled launch cannot become" in html.unescape(
        client.get(page_url).get_data(as_text=True))
    with app.app_context():
        assert db.session.get(Launch, launch_pk).status is LaunchStatus.CANCELLED


def test_a_partner_cannot_see_or_control_another_partners_launch(app):
    with app.app_context():
        theirs = ready_partner("Rival Systemhaus")
        add_contacts(theirs, 1)
        launch = launches.launch_kit(theirs, published_kit(),
                                     start_at=utcnow() + timedelta(days=1))
        db.session.commit()
        rival_id, rival_pk = launch.public_id, launch.id
        user = make_user(Role.PARTNER_ADMIN, partner=make_partner("Us")).email
        token = make_token(make_user(Role.PARTNER_USER, partner=make_partner("Us too")))
    client = _signed_in(app, user)
    base = f"/launches/{rival_id}"
    assert client.get(base).status_code == 404
    assert client.get(f"{base}/progress.json").status_code == 404
    for action in ("pause", "cancel"):
        assert _post(client, f"{base}/{action}", "/launches").status_code == 404
    assert rival_id not in client.get("/launches").get_data(as_text=True)
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1{base}", headers=auth).status_code == 404
    assert client.post(f"/api/v1{base}/cancel", headers=auth).status_code == 404
    assert client.get("/api/v1/launches", headers=auth).get_json() == []
    with app.app_context():
        assert db.session.get(Launch, rival_pk).status is LaunchStatus.SCHEDULED


def test_vendor_staff_see_launches_read_only(app, jobs):
    with app.app_context():
        partner = ready_partner()
        add_contacts(partner, 2)
        kit = published_kit()
        launch = launches.launch_kit(partner, kit)
        db.session.commit()
        kit_id, launch_id = kit.public_id, launch.public_id
        marketer = make_user(Role.MARKETER).email
        finance = make_user(Role.FINANCE).email
    jobs.run()
    client = _signed_in(app, marketer)
    kit_page = client.get(f"/kits/{kit_id}").get_data(as_text=True)
    launches_part = kit_page[kit_page.index("<h3>Launches</h3>"):]
    assert "Müller Systemhaus" in launches_part and "100%" in launches_part
    assert launch_id in launches_part and "running" in launches_part
    listed = client.get(f"/launches?kit={kit_id}").get_data(as_text=True)
    assert "Müller Systemhaus" in listed and "Launches of Backup spring kit" in listed
    page = client.get(f"/launches/{launch_id}").get_data(as_text=True)
    assert '<strong id="launch-percent">100%</strong>' in page
    assert 'id="launch-controls"' not in page and "<form" not in page.split("<main>")[1]
    assert "All contacts" not in page  # the partner's lists are theirs
    assert _post(client, f"/launches/{launch_id}/pause", "/launches").status_code == 403
    assert client.get(f"/launches/{launch_id}/progress.json").get_json()["percent"] == 100

    client = _signed_in(app, finance)
    assert client.get("/launches").status_code == 403
    assert client.get(f"/launches/{launch_id}").status_code == 403


def test_the_api_launches_pauses_resumes_and_cancels_with_a_partner_token(
        app, client, jobs, outbox):
    with app.app_context():
        partner = ready_partner()
        add_contacts(partner, 2)
        kit_id = published_kit().public_id
        token = make_token(make_user(Role.PARTNER_USER, partner=partner))
        bare = make_token(make_user(Role.PARTNER_USER, partner=make_partner("Bare")))
        vendor = make_token(make_user(Role.CHANNEL_MANAGER))
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/catalogue/kits/{kit_id}/launch-problems",
                      headers=auth).get_json() == {"problems": []}

    tomorrow = (utcnow() + timedelta(days=1)).isoformat()
    made = client.post("/api/v1/launches", headers=auth, json={
        "kit_id": kit_id, "start_at": tomorrow, "blocks": {"welcome": {"intro": "Hello!"}}})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["status"] == "scheduled" and body["kit_id"] == kit_id
    assert body["blocks"] == {"welcome": {"intro": "Hello!"}} and body["options"]["list_id"]
    base = f"/api/v1/launches/{body['id']}"
    assert client.post(f"{base}/pause", headers=auth).get_json()["status"] == "paused"
    assert client.post(f"{base}/pause", headers=auth).status_code == 409
    assert client.post(f"{base}/resume", headers=auth).get_json()["status"] == "scheduled"
    cancelled = client.post(f"{base}/cancel", headers=auth).get_json()
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"]
    refused = client.post(f"{base}/resume", headers=auth)
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"

    now = client.post("/api/v1/launches", headers=auth, json={"kit_id": kit_id})
    assert now.status_code == 201
    jobs.run()
    assert len(outbox.messages()) == 2
    done = client.get(f"/api/v1/launches/{now.get_json()['id']}", headers=auth).get_json()
    assert done["percent"] == 100 and done["steps"][0]["counts"]["sent"] == 2
    mine = client.get("/api/v1/launches", headers=auth).get_json()
    assert [m["status"] for m in mine] == ["running", "cancelled"]  # newest first

    blocked = client.post("/api/v1/launches", json={"kit_id": kit_id},
                          headers={"Authorization": f"Bearer {bare}"})
    problem = blocked.get_json()
    assert blocked.status_code == 409 and blocked.mimetype == "application/problem+json"
    assert "Add phone to your brand profile." in problem["problems"]
    assert any("has no subscribed contacts" in p for p in problem["problems"])

    v_auth = {"Authorization": f"Bearer {vendor}"}
    assert client.post("/api/v1/launches", json={"kit_id": kit_id},
                       headers=v_auth).status_code == 403
    assert client.post(f"{base}/cancel", headers=v_auth).status_code == 403
    seen = client.get("/api/v1/launches", query_string={"kit_id": kit_id},
                      headers=v_auth).get_json()
    assert len(seen) == 2 and {s["partner_id"] for s in seen} == {done["partner_id"]}
    assert client.get(base, headers=v_auth).get_json()["status"] == "cancelled"


def test_send_me_a_test_from_the_email_editor_as_the_chosen_partner(app, jobs, outbox):
    with app.app_context():
        partner = ready_partner()
        partner_id = partner.public_id
        kit_id = published_kit().public_id
        marketer = make_user(Role.MARKETER, name="Jo Marketer").email
    client = _signed_in(app, marketer)
    page = f"/kits/{kit_id}/emails/welcome?partner={partner_id}"
    shown = client.get(page).get_data(as_text=True)
    assert "Send me a test" in shown
    answer = _post(client, f"/kits/{kit_id}/emails/welcome/test", page,
                   {"partner": partner_id})
    assert answer.status_code == 302 and f"partner={partner_id}" in answer.location
    jobs.run()
    (mail,) = outbox.messages()
    assert mail.to == marketer and mail.subject == "[Test] Hi Jo, back up now"
    assert "Müller Systemhaus" in mail.text
