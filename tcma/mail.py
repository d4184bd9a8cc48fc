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
"""

from __future__ import annotations

import email.policy
import smtplib
import ssl
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Blueprint, Flask, abort, current_app, render_template, send_file

from tcma.auth.permissions import requires

blueprint = Blueprint("outbox", __name__)

#: Non-ASCII text goes out quoted-printable or base64, never as raw 8-bit bytes: relays
#: without 8BITMIME and SES (which advises it) then carry "Grüße" intact.
SEVEN_BIT = email.policy.SMTP.clone(cte_type="7bit")


class MailTransport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class OutboxTransport:
    """Writes messages to a folder a person can browse; one file per message."""

    def __init__(self, folder: Path):
        self.folder = folder

    def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # Sortable by name as well as by time: 20260124T101500Z-<random>.eml
        name = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:12]}"
        tmp = self.folder / f".{name}.tmp"
        tmp.write_bytes(bytes(message))
        tmp.rename(self.folder / f"{name}.eml")  # readers never see half a message

    def messages(self) -> list[Path]:
        if not self.folder.exists():
            return []
        return sorted(self.folder.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)


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
        if self.tls == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._tls_context()
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.tls == "starttls":
                client.starttls(context=self._tls_context())
            if self.username:
                client.login(self.username, self.password or "")
            client.send_message(message)


@dataclass
class SESTransport:
    region: str
    endpoint_url: str | None = None

    def send(self, message: EmailMessage) -> None:
        import boto3

        client = boto3.client("ses", region_name=self.region, endpoint_url=self.endpoint_url)
        client.send_raw_email(RawMessage={"Data": bytes(message)})


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
