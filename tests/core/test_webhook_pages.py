"""Webhooks as a vendor admin uses them: the pages (with the verification snippet they give
integrators, run against a real signed request), who may reach them, and the JSON API."""

from __future__ import annotations

import html
import json
import re

import pytest

from tcma.auth.models import Role
from tcma.extensions import db
from tcma.webhooks import emit, register_event, service
from tests.factories import csrf_from, login, make_partner, make_token, make_user
from tests.webhook_receiver import Receiver

register_event("test.happened", "Something a webhook test made happen")
register_event("test.other", "Another thing, which some endpoints do not want")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


# --- pages ------------------------------------------------------------------------------------


def _secret_on(page: str) -> str:
    match = re.search(r'data-testid="webhook-secret">([^<]+)<', page)
    assert match, "no secret on the page"
    return match.group(1)


def test_an_admin_manages_endpoints_on_the_pages(app, client, jobs, receiver):
    with app.app_context():
        make_user(Role.ADMIN, email="ada@vendor.test")
    assert login(client, "ada@vendor.test").status_code == 302
    home = client.get("/admin/webhooks").get_data(as_text=True)
    assert "No endpoints yet" in home and 'href="/admin/webhooks"' in home

    form = client.get("/admin/webhooks/new").get_data(as_text=True)
    refused = client.post("/admin/webhooks/new", data={
        "csrf_token": csrf_from(form), "url": "ftp://x", "events": []})
    assert refused.status_code == 422
    refused_page = refused.get_data(as_text=True)
    assert "Use a full https:// address" in refused_page and 'value="ftp://x"' in refused_page
    assert "at least 1 item" in refused_page  # no event chosen
    created = client.post("/admin/webhooks/new", data={
        "csrf_token": csrf_from(form), "url": receiver.url(), "description": "Salesforce",
        "events": ["test.happened"]})
    page = created.get_data(as_text=True)
    assert created.status_code == 200 and "Copy its signing secret" in page
    assert created.headers["Cache-Control"] == "no-store"
    secret = _secret_on(page)
    webhook_id = re.search(r"/admin/webhooks/([\w-]+)/test", page).group(1)

    token = csrf_from(page)
    client.post(f"/admin/webhooks/{webhook_id}/test", data={"csrf_token": token})
    jobs.run()
    [request] = receiver.requests
    assert json.loads(request.body)["type"] == "webhook.test"

    # The snippet the page gives integrators verifies our request, and nothing else.
    show = client.get(f"/admin/webhooks/{webhook_id}").get_data(as_text=True)
    snippet = html.unescape(re.search(r'data-testid="verify-snippet">(.*?)</code>', show,
                                      re.S).group(1))
    scope: dict = {}
    exec(snippet, scope)  # noqa: S102  (our own page's code, as an integrator would paste it)
    header = request.headers["Tcma-Signature"]
    assert scope["verify"](secret, request.body, header)
    assert not scope["verify"](secret, request.body + b" ", header)
    assert not scope["verify"]("whsec_other", request.body, header)

    assert "webhook.test" in show and "succeeded" in show
    failed_only = client.get(f"/admin/webhooks/{webhook_id}?status=failed").get_data(
        as_text=True)
    assert "No deliveries with this status" in failed_only
    delivery_id = re.search(r'data-delivery="([\w-]+)"', show).group(1)
    detail = client.get(f"/admin/webhooks/deliveries/{delivery_id}").get_data(as_text=True)
    assert "A test event from" in detail and "<strong>200</strong>" in detail

    client.post(f"/admin/webhooks/deliveries/{delivery_id}/resend", data={"csrf_token": token})
    jobs.run()
    assert len(receiver.requests) == 2
    assert receiver.requests[1].headers["Tcma-Webhook-Id"] == \
        request.headers["Tcma-Webhook-Id"]

    revealed = client.post(f"/admin/webhooks/{webhook_id}/secret",
                           data={"csrf_token": token, "action": "reveal"})
    assert _secret_on(revealed.get_data(as_text=True)) == secret
    rotated = client.post(f"/admin/webhooks/{webhook_id}/secret",
                          data={"csrf_token": token, "action": "rotate",
                                "keep_previous_hours": "0"})
    assert _secret_on(rotated.get_data(as_text=True)) != secret

    client.post(f"/admin/webhooks/{webhook_id}/status",
                data={"csrf_token": token, "status": "paused"})
    with app.app_context():
        emit("test.happened", {"n": 12})
        db.session.commit()
    jobs.run()
    assert len(receiver.requests) == 2  # paused: the event was not for it
    edited = client.post(f"/admin/webhooks/{webhook_id}/edit", data={
        "csrf_token": token, "url": receiver.url("/v2"), "description": "Salesforce v2",
        "events": ["test.happened", "test.other"]}, follow_redirects=True)
    assert "Salesforce v2" in edited.get_data(as_text=True)
    client.post(f"/admin/webhooks/{webhook_id}/delete", data={"csrf_token": token})
    assert "No endpoints yet" in client.get("/admin/webhooks").get_data(as_text=True)


