"""DKIM signatures on outgoing mail, so receivers can check it really comes from the vendor.

A relay or SES may sign with its own domain, but DMARC only passes when the signing domain
aligns with the From domain: the vendor's. ``DKIM_DOMAIN``, ``DKIM_SELECTOR`` and
``DKIM_PRIVATE_KEY`` configure it; the public half is published as a TXT record at
``<selector>._domainkey.<domain>``, whose value ``dns_record`` gives.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask

#: Headers whose change would alter what the reader sees, where replies go or how the
#: unsubscribe button works. Only those a message has are signed: dkimpy treats a listed
#: but absent header as one that must stay absent, which relays adding it would break.
SIGNED_HEADERS = (b"from", b"to", b"subject", b"date", b"message-id", b"reply-to",
                  b"list-unsubscribe", b"list-unsubscribe-post", b"mime-version",
                  b"content-type", b"feedback-id")

#: Receivers ignore signatures made with shorter keys (RFC 8301).
MINIMUM_KEY_BITS = 1024


def sign(raw: bytes, *, domain: str, selector: str, private_key: bytes) -> bytes:
    """``raw`` with a DKIM-Signature header in front (relaxed/relaxed, rsa-sha256).

    Relaxed canonicalisation survives the refolding and whitespace changes relays make.
    """
    headers, _ = dkim.rfc822_parse(raw)
    present = {name.lower() for name, _ in headers}
    include = [name for name in SIGNED_HEADERS if name in present]
    signature = dkim.sign(raw, selector.encode(), domain.encode(), private_key,
                          canonicalize=(b"relaxed", b"relaxed"),
                          signature_algorithm=b"rsa-sha256", include_headers=include)
    return signature + raw


def configured_signer(app: Flask) -> Callable[[bytes], bytes] | None:
    """The signing function the settings describe, or None when ``DKIM_DOMAIN`` is unset.

    The key is read and checked once per app, so a bad key fails the first send with a
    message naming the setting rather than every message with a parser error.
    """
    if "tcma.dkim" not in app.extensions:
        app.extensions["tcma.dkim"] = _signer_from_settings(app.config)
    return app.extensions["tcma.dkim"]


def _signer_from_settings(config) -> Callable[[bytes], bytes] | None:
    domain = config.get("DKIM_DOMAIN")
    if not domain:
        return None
    selector = config.get("DKIM_SELECTOR")
    if not selector:
        raise ValueError("DKIM_SELECTOR must be set when DKIM_DOMAIN is: it names the DNS "
                         f"record <selector>._domainkey.{domain} receivers look up")
    private_key = _load_private_key(config.get("DKIM_PRIVATE_KEY"))

    def sign_with_settings(raw: bytes) -> bytes:
        """Sign one message with the configured domain, selector and key."""
        return sign(raw, domain=domain, selector=selector, private_key=private_key)

    return sign_with_settings


def _load_private_key(setting: str | bytes | None) -> bytes:
    """The RSA key as PKCS#1 PEM (what dkimpy parses most reliably), from text or a file."""
    if not setting:
        raise ValueError("DKIM_PRIVATE_KEY must be set when DKIM_DOMAIN is: the RSA private "
                         "key as PEM text or the path to a PEM file")
    text = setting.decode() if isinstance(setting, bytes) else setting
    if text.lstrip().startswith("-----BEGIN"):
        # Platforms that take one-line environment values often keep "\n" as two characters.
        pem = (text.replace("\\n", "\n") if "\n" not in text.strip() else text).encode()
    else:
        path = Path(text).expanduser()
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"DKIM_PRIVATE_KEY names {text!r}, which cannot be read: "
                             f"{exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError("DKIM_PRIVATE_KEY is not an unencrypted RSA private key in PEM form "
                         f"({exc})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("DKIM_PRIVATE_KEY is not an RSA private key: rsa-sha256 signatures "
                         f"need one, this is a {type(key).__name__}")
    if key.key_size < MINIMUM_KEY_BITS:
        raise ValueError(f"DKIM_PRIVATE_KEY is a {key.key_size}-bit RSA key; receivers ignore "
                         f"signatures from keys under {MINIMUM_KEY_BITS} bits")
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def dns_record(public_key_pem: bytes) -> str:
    """The TXT value to publish at ``<selector>._domainkey.<domain>`` for this public key."""
    key = serialization.load_pem_public_key(public_key_pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("a DKIM record for rsa-sha256 needs an RSA public key")
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"


def generate_key(bits: int = 2048) -> tuple[bytes, bytes]:
    """A new RSA key pair for DKIM: (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return private_pem, public_pem
