"""Outgoing email: templates, a transport chosen by ``MAIL_URL``, and the dev outbox.

``MAIL_URL`` picks the transport:
- ``outbox:`` (default) writes each message as an ``.eml`` file under the instance folder,
  listed at ``/outbox`` for vendor admins, so development needs no mail server;
- ``smtp://user:pass@host:port?tls=starttls|ssl|none`` speaks SMTP (``smtps://`` is
  ``tls=ssl``); the server's certificate is always verified, against the system's CAs or,
  when ``MAIL_CA_FILE`` names a PEM file, against that file's CAs only (a relay with a
  private CA);
- ``ses://region`` sends raw messages through Amazon SES with boto3 (``SES_ENDPOINT_URL``
  points it at an SES-compatible server).

Messages are built in the web process but sent by the ``deliver_email`` actor after the
transaction commits: the request never waits on a mail server.

Bulk sending opens a ``MailSession`` per batch (one SMTP connection or SES client for many
messages), calls ``throttle()`` before each message so every worker process together keeps
to ``MAIL_SEND_RATE``, and learns from ``PermanentFailure`` / ``TemporaryFailure`` whether a
recipient is lost for good or worth another try later.
"""

from __future__ import annotations

import copy
import email.policy
import smtplib
import ssl
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Blueprint, Flask, abort, current_app, render_template, send_file

from tcma.auth.permissions import requires

blueprint = Blueprint("outbox", __name__)

#: Non-ASCII text goes out quoted-printable or base64, never as raw 8-bit bytes: relays
#: without 8BITMIME and SES (which advises it) then carry "Grüße" intact.
SEVEN_BIT = email.policy.SMTP.clone(cte_type="7bit")


class PermanentFailure(Exception):
    """The server refused this message for good (SMTP 5xx, SES MessageRejected).

    ``str(exc)`` is the server's own reason, e.g. ``550 5.1.1 user unknown``: sending the
    same message again would only be refused again.
    """


class TemporaryFailure(Exception):
    """The message did not go, but may later: a 4xx reply, an unreachable or vanished
    server, SES throttling or a service error. Nothing was refused for good."""


class MailSession(Protocol):
    """One open line to the mail service, reused for many messages; not thread-safe."""

    def send_raw(self, raw: bytes, envelope_from: str, recipients: list[str]) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> MailSession: ...

    def __exit__(self, *exc_info: object) -> None: ...


class MailTransport(Protocol):
    def send(self, message: EmailMessage) -> None: ...

    def open_session(self) -> MailSession: ...


class _Session:
    """Closes itself at the end of a ``with`` block, whatever happened inside."""

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def envelope(message: EmailMessage) -> tuple[bytes, str, list[str]]:
    """The bytes to transmit, the envelope sender and the recipients of a built message.

    Bcc recipients receive the message but must not see the header, as ``smtplib`` does it.
    """
    sender = message["Sender"] or message["From"]
    envelope_from = getaddresses([str(sender)])[0][1] if sender else ""
    fields = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
    recipients = [address for _, address in getaddresses(fields) if address]
    visible = copy.copy(message)  # the caller's message keeps its Bcc
    del visible["Bcc"]
    return bytes(visible), envelope_from, recipients


class OutboxTransport:
    """Writes messages to a folder a person can browse; one file per message."""

    def __init__(self, folder: Path):
        self.folder = folder

    def send(self, message: EmailMessage) -> None:
        self.write(bytes(message))

    def write(self, raw: bytes) -> None:
        """Store one message exactly as given."""
        self.folder.mkdir(parents=True, exist_ok=True)
        # Sortable by name as well as by time: 20260124T101500Z-<random>.eml
        name = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:12]}"
        tmp = self.folder / f".{name}.tmp"
        tmp.write_bytes(raw)
        tmp.rename(self.folder / f"{name}.eml")  # readers never see half a message

    def open_session(self) -> OutboxSession:
        return OutboxSession(self)

    def messages(self) -> list[Path]:
        if not self.folder.exists():
            return []
        return sorted(self.folder.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)


class OutboxSession(_Session):
    """The outbox has no connection to keep: each message is one more ``.eml`` file."""

    def __init__(self, transport: OutboxTransport):
        self.transport = transport

    def send_raw(self, raw: bytes, envelope_from: str, recipients: list[str]) -> None:
        self.transport.write(raw)


@dataclass
class SMTPTransport:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: str  # "starttls" | "ssl" | "none"
    timeout: float = 30.0
    #: PEM file of the CAs to trust instead of the system store; verification stays on.
    ca_file: str | None = None

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def send(self, message: EmailMessage) -> None:
        with self.open_session() as session:
            session.send_raw(*envelope(message))

    def open_session(self) -> SMTPSession:
        return SMTPSession(self)

    def connect(self) -> smtplib.SMTP:
        """A connection ready for MAIL FROM: greeted, TLS and login done as configured."""
        if self.tls == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._tls_context()
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            client.ehlo()
            if self.tls == "starttls":
                client.starttls(context=self._tls_context())
                client.ehlo()  # the server's extensions may differ once encrypted
            if self.username:
                client.login(self.username, self.password or "")
        except BaseException:
            client.close()
            raise
        return client


