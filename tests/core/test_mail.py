"""Mail: URL parsing, the dev outbox and its pages, and every transport against a real server.

SMTP is aiosmtpd on loopback (plain, STARTTLS with a self-signed certificate made here, and
implicit TLS); SES is moto's server mode. Delivery runs the real ``deliver_email`` actor on a
real worker after the transaction commits. Sessions (one connection for many messages), the
shared send rate and the failure kinds bulk sending relies on are tested against the same
servers, the rate against the run's real Redis.
"""

from __future__ import annotations

import datetime
import email
import email.policy
import ipaddress
import re
import smtplib
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import dramatiq
import pytest
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tcma import dkim as tcma_dkim
from tcma import mail
from tcma.config import load_config
from tcma.extensions import db
from tcma.mail import (
    OutboxTransport,
    PermanentFailure,
    SESTransport,
    SMTPTransport,
    TemporaryFailure,
    build_message,
    transport_from_url,
)
from tcma.redis import current_redis
from tests.factories import login, make_partner, make_user

# --- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port nobody listens on (aiosmtpd's Controller cannot take port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage
    tls: bool
    login: str | None
    raw: bytes = b""
    #: aiosmtpd's per-connection session object: equal for messages on one connection.
    connection: object = None


@dataclass
class Mailbox:
    """What the SMTP server accepted, as the recipient's server would see it."""

    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        self.received.append(Received(
            envelope.mail_from,
            list(envelope.rcpt_tos),
            email.message_from_bytes(envelope.original_content, policy=email.policy.default),
            # STARTTLS sets session.ssl; implicit TLS shows on the connection itself.
            session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            session.auth_data.decode() if session.authenticated else None,
            envelope.original_content,
            session,
        ))
        return "250 Message accepted for delivery"

    def connections(self) -> int:
        """How many SMTP connections carried the accepted messages."""
        return len({id(got.connection) for got in self.received})


@dataclass
class Relay(Mailbox):
    """A relay with the habits bulk sending meets: unknown or greylisted recipients,
    content it refuses, and a cap on messages per connection."""

    #: recipient -> the reply to their RCPT TO
    refusals: dict[str, str] = field(default_factory=dict)
    #: the reply to DATA instead of accepting the message
    content_refusal: str | None = None
    #: answer MAIL FROM with 421 once a connection carried this many messages
    per_connection: int | None = None

    async def handle_MAIL(self, server, session, envelope, address, mail_options) -> str:  # noqa: N802
        carried = sum(1 for got in self.received if got.connection is session)
        if self.per_connection is not None and carried >= self.per_connection:
            return "421 4.7.0 Too many messages on this connection, closing"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # noqa: N802
        if address in self.refusals:
            return self.refusals[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        if self.content_refusal:
            return self.content_refusal
        return await super().handle_DATA(server, session, envelope)


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == b"mailer"
          and auth_data.password == b"s3cr@t")
    # handled=False makes aiosmtpd answer 535 itself on failure.
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


@contextmanager
def smtp_server(mailbox: Mailbox | None = None, **options) -> Iterator[tuple[int, Mailbox]]:
    mailbox = mailbox if mailbox is not None else Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: its PEM file and a server TLS context."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return cert_file, context


@contextmanager
def using_transport(app, transport) -> Iterator[None]:
    """Point the session app at another transport for one test, as MAIL_URL would."""
    before = app.extensions["tcma.mail"]
    app.extensions["tcma.mail"] = transport
    try:
        yield
    finally:
        app.extensions["tcma.mail"] = before


def _message(to: str = "dana@partner.test",
             subject: str = "Grüße aus München") -> email.message.EmailMessage:
    return build_message(to, subject, "Hallo Dana,\nhier ist der Link: https://x.test/a\n",
                         "<p>Hallo <b>Dana</b></p>", sender="Vendor <news@vendor.test>")


# --- MAIL_URL ---------------------------------------------------------------------------------


