"""Unsubscribing from a campaign email: the page behind the link and RFC 8058 one-click.

One-click POSTs go over real HTTP (the app served on loopback, ``requests`` as the mail
provider's client): no cookie, no CSRF token, the body encoded as mail clients encode it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from campaigns.models import Kit, KitStatus, KitVersion, Launch, LaunchStep
from syndication.email import contacts, suppression
from syndication.email.models import Contact, ContactStatus, Delivery, DeliveryStatus
from syndication.email.unsubscribe import mailto_unsubscribe, unsubscribe_url
from tcma.audit import AuditEvent
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners import service as partners
from tcma.partners.models import Partner
from tcma.webhooks import service as webhooks
from tcma.webhooks.models import WebhookDelivery
from tests.factories import login, make_partner, make_user

CONSENT = {"consent_source": "trade show 2026", "consent_date": "2026-03-02"}


# --- factories the shared ones lack -----------------------------------------------------------


def make_contact(partner: Partner, email: str = "kim@example.com") -> Contact:
    contact = contacts.add_contact(partner, {"email": email, **CONSENT}).contact
    db.session.commit()
    return contact


def make_launch(partner: Partner) -> tuple[Launch, LaunchStep]:
    """A running launch of a published one-email kit, with its first step started."""
    now = utcnow()
    kit = Kit(name="Spring backup kit", status=KitStatus.PUBLISHED)
    kit.versions.append(KitVersion(number=1, content={"items": [], "steps": []},
                                   published_at=now))
    db.session.add(kit)
    db.session.flush()
    launch = Launch(partner_id=partner.id, kit_id=kit.id, kit_version_id=kit.versions[0].id,
                    start_at=now - timedelta(hours=1), timezone="UTC")
    launch.steps.append(LaunchStep(partner_id=partner.id, number=1, kind="email",
                                   item="welcome", due_at=now - timedelta(hours=1)))
    db.session.add(launch)
    db.session.commit()
    return launch, launch.steps[0]


def make_delivery(partner: Partner | None = None, email: str = "kim@example.com") -> Delivery:
    """A sent delivery of a launch step to a (new) contact of ``partner``."""
    partner = partner or make_partner()
    contact = make_contact(partner, email)
    launch, step = make_launch(partner)
    delivery = Delivery(partner_id=partner.id, step_id=step.id, launch_id=launch.id,
                        contact_id=contact.id, status=DeliveryStatus.SENT, sent_at=utcnow())
    db.session.add(delivery)
    db.session.commit()
    return delivery


def fresh(delivery: Delivery) -> tuple[Delivery, Contact]:
    db.session.expire_all()
    delivery = db.session.get(Delivery, delivery.id)
    return delivery, db.session.get(Contact, delivery.contact_id)


@pytest.fixture(scope="module")
def live_url(app) -> Iterator[str]:
    """The app on 127.0.0.1:<free port> in a daemon thread, as mail providers reach it."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# --- the page ------------------------------------------------------------------------------------


def test_the_links_in_an_email_name_the_delivery(ctx):
    assert unsubscribe_url("AbC_123-xyz") == "http://localhost/u/AbC_123-xyz"
    assert mailto_unsubscribe("AbC_123-xyz", "mail.example.net") == \
        "mailto:unsubscribe+AbC_123-xyz@mail.example.net"


def test_opening_the_link_shows_whose_emails_and_changes_nothing(ctx, client):
    partner = make_partner("Northwind Ltd")
    partners.update_brand_profile(partner, {"display_name": "Northwind IT"}, by=None)
    db.session.commit()
    delivery = make_delivery(partner, "kim@example.com")

    page = client.get(f"/u/{delivery.ref}")
    html = page.get_data(as_text=True)

    assert page.status_code == 200
    assert "Northwind IT" in html
    assert "k***@example.com" in html and "kim@example.com" not in html
    assert 'method="post"' in html and ">Unsubscribe</button>" in html
    assert "every company using this platform" in html
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    delivery, contact = fresh(delivery)
    assert delivery.unsubscribed_at is None
    assert contact.status is ContactStatus.SUBSCRIBED
    assert suppression.can_email(partner, "kim@example.com") == (True, "ok")


