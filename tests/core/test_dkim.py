"""DKIM: what we sign verifies with the published record, and nothing else does.

Verification is dkimpy's own receiver-side check, with the DNS lookup answered by the TXT
value ``dns_record`` tells the vendor to publish.
"""

from __future__ import annotations

import base64
import re

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask

from tcma import dkim as tcma_dkim
from tcma.mail import build_message


@pytest.fixture(scope="module")
def key_pair() -> tuple[bytes, bytes]:
    return tcma_dkim.generate_key()


def published(public_pem: bytes, name: bytes = b"mail2026._domainkey.vendor.test"):
    """A resolver that knows only the vendor's DKIM record, as DNS would serve it."""
    record = tcma_dkim.dns_record(public_pem).encode()

    def lookup(qname: bytes, timeout: float = 5) -> bytes | None:
        return record if qname.rstrip(b".") == name else None

    return lookup


def campaign_message(**headers: str) -> bytes:
    message = build_message(
        "dana@partner.test", "Grüße aus München", "Hallo Dana,\n\nhier ist der Link.\n",
        "<p>Hallo <b>Dana</b></p>", sender="Vendor <news@vendor.test>",
        reply_to="Sales <sales@vendor.test>", headers=headers)
    return bytes(message)


def signature_tags(signed: bytes) -> dict[str, str]:
    header = re.match(rb"DKIM-Signature:(.*?)\r\n(?! )", signed, re.S).group(1)
    unfolded = re.sub(rb"\s+", b"", header).decode()
    return dict(tag.split("=", 1) for tag in unfolded.split(";") if tag)