def test_outbox_url(tmp_path):
    assert transport_from_url("outbox:", str(tmp_path)).folder == tmp_path / "outbox"
    assert transport_from_url("outbox:/srv/mail", str(tmp_path)).folder == Path("/srv/mail")


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://mail.example.test", SMTPTransport("mail.example.test", 587, None, None, "starttls")),
    ("smtp://u%40x:p%3Aw@mail.example.test:2525?tls=none",
     SMTPTransport("mail.example.test", 2525, "u@x", "p:w", "none")),
    ("smtp://mail.example.test?tls=ssl", SMTPTransport("mail.example.test", 465, None, None,
                                                       "ssl")),
    ("smtps://me:pw@mail.example.test", SMTPTransport("mail.example.test", 465, "me", "pw",
                                                      "ssl")),
    ("smtps://mail.example.test:1465", SMTPTransport("mail.example.test", 1465, None, None,
                                                     "ssl")),
])
def test_smtp_urls(url, expected):
    assert transport_from_url(url, "/unused") == expected


def test_ca_file_and_ses_endpoint_are_passed_on():
    smtp = transport_from_url("smtp://mail.example.test", "/unused", ca_file="/etc/corp-ca.pem")
    assert smtp.ca_file == "/etc/corp-ca.pem"
    ses = transport_from_url("ses://eu-west-1", "/unused", "http://127.0.0.1:9")
    assert ses == SESTransport(region="eu-west-1", endpoint_url="http://127.0.0.1:9")
    assert transport_from_url("ses://", "/unused") == SESTransport(region="us-east-1")