def test_one_click_unsubscribes_with_no_session_and_no_csrf_token(ctx, live_url):
    delivery = make_delivery()
    partner = db.session.get(Partner, delivery.partner_id)
    elsewhere = make_partner()
    make_contact(elsewhere, "kim@example.com")
    endpoint, _ = webhooks.create_endpoint({"url": "http://127.0.0.1:9/hooks",
                                            "events": ["contact.unsubscribed"]})
    db.session.commit()

    answer = requests.post(f"{live_url}/u/{delivery.ref}", data="List-Unsubscribe=One-Click",
                           headers={"Content-Type": "application/x-www-form-urlencoded"},
                           timeout=10, allow_redirects=False)

    assert answer.status_code == 200
    assert "You are unsubscribed" in answer.text
    assert "Set-Cookie" not in answer.headers
    delivery, contact = fresh(delivery)
    first = delivery.unsubscribed_at
    assert first is not None
    assert contact.status is ContactStatus.UNSUBSCRIBED
    assert contact.status_reason == "one-click unsubscribe"
    assert suppression.can_email(partner, "kim@example.com") == (False, "unsubscribed")
    # One partner's unsubscribe is that partner's only.
    assert suppression.can_email(elsewhere, "kim@example.com") == (True, "ok")

    # A mail client retrying, multipart this time: the same answer, nothing new.
    again = requests.post(f"{live_url}/u/{delivery.ref}",
                          files={"List-Unsubscribe": (None, "One-Click")}, timeout=10)
    assert again.status_code == 200
    assert "You are unsubscribed" in again.text
    delivery, contact = fresh(delivery)
    assert delivery.unsubscribed_at == first
    audited = db.session.execute(select(AuditEvent).where(
        AuditEvent.action == "contact.unsubscribed")).scalars().all()
    assert [(a.target_id, a.actor_label, a.after) for a in audited] == [
        (contact.public_id, "the email's recipient", {"how": "one-click unsubscribe"})]
    [event] = db.session.execute(select(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == endpoint.id)).scalars().all()
    assert event.event == "contact.unsubscribed"
    assert event.payload["contact_id"] == contact.public_id
    assert event.payload["partner_id"] == partner.public_id
    assert event.payload["scope"] == "partner"
    assert "kim@example.com" not in str(event.payload)


def test_everywhere_puts_the_address_out_of_every_partners_reach(ctx, client):
    delivery = make_delivery(email="kim@example.com")
    elsewhere = make_partner()
    make_contact(elsewhere, "Kim@Example.com")

    done = client.post(f"/u/{delivery.ref}", data={"everywhere": "yes"})

    assert done.status_code == 200
    assert "any other company using this platform" in done.get_data(as_text=True)
    assert suppression.can_email(elsewhere, "kim@example.com") == (
        False, "global:unsubscribed_all")
    # A partner importing the address later cannot email it either.
    later = make_partner()
    make_contact(later, "kim@example.com")
    assert suppression.can_email(later, "kim@example.com")[0] is False
    delivery, contact = fresh(delivery)
    assert contact.status_reason == "unsubscribe link"


def test_a_signed_in_user_of_another_partner_still_reaches_the_page(app, ctx, client):
    delivery = make_delivery()
    user = make_user("partner_admin", partner=make_partner())
    login(client, user.email)

    assert client.get(f"/u/{delivery.ref}").status_code == 200
    assert client.post(f"/u/{delivery.ref}",
                       data={"List-Unsubscribe": "One-Click"}).status_code == 200
    _, contact = fresh(delivery)
    assert contact.status is ContactStatus.UNSUBSCRIBED


def test_an_unknown_link_gets_a_friendly_404(ctx, client):
    make_delivery()
    for ref in ("nosuchref-abcdefgh", "x", "bad%20ref"):
        page = client.get(f"/u/{ref}")
        assert page.status_code == 404
        assert "We do not recognise this link" in page.get_data(as_text=True)
    refused = client.post("/u/nosuchref-abcdefgh", data={"List-Unsubscribe": "One-Click"})
    assert refused.status_code == 404
    assert db.session.execute(select(Contact.status)).scalar_one() is ContactStatus.SUBSCRIBED


def test_too_many_posts_from_one_address_get_429(app, ctx, client, monkeypatch):
    monkeypatch.setitem(app.config, "UNSUBSCRIBE_IP_LIMIT", 2)
    delivery = make_delivery()
    for _ in range(2):
        assert client.post(f"/u/{delivery.ref}",
                           data={"List-Unsubscribe": "One-Click"}).status_code == 200

    refused = client.post(f"/u/{delivery.ref}", data={"List-Unsubscribe": "One-Click"})

    assert refused.status_code == 429
    assert "Too many attempts" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) >= 1
    # Another address is not held up.
    other = client.post(f"/u/{delivery.ref}", data={"List-Unsubscribe": "One-Click"},
                        environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 200


def test_a_deleted_contact_leaves_a_link_that_still_answers(ctx, client):
    delivery = make_delivery()
    contacts.delete_contact(db.session.get(Contact, delivery.contact_id))
    db.session.commit()

    assert client.get(f"/u/{delivery.ref}").status_code == 200
    done = client.post(f"/u/{delivery.ref}", data={"everywhere": "yes"})
    assert done.status_code == 200
    db.session.expire_all()
    assert db.session.get(Delivery, delivery.id).unsubscribed_at is not None
