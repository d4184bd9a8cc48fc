"""Signed outgoing webhooks, end to end: a real receiver on loopback, a real worker and broker.

The receiver (``tests.webhook_receiver``) is a ThreadingHTTPServer that records each request
and answers the statuses a test plans; signatures are checked by recomputing the HMAC here,
and with the verification snippet the admin page shows to integrators.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text, update

from tcma.errors import ValidationFailed
from tcma.extensions import db
from tcma.models import utcnow
from tcma.queue import get_broker
from tcma.webhooks import attempts, deliveries, emit, register_event, service, signing
from tcma.webhooks.models import DeliveryStatus, EndpointStatus, WebhookDelivery
from tcma.webhooks.tasks import deliver_webhook
from tests.webhook_receiver import Answer, Receiver

register_event("test.happened", "Something a webhook test made happen")
register_event("test.other", "Another thing, which some endpoints do not want")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def fast(app, monkeypatch):
    """Retries after 50 ms instead of 30 s: three attempts in all."""
    monkeypatch.setitem(app.config, "WEBHOOKS_RETRY_DELAYS", [0.05, 0.05])


def endpoint_for(url: str, events=("test.happened",)):
    """A committed endpoint and its secret (needs an app context)."""
    endpoint, secret = service.create_endpoint(
        {"url": url, "description": "CRM", "events": list(events)})
    db.session.commit()
    return endpoint, secret


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body,
                    hashlib.sha256).hexdigest()


def delivery_of(event_id: str) -> WebhookDelivery:
    db.session.expire_all()
    return db.session.execute(
        select(WebhookDelivery).where(WebhookDelivery.event_id == event_id)).scalar_one()


# --- delivery -----------------------------------------------------------------------------------


def test_an_event_reaches_subscribers_signed_and_once(ctx, jobs, receiver):
    crm, secret = endpoint_for(receiver.url("/crm"))
    endpoint_for(receiver.url("/other"), events=["test.other"])
    paused, _ = endpoint_for(receiver.url("/paused"))
    service.set_status(paused, EndpointStatus.PAUSED)
    db.session.commit()

    occurred = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    [delivery] = emit("test.happened", {"lead_id": "ld_1", "amount": Decimal("12.50"),
                                        "at": occurred}, occurred_at=occurred)
    db.session.commit()
    jobs.run()

    [request] = receiver.requests
    assert request.path == "/crm"
    body = json.loads(request.body)
    assert body == {"id": delivery.event_id, "type": "test.happened",
                    "created_at": "2026-03-01T09:30:00.000Z",
                    "data": {"lead_id": "ld_1", "amount": "12.50",
                             "at": "2026-03-01T09:30:00.000Z"}}
    headers = request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "tcma-webhooks/1"
    assert headers["Tcma-Webhook-Id"] == delivery.event_id
    timestamp = headers["Tcma-Webhook-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    assert headers["Tcma-Signature"] == \
        f"t={timestamp},v1={expected_signature(secret, timestamp, request.body)}"
    assert expected_signature("whsec_wrong", timestamp, request.body) not in \
        headers["Tcma-Signature"]

    row = delivery_of(delivery.event_id)
    assert row.status is DeliveryStatus.SUCCEEDED and row.attempts == 1
    [attempt] = row.attempt_log
    assert attempt.status_code == 200 and attempt.succeeded and attempt.error is None
    assert attempt.response_body == '{"ok": true}'
    assert row.endpoint_id == crm.id


def test_an_error_answer_is_retried_until_a_2xx(ctx, jobs, receiver, fast):
    endpoint_for(receiver.url())
    receiver.answer(Answer(500, body=b"database is down"), 200)
    [delivery] = emit("test.happened", {"n": 1})
    db.session.commit()
    jobs.run()

    first, second = receiver.requests
    assert first.body == second.body  # the same event, byte for byte
    assert first.headers["Tcma-Webhook-Id"] == second.headers["Tcma-Webhook-Id"]
    assert (first.headers["Tcma-Webhook-Attempt"], second.headers["Tcma-Webhook-Attempt"]) \
        == ("1", "2")
    row = delivery_of(delivery.event_id)
    assert row.status is DeliveryStatus.SUCCEEDED and row.attempts == 2
    failed, succeeded = row.attempt_log
    assert (failed.number, failed.status_code, failed.succeeded) == (1, 500, False)
    assert failed.response_body == "database is down"
    assert "answered 500" in failed.error
    assert (succeeded.number, succeeded.status_code, succeeded.succeeded) == (2, 200, True)
    assert row.last_error is None and row.last_status_code == 200


def test_after_the_last_attempt_it_fails_and_a_resend_tries_again(ctx, jobs, receiver, fast):
    endpoint_for(receiver.url())
    receiver.answer(503, 503, Answer(301, headers=(("Location", "https://elsewhere.example"),)))
    [delivery] = emit("test.happened", {"n": 2})
    db.session.commit()
    jobs.run()

    row = delivery_of(delivery.event_id)
    assert row.status is DeliveryStatus.FAILED
    assert [a.status_code for a in row.attempt_log] == [503, 503, 301]
    assert "Redirects are not followed" in row.attempt_log[-1].error
    assert len(receiver.requests) == 3  # the redirect was not followed

    deliveries.resend(row)  # the receiver answers 200 now
    db.session.commit()
    jobs.run()
    row = delivery_of(delivery.event_id)
    assert row.status is DeliveryStatus.SUCCEEDED and row.attempts == 4
    assert [(a.number, a.manual) for a in row.attempt_log][-1] == (4, True)
    assert receiver.requests[-1].body == receiver.requests[0].body
    assert receiver.requests[-1].headers["Tcma-Webhook-Id"] == delivery.event_id


def test_a_slow_endpoint_times_out_and_the_error_is_recorded(app, ctx, jobs, receiver,
                                                            monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOKS_TIMEOUT", 0.5)
    monkeypatch.setitem(app.config, "WEBHOOKS_RETRY_DELAYS", [])  # one attempt
    endpoint_for(receiver.url())
    receiver.answer(Answer(200, delay=3))
    [delivery] = emit("test.happened", {"n": 3})
    db.session.commit()
    started = time.monotonic()
    jobs.run()

    assert time.monotonic() - started < 2.5  # the worker did not wait for the answer
    row = delivery_of(delivery.event_id)
    assert row.status is DeliveryStatus.FAILED
    [attempt] = row.attempt_log
    assert attempt.status_code is None
    assert attempt.error == "No complete answer within 0.5 s."
    assert 400 <= attempt.duration_ms < 2000


def test_nothing_is_sent_unless_the_transaction_commits(ctx, jobs, receiver):
    endpoint_for(receiver.url())
    emit("test.happened", {"n": 4})
    db.session.rollback()
    jobs.run()
    assert receiver.requests == []
    assert db.session.execute(select(WebhookDelivery)).first() is None
    with pytest.raises(ValueError, match="register_event"):
        emit("test.unheard_of", {})


# --- idempotence ---------------------------------------------------------------------------------


def test_a_redelivered_message_sends_nothing_twice(ctx, jobs, receiver):
    endpoint_for(receiver.url())
    [delivery] = emit("test.happened", {"n": 5})
    db.session.commit()
    jobs.run()
    assert len(receiver.requests) == 1

    for attempt in (1, 2):  # the same message again, and one for a next attempt
        deliver_webhook.send_now(delivery.id, attempt)
    jobs.run()
    assert len(receiver.requests) == 1
    assert delivery_of(delivery.event_id).attempts == 1


def test_two_workers_never_post_the_same_attempt(app, ctx, jobs, receiver):
    endpoint_for(receiver.url())
    receiver.answer(Answer(200, delay=0.3))
    [delivery] = emit("test.happened", {"n": 6})
    db.session.commit()
    delivery_id = delivery.id
    start = threading.Barrier(4)

    def worker():
        with app.app_context():
            start.wait()
            attempts.deliver(delivery_id, 1)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    jobs.run()  # the queued message finds the attempt made

    assert len(receiver.requests) == 1
    row = delivery_of(delivery.event_id)
    assert row.status is DeliveryStatus.SUCCEEDED and len(row.attempt_log) == 1


def test_the_sweeper_recovers_lost_messages_and_lost_workers(ctx, jobs, receiver):
    endpoint_for(receiver.url())
    [lost] = emit("test.happened", {"n": 7})
    [crashed] = emit("test.happened", {"n": 8})
    db.session.commit()
    get_broker().flush_all()  # the broker lost both messages
    past = utcnow() - timedelta(minutes=5)
    db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id == lost.id)
                       .values(next_attempt_at=past))
    # A worker claimed attempt 1 of this one five minutes ago and died mid-POST.
    db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id == crashed.id)
                       .values(status=DeliveryStatus.SENDING, attempts=1, claimed_at=past))
    db.session.commit()
    jobs.run()
    assert receiver.requests == []

    assert deliveries.resend_due() == 2
    db.session.commit()
    jobs.run()
    assert sorted(json.loads(r.body)["data"]["n"] for r in receiver.requests) == [7, 8]
    for event_id in (lost.event_id, crashed.event_id):
        row = delivery_of(event_id)
        assert row.status is DeliveryStatus.SUCCEEDED
        assert [a.number for a in row.attempt_log] == [1]
    assert deliveries.resend_due() == 0


# --- address rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/", "https://10.1.2.3/hook",
    "https://172.16.0.9/hook", "https://192.168.1.20/hook", "https://[::1]/hook",
    "https://[fc00::1]/hook", "https://127.0.0.1/hook", "https://localhost/hook",
])
def test_private_and_metadata_addresses_are_refused(app, ctx, monkeypatch, url):
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE", False)
    with pytest.raises(ValidationFailed) as refused:
        service.create_endpoint({"url": url, "events": ["test.happened"]})
    assert refused.value.for_field("url")


def test_address_rules(app, ctx, monkeypatch):
    def problem(url: str) -> str | None:
        try:
            service.parse_fields({"url": url, "events": ["test.happened"]})
        except ValidationFailed as exc:
            return exc.for_field("url") or exc.message
        return None

    # The development defaults (BASE_URL on loopback) allow loopback, never metadata.
    assert problem("http://127.0.0.1:9/hook") is None
    assert "metadata" in problem("http://169.254.169.254/")
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_HTTP", False)
    assert "https" in problem("http://93.184.215.14/hook")
    assert problem("https://93.184.215.14/hook") is None  # a public address
    assert "password" in problem("https://user:pw@93.184.215.14/hook")
    assert problem("ftp://93.184.215.14/") is not None
    assert problem("https://no-such-host.invalid/hook") is not None


def test_the_address_is_checked_again_when_delivering(app, ctx, jobs, receiver, monkeypatch):
    endpoint_for(receiver.url())  # allowed when registered (development defaults)
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE", False)
    monkeypatch.setitem(app.config, "WEBHOOKS_RETRY_DELAYS", [])
    [delivery] = emit("test.happened", {"n": 9})
    db.session.commit()
    jobs.run()
    assert receiver.requests == []
    row = delivery_of(delivery.event_id)
    assert row.status is DeliveryStatus.FAILED
    assert "private or loopback" in row.attempt_log[0].error


# --- secrets ----------------------------------------------------------------------------------


def test_secrets_are_encrypted_at_rest_and_rotate_with_an_overlap(ctx, jobs, receiver):
    endpoint, secret = endpoint_for(receiver.url())
    raw = db.session.execute(text("SELECT * FROM webhook_endpoints WHERE id = :id"),
                             {"id": endpoint.id}).mappings().one()
    assert not any(secret in str(value) for value in raw.values())
    assert secret[-4:] in raw["secret_hint"]
    assert service.reveal_secret(endpoint) == secret

    new = service.rotate_secret(endpoint, keep_previous_for=timedelta(hours=24))
    db.session.commit()
    emit("test.happened", {"n": 10})
    db.session.commit()
    jobs.run()
    request = receiver.requests[-1]
    timestamp = request.headers["Tcma-Webhook-Timestamp"]
    assert request.headers["Tcma-Signature"] == (
        f"t={timestamp},v1={expected_signature(new, timestamp, request.body)}"
        f",v1={expected_signature(secret, timestamp, request.body)}")

    newest = service.rotate_secret(endpoint)  # leaked: the old ones stop signing at once
    db.session.commit()
    emit("test.happened", {"n": 11})
    db.session.commit()
    jobs.run()
    request = receiver.requests[-1]
    timestamp = request.headers["Tcma-Webhook-Timestamp"]
    assert request.headers["Tcma-Signature"] == \
        f"t={timestamp},v1={expected_signature(newest, timestamp, request.body)}"


def test_secrets_survive_a_secret_key_rotation(app, ctx, monkeypatch):
    endpoint, secret = endpoint_for("https://93.184.215.14/hook")
    old_key = app.config["SECRET_KEY"]
    monkeypatch.setitem(app.config, "SECRET_KEY", "a-brand-new-secret-key")
    with pytest.raises(RuntimeError, match="SECRET_KEY_FALLBACKS"):
        service.reveal_secret(endpoint)
    monkeypatch.setitem(app.config, "SECRET_KEY_FALLBACKS", [old_key])
    assert service.reveal_secret(endpoint) == secret
    moved = signing.reencrypt(endpoint.secret_encrypted)
    monkeypatch.setitem(app.config, "SECRET_KEY_FALLBACKS", [])
    assert signing.decrypt(moved) == secret