@pytest.mark.parametrize(("url", "message"), [
    ("http://mail.example.test", "unsupported MAIL_URL scheme 'http': use outbox:, smtp://"),
    ("mailgun://key@x", "unsupported MAIL_URL scheme 'mailgun'"),
    ("smtp://mail.example.test?tls=yes", "MAIL_URL tls='yes' is not supported: use starttls"),
    ("smtps://mail.example.test?tls=none", "smtps:// always uses tls=ssl, not tls='none'"),
    ("smtp://mail.example.test:twenty-five", "invalid port in 'mail.example.test:twenty-five'"),
])
def test_bad_urls_say_what_to_fix(url, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        transport_from_url(url, "/unused")


# --- the development outbox -------------------------------------------------------------------


def test_outbox_writes_a_readable_eml(tmp_path, ctx):
    transport = OutboxTransport(tmp_path / "outbox")
    transport.send(_message())
    files = list((tmp_path / "outbox").iterdir())
    assert len(files) == 1 and files[0].suffix == ".eml"  # no temporary file left behind
    assert files[0].read_bytes().isascii()  # 7-bit clean: any relay carries it unchanged
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "Grüße aus München"
    assert parsed["To"] == "dana@partner.test"
    assert parsed["From"] == "Vendor <news@vendor.test>"
    assert "hier ist der Link" in parsed.get_body(("plain",)).get_content()
    assert "<b>Dana</b>" in parsed.get_body(("html",)).get_content()
    assert transport.messages() == files


def test_outbox_pages_show_messages_to_vendor_admins(app, client, ctx):
    mail.transport().send(_message())
    admin = make_user("admin")
    login(client, admin.email)

    listing = client.get("/outbox")
    assert listing.status_code == 200
    html = listing.get_data(as_text=True)
    assert "dana@partner.test" in html and "Grüße aus München" in html
    message_id = re.search(r'href="/outbox/([^"/.]+)"', html).group(1)

    page = client.get(f"/outbox/{message_id}")
    assert page.status_code == 200
    assert "hier ist der Link: https://x.test/a" in page.get_data(as_text=True)

    body = client.get(f"/outbox/{message_id}/html")
    assert "<b>Dana</b>" in body.get_data(as_text=True)
    assert body.headers["Content-Security-Policy"].startswith("sandbox")

    raw = client.get(f"/outbox/{message_id}.eml")
    assert raw.status_code == 200 and raw.mimetype == "message/rfc822"
    assert email.message_from_bytes(raw.data, policy=email.policy.default)["Subject"] == (
        "Grüße aus München")

    assert client.get("/outbox/no-such-message").status_code == 404
    assert client.get("/outbox/..%2F..%2Fsecret_key").status_code == 404


@pytest.mark.parametrize(("role", "status"), [("partner_user", 404), ("partner_admin", 404),
                                              ("marketer", 403), ("finance", 403)])
def test_outbox_is_for_vendor_admins_only(app, client, ctx, role, status):
    mail.transport().send(_message())
    message_id = mail.transport().messages()[0].stem
    user = make_user(role)
    login(client, user.email)
    for path in ("/outbox", f"/outbox/{message_id}", f"/outbox/{message_id}/html",
                 f"/outbox/{message_id}.eml"):
        response = client.get(path)
        assert response.status_code == status, path
        assert "Grüße" not in response.get_data(as_text=True)


def test_outbox_asks_anonymous_visitors_to_sign_in(client):
    response = client.get("/outbox")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- SMTP against aiosmtpd --------------------------------------------------------------------


def test_smtp_without_tls_delivers(ctx):
    with smtp_server() as (port, mailbox):
        transport_from_url(f"smtp://127.0.0.1:{port}?tls=none", "/unused").send(_message())
    [got] = mailbox.received
    assert got.mail_from == "news@vendor.test"
    assert got.rcpt_tos == ["dana@partner.test"]
    assert got.message["Subject"] == "Grüße aus München"
    assert "hier ist der Link" in got.message.get_body(("plain",)).get_content()
    assert not got.tls


def test_smtp_starttls_with_login_delivers(ctx, certificate):
    cert_file, server_tls = certificate
    with smtp_server(tls_context=server_tls, require_starttls=True, auth_required=True,
                     authenticator=_authenticate) as (port, mailbox):
        transport = transport_from_url(f"smtp://mailer:s3cr%40t@127.0.0.1:{port}",
                                       "/unused", ca_file=str(cert_file))
        transport.send(_message())
        [got] = mailbox.received
        assert got.tls and got.login == "mailer"
        assert got.message["Subject"] == "Grüße aus München"

        wrong = transport_from_url(f"smtp://mailer:guess@127.0.0.1:{port}", "/unused",
                                   ca_file=str(cert_file))
        with pytest.raises(smtplib.SMTPAuthenticationError):
            wrong.send(_message())
        assert len(mailbox.received) == 1


def test_smtp_refuses_a_certificate_it_cannot_verify(ctx, certificate):
    """Production defaults trust only the system CAs: a self-signed relay is refused."""
    _, server_tls = certificate
    with smtp_server(tls_context=server_tls, require_starttls=True) as (port, mailbox):
        with pytest.raises(ssl.SSLCertVerificationError):
            transport_from_url(f"smtp://127.0.0.1:{port}", "/unused").send(_message())
    assert mailbox.received == []


def test_smtps_implicit_tls_delivers(ctx, certificate):
    cert_file, server_tls = certificate
    with smtp_server(ssl_context=server_tls) as (port, mailbox):
        transport_from_url(f"smtps://127.0.0.1:{port}", "/unused",
                           ca_file=str(cert_file)).send(_message())
    [got] = mailbox.received
    assert got.tls and got.rcpt_tos == ["dana@partner.test"]


# --- SES against moto -------------------------------------------------------------------------


def _ses_raw_messages(moto_url: str, to: str) -> list[str]:
    """What SES accepted for ``to``, read back through moto's documented /moto-api."""
    data = requests.get(f"{moto_url}/moto-api/data.json", timeout=10).json()
    return [m["raw_data"] for m in data["ses"]["RawMessage"] if to in m["destinations"]]


def test_ses_delivers_through_the_worker(app, ctx, jobs, moto_url):
    sender = email.utils.parseaddr(mail.default_sender())[1]
    boto3.client("ses", region_name="us-east-1", endpoint_url=moto_url).verify_email_identity(
        EmailAddress=sender)
    to = f"ses-{uuid.uuid4().hex[:8]}@partner.test"
    with using_transport(app, transport_from_url("ses://us-east-1", "/unused", moto_url)):
        mail.send_template(to, "password_reset", user_name="Jürgen",
                           link="https://portal.test/reset/abc", minutes=60)
        db.session.commit()
        jobs.run()
    [raw] = _ses_raw_messages(moto_url, to)
    assert raw.isascii()  # non-ASCII travels encoded, as SES advises
    sent = email.message_from_string(raw, policy=email.policy.default)
    assert sent["Subject"].startswith("Reset your")
    assert "Hello Jürgen" in sent.get_body(("plain",)).get_content()
    assert "https://portal.test/reset/abc" in sent.get_body(("plain",)).get_content()


def test_ses_refuses_an_unverified_sender(ctx, moto_url):
    to = f"ses-{uuid.uuid4().hex[:8]}@partner.test"
    sender = f"nobody@{uuid.uuid4().hex[:8]}.test"
    message = build_message(to, "Hi", "text", sender=sender)
    with pytest.raises(PermanentFailure, match=re.escape(sender)):  # SES's reason names it
        transport_from_url("ses://us-east-1", "/unused", moto_url).send(message)
    assert _ses_raw_messages(moto_url, to) == []


# --- send_template -> commit -> worker --------------------------------------------------------


def test_template_mail_is_sent_only_after_commit(ctx, jobs, outbox):
    partner = make_partner()
    partner.name = "Renamed in this transaction"  # the mail rides on this transaction
    mail.send_template("ada@partner.test", "password_reset", user_name="Ada",
                       link="https://portal.test/reset/xyz", minutes=30)
    jobs.run()
    assert outbox.messages() == []  # not even queued yet

    db.session.commit()
    jobs.run()
    [sent] = outbox.messages()
    assert sent.to == "ada@partner.test"
    assert sent.subject.startswith("Reset your")
    assert sent.link() == "https://portal.test/reset/xyz"
    assert "30 minutes" in sent.text and sent.html and "Choose a new password" in sent.html


def test_rolled_back_mail_is_never_sent(ctx, jobs, outbox):
    mail.send_template("ada@partner.test", "password_reset", user_name="Ada",
                       link="https://portal.test/reset/xyz", minutes=30)
    db.session.rollback()
    make_partner()  # a later commit must not carry the dropped message along
    jobs.run()
    assert outbox.messages() == []


def test_unreachable_smtp_server_fails_the_delivery_so_dramatiq_retries(app, ctx):
    """The actor must raise, not swallow: Dramatiq's retries only see exceptions."""
    from tcma.queue import get_broker
    from tcma.redis import redis_for
    from tcma.tasks import deliver_email

    dead = SMTPTransport("127.0.0.1", free_port(), None, None, "none", timeout=5)
    raw = bytes(_message()).decode("utf-8", "surrogateescape")
    with using_transport(app, dead):
        with pytest.raises(TemporaryFailure, match="Connection refused"):
            deliver_email(raw)

        mail.send_template("ada@partner.test", "password_reset", user_name="Ada",
                           link="https://portal.test/reset/xyz", minutes=30)
        db.session.commit()
        broker = get_broker()
        worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=50)
        worker.start()
        try:
            retried = _wait_for_delayed_message(redis_for(app), f"{broker.namespace}:default")
        finally:
            worker.stop()
    assert retried.actor_name == "deliver_email"
    assert retried.options["retries"] == 1
    assert "TemporaryFailure" in retried.options["traceback"]
    assert "ConnectionRefusedError" in retried.options["traceback"]  # the cause is kept
    # Backed off by the actor's min_backoff (5 s), not hammering the dead server.
    assert retried.options["eta"] - retried.options["requeue_timestamp"] >= 5_000


