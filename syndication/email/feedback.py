"""What mail services report after a send: bounces and spam complaints.

Two ways in, both authenticated, both ending in ``record``:

- Amazon SES through SNS (``/email/feedback/ses``): each SNS message is verified against the
  certificate SNS signs with (``SignatureVersion`` 1, SHA1withRSA, or 2, SHA256withRSA,
  over the documented fields), fetched only from an SNS host (``SNS_CERT_HOST_PATTERN``) over
  HTTPS, and limited to the topics in ``SNS_TOPIC_ARNS`` when that is set.
- Any other mail service (``/email/feedback/webhook``): JSON signed like our own outgoing
  webhooks (``Tcma-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">``) with
  ``EMAIL_FEEDBACK_SECRET``.

A hard bounce or a complaint puts the address on the global list (no partner emails it again)
and marks the sending partner's contact; a soft bounce is only noted on the delivery, since
the sender retries temporary failures when it sends. Services flush; the view commits.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask import current_app
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator
from pydantic import ValidationError as PydanticError

from syndication.email import suppression
from syndication.email.fields import normalise_email
from syndication.email.models import Contact, Delivery
from syndication.email.unsubscribe import delivery_by_ref
from tcma.errors import DomainError, FieldError, Forbidden, ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.partners.models import Partner
from tcma.webhooks.signing import signature

log = logging.getLogger(__name__)

HARD_BOUNCE = "hard_bounce"
SOFT_BOUNCE = "soft_bounce"
COMPLAINT = "complaint"
#: Weakest first: news never replaces stronger news already on a delivery.
KINDS = (SOFT_BOUNCE, HARD_BOUNCE, COMPLAINT)

#: How far a signed webhook's timestamp may be from now, either way (replays, clock skew).
SIGNATURE_TOLERANCE_SECONDS = 300
#: Reports one webhook request may carry.
MAX_REPORTS = 500
#: SNS message types and the fields their signature covers, in signing order.
SNS_SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                                 "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                                "TopicArn", "Type"),
}
SNS_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
FETCH_TIMEOUT_SECONDS = 5
MAX_CERTIFICATE_BYTES = 64 * 1024


class Malformed(DomainError):
    """The request is not a document of the expected shape (400)."""


class Rejected(Forbidden):
    """The request could not be shown to come from who it claims (403)."""

    title = "Signature rejected"


class Unsigned(DomainError):
    """The signature header is missing (401)."""

    status = 401
    title = "Signature required"


class Unreachable(DomainError):
    """A URL SNS sent could not be fetched now: the certificate or the SubscribeURL (502)."""

    status = 502
    title = "Bad gateway"


# --- recording ---------------------------------------------------------------------------------


def ref_from_message_id(message_id: str | None) -> str | None:
    """Our delivery ref from a Message-ID ``<ref@domain>`` (its local part), or None."""
    local, at, _ = (message_id or "").strip().strip("<>").partition("@")
    return local if at and local else None


def record(kind: str, *, email: str | None, message_id: str | None,
           detail: str = "") -> Delivery | None:
    """Record a bounce or complaint for the delivery ``message_id`` names (None if none does).

    The address is suppressed even when no delivery matches (a message sent before the
    ledger, or a Message-ID the mail service rewrote). Idempotent: a repeat changes nothing.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown feedback kind {kind!r}")
    ref = ref_from_message_id(message_id)
    delivery = delivery_by_ref(ref) if ref else None
    partner = db.session.get(Partner, delivery.partner_id) if delivery else None
    address = suppression.normalise(email) if email else None
    if address is None and delivery is not None and delivery.contact_id:
        contact = db.session.get(Contact, delivery.contact_id)
        address = contact.email if contact else None
    if address:
        if kind == HARD_BOUNCE:
            suppression.record_hard_bounce(partner, address)
        elif kind == COMPLAINT:
            suppression.record_complaint(partner, address)
    if delivery is not None and (delivery.feedback not in KINDS
                                 or KINDS.index(kind) > KINDS.index(delivery.feedback)):
        delivery.feedback = kind
        delivery.feedback_at = utcnow()
        if detail:
            delivery.error = detail[:2000]
    db.session.flush()
    log.info("mail feedback %s for delivery %s", kind, delivery.id if delivery else "unknown")
    return delivery