class _Dropped(Exception):
    """The connection died before any of the message was handed over: safe to try again."""


class SMTPSession(_Session):
    """One SMTP connection for many messages, opened at the first message.

    Relays close connections that sat idle or carried their quota of messages; the next
    message then reconnects once, transparently, since the server had not seen any of it.
    """

    def __init__(self, transport: SMTPTransport):
        self.transport = transport
        self._client: smtplib.SMTP | None = None

    def send_raw(self, raw: bytes, envelope_from: str, recipients: list[str]) -> None:
        if not recipients:
            raise ValueError("a message needs at least one recipient")
        reused = self._client is not None
        if not reused:
            self._client = self._connect()
        try:
            self._transact(raw, envelope_from, recipients)
        except _Dropped as dropped:
            self._discard()
            if not reused:
                raise TemporaryFailure(
                    f"{self._where()} closed the connection: {dropped}") from dropped
            self._client = self._connect()
            try:
                self._transact(raw, envelope_from, recipients)
            except _Dropped as again:
                self._discard()
                raise TemporaryFailure(
                    f"{self._where()} closed the connection again after a reconnect: {again}"
                ) from again

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.quit()
        except OSError:  # already gone: nothing left to say goodbye to
            pass
        finally:
            client.close()

    def _where(self) -> str:
        return f"{self.transport.host}:{self.transport.port}"

    def _connect(self) -> smtplib.SMTP:
        try:
            return self.transport.connect()
        except smtplib.SMTPAuthenticationError as exc:
            if 400 <= exc.smtp_code < 500:  # e.g. 454: the relay's auth backend is down
                raise TemporaryFailure(_reply_text(exc.smtp_code, exc.smtp_error)) from exc
            raise  # wrong credentials: every message would fail, the operator must act
        except (smtplib.SMTPNotSupportedError, ssl.SSLCertVerificationError):
            raise  # configuration, not this message: no retry will help
        except smtplib.SMTPResponseException as exc:
            # A refusing greeting (421 busy, 554 not serving you) is about the connection.
            raise TemporaryFailure(
                f"{self._where()}: {_reply_text(exc.smtp_code, exc.smtp_error)}") from exc
        except OSError as exc:  # refused, reset, timed out, unresolvable, TLS torn down
            raise TemporaryFailure(f"cannot reach {self._where()}: {exc}") from exc

    def _transact(self, raw: bytes, envelope_from: str, recipients: list[str]) -> None:
        """MAIL, RCPT, DATA step by step, so a failure is known to come before or after
        the server received the message (``sendmail`` cannot tell)."""
        client = self._client
        assert client is not None
        try:
            code, reply = client.mail(envelope_from)
            if code == 421:
                raise _Dropped(_reply_text(code, reply))
            if code != 250:
                self._reset()
                raise _failure(code, reply)
            refused: dict[str, tuple[int, bytes]] = {}
            for recipient in recipients:
                code, reply = client.rcpt(recipient)
                if code == 421:
                    raise _Dropped(_reply_text(code, reply))
                if code not in (250, 251):
                    refused[recipient] = (code, reply)
        except OSError as exc:  # smtplib's SMTPServerDisconnected included
            raise _Dropped(str(exc) or type(exc).__name__) from exc
        if refused:
            # No DATA at all: either every recipient gets the message or none does, so
            # the caller's record of it stays true.
            self._reset()
            raise _refusal(refused, recipients)
        try:
            code, reply = client.data(raw)
        except smtplib.SMTPDataError as exc:  # DATA itself refused, before any content
            code, reply = exc.smtp_code, exc.smtp_error
        except OSError as exc:
            # The server may or may not have taken it; only a later attempt can tell.
            self._discard()
            raise TemporaryFailure(f"{self._where()} lost the connection during DATA: {exc}"
                                   ) from exc
        if code == 250:
            return
        if code == 421:
            self._discard()
        else:
            self._reset()
        raise _failure(code, reply)

    def _reset(self) -> None:
        """Clear a refused transaction so the connection can carry the next message."""
        if self._client is None:
            return
        try:
            self._client.rset()
        except OSError:
            self._discard()

    def _discard(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return f"{code} {text}"


def _failure(code: int, reply: bytes | str) -> PermanentFailure | TemporaryFailure:
    """5xx means never; anything else (4xx, or a reply smtplib could not parse) means later."""
    if 500 <= code < 600:
        return PermanentFailure(_reply_text(code, reply))
    return TemporaryFailure(_reply_text(code, reply))


def _refusal(refused: dict[str, tuple[int, bytes]],
             recipients: list[str]) -> PermanentFailure | TemporaryFailure:
    """The server's own words for a message to one recipient; named per recipient when the
    message had several, so the reason says who was refused."""
    if len(recipients) == 1:
        [(code, reply)] = refused.values()
        return _failure(code, reply)
    reason = "; ".join(f"{rcpt}: {_reply_text(code, reply)}"
                       for rcpt, (code, reply) in refused.items())
    # One permanent refusal makes the whole message undeliverable as it stands.
    if any(500 <= code < 600 for code, _ in refused.values()):
        return PermanentFailure(reason)
    return TemporaryFailure(reason)


@dataclass
class SESTransport:
    region: str
    endpoint_url: str | None = None

    def send(self, message: EmailMessage) -> None:
        with self.open_session() as session:
            session.send_raw(*envelope(message))

    def open_session(self) -> SESSession:
        return SESSession(self)


#: SES error codes that mean "slow down or come back later", not "this message is bad".
SES_RETRYABLE = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException",
                           "RequestThrottled", "ServiceUnavailable", "InternalFailure"})