def test_only_admins_reach_webhooks(app, client):
    with app.app_context():
        marketer = make_user(Role.MARKETER)
        partner_admin = make_user(Role.PARTNER_ADMIN, partner=make_partner())
        endpoint, _ = service.create_endpoint({"url": "https://93.184.215.14/hook",
                                               "events": ["test.happened"]})
        db.session.commit()
        webhook_id = endpoint.public_id
        people = [(marketer.email, make_token(marketer), 403),
                  (partner_admin.email, make_token(partner_admin), 404)]
    for email, token, status in people:
        other = app.test_client()
        login(other, email)
        assert other.get("/admin/webhooks").status_code == status
        assert other.get(f"/admin/webhooks/{webhook_id}").status_code == status
        assert "/admin/webhooks" not in other.get("/").get_data(as_text=True)
        auth = {"Authorization": f"Bearer {token}"}
        assert other.get("/api/v1/webhooks", headers=auth).status_code == status
        assert other.get(f"/api/v1/webhooks/{webhook_id}/secret",
                         headers=auth).status_code == status


# --- API ----------------------------------------------------------------------------------------


def test_the_api_manages_endpoints_and_deliveries(app, client, jobs, receiver, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOKS_RETRY_DELAYS", [])  # one attempt, then resend
    with app.app_context():
        auth = {"Authorization": f"Bearer {make_token(make_user(Role.ADMIN))}"}
    api = "/api/v1"

    names = [e["name"] for e in client.get(f"{api}/webhook-events", headers=auth).get_json()]
    assert "test.happened" in names and "webhook.test" not in names
    for body, field in (({"url": receiver.url(), "events": ["test.nope"]}, "events"),
                        ({"url": "https://169.254.169.254/x", "events": ["test.happened"]},
                         "url")):
        bad = client.post(f"{api}/webhooks", headers=auth, json=body)
        assert bad.status_code == 422
        assert [e["field"] for e in bad.get_json()["errors"]] == [field]

    created = client.post(f"{api}/webhooks", headers=auth,
                          json={"url": receiver.url(), "events": ["test.happened"]})
    assert created.status_code == 201
    hook = created.get_json()
    assert hook["secret"].startswith("whsec_") and hook["status"] == "active"
    path = f"{api}/webhooks/{hook['id']}"
    assert client.get(f"{path}/secret", headers=auth).get_json()["secret"] == hook["secret"]

    receiver.answer(500)
    test = client.post(f"{path}/test", headers=auth)
    assert test.status_code == 202
    jobs.run()  # its only attempt fails...
    log = client.get(f"{path}/deliveries", headers=auth,
                     query_string={"status": "failed"}).get_json()
    assert [d["id"] for d in log] == [test.get_json()["id"]]
    resent = client.post(f"{api}/webhook-deliveries/{log[0]['id']}/resend", headers=auth)
    assert resent.status_code == 202
    jobs.run()  # ...and a resend makes one more
    detail = client.get(f"{api}/webhook-deliveries/{log[0]['id']}", headers=auth).get_json()
    assert detail["status"] == "succeeded"
    assert [(a["number"], a["status_code"], a["manual"]) for a in detail["attempt_log"]] == \
        [(1, 500, False), (2, 200, True)]
    assert detail["data"]["webhook_id"] == hook["id"]

    paused = client.patch(path, headers=auth, json={"status": "paused", "description": "x"})
    assert paused.get_json()["status"] == "paused" and paused.get_json()["description"] == "x"
    assert client.post(f"{path}/test", headers=auth).status_code == 409
    assert client.delete(path, headers=auth).status_code == 204
    assert client.get(path, headers=auth).status_code == 404