def _wait_for_delayed_message(redis, queue_key: str, timeout: float = 10) -> dramatiq.Message:
    """The message as Dramatiq parked it on the queue's delay queue for its next attempt."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for raw in redis.hvals(f"{queue_key}.DQ.msgs"):
            return dramatiq.Message.decode(raw)
        time.sleep(0.05)
    raise AssertionError("the failed delivery was not scheduled for a retry")


# --- sessions: many messages, one connection --------------------------------------------------


def _raw(to: str, subject: str = "Q3 partner webinar") -> bytes:
    return bytes(build_message(to, subject, f"Hello {to}\n", sender="Vendor <news@vendor.test>"))


def _smtp(port: int) -> SMTPTransport:
    return SMTPTransport("127.0.0.1", port, None, None, "none", timeout=5)


def test_a_session_sends_many_messages_over_one_connection(ctx):
    recipients = ["ada@partner.test", "bo@partner.test", "cy@partner.test"]
    with smtp_server() as (port, mailbox):
        with _smtp(port).open_session() as session:
            for to in recipients:
                session.send_raw(_raw(to), "bounces@vendor.test", [to])
    assert [got.rcpt_tos for got in mailbox.received] == [[to] for to in recipients]
    assert {got.mail_from for got in mailbox.received} == {"bounces@vendor.test"}
    assert mailbox.connections() == 1


def test_a_session_logs_in_once_over_starttls(ctx, certificate):
    cert_file, server_tls = certificate
    with smtp_server(tls_context=server_tls, require_starttls=True, auth_required=True,
                     authenticator=_authenticate) as (port, mailbox):
        transport = transport_from_url(f"smtp://mailer:s3cr%40t@127.0.0.1:{port}", "/unused",
                                       ca_file=str(cert_file))
        with transport.open_session() as session:
            for to in ("ada@partner.test", "bo@partner.test"):
                session.send_raw(_raw(to), "bounces@vendor.test", [to])
    assert [(got.tls, got.login) for got in mailbox.received] == [(True, "mailer")] * 2
    assert mailbox.connections() == 1


def test_the_raw_bytes_arrive_unchanged(ctx):
    """What the caller signed is what the recipient's server gets, byte for byte."""
    private_pem, public_pem = tcma_dkim.generate_key()
    raw = _raw("dana@partner.test", subject="Grüße aus München")
    signed = tcma_dkim.sign(raw, domain="vendor.test", selector="s1", private_key=private_pem)
    with smtp_server() as (port, mailbox):
        with _smtp(port).open_session() as session:
            session.send_raw(signed, "bounces@vendor.test", ["dana@partner.test"])
    [got] = mailbox.received
    assert got.raw == signed

    import dkim

    record = tcma_dkim.dns_record(public_pem).encode()
    assert dkim.verify(got.raw, dnsfunc=lambda name, timeout=5: record)