class SESSession(_Session):
    """One boto3 client (and so one pool of HTTPS connections) for many messages."""

    def __init__(self, transport: SESTransport):
        import boto3

        self._client = boto3.client("ses", region_name=transport.region,
                                    endpoint_url=transport.endpoint_url)

    def send_raw(self, raw: bytes, envelope_from: str, recipients: list[str]) -> None:
        from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

        try:
            self._client.send_raw_email(Source=envelope_from, Destinations=recipients,
                                        RawMessage={"Data": raw})
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "")
            reason = error.get("Message") or str(exc)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            if code == "MessageRejected":
                raise PermanentFailure(reason) from exc
            if code in SES_RETRYABLE or status == 429 or status >= 500:
                raise TemporaryFailure(f"{code}: {reason}") from exc
            raise  # credentials, unverified domain, paused account: the operator must act
        except (ConnectionError, HTTPClientError) as exc:
            raise TemporaryFailure(f"cannot reach SES: {exc}") from exc

    def close(self) -> None:
        self._client.close()


def transport_from_url(url: str, instance_path: str, ses_endpoint: str | None = None, *,
                       ca_file: str | None = None) -> MailTransport:
    """Build the transport ``MAIL_URL`` names; a ValueError says what to fix in the URL."""
    parts = urlsplit(url)
    if parts.scheme == "outbox":
        folder = parts.path or str(Path(instance_path) / "outbox")
        return OutboxTransport(Path(folder))
    if parts.scheme in ("smtp", "smtps"):
        query = parse_qs(parts.query)
        tls = query.get("tls", ["ssl" if parts.scheme == "smtps" else "starttls"])[0]
        if tls not in ("starttls", "ssl", "none"):
            raise ValueError(f"MAIL_URL tls={tls!r} is not supported: use starttls, ssl or none")
        if parts.scheme == "smtps" and tls != "ssl":
            raise ValueError(f"MAIL_URL smtps:// always uses tls=ssl, not tls={tls!r}; "
                             "use smtp:// for starttls or none")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"MAIL_URL has an invalid port in {parts.netloc!r}") from None
        return SMTPTransport(
            host=parts.hostname or "localhost",
            port=port or (465 if tls == "ssl" else 587),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
            ca_file=ca_file,
        )
    if parts.scheme == "ses":
        return SESTransport(region=parts.netloc or "us-east-1", endpoint_url=ses_endpoint)
    raise ValueError(f"unsupported MAIL_URL scheme {parts.scheme!r}: "
                     "use outbox:, smtp://, smtps:// or ses://")


def init_app(app: Flask) -> None:
    app.extensions["tcma.mail"] = transport_from_url(
        app.config["MAIL_URL"], app.instance_path, app.config.get("SES_ENDPOINT_URL"),
        ca_file=app.config.get("MAIL_CA_FILE"),
    )


def transport() -> MailTransport:
    return current_app.extensions["tcma.mail"]