# --- Amazon SES through SNS --------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    kind: str
    email: str | None
    message_id: str | None
    detail: str = ""


def handle_sns(body: bytes) -> str:
    """Verify an SNS POST body and act on it: confirm a subscription, or record what an SES
    notification reports. Returns what was done, in words, for the response."""
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise Malformed("The body is not JSON (expected an Amazon SNS message).") from exc
    if not isinstance(document, dict):
        raise Malformed("The body is not an Amazon SNS message (a JSON object).")
    verify_sns(document)
    kind = document["Type"]
    if kind == "SubscriptionConfirmation":
        _fetch(document["SubscribeURL"], what="SubscribeURL")
        log.info("confirmed the SNS subscription to %s", document["TopicArn"])
        return "subscription confirmed"
    if kind == "UnsubscribeConfirmation":
        log.warning("SNS says this endpoint was unsubscribed from %s", document["TopicArn"])
        return "noted"
    try:
        message = json.loads(document["Message"])
    except ValueError as exc:
        raise Malformed("The SNS Message is not an SES notification (not JSON).") from exc
    reports = ses_reports(message)
    for report in reports:
        record(report.kind, email=report.email, message_id=report.message_id,
               detail=report.detail)
    return f"{len(reports)} recorded"


def verify_sns(document: dict[str, Any]) -> None:
    """Raise unless ``document`` is an SNS message signed by SNS for an accepted topic."""
    fields = SNS_SIGNED_FIELDS.get(document.get("Type"))  # type: ignore[arg-type]
    if fields is None:
        raise Malformed("Type must be Notification, SubscriptionConfirmation or "
                        "UnsubscribeConfirmation.", field="Type")
    for name in (*fields, "Signature", "SignatureVersion", "SigningCertURL"):
        if name == "Subject":
            continue
        if not isinstance(document.get(name), str):
            raise Malformed(f"{name} is missing or not a string.", field=name)
    algorithm = SNS_HASHES.get(document["SignatureVersion"])
    if algorithm is None:
        raise Malformed("SignatureVersion must be 1 or 2.", field="SignatureVersion")
    topics = current_app.config.get("SNS_TOPIC_ARNS") or []
    if topics and document["TopicArn"] not in topics:
        raise Rejected("This topic is not one this site accepts (SNS_TOPIC_ARNS).")
    key = _signing_key(document["SigningCertURL"])
    try:
        signed = base64.b64decode(document["Signature"], validate=True)
        key.verify(signed, string_to_sign(document), padding.PKCS1v15(), algorithm())
    except (InvalidSignature, binascii.Error) as exc:
        raise Rejected("The SNS signature does not match the message.") from exc


def string_to_sign(document: dict[str, Any]) -> bytes:
    """The canonical text SNS signs: "name\\nvalue\\n" per signed field, in order; Subject
    only when the notification has one."""
    parts = []
    for name in SNS_SIGNED_FIELDS[document["Type"]]:
        value = document.get(name)
        if name == "Subject" and value is None:
            continue
        parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode()


def _check_sns_url(url: str, *, what: str) -> None:
    config = current_app.config
    parts = urlsplit(url)
    schemes = ("https", "http") if config.get("SNS_ALLOW_HTTP_CERTS") else ("https",)
    if parts.scheme not in schemes:
        raise Rejected(f"The {what} must use HTTPS.")
    pattern = config.get("SNS_CERT_HOST_PATTERN") or r"^sns\.[a-z0-9-]+\.amazonaws\.com$"
    if not parts.hostname or not re.match(pattern, parts.hostname):
        raise Rejected(f"The {what} is not on an Amazon SNS host.")


