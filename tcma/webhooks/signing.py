"""Endpoint signing secrets: made here, kept encrypted at rest, and used to sign each request.

Encryption at rest: Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) with a key
derived from ``SECRET_KEY`` by HKDF-SHA256 (its own ``info`` label, so the key is not the one
that signs session cookies). Keys in Flask's ``SECRET_KEY_FALLBACKS`` still decrypt, so an
operator can rotate ``SECRET_KEY`` the way Flask allows for sessions: put the old key in the
fallbacks, and stored secrets stay readable (``reencrypt`` moves a secret to the new key).
A database dump alone therefore does not give away the secrets.

Signature (documented for integrators, with a verification snippet, on each endpoint's page)::

    Tcma-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

During a rotation's overlap the header carries one ``v1=`` per valid secret, newest first,
so a receiver still configured with the old secret keeps accepting requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

SECRET_PREFIX = "whsec_"
_HKDF_INFO = b"tcma webhook signing secrets v1"


def new_secret() -> str:
    """A signing secret: 256 random bits, URL-safe, recognisable by its prefix."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hint(secret: str) -> str:
    """What the pages show of a secret without revealing it: its last four characters."""
    return "…" + secret[-4:]


def _fernet_key(secret_key: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=_HKDF_INFO).derive(secret_key.encode())
    return base64.urlsafe_b64encode(derived)


def _box() -> MultiFernet:
    config = current_app.config
    keys = [config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or [])]
    return MultiFernet([Fernet(_fernet_key(str(k))) for k in keys])


def encrypt(secret: str) -> str:
    return _box().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    """The plain secret; a token no configured key opens is an operator's error, said so."""
    try:
        return _box().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise RuntimeError("A webhook secret cannot be decrypted with SECRET_KEY or "
                           "SECRET_KEY_FALLBACKS: was SECRET_KEY changed without keeping the "
                           "old one as a fallback?") from exc


def reencrypt(token: str) -> str:
    """The same secret encrypted with the current ``SECRET_KEY`` (after a key rotation)."""
    return _box().rotate(token.encode()).decode()


def signature(secrets_: Iterable[str], timestamp: int, body: bytes) -> str:
    """The ``Tcma-Signature`` header value for ``body`` sent at ``timestamp``."""
    signed = f"{timestamp}.".encode() + body
    parts = [f"t={timestamp}"]
    for secret in secrets_:
        digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        parts.append(f"v1={digest}")
    return ",".join(parts)
