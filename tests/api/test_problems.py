"""Every error under /api/ is a problem document an integrator's client can parse and act on."""

from __future__ import annotations

import io

import pytest

from tests.api.conftest import assert_problem, field_errors

GOOD_PARTNER = {"name": "Contoso", "tier": "gold", "region": "EMEA", "type": "reseller"}


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/v1/partners/x/y/z", "/api/v2/",
                                  "/api/"])
def test_unknown_api_route_is_404_problem(client, admin_api, path):
    for headers in ({}, {"Authorization": f"Bearer {admin_api.token}"}):
        assert_problem(client.get(path, headers=headers), 404)


def test_wrong_method_is_405_problem_naming_allowed_methods(admin_api):
    response = admin_api.delete("/partners")
    assert_problem(response, 405)
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_body_that_is_not_json_is_a_clear_400(admin_api):
    form = admin_api.post("/partners", data=GOOD_PARTNER)
    assert "Content-Type: application/json" in assert_problem(form, 400)["detail"]

    broken = admin_api.post("/partners", data='{"name": "Contoso",',
                            content_type="application/json")
    assert "not valid JSON" in assert_problem(broken, 400)["detail"]

    listed = admin_api.post("/partners", json=[GOOD_PARTNER])
    assert "JSON object" in assert_problem(listed, 400)["detail"]

    assert admin_api.ok("GET", "/partners")["total"] == 0


def test_bad_tier_names_the_tier_field(admin_api):
    body = assert_problem(admin_api.post("/partners", json={**GOOD_PARTNER, "tier": "diamond"}),
                          422)
    errors = field_errors(body)
    assert set(errors) == {"tier"}
    assert "platinum, gold, silver, registered" in errors["tier"]
    assert "tier" in body["detail"]


def test_every_bad_field_is_named_at_once(admin_api):
    body = assert_problem(admin_api.post("/partners", json={
        "tier": "gold", "region": "Mars", "type": "reseller", "language": "english",
        "slug": "Not A Slug", "admin_email": "nobody", "favourite_colour": "blue"}), 422)
    assert set(field_errors(body)) == {"name", "region", "language", "slug", "admin_email",
                                       "favourite_colour"}


def test_bad_brand_colour_names_primary_color(as_user, new_partner):
    partner = new_partner()
    partner_admin = as_user("partner_admin", partner=partner)
    response = partner_admin.put(f"/partners/{partner}/brand-profile",
                                 json={"display_name": "Contoso", "primary_color": "blue"})
    errors = field_errors(assert_problem(response, 422))
    assert set(errors) == {"primary_color"}
    assert "#1f5fbf" in errors["primary_color"]
    profile = partner_admin.ok("GET", f"/partners/{partner}/brand-profile")
    assert profile["version"] == 1 and profile["primary_color"] is None


def test_bad_query_parameters_are_named(admin_api):
    for query, field in (("limit=abc", "limit"), ("limit=0", "limit"), ("limit=501", "limit"),
                         ("offset=-1", "offset"), ("status=paused", "status")):
        body = assert_problem(admin_api.get(f"/partners?{query}"), 422)
        assert set(field_errors(body)) == {field}, query
    body = assert_problem(admin_api.get("/audit-events?before=last&limit=1000"), 422)
    assert set(field_errors(body)) == {"before", "limit"}


def test_forbidden_and_not_found_are_problems(as_user, new_partner):
    marketer = as_user("marketer")
    body = assert_problem(marketer.post("/partners", json=GOOD_PARTNER), 403)
    assert "role" in body["detail"]
    assert_problem(marketer.get("/partners/doesnotexist"), 404)
    assert marketer.ok("GET", "/partners")["total"] == 0


def test_oversized_request_is_413_problem(app, as_user, new_partner, monkeypatch):
    partner = new_partner()
    partner_admin = as_user("partner_admin", partner=partner)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 10_000)
    response = partner_admin.put(f"/partners/{partner}/brand-profile/logo",
                                 data={"logo": (io.BytesIO(b"\0" * 20_000), "big.png")})
    assert_problem(response, 413)
