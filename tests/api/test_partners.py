"""Partners over the API: the directory, onboarding, edits, status changes and CSV import."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

from tests.api.conftest import assert_problem, field_errors


def _names(page: dict) -> list[str]:
    return [p["name"] for p in page["items"]]


def test_vendor_lists_filters_and_pages_partners_a_partner_user_sees_only_its_own(
        as_user, new_partner):
    new_partner("Alpha IT", tier="gold", region="EMEA")
    beta = new_partner("Beta Systems", tier="silver", region="AMER", slug="beta")
    new_partner("Gamma Data", tier="gold", region="APAC")
    new_partner("Delta Cloud", tier="platinum", region="EMEA")
    marketer = as_user("finance")

    everyone = marketer.ok("GET", "/partners")
    assert everyone["total"] == 4
    assert _names(everyone) == ["Alpha IT", "Beta Systems", "Delta Cloud", "Gamma Data"]
    assert _names(marketer.ok("GET", "/partners?tier=gold")) == ["Alpha IT", "Gamma Data"]
    assert _names(marketer.ok("GET", "/partners?region=EMEA&tier=platinum")) == ["Delta Cloud"]
    assert _names(marketer.ok("GET", "/partners?q=SYSTEMS")) == ["Beta Systems"]
    assert _names(marketer.ok("GET", "/partners?q=bet")) == ["Beta Systems"]

    page = marketer.ok("GET", "/partners?limit=2&offset=1")
    assert page["total"] == 4 and _names(page) == ["Beta Systems", "Delta Cloud"]
    last = marketer.ok("GET", "/partners?limit=2&offset=3")
    assert last["total"] == 4 and _names(last) == ["Gamma Data"]

    partner_user = as_user("partner_user", partner=beta)
    own = partner_user.ok("GET", "/partners")
    assert own["total"] == 1 and own["items"][0]["id"] == beta
    assert partner_user.ok("GET", "/partners?tier=gold") == {"total": 0, "items": []}
    assert partner_user.ok("GET", f"/partners/{beta}")["slug"] == "beta"
    others = [p["id"] for p in everyone["items"] if p["id"] != beta]
    for other in others:
        assert_problem(partner_user.get(f"/partners/{other}"), 404)
        assert_problem(partner_user.get(f"/partners/{other}/brand-profile"), 404)
        assert_problem(partner_user.get(f"/partners/{other}/users"), 404)


def test_status_filter_finds_suspended_partners(admin_api, new_partner):
    active = new_partner("Active Co")
    paused = new_partner("Paused Co")
    admin_api.ok("POST", f"/partners/{paused}/status", json={"status": "suspended"})

    assert [p["id"] for p in admin_api.ok("GET", "/partners?status=suspended")["items"]] == [
        paused]
    assert [p["id"] for p in admin_api.ok("GET", "/partners?status=active")["items"]] == [active]


def test_creating_a_partner_invites_its_admin_by_email(admin_api, client, outbox, jobs):
    created = admin_api.ok("POST", "/partners", 201, json={
        "name": "Northwind Traders", "tier": "Gold", "region": "emea", "type": "reseller",
        "language": "de", "admin_email": "Nora@Northwind.example", "admin_name": "Nora North"})

    assert created["slug"] == "northwind-traders"
    assert (created["tier"], created["region"], created["language"]) == ("gold", "EMEA", "de")
    assert created["status"] == "active"
    assert admin_api.ok("GET", f"/partners/{created['id']}") == created

    users = admin_api.ok("GET", f"/partners/{created['id']}/users")
    assert [(u["email"], u["role"], u["status"], u["partner_id"]) for u in users] == [
        ("nora@northwind.example", "partner_admin", "invited", created["id"])]

    jobs.run()
    mails = outbox.to("nora@northwind.example")
    assert len(mails) == 1
    assert "Northwind Traders" in mails[0].text and "Nora North" in mails[0].text
    link = urlsplit(mails[0].link(r"http://localhost/invite/\S+"))
    assert client.get(link.path).status_code == 200  # the link opens the set-password page


def test_create_refuses_duplicates_naming_the_field(admin_api, as_user):
    as_user("partner_admin", email="taken@example.com")
    base = {"name": "Contoso", "tier": "gold", "region": "EMEA", "type": "agency"}
    admin_api.ok("POST", "/partners", 201, json={**base, "slug": "contoso"})

    body = assert_problem(admin_api.post("/partners", json={**base, "slug": "contoso"}), 422)
    assert set(field_errors(body)) == {"slug"}
    body = assert_problem(admin_api.post("/partners", json={
        **base, "name": "Other", "admin_email": "TAKEN@example.com"}), 422)
    assert set(field_errors(body)) == {"admin_email"}
    # A second partner with the same name gets its own slug.
    second = admin_api.ok("POST", "/partners", 201, json=base)
    assert second["slug"] == "contoso-2"


def test_only_partner_managers_create_and_change_partners(as_user, new_partner):
    partner = new_partner()
    body = {"name": "X", "tier": "gold", "region": "EMEA", "type": "agency"}
    for role, status in (("marketer", 403), ("finance", 403)):
        api = as_user(role)
        assert_problem(api.post("/partners", json=body), status)
        assert_problem(api.patch(f"/partners/{partner}", json={"tier": "silver"}), status)
        assert_problem(api.post(f"/partners/{partner}/status", json={"status": "suspended"}),
                       status)
    partner_admin = as_user("partner_admin", partner=partner)
    assert_problem(partner_admin.post("/partners", json=body), 404)
    assert_problem(partner_admin.patch(f"/partners/{partner}", json={"tier": "platinum"}), 404)

    manager = as_user("channel_manager")
    assert manager.ok("PATCH", f"/partners/{partner}", json={"tier": "silver"})["tier"] == "silver"
    assert manager.ok("GET", "/partners")["total"] == 1


def test_patch_changes_only_the_fields_sent(admin_api, new_partner):
    partner = new_partner("Fabrikam", tier="gold", region="EMEA", type="agency", language="en")
    before = admin_api.ok("GET", f"/partners/{partner}")

    after = admin_api.ok("PATCH", f"/partners/{partner}", json={"tier": "platinum"})

    assert after == {**before, "tier": "platinum"}
    renamed = admin_api.ok("PATCH", f"/partners/{partner}",
                           json={"name": "Fabrikam Group", "region": "apac"})
    assert (renamed["name"], renamed["region"], renamed["tier"]) == (
        "Fabrikam Group", "APAC", "platinum")
    assert renamed["slug"] == before["slug"]  # the slug stays: it is in partners' URLs

    events = admin_api.ok("GET", "/audit-events?action=partner.update")
    assert [(e["before"]["tier"], e["after"]["tier"]) for e in events] == [
        ("platinum", "platinum"), ("gold", "platinum")]
    assert events[0]["before"]["name"] == "Fabrikam"
    assert events[0]["after"]["name"] == "Fabrikam Group"


def test_patch_with_bad_values_names_them_and_changes_nothing(admin_api, new_partner):
    partner = new_partner("Fabrikam", tier="gold")
    before = admin_api.ok("GET", f"/partners/{partner}")

    body = assert_problem(admin_api.patch(f"/partners/{partner}",
                                          json={"tier": "silver", "region": "Atlantis"}), 422)
    assert set(field_errors(body)) == {"region"}
    body = assert_problem(admin_api.patch(f"/partners/{partner}",
                                          json={"name": None, "slug": "new"}), 422)
    assert set(field_errors(body)) == {"name", "slug"}

    assert admin_api.ok("GET", f"/partners/{partner}") == before
    assert_problem(admin_api.patch("/partners/nope", json={"tier": "silver"}), 404)


def test_status_transitions_and_an_illegal_one(admin_api, new_partner):
    partner = new_partner()
    url = f"/partners/{partner}/status"

    assert admin_api.ok("POST", url, json={"status": "suspended", "reason": "unpaid"})[
        "status"] == "suspended"
    assert admin_api.ok("POST", url, json={"status": "active"})["status"] == "active"
    assert admin_api.ok("POST", url, json={"status": "offboarded"})["status"] == "offboarded"

    body = assert_problem(admin_api.post(url, json={"status": "active"}), 409)
    assert "offboarded" in body["detail"]
    assert admin_api.ok("GET", f"/partners/{partner}")["status"] == "offboarded"
    body = assert_problem(admin_api.post(url, json={"status": "paused"}), 422)
    assert set(field_errors(body)) == {"status"}

    events = admin_api.ok("GET", "/audit-events?action=partner.")
    assert [e["action"] for e in events[:3]] == [
        "partner.offboard", "partner.reactivate", "partner.suspend"]
    assert events[2]["before"] == {"status": "active"}
    assert events[2]["after"] == {"status": "suspended", "reason": "unpaid"}


# --- CSV import ------------------------------------------------------------------------------

GOOD_CSV = (
    "name,tier,region,language,type,slug,admin_email,admin_name\n"
    "Adatum,gold,EMEA,de,reseller,adatum,ada@adatum.example,Ada Tum\n"
    "Litware,silver,AMER,en,agency,,,\n"
    "Proseware,platinum,APAC,,msp,,pro@proseware.example,\n"
)


def _upload(csv_text: str, name: str = "partners.csv") -> dict:
    return {"file": (io.BytesIO(csv_text.encode()), name)}


def test_good_csv_creates_every_partner_and_invites_admins(admin_api, outbox, jobs):
    result = admin_api.ok("POST", "/partners/import", 201, data=_upload(GOOD_CSV))

    assert (result["imported"], result["rows"], result["created"]) == (True, 3, 3)
    assert result["errors"] == [] and result["file_errors"] == []
    listed = admin_api.ok("GET", "/partners")
    assert _names(listed) == ["Adatum", "Litware", "Proseware"]
    assert sorted(result["partners"]) == sorted(p["id"] for p in listed["items"])
    adatum = next(p for p in listed["items"] if p["name"] == "Adatum")
    assert (adatum["slug"], adatum["language"], adatum["tier"]) == ("adatum", "de", "gold")
    jobs.run()
    assert len(outbox.to("ada@adatum.example")) == 1
    assert len(outbox.to("pro@proseware.example")) == 1


def test_csv_with_one_bad_row_imports_nothing_and_names_line_and_field(admin_api, outbox, jobs):
    bad = GOOD_CSV + "Woodgrove,diamond,EMEA,en,reseller,,,\n"

    response = admin_api.post("/partners/import", data=_upload(bad))

    body = assert_problem(response, 422)
    assert body["imported"] is False and body["rows"] == 4
    assert [(e["line"], e["name"], e["field"]) for e in body["errors"]] == [
        (5, "Woodgrove", "tier")]
    assert "diamond" not in body["errors"][0]["message"]
    assert "gold" in body["errors"][0]["message"]
    assert "1 of 4 rows" in body["detail"]
    assert admin_api.ok("GET", "/partners")["total"] == 0
    jobs.run()
    assert outbox.messages() == []  # no invite went out for the rows that were fine


def test_csv_errors_across_rows_are_all_reported(admin_api):
    bad = ("name,tier,region,type,admin_email\n"
           "Dup,gold,EMEA,reseller,a@x.example\n"
           "Dup,gold,Mars,reseller,a@x.example\n"
           ",gold,EMEA,reseller,\n"
           "DUP,gold,EMEA,reseller,A@x.example\n")
    body = assert_problem(admin_api.post("/partners/import", data=_upload(bad)), 422)
    found = {(e["line"], e["field"]): e["message"] for e in body["errors"]}
    assert set(found) == {(3, "region"), (4, "name"), (5, "name"), (5, "admin_email")}
    assert found[(5, "name")] == found[(5, "admin_email")] == "Duplicate of line 2."
    assert admin_api.ok("GET", "/partners")["total"] == 0


def test_dry_run_checks_without_importing(admin_api):
    checked = admin_api.ok("POST", "/partners/import?dry_run=1", 200, data=_upload(GOOD_CSV))
    assert (checked["imported"], checked["rows"], checked["created"]) == (False, 3, 0)
    assert checked["errors"] == []

    bad = GOOD_CSV + "Woodgrove,gold,EMEA,en,reseller,adatum,,\n"
    body = assert_problem(admin_api.post("/partners/import?dry_run=1", data=_upload(bad)), 422)
    assert [(e["line"], e["field"]) for e in body["errors"]] == [(5, "slug")]

    assert admin_api.ok("GET", "/partners")["total"] == 0


def test_csv_file_level_problems_name_the_file(admin_api):
    body = assert_problem(admin_api.post("/partners/import", data={}), 422)
    assert set(field_errors(body)) == {"file"}

    body = assert_problem(admin_api.post("/partners/import",
                                         data=_upload("name,region,type\nX,EMEA,msp\n")), 422)
    assert set(field_errors(body)) == {"file"}
    assert "tier" in field_errors(body)["file"]

    body = assert_problem(admin_api.post("/partners/import",
                                         data=_upload("name,tier,region,type\n")), 422)
    assert "no partner rows" in field_errors(body)["file"]
    assert admin_api.ok("GET", "/partners")["total"] == 0


def test_csv_import_needs_partner_management(as_user, new_partner):
    assert_problem(as_user("marketer").post("/partners/import", data=_upload(GOOD_CSV)), 403)
    partner_admin = as_user("partner_admin", partner=new_partner("Own"))
    assert_problem(partner_admin.post("/partners/import", data=_upload(GOOD_CSV)), 404)
    assert as_user("admin").ok("GET", "/partners")["total"] == 1
