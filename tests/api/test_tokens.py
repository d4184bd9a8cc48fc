"""API tokens: how an integrator gets one, uses it, loses it, and what the database keeps."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text

from tcma.auth.models import ApiToken
from tcma.models import utcnow
from tests.api.conftest import Api, assert_problem, field_errors


def _raw_token_rows(session) -> list[tuple]:
    """Every stored column of every token row, as a DBA with table access would see them."""
    return [tuple(row) for row in session.execute(text("SELECT * FROM api_tokens"))]


def test_service_token_authenticates_records_use_and_is_stored_hashed(as_user, fresh):
    api = as_user("marketer", name="Mia Marketer")

    me = api.ok("GET", "/me")

    assert me["id"] == api.user.public_id
    assert me["role"] == "marketer"
    assert me["name"] == "Mia Marketer"
    with fresh() as s:
        token = s.execute(select(ApiToken)).scalar_one()
        assert token.last_used_at is not None
        assert utcnow() - token.last_used_at < timedelta(minutes=1)
        assert api.token.startswith(token.prefix)
        rows = _raw_token_rows(s)
    assert rows and not any(api.token in str(value) for row in rows for value in row)


def test_token_created_over_api_is_shown_once_then_only_its_prefix(admin_api, client, fresh):
    created = admin_api.ok("POST", "/tokens", 201, json={"name": "CRM sync"})
    secret = created["token"]
    assert secret.startswith("tcma_") and len(secret) > 40
    assert created["prefix"] == secret[: len(created["prefix"])]
    assert created["name"] == "CRM sync"

    # The new secret is a working credential on its own.
    new_api = Api(client, secret)
    assert new_api.ok("GET", "/me")["email"] == "ada@vendor.test"

    listing = admin_api.get("/tokens")
    assert listing.status_code == 200
    assert secret not in listing.get_data(as_text=True)
    tokens = {t["name"]: t for t in listing.get_json()}
    assert set(tokens) == {"test", "CRM sync"}
    assert "token" not in tokens["CRM sync"]
    assert tokens["CRM sync"]["prefix"] == created["prefix"]
    assert tokens["CRM sync"]["last_used_at"] is not None  # used by the /me call above
    with fresh() as s:
        rows = _raw_token_rows(s)
    assert len(rows) == 2
    assert not any(secret in str(value) for row in rows for value in row)


def test_revoked_token_gets_401_problem_with_challenge(admin_api, client):
    created = admin_api.ok("POST", "/tokens", 201, json={"name": "laptop"})
    laptop = Api(client, created["token"])
    assert laptop.get("/partners").status_code == 200

    response = admin_api.delete(f"/tokens/{created['id']}")
    assert response.status_code == 204

    refused = laptop.get("/partners")
    body = assert_problem(refused, 401)
    assert "revoked" in body["detail"]
    challenge = refused.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    listed = {t["id"]: t for t in admin_api.ok("GET", "/tokens")}
    assert listed[created["id"]]["revoked_at"] is not None
    # Revoking again is harmless; the token stays revoked.
    assert admin_api.delete(f"/tokens/{created['id']}").status_code == 204
    assert laptop.get("/me").status_code == 401


def test_a_user_cannot_revoke_someone_elses_token(admin_api, as_user):
    other = as_user("finance")
    theirs = other.ok("POST", "/tokens", 201, json={"name": "theirs"})

    assert_problem(admin_api.delete(f"/tokens/{theirs['id']}"), 404)
    assert other.get("/me").status_code == 200
    assert Api(other.client, theirs["token"]).get("/me").status_code == 200


def test_missing_or_malformed_authorization_is_401_problem(client, admin_api):
    for headers in ({}, {"Authorization": "Basic YWRhOnB3"}, {"Authorization": "Bearer "}):
        response = client.get("/api/v1/partners", headers=headers)
        body = assert_problem(response, 401)
        assert "Authorization: Bearer" in body["detail"]
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="tcma"'
    forged = Api(client, "tcma_" + "x" * 43)
    response = forged.get("/partners")
    assert_problem(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_expired_token_is_refused(admin_api, client, fresh):
    created = admin_api.ok("POST", "/tokens", 201, json={"name": "temp", "expires_in_days": 1})
    assert created["expires_at"] is not None
    temp = Api(client, created["token"])
    assert temp.get("/me").status_code == 200

    with fresh() as s:
        token = s.execute(select(ApiToken).where(ApiToken.public_id == created["id"])).scalar_one()
        token.expires_at = utcnow() - timedelta(seconds=1)
        s.commit()

    body = assert_problem(temp.get("/me"), 401)
    assert "expired" in body["detail"]
    assert admin_api.get("/me").status_code == 200  # the other token is unaffected


def test_token_expiry_out_of_range_names_the_field(admin_api):
    for days in (0, 5000, "soon"):
        body = assert_problem(admin_api.post("/tokens", json={"name": "x",
                                                              "expires_in_days": days}), 422)
        assert "expires_in_days" in field_errors(body)
    body = assert_problem(admin_api.post("/tokens", json={"name": "  "}), 422)
    assert "name" in field_errors(body)
    assert [t["name"] for t in admin_api.ok("GET", "/tokens")] == ["test"]


def test_token_of_disabled_user_is_refused_until_re_enabled(admin_api, as_user):
    staff = as_user("channel_manager")
    assert staff.get("/me").status_code == 200

    admin_api.ok("POST", f"/users/{staff.user.public_id}/status", json={"status": "disabled"})
    assert_problem(staff.get("/me"), 401)

    admin_api.ok("POST", f"/users/{staff.user.public_id}/status", json={"status": "active"})
    assert staff.get("/me").status_code == 200


def test_token_of_suspended_partners_user_is_refused(admin_api, as_user, new_partner):
    partner = new_partner("Northwind")
    partner_user = as_user("partner_user", partner=partner)
    assert partner_user.ok("GET", "/partners")["total"] == 1

    admin_api.ok("POST", f"/partners/{partner}/status", json={"status": "suspended"})
    assert_problem(partner_user.get("/partners"), 401)

    admin_api.ok("POST", f"/partners/{partner}/status", json={"status": "active"})
    assert partner_user.ok("GET", "/partners")["total"] == 1

    admin_api.ok("POST", f"/partners/{partner}/status", json={"status": "offboarded"})
    assert_problem(partner_user.get("/partners"), 401)