def test_a_session_reconnects_after_the_server_closed_the_idle_connection(ctx):
    with smtp_server(timeout=0.3) as (port, mailbox):  # the server hangs up after 0.3 s idle
        with _smtp(port).open_session() as session:
            session.send_raw(_raw("ada@partner.test"), "bounces@vendor.test",
                             ["ada@partner.test"])
            time.sleep(1.0)
            session.send_raw(_raw("bo@partner.test"), "bounces@vendor.test", ["bo@partner.test"])
            session.send_raw(_raw("cy@partner.test"), "bounces@vendor.test", ["cy@partner.test"])
    assert [got.rcpt_tos for got in mailbox.received] == [
        ["ada@partner.test"], ["bo@partner.test"], ["cy@partner.test"]]
    assert mailbox.connections() == 2  # one reconnect, then the new connection is reused


def test_a_session_reconnects_when_the_relay_caps_messages_per_connection(ctx):
    relay = Relay(per_connection=2)
    with smtp_server(relay) as (port, _):
        with _smtp(port).open_session() as session:
            for n in range(5):
                session.send_raw(_raw(f"p{n}@partner.test"), "bounces@vendor.test",
                                 [f"p{n}@partner.test"])
    assert [got.rcpt_tos for got in relay.received] == [[f"p{n}@partner.test"] for n in range(5)]
    assert relay.connections() == 3  # 2 + 2 + 1, each message exactly once


def test_a_connection_that_keeps_closing_is_a_temporary_failure(ctx):
    relay = Relay()
    with smtp_server(relay) as (port, _):
        with _smtp(port).open_session() as session:
            session.send_raw(_raw("ada@partner.test"), "bounces@vendor.test",
                             ["ada@partner.test"])
            relay.per_connection = 0  # from now on every connection is refused at once
            with pytest.raises(TemporaryFailure, match="again after a reconnect: 421 4.7.0"):
                session.send_raw(_raw("bo@partner.test"), "bounces@vendor.test",
                                 ["bo@partner.test"])
            relay.per_connection = None
            session.send_raw(_raw("cy@partner.test"), "bounces@vendor.test", ["cy@partner.test"])
    assert [got.rcpt_tos for got in relay.received] == [["ada@partner.test"],
                                                        ["cy@partner.test"]]


