"""Endpoint signing secrets: made here, kept encrypted at rest, and used to sign each request.

Encryption at rest: ``tcma.crypto`` under the purpose "webhook signing secrets" (the key
derivation webhook secrets have always had, so stored secrets stay readable). Keys in
``ENCRYPTION_KEYS`` and Flask's ``SECRET_KEY_FALLBACKS`` still decrypt, so an operator can
rotate keys (``reencrypt`` moves a secret to the newest key). A database dump alone therefore
does not give away the secrets.

Signature (documented for integrators, with a verification snippet, on each endpoint's page)::

    Tcma-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

During a rotation's overlap the header carries one ``v1=`` per valid secret, newest first,
so a receiver still configured with the old secret keeps accepting requests.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from tcma import crypto

SECRET_PREFIX = "whsec_"
PURPOSE = "webhook signing secrets"


def new_secret() -> str:
    """A signing secret: 256 random bits, URL-safe, recognisable by its prefix."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hint(secret: str) -> str:
    """What the pages show of a secret without revealing it: its last four characters."""
    return "…" + secret[-4:]


def encrypt(secret: str) -> str:
    """The secret as stored: encrypted with the newest key."""
    return crypto.encrypt(secret, PURPOSE)


def decrypt(token: str) -> str:
    """The plain secret; a token no configured key opens is an operator's error, said so."""
    try:
        return crypto.decrypt(token, PURPOSE)
    except crypto.UndecryptableSecret as exc:
        raise RuntimeError("A webhook secret cannot be decrypted with ENCRYPTION_KEYS, "
                           "SECRET_KEY or SECRET_KEY_FALLBACKS: was SECRET_KEY changed without "
                           "keeping the old one as a fallback?") from exc


def reencrypt(token: str) -> str:
    """The same secret encrypted with the newest key (after a key rotation)."""
    return crypto.rotate(token, PURPOSE)


def signature(secrets_: Iterable[str], timestamp: int, body: bytes) -> str:
    """The ``Tcma-Signature`` header value for ``body`` sent at ``timestamp``."""
    signed = f"{timestamp}.".encode() + body
    parts = [f"t={timestamp}"]
    for secret in secrets_:
        digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        parts.append(f"v1={digest}")
    return ",".join(parts)
