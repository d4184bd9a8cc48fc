"""Campaign emails as a receiving mail server sees them: well-formed, from the partner,
every link tracked and working, one-click unsubscribe, DKIM-signed; refusals and outages
at the SMTP server handled without losing or doubling anyone."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import dkim
import pytest
from sqlalchemy import select

from campaigns import launches
from campaigns.models import Launch
from syndication.email import sending
from syndication.email.models import Contact, ContactStatus, Delivery, DeliveryStatus
from tcma import mail
from tcma.dkim import dns_record, generate_key
from tcma.extensions import db
from tests.core.test_mail import Relay, free_port, smtp_server
from tests.syndication.email.world import add_contacts, published_kit, ready_partner

BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0 Safari/537.36")


@contextmanager
def transport(app, port: int):
    """Point the app (and so the test's worker) at a loopback SMTP server."""
    before = app.extensions["tcma.mail"]
    app.extensions["tcma.mail"] = mail.SMTPTransport("127.0.0.1", port, None, None, "none")
    try:
        yield
    finally:
        app.extensions["tcma.mail"] = before


@contextmanager
def dkim_key(app):
    private, public = generate_key()
    saved = {k: app.config.get(k) for k in ("DKIM_DOMAIN", "DKIM_SELECTOR", "DKIM_PRIVATE_KEY",
                                             "CAMPAIGN_FROM_ADDRESS")}
    app.config.update(DKIM_DOMAIN="vendor-mail.example", DKIM_SELECTOR="tcma1",
                      DKIM_PRIVATE_KEY=private.decode(),
                      CAMPAIGN_FROM_ADDRESS="partners@vendor-mail.example")
    memo = {k: v for k, v in app.extensions.items() if "dkim" in k}
    for k in memo:
        del app.extensions[k]
    try:
        yield public
    finally:
        app.config.update(saved)
        for k in [k for k in app.extensions if "dkim" in k]:
            del app.extensions[k]
        app.extensions.update(memo)


def test_every_message_is_well_formed_tracked_unsubscribable_and_signed(app, ctx, jobs):
    partner = ready_partner()
    addresses = add_contacts(partner, 5)
    kit = published_kit()
    with smtp_server() as (port, mailbox), transport(app, port), dkim_key(app) as public:
        launch = launches.launch_kit(partner, kit)
        db.session.commit()
        jobs.run()

    assert sorted(got.rcpt_tos[0] for got in mailbox.received) == sorted(addresses)
    assert {got.mail_from for got in mailbox.received} == {"partners@vendor-mail.example"}
    refs = set()
    client = app.test_client()
    record = dns_record(public).encode()

    def dns(name, timeout=5):
        return {b"tcma1._domainkey.vendor-mail.example.": record}.get(name)

    for got in mailbox.received:
        message = got.message
        assert message["From"] == "Müller Systemhaus <partners@vendor-mail.example>"
        assert message["Reply-To"] == "anna@mueller.example"
        n = int(re.search(r"person(\d+)@", got.rcpt_tos[0]).group(1))
        assert message["To"] == f"Person{n} Tester <person{n}@example.com>"
        assert message["Subject"] == f"Hi Person{n}, back up now"
        assert message.get_content_type() == "multipart/alternative"
        text = message.get_body(preferencelist=("plain",)).get_content()
        html = message.get_body(preferencelist=("html",)).get_content()
        assert "Hauptstraße 5" in text and "10115 Berlin" in text  # the postal address
        ref = re.fullmatch(r"<([\w-]+)@vendor-mail\.example>", message["Message-ID"]).group(1)
        refs.add(ref)
        unsubscribe = f"http://localhost/u/{ref}"
        assert message["List-Unsubscribe"] == (
            f"<{unsubscribe}>, <mailto:unsubscribe+{ref}@vendor-mail.example>")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert f'href="{unsubscribe}"' in html and f"Unsubscribe ({unsubscribe})" in text
        # Signed, with the headers that matter covered; any change breaks the signature.
        assert dkim.verify(got.raw, dnsfunc=dns)
        signed = re.search(rb"\bh=([^;]+);", got.raw.replace(b"\r\n ", b"").replace(b"\r\n\t", b""))
        for header in (b"from", b"subject", b"list-unsubscribe", b"list-unsubscribe-post"):
            assert header in signed.group(1).replace(b" ", b"").lower().split(b":")
        tampered = got.raw.replace(b"back up now", b"back up later", 1)
        assert not dkim.verify(tampered, dnsfunc=dns)

        links = set(re.findall(r'<a\b[^>]*?href="([^"]+)"', html))
        tracked = {link for link in links if "/r/" in link}
        assert links - tracked == {"mailto:anna@mueller.example", unsubscribe}
        for link in tracked:
            assert link.endswith(f"?d={ref}") and link in text
            answer = client.get(urlsplit(link).path + "?" + urlsplit(link).query,
                                headers={"User-Agent": BROWSER})
            assert answer.status_code == 302
            assert urlsplit(answer.location).netloc in ("vendor.example", "mueller.example")
            assert "utm_source=muller-systemhaus" in answer.location
            assert "utm_medium=email" in answer.location
    assert len(refs) == 5
    db.session.expire_all()
    assert launches.progress(launch).steps[0].counts["sent"] == 5

    # One-click unsubscribe, as a mail client does it: a POST with no session or token.
    got = mailbox.received[0]
    url = re.search(r"<(http[^>]+)>", got.message["List-Unsubscribe"]).group(1)
    answer = client.post(urlsplit(url).path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    contact = db.session.execute(
        select(Contact).where(Contact.email == got.rcpt_tos[0])).scalar_one()
    assert contact.status is ContactStatus.UNSUBSCRIBED


def test_refused_recipients_fail_with_the_servers_reason_and_the_rest_go_out(app, ctx, jobs):
    partner = ready_partner()
    add_contacts(partner, 4)
    relay = Relay(refusals={"person2@example.com": "550 5.1.1 No such user here"})
    with smtp_server(relay) as (port, mailbox), transport(app, port):
        launch = launches.launch_kit(partner, published_kit())
        db.session.commit()
        jobs.run()
    assert sorted(got.rcpt_tos[0] for got in mailbox.received) == [
        "person0@example.com", "person1@example.com", "person3@example.com"]
    failed = db.session.execute(select(Delivery).where(
        Delivery.status == DeliveryStatus.FAILED)).scalar_one()
    assert "550" in failed.error and "No such user" in failed.error
    db.session.expire_all()
    counts = launches.progress(launch).steps[0].counts
    assert (counts["sent"], counts["failed"]) == (3, 1)


def test_a_server_outage_puts_rows_back_and_the_retry_sends_each_once(app, ctx):
    partner = ready_partner()
    add_contacts(partner, 6)
    launch = launches.launch_kit(partner, published_kit())
    db.session.commit()
    step = launch.steps[0]
    assert launches.start_step(step.id)
    db.session.commit()
    ids = db.session.execute(select(Delivery.id).order_by(Delivery.id)).scalars().all()

    port = free_port()  # nobody listens: connection refused
    with transport(app, port), pytest.raises(mail.TemporaryFailure):
        sending.send_batch(step.id, ids[0], ids[-1])
    rows = db.session.execute(select(Delivery.status, Delivery.attempts, Delivery.claim)).all()
    assert {(s, a, c) for s, a, c in rows} == {(DeliveryStatus.QUEUED, 1, None)}

    # A server that greylists one address ("try later") mid-batch: what was sent stays
    # sent, the rest goes back to the queue, and the retry sends each remaining one once.
    relay = Relay(refusals={"person3@example.com": "451 4.7.1 Greylisted, try again later"},
                  per_connection=2)
    with smtp_server(relay) as (port, mailbox), transport(app, port):
        with pytest.raises(mail.TemporaryFailure):
            sending.send_batch(step.id, ids[0], ids[-1])
        assert sorted(got.rcpt_tos[0] for got in mailbox.received) == [
            "person0@example.com", "person1@example.com", "person2@example.com"]
        assert mailbox.connections() == 2  # "421 too many messages": reconnected
        relay.refusals.clear()
        assert sending.send_batch(step.id, ids[0], ids[-1]) == 3
    assert sorted(got.rcpt_tos[0] for got in mailbox.received) == sorted(
        f"person{n}@example.com" for n in range(6))
    db.session.expire_all()
    assert launch.steps[0].status.value == "done"
    assert db.session.execute(select(Delivery.attempts).where(
        Delivery.contact_id.is_not(None)).order_by(Delivery.id)).scalars().all() == [
        2, 2, 2, 3, 3, 3]


def test_opens_are_recorded_and_machine_opens_flagged(app, ctx, jobs, outbox):
    partner = ready_partner()
    add_contacts(partner, 2)
    launches.launch_kit(partner, published_kit())
    db.session.commit()
    jobs.run()
    client = app.test_client()
    pixels = {}
    for got in outbox.messages():
        pixel = re.search(r'<img src="http://localhost(/o/[\w-]+\.gif)"', got.html).group(1)
        pixels[got.to] = pixel
    first, second = (pixels[f"Person{n} Tester <person{n}@example.com>"] for n in (0, 1))

    # Gmail's proxy fetches the image on delivery: recorded, flagged as a machine.
    answer = client.get(first, headers={"User-Agent": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) "
                                                      "Gecko Firefox/11.0 (via ggpht.com "
                                                      "GoogleImageProxy)"})
    assert answer.status_code == 200 and answer.mimetype == "image/gif"
    assert answer.headers["Cache-Control"] == "no-store, private"
    db.session.expire_all()
    opened = [d for d in db.session.execute(select(Delivery)).scalars() if d.opened_at]
    assert len(opened) == 1 and opened[0].machine_open is True

    # A person opens it an hour after delivery: no longer a machine open.
    for delivery in db.session.execute(select(Delivery)).scalars():
        delivery.sent_at -= timedelta(hours=1)
    db.session.commit()
    client.get(first, headers={"User-Agent": BROWSER})
    client.get(second, headers={"User-Agent": BROWSER})
    db.session.expire_all()
    assert [d.machine_open for d in db.session.execute(
        select(Delivery).order_by(Delivery.id)).scalars()] == [False, False]
    launch = db.session.execute(select(Launch)).scalar_one()
    assert launches.progress(launch).steps[0].counts["opened"] == 2
    assert launches.progress(launch).steps[0].total == 2  # opens are not extra messages
    assert client.get("/o/not-a-ref.gif").status_code == 200  # never a broken image


def test_an_unsubscribe_during_a_batch_stops_that_persons_message(app, ctx, jobs):
    from syndication.email import contacts as contact_service

    partner = ready_partner()
    add_contacts(partner, 60)

    class Unsubscribing(Relay):
        """After the first message arrives, person50 unsubscribes (from an earlier email)."""

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
            answer = await super().handle_DATA(server, session, envelope)
            if len(self.received) == 1:
                with app.app_context():
                    person = db.session.execute(select(Contact).where(
                        Contact.email == "person50@example.com")).scalar_one()
                    contact_service.unsubscribe(person, how="unsubscribe link")
                    db.session.commit()
            return answer

    with smtp_server(Unsubscribing()) as (port, mailbox), transport(app, port):
        launches.launch_kit(partner, published_kit())
        db.session.commit()
        jobs.run()
    got = {g.rcpt_tos[0] for g in mailbox.received}
    assert len(got) == 59 and "person50@example.com" not in got
    skipped = db.session.execute(select(Delivery).where(
        Delivery.status == DeliveryStatus.SUPPRESSED)).scalar_one()
    assert skipped.error == "contact is unsubscribed"


def test_an_address_no_transport_can_carry_fails_alone_and_idn_domains_go_out(app, ctx, jobs):
    from syndication.email.contacts import upsert_many
    from syndication.email.fields import ContactValues

    partner = ready_partner()
    upsert_many(partner.id, [
        ContactValues(email=e, fields={"first_name": "Chloé"}, consent_source="trade show",
                      consent_at=datetime(2026, 1, 1, tzinfo=UTC))
        for e in ("chloé@example.com", "anna@müller.example", "ben@example.com")],
        via="import")
    db.session.commit()
    with smtp_server() as (port, mailbox), transport(app, port):
        launch = launches.launch_kit(partner, published_kit())
        db.session.commit()
        jobs.run()
    assert sorted(g.rcpt_tos[0] for g in mailbox.received) == [
        "anna@xn--mller-kva.example", "ben@example.com"]
    failed = db.session.execute(select(Delivery).where(
        Delivery.status == DeliveryStatus.FAILED)).scalar_one()
    assert "SMTPUTF8" in failed.error
    db.session.expire_all()
    assert launch.steps[0].status.value == "done"
