"""The OpenAPI document: valid, complete, and true about what the routes really answer.

An integrator generates a client from ``/api/v1/openapi.json``; if a route is missing from it,
or a response does not match its schema, their generated client breaks. These tests compare
the document with the app's URL map both ways, and validate real responses against it.
"""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from PIL import Image
from werkzeug.routing import Map, Rule
from werkzeug.test import TestResponse

from tests.api.conftest import Api
from tests.webhook_receiver import Receiver

PREFIX = "/api/v1"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def routed_operations(rules: Iterable[Rule]) -> set[tuple[str, str]]:
    """(OpenAPI path, method) for every API rule the app answers, except the document itself."""
    found = set()
    for rule in rules:
        if not rule.rule.startswith(PREFIX + "/") or rule.rule == f"{PREFIX}/openapi.json":
            continue
        path = _CONVERTER.sub(r"{\1}", rule.rule)
        found |= {(path, m.lower()) for m in (rule.methods or set()) - IGNORED_METHODS}
    return found


def documented_operations(doc: dict) -> set[tuple[str, str]]:
    methods = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
    return {(path, method) for path, item in doc["paths"].items()
            for method in item if method in methods}


@pytest.fixture
def doc(client) -> dict:
    response = client.get(f"{PREFIX}/openapi.json")  # public: no token needed to read it
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def test_document_is_valid_openapi_3_1(doc):
    validate(doc, cls=OpenAPIV31SpecValidator)
    assert doc["openapi"] == "3.1.0"
    assert doc["servers"] == [{"url": "http://localhost"}]
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {"type": "http",
                                                                   "scheme": "bearer"}
    operation_ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids)) == len(documented_operations(doc))


def test_every_route_is_documented_and_every_documented_route_exists(app, doc):
    routed = routed_operations(app.url_map.iter_rules())
    documented = documented_operations(doc)

    assert routed - documented == set(), "routes missing from openapi.json"
    assert documented - routed == set(), "openapi.json describes routes that do not exist"
    assert ("/api/v1/partners/{partner_id}/brand-profile", "put") in routed
    assert len(routed) >= 22


def test_the_route_check_catches_an_undocumented_route(app, doc):
    """Guards the guard: a route added outside ``endpoint(...)`` shows up as undocumented."""
    rules = [rule.empty() for rule in app.url_map.iter_rules()]
    rules.append(Rule(f"{PREFIX}/partners/<partner_id>/secrets", methods=["GET", "POST"],
                      endpoint="api.shadow"))
    routed = routed_operations(Map(rules).iter_rules())
    assert routed - documented_operations(doc) == {
        ("/api/v1/partners/{partner_id}/secrets", "get"),
        ("/api/v1/partners/{partner_id}/secrets", "post")}


def test_authenticated_operations_declare_bearer_auth_and_problem_errors(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert op["security"] == [{"bearerAuth": []}], (path, method)
            for status in ("401", "404"):
                content = op["responses"][status]["content"]
                assert list(content) == ["application/problem+json"], (path, method, status)
            if "requestBody" in op:
                assert "422" in op["responses"], (path, method)


# --- live responses against the documented schemas ------------------------------------------


def _strict(schema: Any) -> Any:
    """Refuse undocumented keys: a body with a field the document omits must fail."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


class Contract:
    """Calls the API and checks each answer against the document's schema for that status."""

    def __init__(self, doc: dict):
        self.doc = doc
        self.components = _strict(copy.deepcopy(doc["components"]))
        self.checked: set[tuple[str, str, int]] = set()

    def call(self, api: Api, method: str, template: str, status: int,
             path_params: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.response(api, method, template, status, path_params,
                             **kw).get_json(silent=True)

    def response(self, api: Api, method: str, template: str, status: int,
                 path_params: dict[str, Any] | None = None, **kw: Any) -> TestResponse:
        """Like ``call``, for answers that are not JSON (images, redirects)."""
        path = template.format(**(path_params or {}))
        response = getattr(api, method.lower())(path, **kw)
        assert response.status_code == status, (method, path, response.get_data(as_text=True))
        self.check(method, PREFIX + template, response)
        return response

    def check(self, method: str, template: str, response: TestResponse) -> None:
        op = self.doc["paths"][template][method.lower()]
        documented = op["responses"].get(str(response.status_code))
        assert documented is not None, f"{method} {template} answered an undocumented " \
                                       f"{response.status_code}"
        self.checked.add((template, method.lower(), response.status_code))
        for name, header in documented.get("headers", {}).items():
            if header.get("required"):
                assert response.headers.get(name), f"{method} {template} lacks {name}"
        if "content" not in documented:
            assert response.data == b"", f"{method} {template} documents no body"
            return
        assert response.mimetype in documented["content"], (
            method, template, response.mimetype, list(documented["content"]))
        schema = documented["content"][response.mimetype]["schema"]
        if schema.get("format") == "binary":
            assert response.data, f"{method} {template}: empty {response.mimetype} body"
            if response.mimetype == "image/png":
                with Image.open(io.BytesIO(response.data)) as image:
                    assert image.format == "PNG", (method, template, image.format)
            return
        validator = Draft202012Validator({**schema, "components": self.components})
        errors = sorted(validator.iter_errors(response.get_json()), key=str)
        assert not errors, f"{method} {template} {response.status_code}: {errors[0]}"


def _png(width: int = 128, height: int = 96) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 90, 200)).save(out, "PNG")
    return out.getvalue()