def test_an_unknown_recipient_is_a_permanent_failure_and_the_session_goes_on(ctx):
    relay = Relay(refusals={"gone@partner.test": "550 5.1.1 <gone@partner.test>: user unknown"})
    with smtp_server(relay) as (port, _):
        with _smtp(port).open_session() as session:
            with pytest.raises(PermanentFailure) as refused:
                session.send_raw(_raw("gone@partner.test"), "bounces@vendor.test",
                                 ["gone@partner.test"])
            session.send_raw(_raw("ada@partner.test"), "bounces@vendor.test",
                             ["ada@partner.test"])
    assert str(refused.value) == "550 5.1.1 <gone@partner.test>: user unknown"
    [got] = relay.received
    assert got.rcpt_tos == ["ada@partner.test"]
    assert relay.connections() == 1  # a refusal does not cost the connection


def test_a_greylisting_recipient_is_a_temporary_failure(ctx):
    relay = Relay(refusals={"new@partner.test": "451 4.7.1 Greylisted, try again in 5 minutes"})
    with smtp_server(relay) as (port, _):
        with _smtp(port).open_session() as session:
            with pytest.raises(TemporaryFailure) as deferred:
                session.send_raw(_raw("new@partner.test"), "bounces@vendor.test",
                                 ["new@partner.test"])
    assert str(deferred.value) == "451 4.7.1 Greylisted, try again in 5 minutes"
    assert relay.received == []


def test_one_refused_recipient_stops_the_whole_message(ctx):
    """Nobody gets it, so recording the message as failed stays true for every recipient."""
    relay = Relay(refusals={"gone@partner.test": "550 5.1.1 user unknown"})
    with smtp_server(relay) as (port, _):
        with _smtp(port).open_session() as session:
            with pytest.raises(PermanentFailure, match="gone@partner.test: 550 5.1.1"):
                session.send_raw(_raw("ada@partner.test"), "bounces@vendor.test",
                                 ["ada@partner.test", "gone@partner.test"])
    assert relay.received == []


def test_refused_content_is_a_permanent_failure(ctx):
    relay = Relay(content_refusal="554 5.7.1 Message rejected as spam")
    with smtp_server(relay) as (port, _):
        with _smtp(port).open_session() as session:
            with pytest.raises(PermanentFailure, match="^554 5.7.1 Message rejected as spam$"):
                session.send_raw(_raw("ada@partner.test"), "bounces@vendor.test",
                                 ["ada@partner.test"])


def test_a_server_that_is_down_is_a_temporary_failure(ctx):
    with _smtp(free_port()).open_session() as session:
        with pytest.raises(TemporaryFailure, match="cannot reach 127.0.0.1:.*Connection refused"):
            session.send_raw(_raw("ada@partner.test"), "bounces@vendor.test",
                             ["ada@partner.test"])


def test_wrong_credentials_are_not_a_delivery_failure(ctx, certificate):
    """Every message would fail alike: the operator must fix MAIL_URL, no retry helps."""
    cert_file, server_tls = certificate
    with smtp_server(tls_context=server_tls, require_starttls=True, auth_required=True,
                     authenticator=_authenticate) as (port, mailbox):
        transport = transport_from_url(f"smtp://mailer:guess@127.0.0.1:{port}", "/unused",
                                       ca_file=str(cert_file))
        with transport.open_session() as session:
            with pytest.raises(smtplib.SMTPAuthenticationError):
                session.send_raw(_raw("ada@partner.test"), "bounces@vendor.test",
                                 ["ada@partner.test"])
    assert mailbox.received == []


def test_an_outbox_session_writes_each_message_as_given(tmp_path):
    transport = OutboxTransport(tmp_path / "outbox")
    sent = {to: _raw(to) for to in ("ada@partner.test", "bo@partner.test")}
    with transport.open_session() as session:
        for to, raw in sent.items():
            session.send_raw(raw, "bounces@vendor.test", [to])
    assert sorted(p.read_bytes() for p in transport.messages()) == sorted(sent.values())


