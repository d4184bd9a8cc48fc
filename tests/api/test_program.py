"""The program's own branding through the API: everyone reads it, only admins change it."""

from __future__ import annotations

from tests.api.conftest import assert_problem, field_errors


def test_everyone_reads_the_program_and_admins_change_it(as_user, admin_api, new_partner,
                                                          client):
    partner = new_partner("Northwind")
    partner_user = as_user("partner_user", partner=partner)
    assert partner_user.ok("GET", "/program")["vendor_name"] == "Acme Partner Program"

    changed = admin_api.ok("PUT", "/program", json={"vendor_name": "Globex Partner Network",
                                                    "primary_color": "#aa3300"})
    assert changed == {"vendor_name": "Globex Partner Network", "primary_color": "#aa3300",
                       "logo_url": None, "support_email": None}
    page = client.get("/login").get_data(as_text=True)
    assert "Globex Partner Network" in page and "#aa3300" in page


def test_program_changes_are_validated_and_permissioned(as_user, admin_api, new_partner):
    body = assert_problem(admin_api.put("/program", json={"vendor_name": "X",
                                                          "primary_color": "red"}), 422)
    assert "primary_color" in field_errors(body)
    assert_problem(as_user("marketer").put("/program", json={"vendor_name": "X"}), 403)
    partner_admin = as_user("partner_admin", partner=new_partner())
    assert_problem(partner_admin.put("/program", json={"vendor_name": "X"}), 404)