def _connect_x(app, monkeypatch, api: Api) -> str:
    """The API user's partner connects an X account through the OAuth flow against the
    loopback fake (the account's public id)."""
    from urllib.parse import parse_qs, urlsplit

    import requests
    from sqlalchemy import select

    from syndication.social import service
    from syndication.social.fakes import FakeX
    from syndication.social.models import Network
    from tcma.auth.models import User
    from tcma.extensions import db

    fake = FakeX()
    for name, value in {"CLIENT_ID": fake.client_id, "CLIENT_SECRET": fake.client_secret,
                        "AUTH": fake.url, "API": fake.url}.items():
        monkeypatch.setitem(app.config, f"SOCIAL_X_{name}", value)
    try:
        with app.test_request_context():
            user = db.session.execute(select(User).where(
                User.public_id == api.user.public_id)).scalar_one()
            authorise = service.start_connect(user, Network.X)
            back = requests.get(authorise, allow_redirects=False, timeout=5).headers["Location"]
            query = parse_qs(urlsplit(back).query)
            [account] = service.finish_connect(user, Network.X, state=query["state"][0],
                                               code=query["code"][0])
            db.session.commit()
            return account.public_id
    finally:
        fake.close()


def test_every_operation_answers_what_the_document_says(app, monkeypatch, doc, as_user,
                                                        new_partner, jobs):
    """Exercise every documented operation once and validate each live body strictly."""
    c = Contract(doc)
    admin = as_user("admin", email="ada@vendor.example", name="Ada")
    partner = new_partner("Northwind")
    pa = as_user("partner_admin", partner=partner)
    p = {"partner_id": partner}

    c.call(admin, "GET", "/me", 200)
    created = c.call(admin, "POST", "/partners", 201, json={
        "name": "Contoso", "tier": "gold", "region": "EMEA", "type": "agency",
        "admin_email": "con@contoso.example"})
    c.call(admin, "GET", "/partners", 200)
    c.call(admin, "GET", "/partners/{partner_id}", 200, p)
    c.call(admin, "PATCH", "/partners/{partner_id}", 200, p, json={"tier": "silver"})
    c.call(admin, "POST", "/partners/{partner_id}/status", 200, {"partner_id": created["id"]},
           json={"status": "suspended"})
    csv = b"name,tier,region,type\nLitware,gold,EMEA,msp\n"
    c.call(admin, "POST", "/partners/import", 200, query_string={"dry_run": "1"},
           data={"file": (io.BytesIO(csv), "p.csv")})
    c.call(admin, "POST", "/partners/import", 201, data={"file": (io.BytesIO(csv), "p.csv")})

    c.call(pa, "GET", "/partners/{partner_id}/brand-profile", 200, p)
    c.call(pa, "PUT", "/partners/{partner_id}/brand-profile", 200, p, json={
        "display_name": "Northwind IT", "email": "hi@northwind.example",
        "primary_color": "#112233"})
    c.call(pa, "PUT", "/partners/{partner_id}/brand-profile/logo", 200, p,
           data={"logo": (io.BytesIO(_png()), "logo.png")})
    c.call(pa, "GET", "/partners/{partner_id}/brand-profile/versions", 200, p)

    c.call(pa, "GET", "/partners/{partner_id}/users", 200, p)
    colleague = c.call(pa, "POST", "/partners/{partner_id}/users", 201, p, json={
        "email": "kim@northwind.example", "name": "Kim", "role": "partner_user"})
    u = {"user_id": colleague["id"]}
    c.call(pa, "GET", "/users/{user_id}", 200, u)
    c.call(pa, "POST", "/users/{user_id}/invite", 200, u)
    c.call(pa, "POST", "/users/{user_id}/status", 200, u, json={"status": "disabled"})
    c.call(admin, "GET", "/users", 200)
    c.call(admin, "POST", "/users", 201, json={"email": "m@vendor.example", "name": "M",
                                               "role": "marketer"})

    c.call(admin, "GET", "/tokens", 200)
    token = c.call(admin, "POST", "/tokens", 201, json={"name": "ci", "expires_in_days": 30})
    c.call(admin, "DELETE", "/tokens/{token_id}", 204, {"token_id": token["id"]})
    c.call(admin, "GET", "/audit-events", 200)
    c.call(pa, "GET", "/program", 200)
    c.call(admin, "PUT", "/program", 200, json={"vendor_name": "Globex Partners"})

    # The asset library: a marketer's upload, zones and previews, then the partner's copy,
    # rendered by a real worker and downloaded through a redirect.
    marketer = as_user("marketer")
    asset = c.call(marketer, "POST", "/assets", 201, data={
        "file": (io.BytesIO(_png()), "tile.png"), "title": "Launch tile",
        "tags": "launch, social", "allowed_tiers": "gold, silver"})  # Northwind is silver now
    a = {"asset_id": asset["id"]}
    c.call(marketer, "GET", "/assets", 200, query_string={"status": "draft", "q": "tile"})
    c.call(marketer, "GET", "/assets/{asset_id}", 200, a)
    c.call(marketer, "PATCH", "/assets/{asset_id}", 200, a,
           json={"description": "For launch week", "expires_at": None})
    c.call(marketer, "POST", "/assets/{asset_id}/versions", 201, a,
           data={"file": (io.BytesIO(_png()), "tile-v2.png")})
    c.call(marketer, "PUT", "/assets/{asset_id}/zones", 200, a, json={"zones": [
        {"page": 0, "x": 4, "y": 4, "width": 60, "height": 30, "kind": "logo"},
        {"page": 0, "x": 4, "y": 50, "width": 120, "height": 40, "kind": "text",
         "template": "{{ partner.display_name }}", "size": 10, "min_size": 6}]})
    c.call(marketer, "GET", "/assets/{asset_id}/warnings", 200, a)
    c.response(marketer, "GET", "/assets/{asset_id}/pages/{page}", 200, {**a, "page": 1})
    c.response(marketer, "GET", "/assets/{asset_id}/preview", 200, a,
               query_string={"partner": partner})
    c.call(marketer, "POST", "/assets/{asset_id}/status", 200, a, json={"status": "published"})
    c.call(pa, "GET", "/library", 200)
    c.call(pa, "POST", "/library/{asset_id}/copy", 202, a)
    jobs.run()
    c.call(pa, "GET", "/library/{asset_id}/copy", 200, a)
    c.call(pa, "POST", "/library/{asset_id}/copy", 200, a)
    c.response(pa, "GET", "/library/{asset_id}/download", 302, a)
    c.call(pa, "GET", "/library/{asset_id}/link", 200, a)
    bundle = c.call(pa, "POST", "/library/bundles", 202, json={"asset_ids": [asset["id"]]})
    jobs.run()
    z = {"bundle_id": bundle["id"]}
    c.call(pa, "GET", "/library/bundles/{bundle_id}", 200, z)
    c.response(pa, "GET", "/library/bundles/{bundle_id}/download", 302, z)

    # Tracking links: the vendor makes one for a partner, the partner finds the same one.
    made = c.call(admin, "POST", "/links", 201, json={
        "partner_id": partner, "destination": "https://vendor.example.com/offer",
        "channel": "email", "campaign": "spring-kit"})
    c.call(pa, "POST", "/links", 200, json={
        "destination": "https://vendor.example.com/offer", "channel": "email",
        "campaign": "spring-kit"})
    k = {"code": made["code"]}
    c.call(pa, "GET", "/links", 200, query_string={"channel": "email"})
    c.call(pa, "GET", "/links/{code}", 200, k)
    c.call(pa, "GET", "/links/{code}/stats", 200, k, query_string={"days": 7})
    c.call(admin, "PATCH", "/links/{code}", 200, k, json={"disabled": True})

    # Landing pages and leads: a marketer publishes a page, a visitor sends its form on the
    # partner's copy, and the partner works the lead.
    made_page = c.call(marketer, "POST", "/landing-pages", 201, json={
        "slug": "api-trial", "title": "Trial", "headline": "Try it",
        "form_fields": {"company": {"enabled": True}}, "consent_text": "Contact me."})
    g = {"page_id": made_page["id"]}
    c.call(marketer, "PATCH", "/landing-pages/{page_id}", 200, g,
           json={"summary": "Free for 30 days."})
    c.call(marketer, "PUT", "/landing-pages/{page_id}/hero", 200, g,
           data={"hero": (io.BytesIO(_png(640, 320)), "hero.png")})
    c.call(marketer, "DELETE", "/landing-pages/{page_id}/hero", 200, g)
    c.call(marketer, "POST", "/landing-pages/{page_id}/status", 200, g,
           json={"status": "published"})
    c.call(marketer, "GET", "/landing-pages", 200, query_string={"status": "published"})
    live = c.call(pa, "GET", "/landing-pages/{page_id}", 200, g)
    path = live["url"].removeprefix("http://localhost")
    form = pa.client.get(path).get_data(as_text=True)
    token = re.search(r'name="form_token" value="([^"]+)"', form).group(1)
    assert pa.client.post(path, data={"form_token": token, "email": "lead@example.com",
                                      "consent": "yes"}).status_code == 303
    found = c.call(pa, "GET", "/leads", 200, query_string={"status": "new"})
    ld = {"lead_id": found["items"][0]["id"]}
    c.call(pa, "GET", "/leads/{lead_id}", 200, ld)
    c.call(pa, "POST", "/leads/{lead_id}/status", 200, ld,
           json={"status": "accepted", "note": "Calling Monday"})
    c.call(pa, "POST", "/leads/{lead_id}/notes", 201, ld, json={"text": "Left a voicemail"})

    # Campaign kits: a marketer authors, previews and publishes a kit; the partner browses it.
    kit = c.call(marketer, "POST", "/kits", 201, json={"name": "API kit", "language": "en"})
    kt = {"kit_id": kit["id"]}
    mjml = ("<mjml><mj-body><mj-section><mj-column><mj-text css-class=\"tcma-editable\" "
            "tcma-block=\"intro\">Hi {{ contact.first_name }}, {{ partner.phone }}</mj-text>"
            "</mj-column></mj-section></mj-body></mjml>")
    c.call(marketer, "PATCH", "/kits/{kit_id}", 200, kt, json={"goal": "Demos"})
    c.call(marketer, "PUT", "/kits/{kit_id}/emails", 200, kt, json={"emails": [{
        "key": "welcome", "name": "Welcome", "subject": "Hi {{ contact.first_name }}",
        "mjml": mjml}]})
    c.call(marketer, "PUT", "/kits/{kit_id}/steps", 200, kt, json={"steps": [
        {"day": 0, "time": "09:00", "item": "welcome"}]})
    c.call(marketer, "PUT", "/kits/{kit_id}/references", 200, kt,
           json={"landing_page_id": made_page["id"], "asset_ids": []})
    post = {"key": "announce", "name": "Announcement",
            "texts": {"linkedin": "New from {{ partner.display_name }}", "x": "New! Ask us"},
            "link": "https://vendor.example/product", "hashtags": ["cloud"]}
    c.call(marketer, "PUT", "/kits/{kit_id}/posts", 200, kt, json={"posts": [post]})
    kp = {**kt, "post_key": "teaser"}
    c.call(marketer, "PUT", "/kits/{kit_id}/posts/{post_key}", 200, kp,
           json={**post, "key": "teaser", "editable": False})
    c.call(marketer, "GET", "/kits/{kit_id}/posts", 200, kt)
    c.call(marketer, "GET", "/kits/{kit_id}/posts/{post_key}", 200, kp)
    c.call(marketer, "GET", "/kits/{kit_id}/posts/{post_key}/preview", 200, kp,
           query_string={"partner": partner})
    c.call(marketer, "DELETE", "/kits/{kit_id}/posts/{post_key}", 204, kp)
    c.response(marketer, "GET", "/kits/{kit_id}/emails/{email_key}/preview", 200,
               {**kt, "email_key": "welcome"}, query_string={"partner": partner})
    c.call(marketer, "POST", "/kits/{kit_id}/publish", 201, kt)
    c.call(marketer, "GET", "/kits", 200, query_string={"status": "published"})
    c.call(marketer, "GET", "/kits/{kit_id}", 200, kt)
    c.call(marketer, "GET", "/kits/{kit_id}/versions", 200, kt)
    c.call(marketer, "GET", "/kits/{kit_id}/versions/{number}", 200, {**kt, "number": 1})
    c.call(pa, "GET", "/catalogue/kits", 200)
    c.response(pa, "GET", "/catalogue/kits/{kit_id}/emails/{email_key}/preview", 200,
               {**kt, "email_key": "welcome"})
    c.call(marketer, "POST", "/kits/{kit_id}/retire", 200, kt)

    # Lead routing: a channel manager's rule, imported leads offered to the partner, one
    # accepted, one declined and then assigned by hand.
    cm = as_user("channel_manager")
    made_rule = c.call(cm, "POST", "/routing-rules", 201, json={"name": "Everyone",
                                                                "window_hours": 24})
    rr = {"routing_rule_id": made_rule["id"]}
    c.call(cm, "GET", "/routing-rules", 200)
    c.call(cm, "GET", "/routing-rules/{routing_rule_id}", 200, rr)
    c.call(cm, "PATCH", "/routing-rules/{routing_rule_id}", 200, rr,
           json={"position": 1, "partner_tiers": ["silver"]})  # Northwind is silver
    items = [{"email": "imp1@example.com", "external_id": "crm-1", "country": "DE"},
             {"email": "imp2@example.com"}, {"email": "imp3@example.com", "partner_id": partner}]
    c.call(cm, "POST", "/leads/import", 200, query_string={"dry_run": "1"},
           json={"items": items})
    imported = c.call(cm, "POST", "/leads/import", 201, json={"items": items})
    jobs.run()  # the rule offers both unassigned leads to Northwind
    first, second = ({"lead_id": i} for i in imported["leads"][:2])
    c.call(pa, "POST", "/leads/{lead_id}/accept", 200, first)
    c.call(pa, "POST", "/leads/{lead_id}/decline", 200, second, json={"reason": "No capacity"})
    jobs.run()
    c.call(cm, "POST", "/leads/{lead_id}/assign", 200, second, json={"partner_id": partner})
    c.call(cm, "DELETE", "/routing-rules/{routing_rule_id}", 204, rr)

    # Contacts: the partner's own audience, its lists, and a CSV import run by a worker.
    made_contact = c.call(pa, "POST", "/contacts", 201, json={
        "email": "dana@example.com", "first_name": "Dana", "tags": ["vip"],
        "custom_fields": {"Industry": "Retail"}, "consent_source": "trade show 2026",
        "consent_date": "2026-03-02"})
    c.call(pa, "POST", "/contacts", 200, json={
        "email": "DANA@example.com", "company": "Contoso", "consent_source": "website form",
        "consent_date": "2026-03-05T10:00:00Z"})
    ct = {"contact_id": made_contact["id"]}
    c.call(pa, "GET", "/contacts", 200, query_string={"q": "dana", "status": "subscribed"})
    c.call(pa, "GET", "/contacts/{contact_id}", 200, ct)
    c.call(pa, "PATCH", "/contacts/{contact_id}", 200, ct, json={"job_title": "CTO"})
    made_list = c.call(pa, "POST", "/contact-lists", 201, json={"name": "Webinar guests"})
    cl = {"list_id": made_list["id"]}
    c.call(pa, "GET", "/contact-lists", 200)
    c.call(pa, "POST", "/contact-lists/{list_id}/members", 200, cl,
           json={"contact_ids": [made_contact["id"]]})
    c.call(pa, "POST", "/contact-lists/{list_id}/members/remove", 200, cl,
           json={"contact_ids": [made_contact["id"]]})
    contacts_csv = "E-Mail;Vorname;Firma\nkim@example.com;Kim;Café AG\nkaputt;X;Y\n".encode()
    started = c.call(pa, "POST", "/contact-imports", 202, data={
        "file": (io.BytesIO(contacts_csv), "kontakte.csv"), "consent_source": "fair",
        "consent_date": "2026-03-01", "list_id": made_list["id"], "tags": "fair"})
    jobs.run()
    ci = {"import_id": started["id"]}
    c.call(pa, "GET", "/contact-imports/{import_id}", 200, ci)
    c.response(pa, "GET", "/contact-imports/{import_id}/report", 200, ci)
    c.call(pa, "DELETE", "/contacts/{contact_id}", 204, ct)

    # Launches: the partner completes its brand and launches a kit to the imported list for
    # tomorrow, pauses, resumes and cancels it; a marketer reads launches (read-only).
    launch_kit = c.call(marketer, "POST", "/kits", 201, json={"name": "Launch kit"})
    lk = {"kit_id": launch_kit["id"]}
    c.call(marketer, "PUT", "/kits/{kit_id}/emails", 200, lk, json={"emails": [{
        "key": "welcome", "name": "Welcome", "subject": "Hi {{ contact.first_name }}",
        "mjml": mjml}]})
    c.call(marketer, "PUT", "/kits/{kit_id}/steps", 200, lk, json={"steps": [
        {"day": 0, "time": "09:00", "item": "welcome"}]})
    c.call(marketer, "POST", "/kits/{kit_id}/publish", 201, lk)
    c.call(pa, "PUT", "/partners/{partner_id}/brand-profile", 200, p, json={
        "display_name": "Northwind IT", "email": "hi@northwind.example",
        "phone": "+44 20 7946 0000", "address_line1": "1 Harbour Road", "city": "Bristol",
        "postal_code": "BS1 4DJ", "country": "GB", "timezone": "Europe/London"})
    assert c.call(pa, "GET", "/catalogue/kits/{kit_id}/launch-problems", 200, lk,
                  query_string={"list_id": made_list["id"]}) == {"problems": []}
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    made_launch = c.call(pa, "POST", "/launches", 201, json={
        "kit_id": launch_kit["id"], "list_id": made_list["id"], "start_at": tomorrow,
        "blocks": {"welcome": {"intro": "Hello from Northwind"}}})
    ln = {"launch_id": made_launch["id"]}
    c.call(pa, "POST", "/launches/{launch_id}/pause", 200, ln)
    c.call(pa, "POST", "/launches/{launch_id}/resume", 200, ln)
    c.call(pa, "POST", "/launches/{launch_id}/cancel", 200, ln)
    c.call(pa, "POST", "/launches/{launch_id}/resume", 409, ln)  # cancelled is for good
    c.call(pa, "GET", "/launches", 200)
    c.call(marketer, "GET", "/launches", 200, query_string={"kit_id": launch_kit["id"]})
    c.call(marketer, "GET", "/launches/{launch_id}", 200, ln)

    # Webhooks: an endpoint on a loopback receiver, a test event sent by a real worker.
    receiver = Receiver()
    try:
        kinds = c.call(admin, "GET", "/webhook-events", 200)
        hook = c.call(admin, "POST", "/webhooks", 201, json={
            "url": receiver.url(), "description": "CRM", "events": [kinds[0]["name"]]})
        w = {"webhook_id": hook["id"]}
        c.call(admin, "GET", "/webhooks", 200)
        c.call(admin, "GET", "/webhooks/{webhook_id}", 200, w)
        c.call(admin, "PATCH", "/webhooks/{webhook_id}", 200, w, json={"description": "Sync"})
        c.call(admin, "GET", "/webhooks/{webhook_id}/secret", 200, w)
        c.call(admin, "POST", "/webhooks/{webhook_id}/secret", 200, w,
               json={"keep_previous_hours": 1})
        sent = c.call(admin, "POST", "/webhooks/{webhook_id}/test", 202, w)
        jobs.run()
        c.call(admin, "GET", "/webhooks/{webhook_id}/deliveries", 200, w,
               query_string={"status": "succeeded"})
        d = {"webhook_delivery_id": sent["id"]}
        c.call(admin, "GET", "/webhook-deliveries/{webhook_delivery_id}", 200, d)
        c.call(admin, "POST", "/webhook-deliveries/{webhook_delivery_id}/resend", 202, d)
        jobs.run()
        assert len(receiver.requests) == 2
        c.call(admin, "DELETE", "/webhooks/{webhook_id}", 204, w)
    finally:
        receiver.close()

    # Market development funds: a channel manager opens a fund and allocates it; the partner
    # requests and claims with proof; requests are cancelled, rejected, claims rejected and
    # paid (one by one and in a run); finance exports what is payable.
    finance = as_user("finance")
    today = datetime.now(UTC).date()
    fund = c.call(cm, "POST", "/mdf/funds", 201, json={
        "name": "API MDF", "currency": "EUR", "period_start": today.isoformat(),
        "period_end": (today + timedelta(days=90)).isoformat(), "budget": "50000.00",
        "approval_threshold": "20000"})
    f = {"fund_id": fund["id"]}
    c.call(cm, "PATCH", "/mdf/funds/{fund_id}", 200, f, json={"claim_days": 30})
    c.call(cm, "PUT", "/mdf/funds/{fund_id}/allocations/{partner_id}", 200, {**f, **p},
           json={"amount": "10000.00", "comment": "Q1"})
    c.call(cm, "POST", "/mdf/funds/{fund_id}/allocations/import", 200, f, data={
        "file": (io.BytesIO(f"partner,amount\n{partner},12000\n".encode()), "a.csv")})
    c.call(cm, "POST", "/mdf/funds/{fund_id}/allocations/by-tier", 200, f,
           json={"amounts": {"platinum": "100.00"}})
    c.call(cm, "POST", "/mdf/funds/{fund_id}/allocations/by-revenue", 200, f, data={
        "file": (io.BytesIO(f"partner,revenue\n{partner},120000\n".encode()), "r.csv"),
        "percent": "10"})
    c.call(cm, "GET", "/mdf/funds", 200)
    c.call(cm, "GET", "/mdf/funds/{fund_id}/allocations", 200, f)
    c.call(pa, "GET", "/mdf/funds/{fund_id}", 200, f)
    c.call(cm, "GET", "/mdf/balances", 200, query_string={"partner_id": partner})

    def mdf_request(title: str) -> dict[str, str]:
        made = c.call(pa, "POST", "/mdf/requests", 201, json={
            "fund_id": fund["id"], "activity_type": "webinar", "title": title,
            "starts_on": today.isoformat(), "ends_on": today.isoformat(),
            "estimated_cost": "2000.00", "requested": "1000.00", "launch_id": made_launch["id"]})
        return {"request_id": made["id"]}

    def claimed(title: str) -> dict[str, str]:
        r = mdf_request(title)
        c.call(pa, "POST", "/mdf/requests/{request_id}/submit", 200, r)
        c.call(cm, "POST", "/mdf/requests/{request_id}/approve", 200, r, json={})
        c.call(pa, "PUT", "/mdf/requests/{request_id}/claim", 200, r, json={
            "actual_cost": "1900.00", "claimed_amount": "950.00", "results_leads": 12})
        c.call(pa, "POST", "/mdf/requests/{request_id}/files", 201, r,
               data={"file": (io.BytesIO(_png()), "booth.png")})
        filed = c.call(pa, "POST", "/mdf/requests/{request_id}/submit-claim", 200, r)
        # The linked launch's proof-of-performance report joins the upload by itself.
        assert [(f["kind"], f["automatic"]) for f in filed["files"]] == [
            ("png", False), ("pdf", True)], filed["files"]
        return r

    r1 = mdf_request("Roadshow")
    c.call(pa, "PATCH", "/mdf/requests/{request_id}", 200, r1, json={"expected_leads": 20})
    c.call(pa, "POST", "/mdf/requests/{request_id}/submit", 200, r1)
    c.call(cm, "POST", "/mdf/requests/{request_id}/ask-info", 200, r1,
           json={"comment": "Which venue?"})
    c.call(pa, "POST", "/mdf/requests/{request_id}/submit", 200, r1)
    c.call(cm, "POST", "/mdf/requests/{request_id}/reject", 200, r1,
           json={"reason": "Out of region."})
    c.call(pa, "POST", "/mdf/requests/{request_id}/cancel", 200, mdf_request("Spare"),
           json={"reason": "Not this quarter."})
    r2 = claimed("Webinar")
    spare = c.call(pa, "POST", "/mdf/requests/{request_id}/files", 409, r2,
                   data={"file": (io.BytesIO(_png()), "late.png")})
    assert "cannot be claimed against" in spare["detail"]
    c.call(cm, "POST", "/mdf/requests/{request_id}/claim-ask-info", 200, r2,
           json={"comment": "The attendee list, please."})
    extra = c.call(pa, "POST", "/mdf/requests/{request_id}/files", 201, r2,
                   data={"file": (io.BytesIO(b"name\nAda\n"), "attendees.csv")})
    c.call(pa, "DELETE", "/mdf/requests/{request_id}/files/{file_id}", 204,
           {**r2, "file_id": extra["id"]})
    c.call(pa, "GET", "/mdf/requests/{request_id}/files", 200, r2)
    c.call(pa, "POST", "/mdf/requests/{request_id}/submit-claim", 200, r2)
    c.call(cm, "POST", "/mdf/requests/{request_id}/approve-claim", 200, r2,
           json={"amount": "900.00", "comment": "One invoice is missing."})
    c.call(finance, "POST", "/mdf/requests/{request_id}/pay", 200, r2,
           json={"reference": "AP-1", "paid_on": today.isoformat()})
    r3 = claimed("Trade show")
    c.call(cm, "POST", "/mdf/requests/{request_id}/reject-claim", 200, r3,
           json={"reason": "No proof of the booth."})
    r4 = claimed("Print run")
    c.call(cm, "POST", "/mdf/requests/{request_id}/approve-claim", 200, r4, json={})
    c.response(finance, "GET", "/mdf/payments.csv", 200, query_string={"fund_id": fund["id"]})
    c.call(finance, "POST", "/mdf/payments", 200,
           json={"request_ids": [r4["request_id"]], "reference": "RUN-1"})
    c.call(pa, "GET", "/mdf/requests", 200, query_string={"status": "paid,claim_rejected"})
    c.call(pa, "GET", "/mdf/requests/{request_id}", 200, r2)
    c.call(pa, "GET", "/mdf/requests/{request_id}/timeline", 200, r2)
    c.call(pa, "GET", "/mdf/balances", 200)
    c.call(cm, "GET", "/mdf/funds/{fund_id}/balances", 200, f)
    c.call(cm, "POST", "/mdf/funds/{fund_id}/close", 200, f)

    # Social accounts: the partner connects X (through the loopback fake), reads and
    # disconnects it; vendor staff read the token health counts.
    sa = {"account_id": _connect_x(app, monkeypatch, pa)}
    c.call(pa, "GET", "/social/accounts", 200)
    c.call(pa, "GET", "/social/accounts/{account_id}", 200, sa)
    c.call(marketer, "GET", "/social/health", 200)
    # Posts: a kit of one X post, launched for tomorrow on that account; the partner reads the
    # calendar, rewrites the post, skips it and takes it back; autopilot on and off.
    post_kit = c.call(marketer, "POST", "/kits", 201, json={"name": "Post kit",
                                                           "tags": ["backup"]})
    pk = {"kit_id": post_kit["id"]}
    c.call(marketer, "PUT", "/kits/{kit_id}/posts", 200, pk, json={"posts": [{
        "key": "announce", "name": "Announcement", "texts": {"x": "New from {{ "
                                                                 "partner.display_name }}"},
        "link": "https://vendor.example/new"}]})
    c.call(marketer, "PUT", "/kits/{kit_id}/steps", 200, pk, json={"steps": [
        {"day": 0, "time": "09:00", "item": "announce"}]})
    c.call(marketer, "POST", "/kits/{kit_id}/publish", 201, pk)
    c.call(pa, "POST", "/launches", 201, json={"kit_id": post_kit["id"], "start_at": tomorrow,
                                              "social_account_ids": [sa["account_id"]]})
    [scheduled] = c.call(pa, "GET", "/social/posts", 200,
                         query_string={"account_id": sa["account_id"]})
    assert scheduled["text"].startswith("New from Northwind IT\n\nhttp://localhost/r/")
    sp = {"post_id": scheduled["id"]}
    c.call(pa, "GET", "/social/posts/{post_id}", 200, sp)
    c.call(pa, "PATCH", "/social/posts/{post_id}", 200, sp, json={"text": "Ours instead"})
    c.call(pa, "POST", "/social/posts/{post_id}/skip", 200, sp)
    c.call(pa, "POST", "/social/posts/{post_id}/unskip", 200, sp)
    c.call(pa, "PUT", "/social/accounts/{account_id}/autopilot", 200, sa,
           json={"categories": ["backup"], "notice_hours": 12})
    assert c.call(pa, "GET", "/social/accounts/{account_id}/autopilot", 200, sa)[
        "categories"] == ["backup"]
    c.call(pa, "DELETE", "/social/accounts/{account_id}", 204, sa)

    # Web widget: a marketer's syndicated article; the partner's widget and its snippet.
    item = c.call(marketer, "POST", "/widget/items", 201, json={
        "kind": "article", "title": "Backup guide", "body": "<p>Guide</p>",
        "publish_at": "2026-01-01T00:00:00Z"})
    wi = {"item_id": item["id"]}
    c.call(marketer, "GET", "/widget/items", 200)
    c.call(marketer, "GET", "/widget/items/{item_id}", 200, wi)
    c.call(marketer, "PATCH", "/widget/items/{item_id}", 200, wi, json={"title": "Guide v2"})
    widget = c.call(pa, "POST", "/widgets", 201, json={"name": "Sidebar",
                                                        "domains": ["www.northwind.example"]})
    ww = {"widget_id": widget["id"]}
    c.call(pa, "GET", "/widgets", 200)
    c.call(pa, "GET", "/widgets/{widget_id}", 200, ww)
    c.call(pa, "PATCH", "/widgets/{widget_id}", 200, ww, json={"layout": "list"})
    snippet = c.call(pa, "GET", "/widgets/{widget_id}/snippet", 200, ww)
    c.call(pa, "GET", "/widgets/{widget_id}/stats", 200, ww)
    c.call(marketer, "GET", "/widget/adoption", 200)
    assert 'data-tcma-widget="' in snippet["html"] and "<a href=" in snippet["html"]
    c.call(pa, "DELETE", "/widgets/{widget_id}", 204, ww)
    c.call(marketer, "DELETE", "/widget/items/{item_id}", 204, wi)

    exercised = {(path, method) for path, method, status in c.checked}
    assert exercised == documented_operations(doc)