def test_an_ses_session_sends_with_the_given_envelope(ctx, moto_url):
    boto3.client("ses", region_name="us-east-1", endpoint_url=moto_url).verify_email_identity(
        EmailAddress="bounces@vendor.test")
    sent = {to: _raw(to) for to in (f"ses-{uuid.uuid4().hex[:8]}@partner.test"
                                    for _ in range(2))}
    transport = transport_from_url("ses://us-east-1", "/unused", moto_url)
    with transport.open_session() as session:
        for to, raw in sent.items():
            session.send_raw(raw, "bounces@vendor.test", [to])
        first = next(iter(sent))
        # The envelope sender, not the From header, is what SES checks.
        with pytest.raises(PermanentFailure, match="nobody@unverified.test"):
            session.send_raw(sent[first], "nobody@unverified.test", [first])
    for to, raw in sent.items():
        assert [m.encode() for m in _ses_raw_messages(moto_url, to)] == [raw]


def test_an_unreachable_ses_endpoint_is_a_temporary_failure(ctx, moto_url, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore would otherwise retry with backoff
    transport = SESTransport("us-east-1", endpoint_url=f"http://127.0.0.1:{free_port()}")
    with transport.open_session() as session:
        with pytest.raises(TemporaryFailure, match="cannot reach SES"):
            session.send_raw(_raw("ada@partner.test"), "bounces@vendor.test",
                             ["ada@partner.test"])


def test_send_keeps_bcc_recipients_out_of_the_headers(ctx):
    message = build_message("ada@partner.test", "Hi", "text", sender="news@vendor.test",
                            headers={"Bcc": "audit@vendor.test"})
    with smtp_server() as (port, mailbox):
        _smtp(port).send(message)
    [got] = mailbox.received
    assert got.rcpt_tos == ["ada@partner.test", "audit@vendor.test"]
    assert got.message["Bcc"] is None
    assert message["Bcc"] == "audit@vendor.test"  # the caller's message is left alone


# --- the shared send rate ---------------------------------------------------------------------


def test_throttle_keeps_every_sender_together_to_the_rate(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SEND_RATE", 50.0)
    released: list[float] = []
    lock = threading.Lock()

    def sender() -> None:
        with app.app_context():
            for _ in range(50):
                mail.throttle()
                with lock:
                    released.append(time.monotonic())

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    released.sort()
    assert len(released) == 100
    # Timed from the first release: starting the embedded Redis is no part of the rate.
    # 100 messages at 50/s take 2 s, less the one second's worth allowed at once after an
    # idle spell. Two senders each counting alone would finish both bursts at once.
    assert released[-1] - released[0] >= 0.9
    assert released[-1] - released[0] < 5  # slack for a busy machine, not slowed to a crawl
    assert released[49] - released[0] < 0.5  # the burst went without waiting
    # After the burst, no second carries more than the rate (plus scheduling jitter).
    after_burst = released[50:]
    for i, moment in enumerate(after_burst):
        in_next_second = sum(1 for t in after_burst[i:] if t < moment + 1.0)
        assert in_next_second <= 50 + 3


def test_throttle_books_large_batches_a_second_at_a_time(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SEND_RATE", 20.0)
    current_redis().ping()  # the embedded Redis may still have to start: not part of the rate
    start = time.monotonic()
    mail.throttle(20)  # the idle burst
    assert time.monotonic() - start < 0.3
    mail.throttle(30)  # 1.5 s of sending: waits for its slots instead of leaving at once
    assert time.monotonic() - start >= 1.3


def test_no_send_rate_never_waits_nor_asks_redis(app, ctx, monkeypatch):
    # A Redis nobody listens on: any call to it would fail after a connect timeout.
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    for rate in (0, 0.0, None):
        monkeypatch.setitem(app.config, "MAIL_SEND_RATE", rate)
        start = time.monotonic()
        mail.throttle(10_000)
        assert time.monotonic() - start < 0.1


def test_send_rate_setting_is_read_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MAIL_SEND_RATE", "12.5")
    assert load_config(str(tmp_path))["MAIL_SEND_RATE"] == 12.5
    monkeypatch.delenv("MAIL_SEND_RATE")
    assert load_config(str(tmp_path))["MAIL_SEND_RATE"] == 0
    monkeypatch.setenv("MAIL_SEND_RATE", "fast")
    with pytest.raises(ValueError, match="MAIL_SEND_RATE must be a number of messages per"):
        load_config(str(tmp_path))
