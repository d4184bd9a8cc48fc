"""Bounces and complaints from mail services: SES through SNS, and the generic signed webhook.

SNS documents are signed for real: an RSA key and a self-signed certificate made here, the
certificate served by a loopback HTTP server (which also plays SNS's SubscribeURL), the
canonical string built as AWS documents it, both signature versions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from syndication.email import suppression
from syndication.email.models import ContactStatus
from tcma.extensions import db
from tcma.partners.models import Partner
from tests.factories import make_partner
from tests.syndication.email.test_unsubscribe import fresh, make_contact, make_delivery

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-feedback"
SECRET = "whsec_feedback-test-secret"


class FakeSns:
    """Serves a signing certificate and answers SubscribeURLs, recording every request."""

    def __init__(self, pem: bytes) -> None:
        self.paths: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (the name http.server calls)
                fake.paths.append(self.path)
                body = pem if self.path.endswith(".pem") else b"<ConfirmSubscriptionResponse/>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def sns_server(signing_key) -> Iterator[FakeSns]:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(signing_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .sign(signing_key, hashes.SHA256()))
    server = FakeSns(cert.public_bytes(serialization.Encoding.PEM))
    yield server
    server.close()


@pytest.fixture
def sns(app, monkeypatch, sns_server) -> FakeSns:
    """Certificates may come from the loopback server, over plain http."""
    monkeypatch.setitem(app.config, "SNS_CERT_HOST_PATTERN", r"^127\.0\.0\.1$")
    monkeypatch.setitem(app.config, "SNS_ALLOW_HTTP_CERTS", True)
    return sns_server


# The fields SNS signs, in order, per AWS's "Verifying the signatures of Amazon SNS messages".
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn",
                       "Type")


def signed(document: dict, key: rsa.RSAPrivateKey, version: str) -> dict:
    fields = NOTIFICATION_FIELDS if document["Type"] == "Notification" else CONFIRMATION_FIELDS
    text = "".join(f"{name}\n{document[name]}\n" for name in fields if name in document)
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(text.encode(), padding.PKCS1v15(), algorithm)
    return {**document, "SignatureVersion": version,
            "Signature": base64.b64encode(signature).decode()}


def notification(message: dict, key, sns: FakeSns, *, version: str = "2",
                 cert_url: str | None = None, **extra) -> dict:
    return signed({"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
                   "TopicArn": TOPIC, "Message": json.dumps(message),
                   "Timestamp": "2026-04-02T12:00:00.000Z",
                   "SigningCertURL": cert_url or sns.url("/SimpleNotificationService-1.pem"),
                   "UnsubscribeURL": sns.url("/?Action=Unsubscribe"), **extra}, key, version)


def bounce(ref: str, email: str, bounce_type: str = "Permanent") -> dict:
    return {"notificationType": "Bounce",
            "bounce": {"bounceType": bounce_type, "bounceSubType": "General",
                       "bouncedRecipients": [{"emailAddress": email, "action": "failed",
                                              "status": "5.1.1",
                                              "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
                       "timestamp": "2026-04-02T11:59:58.000Z", "feedbackId": "0102-feedback"},
            "mail": {"timestamp": "2026-04-02T11:59:50.000Z", "messageId": "0102-ses-own-id",
                     "source": "Northwind <news@mail.example.net>", "destination": [email],
                     "headers": [{"name": "From", "value": "news@mail.example.net"},
                                 {"name": "Message-ID", "value": f"<{ref}@mail.example.net>"}]}}


def complaint(ref: str, email: str) -> dict:
    return {"notificationType": "Complaint",
            "complaint": {"complainedRecipients": [{"emailAddress": email}],
                          "complaintFeedbackType": "abuse", "feedbackId": "0102-complaint"},
            "mail": {"messageId": "0102-ses-own-id", "destination": [email],
                     "commonHeaders": {"messageId": f"<{ref}@mail.example.net>",
                                       "subject": "Spring offers"}}}


def post_sns(client, document: dict):
    return client.post("/email/feedback/ses", data=json.dumps(document),
                       content_type="text/plain; charset=UTF-8",
                       headers={"x-amz-sns-message-type": document.get("Type", "")})


# --- SES through SNS ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_hard_bounce_shuts_the_address_out_for_every_partner(ctx, client, sns, signing_key,
                                                               version):
    delivery = make_delivery(email="kim@example.com")
    partner = db.session.get(Partner, delivery.partner_id)
    elsewhere = make_partner()
    make_contact(elsewhere, "kim@example.com")

    answer = post_sns(client, notification(bounce(delivery.ref, "kim@example.com"),
                                           signing_key, sns, version=version))

    assert answer.status_code == 200, answer.get_data(as_text=True)
    delivery, contact = fresh(delivery)
    assert contact.status is ContactStatus.BOUNCED
    assert delivery.feedback == "hard_bounce" and delivery.feedback_at is not None
    assert "550 5.1.1 user unknown" in delivery.error
    for someone in (partner, elsewhere, make_partner()):
        assert suppression.can_email(someone, "kim@example.com") == (False, "global:hard_bounce")


def test_a_complaint_marks_the_contact_and_repeats_change_nothing(ctx, client, sns,
                                                                 signing_key):
    delivery = make_delivery(email="kim@example.com")
    elsewhere = make_partner()
    make_contact(elsewhere, "kim@example.com")
    document = notification(complaint(delivery.ref, "Kim <kim@example.com>"), signing_key, sns,
                            Subject="Amazon SES Email Event Notification")

    assert post_sns(client, document).status_code == 200
    delivery, contact = fresh(delivery)
    first = delivery.feedback_at
    assert contact.status is ContactStatus.COMPLAINED
    assert delivery.feedback == "complaint"
    assert suppression.can_email(elsewhere, "kim@example.com") == (False, "global:complaint")

    # SNS delivers at least once; a later soft bounce never weakens the record either.
    assert post_sns(client, document).status_code == 200
    assert post_sns(client, notification(bounce(delivery.ref, "kim@example.com", "Transient"),
                                         signing_key, sns)).status_code == 200
    delivery, contact = fresh(delivery)
    assert (delivery.feedback, delivery.feedback_at) == ("complaint", first)
    assert contact.status is ContactStatus.COMPLAINED


@pytest.mark.parametrize("bounce_type", ["Transient", "Undetermined"])
def test_a_temporary_bounce_is_only_noted(ctx, client, sns, signing_key, bounce_type):
    delivery = make_delivery(email="kim@example.com")
    partner = db.session.get(Partner, delivery.partner_id)

    answer = post_sns(client, notification(bounce(delivery.ref, "kim@example.com", bounce_type),
                                           signing_key, sns))

    assert answer.status_code == 200
    delivery, contact = fresh(delivery)
    assert delivery.feedback == "soft_bounce"
    assert contact.status is ContactStatus.SUBSCRIBED
    assert suppression.can_email(partner, "kim@example.com") == (True, "ok")


def test_a_bounce_for_an_unknown_message_still_suppresses_the_address(ctx, client, sns,
                                                                      signing_key):
    partner = make_partner()
    make_contact(partner, "gone@example.com")

    answer = post_sns(client, notification(bounce("not-one-of-ours", "gone@example.com"),
                                           signing_key, sns))

    assert answer.status_code == 200
    assert suppression.can_email(partner, "gone@example.com") == (False, "global:hard_bounce")


def test_a_tampered_message_is_refused(ctx, client, sns, signing_key):
    delivery = make_delivery(email="kim@example.com")
    document = notification(bounce(delivery.ref, "kim@example.com", "Transient"), signing_key,
                            sns)
    document["Message"] = json.dumps(bounce(delivery.ref, "kim@example.com", "Permanent"))

    answer = post_sns(client, document)

    assert answer.status_code == 403
    assert answer.get_json()["detail"] == "The SNS signature does not match the message."
    delivery, contact = fresh(delivery)
    assert delivery.feedback is None and contact.status is ContactStatus.SUBSCRIBED


def test_a_certificate_elsewhere_than_sns_is_never_fetched(app, ctx, client, sns, signing_key,
                                                            monkeypatch):
    delivery = make_delivery(email="kim@example.com")
    message = bounce(delivery.ref, "kim@example.com")
    # localhost reaches the same server, but is not a host the pattern allows.
    wrong_host = notification(message, signing_key, sns,
                              cert_url=sns.url("/elsewhere.pem", host="localhost"))
    assert post_sns(client, wrong_host).status_code == 403

    monkeypatch.setitem(app.config, "SNS_ALLOW_HTTP_CERTS", False)
    plain_http = notification(message, signing_key, sns, cert_url=sns.url("/plain.pem"))
    answer = post_sns(client, plain_http)
    assert answer.status_code == 403
    assert "HTTPS" in answer.get_json()["detail"]

    assert not [p for p in sns.paths if p in ("/elsewhere.pem", "/plain.pem")]
    delivery, _ = fresh(delivery)
    assert delivery.feedback is None


def test_only_the_configured_topics_are_accepted(app, ctx, client, sns, signing_key,
                                                 monkeypatch):
    delivery = make_delivery(email="kim@example.com")
    monkeypatch.setitem(app.config, "SNS_TOPIC_ARNS", ["arn:aws:sns:eu-west-1:1:other"])

    answer = post_sns(client, notification(bounce(delivery.ref, "kim@example.com"),
                                           signing_key, sns))

    assert answer.status_code == 403
    monkeypatch.setitem(app.config, "SNS_TOPIC_ARNS", ["arn:aws:sns:eu-west-1:1:other", TOPIC])
    assert post_sns(client, notification(bounce(delivery.ref, "kim@example.com"),
                                         signing_key, sns)).status_code == 200


def test_a_subscription_confirmation_visits_the_subscribe_url(ctx, client, sns, signing_key):
    subscribe = sns.url("/?Action=ConfirmSubscription&TopicArn=x&Token=2336412f37fb687f")
    document = signed({
        "Type": "SubscriptionConfirmation", "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37fb687f", "TopicArn": TOPIC,
        "Message": f"You have chosen to subscribe to the topic {TOPIC}.\nTo confirm the "
                   "subscription, visit the SubscribeURL included in this message.",
        "SubscribeURL": subscribe, "Timestamp": "2026-04-02T12:00:00.000Z",
        "SigningCertURL": sns.url("/SimpleNotificationService-1.pem")}, signing_key, "1")

    answer = post_sns(client, document)

    assert answer.status_code == 200
    assert answer.get_json()["detail"] == "subscription confirmed"
    assert "/?Action=ConfirmSubscription&TopicArn=x&Token=2336412f37fb687f" in sns.paths


def test_malformed_documents_get_400_saying_what_is_wrong(ctx, client, sns, signing_key):
    not_json = client.post("/email/feedback/ses", data="hello", content_type="text/plain")
    assert not_json.status_code == 400
    assert "not JSON" in not_json.get_json()["detail"]

    document = notification({"notificationType": "Bounce"}, signing_key, sns)
    del document["Signature"]
    unsigned = post_sns(client, document)
    assert unsigned.status_code == 400
    assert unsigned.get_json()["errors"] == [{"field": "Signature",
                                              "message": "Signature is missing or not a string."}]

    wrong_shape = post_sns(client, notification({"notificationType": "Bounce"}, signing_key, sns))
    assert wrong_shape.status_code == 400
    assert "'bounce'" in wrong_shape.get_json()["detail"]


# --- the generic webhook ------------------------------------------------------------------------


@pytest.fixture
def secret(app, monkeypatch) -> str:
    monkeypatch.setitem(app.config, "EMAIL_FEEDBACK_SECRET", SECRET)
    return SECRET


def post_webhook(client, payload, *, key: str = SECRET, at: int | None = None,
                 header: str | None = None):
    body = json.dumps(payload).encode()
    at = int(time.time()) if at is None else at
    digest = hmac.new(key.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return client.post("/email/feedback/webhook", data=body, content_type="application/json",
                       headers={"Tcma-Signature": header if header is not None
                                else f"t={at},v1={digest}"})


def test_the_webhook_is_off_without_a_secret(ctx, client):
    assert post_webhook(client, {"type": "complaint", "email": "kim@example.com"}
                        ).status_code == 404


def test_signed_reports_are_recorded(ctx, client, secret):
    delivery = make_delivery(email="kim@example.com")
    other = make_partner()
    make_contact(other, "ann@example.com")

    answer = post_webhook(client, [
        {"type": "hard_bounce", "message_id": f"<{delivery.ref}@mail.example.net>",
         "detail": "550 no such user"},
        {"type": "complaint", "email": "Ann@Example.com"}])

    assert answer.status_code == 200
    assert answer.get_json() == {"status": "ok", "recorded": 2}
    delivery, contact = fresh(delivery)
    # No address given: the delivery's contact is the one that bounced.
    assert contact.status is ContactStatus.BOUNCED
    assert (delivery.feedback, delivery.error) == ("hard_bounce", "550 no such user")
    assert suppression.can_email(other, "ann@example.com") == (False, "global:complaint")


def test_bad_missing_or_stale_signatures_are_refused(ctx, client, secret):
    delivery = make_delivery(email="kim@example.com")
    report = {"type": "hard_bounce", "email": "kim@example.com"}

    assert post_webhook(client, report, key="whsec_someone-else").status_code == 403
    assert post_webhook(client, report, header="").status_code == 401
    assert post_webhook(client, report, header="t=notanumber,v1=00").status_code == 403
    stale = post_webhook(client, report, at=int(time.time()) - 301)
    assert stale.status_code == 403
    assert "5 minutes" in stale.get_json()["detail"]

    partner = db.session.get(Partner, delivery.partner_id)
    assert suppression.can_email(partner, "kim@example.com") == (True, "ok")


def test_invalid_reports_get_422_naming_the_field(ctx, client, secret):
    missing = post_webhook(client, {"email": "kim@example.com"})
    assert missing.status_code == 422
    assert [e["field"] for e in missing.get_json()["errors"]] == ["type"]

    in_a_list = post_webhook(client, [{"type": "complaint", "email": "kim@example.com"},
                                      {"type": "bounced", "email": "not an address"}])
    assert in_a_list.status_code == 422
    assert {e["field"] for e in in_a_list.get_json()["errors"]} == {"1.type", "1.email"}

    neither = post_webhook(client, {"type": "complaint"})
    assert neither.status_code == 422
    assert neither.get_json()["errors"] == [
        {"field": "email", "message": "Give the address, the Message-ID, or both."}]
    # Nothing of a rejected request is kept, the valid first report included.
    assert suppression.global_reason("kim@example.com") is None