def test_error_answers_match_the_documented_problem_schemas(doc, as_user, new_partner, client):
    c = Contract(doc)
    admin = as_user("admin")
    marketer = as_user("marketer")
    partner = new_partner("Northwind")
    pa = as_user("partner_admin", partner=partner)
    p = {"partner_id": partner}

    c.call(Api(client, "tcma_nope"), "GET", "/partners", 401)
    c.call(marketer, "POST", "/partners", 403, json={"name": "X"})
    c.call(pa, "GET", "/users", 404)
    c.call(admin, "POST", "/partners", 400, data="name=X")
    c.call(admin, "POST", "/partners", 422, json={"name": "X", "tier": "?", "region": "EMEA",
                                                  "type": "msp"})
    c.call(admin, "GET", "/partners", 422, query_string={"limit": "lots"})
    c.call(admin, "POST", "/partners/import", 422,
           data={"file": (io.BytesIO(b"name,tier,region,type\nA,?,EMEA,msp\n"), "p.csv")})
    c.call(admin, "POST", "/partners/{partner_id}/status", 200, p, json={"status": "offboarded"})
    c.call(admin, "POST", "/partners/{partner_id}/status", 409, p, json={"status": "active"})
    c.call(pa, "PUT", "/partners/{partner_id}/brand-profile", 401, p, json={})  # offboarded
    c.call(admin, "DELETE", "/tokens/{token_id}", 404, {"token_id": "missing"})

    asset = c.call(admin, "POST", "/assets", 201, data={"file": (io.BytesIO(_png()), "t.png"),
                                                        "title": "Tile"})
    a = {"asset_id": asset["id"]}
    c.call(admin, "POST", "/assets", 422, data={"title": "No file"})
    c.call(admin, "PUT", "/assets/{asset_id}/zones", 422, a, json={"zones": [{"page": 0}]})
    c.call(admin, "GET", "/assets/{asset_id}/pages/{page}", 422, {**a, "page": 2})
    c.call(admin, "POST", "/assets/{asset_id}/status", 200, a, json={"status": "published"})
    northwind = as_user("partner_user", partner=new_partner("Northwind Two"))
    c.call(northwind, "GET", "/library/{asset_id}/copy", 404, a)
    c.call(northwind, "GET", "/library/{asset_id}/download", 409, a)
    c.call(northwind, "GET", "/assets/{asset_id}", 404, a)
    c.call(northwind, "POST", "/library/bundles", 422, json={"asset_ids": ["not-mine"]})
    c.call(northwind, "GET", "/library/bundles/{bundle_id}", 404, {"bundle_id": "missing"})
    c.call(admin, "POST", "/webhooks", 422, json={"url": "https://169.254.169.254/",
                                                  "events": []})
    c.call(admin, "GET", "/webhook-deliveries/{webhook_delivery_id}", 404,
           {"webhook_delivery_id": "missing"})
    kit = c.call(marketer, "POST", "/kits", 201, json={"name": "Broken kit"})
    kt = {"kit_id": kit["id"]}
    c.call(marketer, "PUT", "/kits/{kit_id}/emails", 200, kt, json={"emails": [{
        "key": "a", "name": "A", "subject": "{{ ''.__class__ }}", "mjml": "<mjml></mjml>"}]})
    refused = c.call(marketer, "POST", "/kits/{kit_id}/publish", 422, kt)
    assert any(e["field"] == "emails[0].subject" for e in refused["errors"]), refused
    c.call(marketer, "POST", "/kits/{kit_id}/retire", 409, kt)
    c.call(northwind, "GET", "/kits/{kit_id}", 404, kt)

    c.call(northwind, "POST", "/contacts", 422, json={"email": "x@example.com",
                                               "consent_source": "", "consent_date": ""})
    c.call(northwind, "POST", "/contact-imports", 422,
           data={"file": (io.BytesIO(b"Email\nx@example.com\n"), "c.csv")})
    c.call(northwind, "POST", "/contact-lists", 201, json={"name": "VIP"})
    c.call(northwind, "POST", "/contact-lists", 409, json={"name": "vip"})
    c.call(northwind, "GET", "/contacts/{contact_id}", 404, {"contact_id": "missing"})
    c.call(admin, "GET", "/contacts", 403)

    c.call(northwind, "POST", "/launches", 422, json={"kit_id": kit["id"]})  # not published
    c.call(northwind, "GET", "/launches/{launch_id}", 404, {"launch_id": "missing"})
    c.call(marketer, "POST", "/launches/{launch_id}/pause", 403, {"launch_id": "missing"})
    c.call(marketer, "GET", "/launches", 422, query_string={"kit_id": "missing"})
    published_kit = c.call(marketer, "POST", "/kits", 201, json={"name": "Ready kit"})
    rk = {"kit_id": published_kit["id"]}
    c.call(marketer, "PUT", "/kits/{kit_id}/emails", 200, rk, json={"emails": [{
        "key": "a", "name": "A", "subject": "Hi", "mjml": "<mjml><mj-body></mj-body></mjml>"}]})
    c.call(marketer, "PUT", "/kits/{kit_id}/steps", 200, rk, json={"steps": [
        {"day": 0, "time": "09:00", "item": "a"}]})
    c.call(marketer, "POST", "/kits/{kit_id}/publish", 201, rk)
    blocked = c.call(northwind, "POST", "/launches", 409, json={"kit_id": published_kit["id"]})
    assert any("brand profile" in p for p in blocked["problems"]), blocked

    c.call(admin, "POST", "/mdf/funds", 422, json={
        "name": "F", "currency": "EUR", "period_start": "2026-01-01",
        "period_end": "2026-06-30", "budget": 1000.0})
    c.call(marketer, "GET", "/mdf/funds", 403)
    c.call(northwind, "GET", "/mdf/funds/{fund_id}", 404, {"fund_id": "missing"})
    c.call(northwind, "POST", "/mdf/requests/{request_id}/submit", 404,
           {"request_id": "missing"})
    c.call(admin, "GET", "/mdf/balances", 422)

    statuses = {status for _, _, status in c.checked}
    assert statuses >= {400, 401, 403, 404, 409, 422}
