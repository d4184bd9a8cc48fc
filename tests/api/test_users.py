"""Users over the API: partner colleagues, vendor staff, status, invites and the audit log."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.api.conftest import assert_problem, field_errors


def _invite_path(mail) -> str:
    return urlsplit(mail.link(r"http://localhost/invite/\S+")).path


def test_partner_users_are_listed_for_vendor_and_own_partner_only(as_user, new_partner):
    partner = new_partner("Northwind")
    other = new_partner("Other")
    pa = as_user("partner_admin", partner=partner, name="Nora North")
    as_user("partner_user", partner=partner, name="Paul Partner")
    as_user("partner_user", partner=other, name="Olga Other")

    for api in (as_user("finance"), pa):
        users = api.ok("GET", f"/partners/{partner}/users")
        assert [(u["name"], u["role"], u["partner_id"]) for u in users] == [
            ("Nora North", "partner_admin", partner), ("Paul Partner", "partner_user", partner)]
    assert_problem(pa.get(f"/partners/{other}/users"), 404)


def test_partner_admin_invites_a_colleague_who_gets_an_email(as_user, new_partner, outbox, jobs,
                                                             client):
    partner = new_partner("Northwind")
    pa = as_user("partner_admin", partner=partner, name="Nora North")

    invited = pa.ok("POST", f"/partners/{partner}/users", 201, json={
        "email": " Kim@Northwind.example ", "name": "Kim Colleague", "role": "partner_user"})

    assert (invited["email"], invited["status"], invited["partner_id"]) == (
        "kim@northwind.example", "invited", partner)
    assert pa.ok("GET", f"/users/{invited['id']}") == invited
    jobs.run()
    (mail,) = outbox.to("kim@northwind.example")
    assert "Nora North" in mail.text and "Northwind" in mail.text
    assert client.get(_invite_path(mail)).status_code == 200


def test_invites_refuse_wrong_roles_duplicates_and_outsiders(as_user, new_partner):
    partner = new_partner("Northwind")
    other = new_partner("Other")
    pa = as_user("partner_admin", partner=partner, email="nora@northwind.example")
    url = f"/partners/{partner}/users"

    body = assert_problem(pa.post(url, json={"email": "x@northwind.example", "name": "X",
                                             "role": "admin"}), 422)
    assert set(field_errors(body)) == {"role"}
    body = assert_problem(pa.post(url, json={"email": "NORA@northwind.example", "name": "N",
                                             "role": "partner_user"}), 422)
    assert set(field_errors(body)) == {"email"}
    body = assert_problem(pa.post(url, json={"email": "bad", "name": "", "role": "boss"}), 422)
    assert set(field_errors(body)) == {"email", "name", "role"}

    invite = {"email": "y@northwind.example", "name": "Y", "role": "partner_user"}
    assert_problem(pa.post(f"/partners/{other}/users", json=invite), 404)
    assert_problem(as_user("partner_user", partner=partner).post(url, json=invite), 404)
    assert_problem(as_user("marketer").post(url, json=invite), 403)
    emails = [u["email"] for u in pa.ok("GET", url)]
    assert "nora@northwind.example" in emails and "y@northwind.example" not in emails
    assert not any("x@" in e or e.startswith("bad") for e in emails)

    # A channel manager may add users to any partner.
    added = as_user("channel_manager").ok("POST", url, 201, json=invite)
    assert added["partner_id"] == partner


def test_staff_list_and_invite_are_for_admins(admin_api, as_user, new_partner, outbox, jobs):
    as_user("marketer", name="Mia Marketer")
    partner = new_partner()
    partner_admin = as_user("partner_admin", partner=partner)

    staff = admin_api.ok("GET", "/users")
    assert sorted(u["name"] for u in staff) == ["Ada Admin", "Mia Marketer"]
    assert all(u["partner_id"] is None for u in staff)

    invited = admin_api.ok("POST", "/users", 201, json={
        "email": "fin@vendor.example", "name": "Fay Finance", "role": "finance"})
    assert (invited["role"], invited["status"], invited["partner_id"]) == (
        "finance", "invited", None)
    jobs.run()
    assert len(outbox.to("fin@vendor.example")) == 1

    body = assert_problem(admin_api.post("/users", json={
        "email": "p@vendor.example", "name": "P", "role": "partner_user"}), 422)
    assert set(field_errors(body)) == {"role"}

    marketer = as_user("marketer")
    assert_problem(marketer.get("/users"), 403)
    assert_problem(marketer.post("/users", json={"email": "m@vendor.example", "name": "M",
                                                 "role": "admin"}), 403)
    assert_problem(partner_admin.get("/users"), 404)
    assert_problem(partner_admin.post("/users", json={"email": "m@vendor.example", "name": "M",
                                                      "role": "admin"}), 404)
    assert len(admin_api.ok("GET", "/users")) == 4


def test_user_status_change_ends_api_access(admin_api, as_user, new_partner):
    partner = new_partner()
    pa = as_user("partner_admin", partner=partner)
    colleague = as_user("partner_user", partner=partner)
    url = f"/users/{colleague.user.public_id}/status"

    assert pa.ok("POST", url, json={"status": "disabled"})["status"] == "disabled"
    assert_problem(colleague.get("/me"), 401)
    assert pa.ok("POST", url, json={"status": "active"})["status"] == "active"
    assert colleague.ok("GET", "/me")["status"] == "active"

    body = assert_problem(admin_api.post(url, json={"status": "invited"}), 422)
    assert set(field_errors(body)) == {"status"}
    body = assert_problem(admin_api.post(f"/users/{admin_api.user.public_id}/status",
                                         json={"status": "disabled"}), 409)
    assert "your own" in body["detail"]
    assert admin_api.ok("GET", "/me")["status"] == "active"

    # A partner admin cannot reach vendor staff or another partner's users.
    stranger = as_user("partner_user", partner=new_partner())
    for target in (admin_api.user.public_id, stranger.user.public_id):
        assert_problem(pa.post(f"/users/{target}/status", json={"status": "disabled"}), 404)
    assert stranger.get("/me").status_code == 200
    # A marketer may not change anyone.
    assert_problem(as_user("marketer").post(url, json={"status": "disabled"}), 403)


def test_resend_invite_sends_a_new_link_and_retires_the_old(admin_api, new_partner, outbox,
                                                            jobs, client):
    partner = new_partner("Northwind")
    invited = admin_api.ok("POST", f"/partners/{partner}/users", 201, json={
        "email": "kim@northwind.example", "name": "Kim", "role": "partner_admin"})
    jobs.run()
    (first,) = outbox.to("kim@northwind.example")

    again = admin_api.ok("POST", f"/users/{invited['id']}/invite")
    assert again["status"] == "invited"
    jobs.run()
    mails = outbox.to("kim@northwind.example")
    assert len(mails) == 2
    second = next(m for m in mails if _invite_path(m) != _invite_path(first))
    assert client.get(_invite_path(second)).status_code == 200
    assert client.get(_invite_path(first)).status_code == 400  # replaced by the newer one

    body = assert_problem(admin_api.post(f"/users/{admin_api.user.public_id}/invite"), 409)
    assert "already accepted" in body["detail"]


def test_audit_log_shows_what_was_just_done_for_admins_only(admin_api, as_user, new_partner):
    partner = admin_api.ok("POST", "/partners", 201, json={
        "name": "Audited", "tier": "gold", "region": "EMEA", "type": "msp"})["id"]
    admin_api.ok("PATCH", f"/partners/{partner}", json={"tier": "silver"})
    admin_api.ok("POST", f"/partners/{partner}/status", json={"status": "suspended"})

    events = admin_api.ok("GET", "/audit-events?limit=3")

    assert [e["action"] for e in events] == ["partner.suspend", "partner.update",
                                             "partner.create"]
    assert all(e["actor"] == "Ada Admin <ada@vendor.test>" for e in events)
    assert all(e["target_type"] == "Partner" and e["target_id"] == partner for e in events)
    suspend, update, create = events
    assert suspend["before"] == {"status": "active"}
    assert suspend["after"]["status"] == "suspended"
    assert (update["before"]["tier"], update["after"]["tier"]) == ("gold", "silver")
    assert create["before"] is None and create["after"]["name"] == "Audited"
    assert [e["id"] for e in events] == sorted((e["id"] for e in events), reverse=True)

    older = admin_api.ok("GET", f"/audit-events?before={events[-1]['id']}")
    assert older and all(e["id"] < events[-1]["id"] for e in older)
    assert [e["action"] for e in admin_api.ok("GET", "/audit-events?action=partner.update")] == [
        "partner.update"]

    assert_problem(as_user("marketer").get("/audit-events"), 403)
    assert_problem(as_user("partner_admin", partner=new_partner()).get("/audit-events"), 404)
