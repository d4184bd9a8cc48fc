"""The audit log: what people did through the pages is recorded, shown to admins, and the
database itself refuses to rewrite it."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from werkzeug.test import TestResponse

from tcma import audit
from tcma.audit import AuditEvent
from tcma.extensions import db
from tests.factories import Outbox, csrf_from, login, make_partner, make_user, post_form

PAT_PASSWORD = "partner password 1"


def page_text(response: TestResponse) -> str:
    return html.unescape(response.get_data(as_text=True))


def events(app: Flask, action: str) -> list[dict]:
    """Every event with this action, oldest first, as plain values."""
    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).scalars()
        return [{"actor": e.actor_label, "actor_id": e.actor_id, "target": e.target_type,
                 "target_id": e.target_id, "partner_id": e.partner_id, "before": e.before,
                 "after": e.after, "ip": e.ip} for e in rows]


def test_changes_made_through_the_pages_are_audited_with_who_and_what(
    app, client, jobs, outbox: Outbox
):
    with app.app_context():
        vera = make_user("admin", name="Vera Vendor", email="vera@vendor.example")
        vera_id = vera.id
        marketer_id = make_user("marketer", name="Mo Marketer").public_id
    vera_label = "Vera Vendor <vera@vendor.example>"
    login(client, "vera@vendor.example")

    created = post_form(client, "/partners/new", {
        "name": "Northwind", "slug": "", "tier": "gold", "region": "EMEA", "type": "reseller",
        "language": "en", "admin_email": "pat@northwind.example", "admin_name": "Pat Partner",
    }, page="/partners/new")
    assert created.status_code == 302
    partner_public_id = urlsplit(created.headers["Location"]).path.rsplit("/", 1)[-1]
    show = f"/partners/{partner_public_id}"
    jobs.run()
    (mail,) = outbox.to("pat@northwind.example")
    invite = urlsplit(mail.link(r"http://localhost/invite/\S+")).path
    pat = app.test_client()
    form = pat.get(invite).get_data(as_text=True)
    pat.post(invite, data={"password": PAT_PASSWORD, "password_confirm": PAT_PASSWORD,
                           "csrf_token": csrf_from(form)})
    brand = pat.get("/brand").get_data(as_text=True)
    saved = pat.post("/brand", data={"display_name": "Northwind", "phone": "+44 20 7946 0000",
                                     "csrf_token": csrf_from(brand)})
    assert saved.status_code == 302
    post_form(client, f"{show}/edit", {"name": "Northwind", "tier": "silver", "region": "EMEA",
                                        "type": "reseller", "language": "en"})
    post_form(client, f"{show}/status", {"status": "suspended", "reason": "Late payments"})
    post_form(client, f"{show}/status", {"status": "active"})
    post_form(client, f"/admin/staff/{marketer_id}/status", {"status": "disabled"})

    (create,) = events(app, "partner.create")
    assert create["actor"] == vera_label and create["actor_id"] == vera_id
    assert create["target"] == "Partner" and create["target_id"] == partner_public_id
    assert create["after"] == {"name": "Northwind", "slug": "northwind", "tier": "gold",
                               "region": "EMEA", "language": "en", "type": "reseller"}
    assert create["ip"] == "127.0.0.1"
    partner_id = create["partner_id"]

    (invited,) = [e for e in events(app, "user.invite") if e["partner_id"] == partner_id]
    assert invited["actor"] == vera_label
    assert invited["after"] == {"email": "pat@northwind.example", "role": "partner_admin"}

    (update,) = events(app, "partner.update")
    assert update["actor"] == vera_label
    assert (update["before"]["tier"], update["after"]["tier"]) == ("gold", "silver")

    (suspend,) = events(app, "partner.suspend")
    assert suspend["before"] == {"status": "active"}
    assert suspend["after"] == {"status": "suspended", "reason": "Late payments"}
    (reactivate,) = events(app, "partner.reactivate")
    assert reactivate["after"] == {"status": "active", "reason": None}

    (disabled,) = events(app, "user.status")
    assert disabled["actor"] == vera_label and disabled["target_id"] == marketer_id
    assert (disabled["before"], disabled["after"]) == ({"status": "active"},
                                                       {"status": "disabled"})

    pat_label = "Pat Partner <pat@northwind.example>"
    (accepted,) = events(app, "user.accept_invite")
    assert accepted["actor"] == pat_label and accepted["partner_id"] == partner_id
    logins = {(e["actor"], e["after"]["method"]) for e in events(app, "user.login")}
    assert logins == {(vera_label, "password"), (pat_label, "invite")}

    (brand_event,) = events(app, "brand_profile.update")
    assert brand_event["actor"] == pat_label and brand_event["partner_id"] == partner_id
    assert brand_event["before"] == {"version": 1, "phone": None}
    assert brand_event["after"] == {"version": 2, "phone": "+44 20 7946 0000"}

    # the admin reads the same story on the audit page, newest first
    log = page_text(client.get("/admin/audit"))
    shown = re.findall(r"<code>([a-z_.]+)</code>", log)
    assert shown[:4] == ["user.status", "partner.reactivate", "partner.suspend",
                         "partner.update"]
    for action in ("partner.create", "user.invite", "brand_profile.update", "user.login",
                   "user.accept_invite"):
        assert action in shown
    assert pat_label in log and vera_label in log
    assert '"reason": "Late payments"' in log
    assert '"phone": "+44 20 7946 0000"' in log


def test_audit_page_filters_by_action_and_pages_back(app, client):
    with app.app_context():
        admin = make_user("admin").email
        partner = make_partner("Northwind")
        for n in range(55):
            audit.record("test.event", target=partner, after={"n": n})
        db.session.commit()
    login(client, admin)

    first = page_text(client.get("/admin/audit?action=test."))
    numbers = [int(n) for n in re.findall(r'"n": (\d+)', first)]
    assert numbers == list(range(54, 4, -1))  # 50 newest, newest first
    older = re.search(r'href="(/admin/audit\?[^"]+)">Older', first)
    assert older, "no link to older events"
    second = page_text(client.get(html.unescape(older.group(1))))
    assert [int(n) for n in re.findall(r'"n": (\d+)', second)] == [4, 3, 2, 1, 0]
    assert "Older" not in second

    partner_only = page_text(client.get("/admin/audit?action=partner."))
    assert re.findall(r"<code>([a-z_.]+)</code>", partner_only) == ["partner.create"]


@pytest.mark.parametrize(("role", "status"), [("marketer", 403), ("channel_manager", 403),
                                              ("finance", 403), ("partner_admin", 404)])
def test_only_admins_read_the_audit_log(app, client, role, status):
    with app.app_context():
        email = make_user(role).email
    login(client, email)
    assert client.get("/admin/audit").status_code == status


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET action = 'nothing.happened'",
    "UPDATE audit_events SET after = NULL WHERE action = 'partner.create'",
    "DELETE FROM audit_events",
    "DELETE FROM audit_events WHERE action = 'partner.create'",
])
def test_the_database_refuses_to_rewrite_history(app, statement):
    with app.app_context():
        make_partner("Northwind")  # records partner.create
        before = [(e.id, e.action, e.after) for e in db.session.execute(
            select(AuditEvent)).scalars()]
        assert before
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
            db.session.commit()
        db.session.rollback()
    with app.app_context():
        after = [(e.id, e.action, e.after) for e in db.session.execute(
            select(AuditEvent)).scalars()]
    assert after == before


def test_the_orm_cannot_edit_or_delete_an_event_either(app):
    with app.app_context():
        make_partner("Northwind")
        event = db.session.execute(select(AuditEvent)).scalar_one()
        event.actor_label = "someone else"
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.commit()
        db.session.rollback()
        event = db.session.execute(select(AuditEvent)).scalar_one()
        assert event.actor_label == "system"
        db.session.delete(event)
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.commit()
        db.session.rollback()
    with app.app_context():
        assert db.session.execute(select(AuditEvent.action)).scalars().all() == [
            "partner.create"]
