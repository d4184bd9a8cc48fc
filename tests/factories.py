"""Factories with sensible defaults, and small helpers tests share."""

from __future__ import annotations

import email
import email.policy
import functools
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import dramatiq
from werkzeug.security import generate_password_hash

from tcma.auth import service as accounts
from tcma.auth.models import Role, User, UserStatus
from tcma.extensions import db
from tcma.partners import service as partners
from tcma.partners.models import Partner

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


def make_partner(name: str | None = None, *, tier: str = "gold", region: str = "EMEA",
                 type: str = "reseller", language: str = "en", **extra) -> Partner:
    """Create and commit a partner (needs an app context)."""
    n = next(_seq)
    partner = partners.create_partner(
        {"name": name or f"Partner {n}", "tier": tier, "region": region, "type": type,
         "language": language, **extra}, by=None)
    db.session.commit()
    return partner


@functools.cache
def _cheap_hash(password: str) -> str:
    return generate_password_hash(password, method="pbkdf2:sha256:1000")


def make_user(role: Role | str = Role.ADMIN, *, partner: Partner | None = None,
              email: str | None = None, name: str | None = None,
              password: str = PASSWORD) -> User:
    """Create and commit an active user who can sign in with ``password``."""
    role = Role(role)
    n = next(_seq)
    if partner is None and not role.is_vendor:
        partner = make_partner()
    user = accounts.invite_user(email=email or f"user{n}@example.test", name=name or f"User {n}",
                                role=role, partner=partner, notify=False)
    # A deliberately cheap hash: the production scrypt costs ~80 ms per user and per sign-in,
    # which adds up to minutes over the suite. Sign-in verifies whatever method is stored.
    user.password_hash = _cheap_hash(password)
    user.rotate_security_stamp()
    user.status = UserStatus.ACTIVE
    db.session.commit()
    return user


def make_token(user: User, name: str = "test") -> str:
    _, secret = accounts.create_api_token(user, name)
    db.session.commit()
    return secret


def login(client, email: str, password: str = PASSWORD):
    """Sign in through the real form (CSRF included) and return the response."""
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token})


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def post_form(client, url: str, data: dict | None = None, *, page: str | None = None, **kw):
    """POST a form the way a browser would: fetch a page for the CSRF token first."""
    html = client.get(page or "/account").get_data(as_text=True)
    return client.post(url, data={**(data or {}), "csrf_token": csrf_from(html)}, **kw)


@dataclass
class Mail:
    to: str
    subject: str
    text: str
    html: str | None
    message: email.message.EmailMessage

    def link(self, pattern: str = r"https?://\S+") -> str:
        match = re.search(pattern, self.text)
        assert match, f"no link in {self.subject!r}"
        return match.group(0)


class Outbox:
    """Reads what the outbox transport wrote, as a person opening the folder would."""

    def __init__(self, folder: Path):
        self.folder = folder

    def messages(self) -> list[Mail]:
        if not self.folder.exists():
            return []
        found = []
        for path in sorted(self.folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            text = msg.get_body(preferencelist=("plain",))
            html = msg.get_body(preferencelist=("html",))
            found.append(Mail(msg["To"], msg["Subject"], text.get_content() if text else "",
                              html.get_content() if html else None, msg))
        return found

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.messages() if m.to == address]


class JobRunner:
    """Runs what is queued until the queues are empty, then stops its worker: between two
    ``run()`` calls nothing consumes, so a test can call an actor's body by hand without a
    background worker racing it for the same message."""

    def __init__(self, broker: dramatiq.Broker):
        self.broker = broker
        self.worker: dramatiq.Worker | None = None

    def run(self, timeout_ms: int = 20_000) -> None:
        from tcma.queue import QUEUES

        self.worker = dramatiq.Worker(self.broker, worker_threads=2, worker_timeout=50)
        self.worker.start()
        try:
            for queue in QUEUES:
                self.broker.join(queue, timeout=timeout_ms)
            self.worker.join()
        finally:
            self.stop()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            # A Worker leaves its middleware on the broker for good; drop it, or every later
            # queue declaration would wake consumers of the stopped workers.
            worker = self.worker
            self.broker.middleware[:] = [
                m for m in self.broker.middleware if getattr(m, "worker", None) is not worker]
            self.worker = None