_keys: dict[str, rsa.RSAPublicKey] = {}
_keys_lock = threading.Lock()
#: Certificates kept per process; SNS rotates its signing certificate rarely.
MAX_CACHED_KEYS = 32


def _signing_key(url: str) -> rsa.RSAPublicKey:
    """The public key of the certificate at ``url``, fetched once per process and URL.

    Trust comes from where the certificate is: a host matching ``SNS_CERT_HOST_PATTERN``,
    reached over HTTPS with the TLS chain verified, which only Amazon can serve."""
    _check_sns_url(url, what="SigningCertURL")
    if not urlsplit(url).path.endswith(".pem"):
        raise Rejected("The SigningCertURL is not a certificate (.pem).")
    with _keys_lock:
        if url in _keys:
            return _keys[url]
    pem = _fetch(url, what="SigningCertURL")
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise Rejected("The SigningCertURL does not hold a PEM certificate.") from exc
    now = datetime.now(UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise Rejected("The SNS signing certificate is expired or not yet valid.")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise Rejected("The SNS signing certificate does not hold an RSA key.")
    with _keys_lock:
        if len(_keys) >= MAX_CACHED_KEYS:
            _keys.pop(next(iter(_keys)))
        _keys[url] = key
    return key


def _fetch(url: str, *, what: str) -> bytes:
    _check_sns_url(url, what=what)
    try:
        response = requests.get(url, timeout=FETCH_TIMEOUT_SECONDS, allow_redirects=False,
                                stream=True)
        with response:
            response.raise_for_status()
            body = response.raw.read(MAX_CERTIFICATE_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        log.warning("fetching the SNS %s %s failed: %s", what, url, exc)
        raise Unreachable(f"The {what} could not be fetched; try again later.") from exc
    if len(body) > MAX_CERTIFICATE_BYTES:
        raise Rejected(f"The {what} answered with more than expected.")
    return body


def ses_reports(message: Any) -> list[Report]:
    """The bounces and complaints an SES notification (or SES event) reports, one per
    recipient; none for other kinds (deliveries, sends, opens)."""
    if not isinstance(message, dict):
        raise Malformed("The SES notification is not a JSON object.")
    kind = message.get("notificationType") or message.get("eventType")
    mail = message.get("mail") if isinstance(message.get("mail"), dict) else {}
    message_id = _ses_message_id(mail)
    if kind == "Bounce":
        bounce = _section(message, "bounce")
        # Undetermined: SES could not tell why. It is treated as temporary, so one unclear
        # answer never shuts an address out for every partner.
        feedback = HARD_BOUNCE if bounce.get("bounceType") == "Permanent" else SOFT_BOUNCE
        recipients = _recipients(bounce, "bouncedRecipients")
        return [Report(feedback, _address(r), message_id,
                       _detail(r.get("diagnosticCode"), r.get("status"),
                               bounce.get("bounceSubType")))
                for r in recipients]
    if kind == "Complaint":
        complaint = _section(message, "complaint")
        recipients = _recipients(complaint, "complainedRecipients")
        return [Report(COMPLAINT, _address(r), message_id,
                       _detail(complaint.get("complaintFeedbackType")))
                for r in recipients]
    return []


def _section(message: dict, name: str) -> dict:
    section = message.get(name)
    if not isinstance(section, dict):
        raise Malformed(f"The SES notification has no '{name}' object.", field=name)
    return section


def _recipients(section: dict, name: str) -> list[dict]:
    recipients = section.get(name)
    if not isinstance(recipients, list) or not all(isinstance(r, dict) for r in recipients):
        raise Malformed(f"The SES notification's {name} is not a list of recipients.",
                        field=name)
    return recipients


def _address(recipient: dict) -> str | None:
    raw = recipient.get("emailAddress")
    if not isinstance(raw, str):
        return None
    return parseaddr(raw)[1] or None


def _detail(*parts: Any) -> str:
    return "; ".join(str(p) for p in parts if p)[:2000]


def _ses_message_id(mail: dict) -> str | None:
    """Our Message-ID as the notification carries it: the original header first, then the
    common headers; SES's own ``mail.messageId`` last (it matches when our sender let SES
    make the Message-ID)."""
    for header in mail.get("headers") or []:
        if (isinstance(header, dict) and str(header.get("name", "")).lower() == "message-id"
                and isinstance(header.get("value"), str)):
            return header["value"]
    common = mail.get("commonHeaders")
    if isinstance(common, dict) and isinstance(common.get("messageId"), str):
        return common["messageId"]
    return mail.get("messageId") if isinstance(mail.get("messageId"), str) else None


# --- the generic signed webhook -----------------------------------------------------------------


class FeedbackIn(BaseModel):
    """One report from a mail service."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: Literal["hard_bounce", "soft_bounce", "complaint"]
    email: str | None = Field(default=None, max_length=254)
    message_id: str | None = Field(default=None, max_length=998)
    detail: str = Field(default="", max_length=2000)

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        return normalise_email(value) if value else None


_REPORTS = TypeAdapter(list[FeedbackIn])


def verify_webhook(header: str | None, body: bytes, secret: str, *,
                   now: float | None = None) -> None:
    """Raise unless ``header`` signs ``body`` with ``secret`` (our outgoing webhooks'
    scheme) at a time within the tolerance."""
    if not header:
        raise Unsigned("The Tcma-Signature header is missing.")
    timestamp, sent = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            sent.append(value)
    if timestamp is None or not sent:
        raise Rejected("The Tcma-Signature header needs t=<unix time> and v1=<signature>.")
    if abs((time.time() if now is None else now) - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
        raise Rejected("The signature's timestamp is more than 5 minutes from now.")
    expected = signature([secret], timestamp, body).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected, s) for s in sent):
        raise Rejected("The signature does not match the body.")


def parse_webhook(body: bytes) -> list[FeedbackIn]:
    """The reports a webhook body holds (one object or a list), or ValidationFailed naming
    each wrong field ("type", or "2.email" in a list)."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ValidationFailed([FieldError("body", "The body is not JSON.")]) from exc
    single = isinstance(data, dict)
    if not single and not isinstance(data, list):
        raise ValidationFailed([FieldError("body", "Send a JSON object or a list of them.")])
    items = [data] if single else data
    if len(items) > MAX_REPORTS:
        raise ValidationFailed([FieldError("body", f"At most {MAX_REPORTS} reports per "
                                                   "request.")])
    try:
        reports = _REPORTS.validate_python(items)
    except PydanticError as exc:
        failed = ValidationFailed.from_pydantic(exc)
        if single:  # "0.type" reads oddly when only one object was sent
            failed = ValidationFailed([FieldError(e.field.partition(".")[2] or "body",
                                                  e.message) for e in failed.errors])
        raise failed from exc
    errors = [FieldError("email" if single else f"{i}.email",
                         "Give the address, the Message-ID, or both.")
              for i, r in enumerate(reports) if not (r.email or r.message_id)]
    if errors:
        raise ValidationFailed(errors)
    return reports


def handle_webhook(header: str | None, body: bytes) -> int:
    """Verify and record a generic webhook's reports; how many were recorded."""
    secret = current_app.config.get("EMAIL_FEEDBACK_SECRET")
    verify_webhook(header, body, str(secret))
    reports = parse_webhook(body)
    for report in reports:
        record(report.type, email=report.email, message_id=report.message_id,
               detail=report.detail)
    return len(reports)


def webhook_enabled() -> bool:
    return bool(current_app.config.get("EMAIL_FEEDBACK_SECRET"))

