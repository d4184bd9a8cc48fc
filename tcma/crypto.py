"""Encryption at rest for secrets the app must read back (webhook secrets, network tokens).

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``). Each configured key is stretched
by HKDF-SHA256 into one key per *purpose*, so a webhook secret and a social token never share
a key, and the session-signing ``SECRET_KEY`` itself never encrypts anything.

Keys, newest first:

- ``ENCRYPTION_KEYS``: Fernet keys (``Fernet.generate_key()``). The first encrypts; all
  decrypt, so rotating is: put a new key in front, run ``rotate`` over the stored values
  (or let them be rewritten as they change), then drop the old key.
- then ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS``, always kept for decryption: values stored
  before ``ENCRYPTION_KEYS`` was set (and everything, when it is not set) stay readable. With no
  ``ENCRYPTION_KEYS`` these encrypt too, exactly as webhook secrets always were.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


class UndecryptableSecret(RuntimeError):
    """No configured key opens a stored value: an operator dropped a key too early."""


def configured_keys(config) -> list[str]:
    """``ENCRYPTION_KEYS`` as a list (the environment may give one comma-separated string),
    each checked to be a Fernet key so a typo fails at the first use with a clear message."""
    raw = config.get("ENCRYPTION_KEYS") or []
    if isinstance(raw, str):
        raw = [part for part in raw.replace(",", " ").split() if part]
    keys = [str(k) for k in raw]
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ValueError("ENCRYPTION_KEYS must hold Fernet keys (32 url-safe base64-encoded "
                             "bytes, e.g. from Fernet.generate_key()).") from None
    return keys


def _derive(material: bytes, purpose: str) -> Fernet:
    # The info label keeps the format webhook secrets have had since they were introduced
    # ("tcma webhook signing secrets v1" from SECRET_KEY): stored values stay readable.
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=f"tcma {purpose} v1".encode()).derive(material)
    return Fernet(base64.urlsafe_b64encode(derived))


def _box(purpose: str) -> MultiFernet:
    config = current_app.config
    fernets = [_derive(base64.urlsafe_b64decode(k), purpose) for k in configured_keys(config)]
    for secret_key in [config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or [])]:
        fernets.append(_derive(str(secret_key).encode(), purpose))
    return MultiFernet(fernets)


def encrypt(text: str, purpose: str) -> str:
    """``text`` encrypted with the newest key for ``purpose`` (a Fernet token, ASCII)."""
    return _box(purpose).encrypt(text.encode()).decode()


def decrypt(token: str, purpose: str) -> str:
    """The plain text of a value ``encrypt`` made with any configured key."""
    try:
        return _box(purpose).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise UndecryptableSecret(
            f"A stored {purpose} value cannot be decrypted with ENCRYPTION_KEYS, SECRET_KEY or "
            "SECRET_KEY_FALLBACKS: was a key removed before the values were rotated?") from exc


def rotate(token: str, purpose: str) -> str:
    """The same plain text encrypted with the newest key (after a key was added in front)."""
    try:
        return _box(purpose).rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise UndecryptableSecret(f"A stored {purpose} value cannot be decrypted with any "
                                  "configured key.") from exc