def test_signed_message_verifies_against_the_published_record(key_pair):
    private_pem, public_pem = key_pair
    raw = campaign_message(**{"List-Unsubscribe": "<https://t.vendor.test/u/abc>",
                              "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
    signed = tcma_dkim.sign(raw, domain="vendor.test", selector="mail2026",
                            private_key=private_pem)

    assert signed.endswith(raw)  # the message itself is untouched, the signature is in front
    assert dkim.verify(signed, dnsfunc=published(public_pem)) is True
    tags = signature_tags(signed)
    assert (tags["a"], tags["c"], tags["d"], tags["s"]) == (
        "rsa-sha256", "relaxed/relaxed", "vendor.test", "mail2026")
    assert set(tags["h"].split(":")) == {
        "from", "to", "subject", "date", "message-id", "reply-to", "list-unsubscribe",
        "list-unsubscribe-post", "mime-version", "content-type"}  # no Feedback-ID here


def test_tampering_with_a_signed_header_or_the_body_fails(key_pair):
    private_pem, public_pem = key_pair
    raw = campaign_message(**{"List-Unsubscribe": "<https://t.vendor.test/u/abc>"})
    signed = tcma_dkim.sign(raw, domain="vendor.test", selector="mail2026",
                            private_key=private_pem)
    lookup = published(public_pem)

    new_subject = re.sub(rb"\r\nSubject: [^\r]*", b"\r\nSubject: Your invoice is overdue", signed)
    assert new_subject != signed
    assert dkim.verify(new_subject, dnsfunc=lookup) is False
    other_link = signed.replace(b"<https://t.vendor.test/u/abc>", b"<https://evil.test/u>")
    assert dkim.verify(other_link, dnsfunc=lookup) is False
    assert b"hier ist der Link" in signed
    other_body = signed.replace(b"hier ist der Link", b"hier ist die Falle")
    assert dkim.verify(other_body, dnsfunc=lookup) is False
    # Relaxed canonicalisation: a relay refolding whitespace does not break it.
    refolded = signed.replace(b"\r\nTo: dana@partner.test", b"\r\nTo:   dana@partner.test")
    assert refolded != signed
    assert dkim.verify(refolded, dnsfunc=lookup) is True


def test_a_different_key_in_dns_fails(key_pair):
    private_pem, _ = key_pair
    _, stranger_public = tcma_dkim.generate_key()
    signed = tcma_dkim.sign(campaign_message(), domain="vendor.test", selector="mail2026",
                            private_key=private_pem)
    assert dkim.verify(signed, dnsfunc=published(stranger_public)) is False


def test_dns_record_carries_the_public_key(key_pair):
    _, public_pem = key_pair
    record = tcma_dkim.dns_record(public_pem)
    assert record.startswith("v=DKIM1; k=rsa; p=")
    der = base64.b64decode(record.split("p=", 1)[1])
    assert serialization.load_der_public_key(der).public_numbers() == (
        serialization.load_pem_public_key(public_pem).public_numbers())


def dkim_app(tmp_path, **settings) -> Flask:
    app = Flask(__name__, instance_path=str(tmp_path))
    app.config.update({"DKIM_DOMAIN": None, "DKIM_SELECTOR": None, "DKIM_PRIVATE_KEY": None})
    app.config.update(settings)
    return app


def test_no_dkim_domain_means_no_signer(tmp_path):
    assert tcma_dkim.configured_signer(dkim_app(tmp_path)) is None


@pytest.mark.parametrize("as_path", [False, True], ids=["pem-text", "pem-file"])
def test_configured_signer_signs_with_the_settings(tmp_path, key_pair, as_path):
    private_pem, public_pem = key_pair
    setting = private_pem.decode()
    if as_path:
        path = tmp_path / "dkim.pem"
        path.write_bytes(private_pem)
        setting = str(path)
    app = dkim_app(tmp_path, DKIM_DOMAIN="vendor.test", DKIM_SELECTOR="mail2026",
                   DKIM_PRIVATE_KEY=setting)

    signer = tcma_dkim.configured_signer(app)
    assert signer is tcma_dkim.configured_signer(app)  # the key is loaded once per app
    signed = signer(campaign_message())
    assert dkim.verify(signed, dnsfunc=published(public_pem)) is True


def test_a_one_line_pem_from_the_environment_is_accepted(tmp_path, key_pair):
    private_pem, public_pem = key_pair
    one_line = private_pem.decode().replace("\n", "\\n")
    app = dkim_app(tmp_path, DKIM_DOMAIN="vendor.test", DKIM_SELECTOR="mail2026",
                   DKIM_PRIVATE_KEY=one_line)
    signed = tcma_dkim.configured_signer(app)(campaign_message())
    assert dkim.verify(signed, dnsfunc=published(public_pem)) is True


#: A throwaway 512-bit key: too short for receivers, and cryptography refuses to make one.
SHORT_RSA_KEY = """-----BEGIN PRIVATE KEY-----
MIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEAxdSJnAGM7Dia78yN
7Ca+4czN9Zrv1Zp6UGF3fLwUiODlhIlAMFiWnCpLbrClp7uzNRhjyyNJQCMKtGMw
BYmLWwIDAQABAkEAkWvVp/8fxzko82NLZC9rG3LAZ214JW2DwfiTq/ZZpe9ZDG+2
f8jhByXLBIcEK9epbHgC5CyYiyE+yrAV05wN6QIhAOH6mSrTHQ3zbQ0XsJuCJGdq
Gb91wYyCgVGH5qmpG/IvAiEA4ByezS09fCvTLxkDPCQtqex5w7NqPxU/2eszJEL8
SpUCIQDMWjMin/D5SbXHDjI+Ho1PG4qXMiTKLMZG9W+o422LLwIgHlziSuv5K4yI
dRYPcSN5qE7ohFIXb+qCFxUdfakxoy0CIQCpqL9KCxBNvqY9sEA0ZcxfIK6fz/zq
T8gnUaPN+eFDRw==
-----END PRIVATE KEY-----
"""


def _pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.mark.parametrize(("key", "message"), [
    ("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
     "DKIM_PRIVATE_KEY is not an unencrypted RSA private key in PEM form"),
    (_pem(ec.generate_private_key(ec.SECP256R1())), "DKIM_PRIVATE_KEY is not an RSA private key"),
    (SHORT_RSA_KEY, "DKIM_PRIVATE_KEY is a 512-bit RSA key"),
    ("/nonexistent/dkim.pem", "DKIM_PRIVATE_KEY names '/nonexistent/dkim.pem', which cannot"),
    (None, "DKIM_PRIVATE_KEY must be set when DKIM_DOMAIN is"),
], ids=["garbage", "ec-key", "short-rsa", "missing-file", "unset"])
def test_a_bad_key_is_refused_naming_the_setting(tmp_path, key, message):
    app = dkim_app(tmp_path, DKIM_DOMAIN="vendor.test", DKIM_SELECTOR="mail2026",
                   DKIM_PRIVATE_KEY=key)
    with pytest.raises(ValueError, match=re.escape(message)):
        tcma_dkim.configured_signer(app)


def test_a_missing_selector_is_refused(tmp_path, key_pair):
    app = dkim_app(tmp_path, DKIM_DOMAIN="vendor.test", DKIM_PRIVATE_KEY=key_pair[0].decode())
    with pytest.raises(ValueError, match="DKIM_SELECTOR must be set"):
        tcma_dkim.configured_signer(app)