#: Virtual scheduling (GCRA) in one atomic step, on Redis's clock so every process agrees.
#: The key holds the theoretical arrival time (TAT): when the last reserved message is due.
#: A caller reserves ``count`` slots and is told how long to wait for them; the wait is
#: already booked, so callers never race each other for the same slot. ``burst`` seconds
#: of sending may be done ahead of schedule after an idle spell.
_RESERVE_SLOTS = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
tat = tat + interval * count
local ttl = math.ceil((tat - now + burst) * 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.6f', tat), 'PX', ttl)
local wait = tat - burst - now
if wait < 0 then wait = 0 end
return string.format('%.6f', wait)
"""
_reserve_slots = None


def throttle(count: int = 1) -> None:
    """Block until ``count`` more messages may go under ``MAIL_SEND_RATE`` (per second).

    The budget is shared through Redis by every thread and process of the deployment, so
    adding workers never raises the rate a relay or SES account sees. After an idle spell
    up to one second's worth goes at once; a rate of 0 or None means no limit.
    """
    global _reserve_slots
    rate = float(current_app.config.get("MAIL_SEND_RATE") or 0)
    if rate <= 0 or count <= 0:
        return
    interval = 1.0 / rate
    # At least one message may always go at once, even at rates below one per second.
    burst = max(1.0, interval)
    key = f"{current_app.config['REDIS_NAMESPACE']}:mail:send-rate"
    from tcma.redis import current_redis

    redis = current_redis()
    if _reserve_slots is None:
        _reserve_slots = redis.register_script(_RESERVE_SLOTS)
    # Never book more than a burst at once: a batch bigger than one second's worth would
    # otherwise leave all together after its wait.
    per_booking = max(1, int(burst * rate))
    while count > 0:
        booked = min(count, per_booking)
        wait = float(_reserve_slots(keys=[key], args=[interval, burst, booked], client=redis))
        if wait > 0:
            time.sleep(wait)
        count -= booked


def default_sender() -> str:
    """``MAIL_FROM``, or the program's own name at a no-reply address."""
    if current_app.config.get("MAIL_FROM"):
        return current_app.config["MAIL_FROM"]
    from email.utils import formataddr

    from tcma.program import current_program

    return formataddr((current_program().name, "no-reply@localhost"))


def build_message(
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    *,
    sender: str | None = None,
    reply_to: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A text (and optionally HTML) message from ``MAIL_FROM`` or ``sender``, 7-bit clean."""
    message = EmailMessage(policy=SEVEN_BIT)
    sender = sender or default_sender()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = sender.rsplit("@", 1)[-1].strip("> ")
    message["Message-ID"] = make_msgid(domain=domain or "localhost")
    if reply_to:
        message["Reply-To"] = reply_to
    for key, value in (headers or {}).items():
        message[key] = value
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def send_template(to: str, name: str, **context) -> None:
    """Render ``templates/email/<name>/`` and queue it for delivery after commit."""
    from tcma import queue
    from tcma.tasks import deliver_email

    subject = render_template(f"email/{name}/subject.txt", **context).strip()
    text = render_template(f"email/{name}/body.txt", **context)
    html = render_template(f"email/{name}/body.html", **context)
    message = build_message(to, subject, text, html)
    queue.enqueue(deliver_email, bytes(message).decode("utf-8", "surrogateescape"))


def deliver(raw: str) -> None:
    """Send one already-built message through the configured transport."""
    message = BytesParser(policy=email.policy.SMTP).parsebytes(
        raw.encode("utf-8", "surrogateescape")
    )
    transport().send(message)


# --- development outbox ---------------------------------------------------------------------


def _outbox() -> OutboxTransport:
    t = transport()
    if not isinstance(t, OutboxTransport):
        abort(404)
    return t


def read_message(path: Path) -> dict:
    message = BytesParser(policy=email.policy.default).parsebytes(path.read_bytes())
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return {
        "id": path.stem,
        "to": message["To"],
        "from": message["From"],
        "subject": message["Subject"],
        "date": message["Date"],
        "text": text.get_content() if text else "",
        "html": html.get_content() if html else None,
    }


@blueprint.get("/outbox")
@requires("outbox.view")
def outbox_list():
    messages = [read_message(p) for p in _outbox().messages()[:200]]
    return render_template("admin/outbox.html", messages=messages)


@blueprint.get("/outbox/<message_id>")
@requires("outbox.view")
def outbox_message(message_id: str):
    path = _outbox_path(message_id)
    return render_template("admin/outbox_message.html", message=read_message(path))


@blueprint.get("/outbox/<message_id>/html")
@requires("outbox.view")
def outbox_message_html(message_id: str):
    message = read_message(_outbox_path(message_id))
    if not message["html"]:
        abort(404)
    response = current_app.response_class(message["html"], mimetype="text/html")
    # Shown inside a sandboxed iframe; never let a message's HTML run script in our origin.
    response.headers["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; img-src * data:; style-src 'unsafe-inline'"
    )
    return response


@blueprint.get("/outbox/<message_id>.eml")
@requires("outbox.view")
def outbox_message_raw(message_id: str):
    return send_file(_outbox_path(message_id), mimetype="message/rfc822", as_attachment=True)


def _outbox_path(message_id: str) -> Path:
    if not message_id.replace("-", "").isalnum():
        abort(404)
    path = _outbox().folder / f"{message_id}.eml"
    if not path.is_file():
        abort(404)
    return path
