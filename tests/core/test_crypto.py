"""Encryption at rest with rotatable keys (tcma.crypto)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from tcma import crypto
from tcma.webhooks import signing


def test_a_value_encrypted_with_an_old_key_decrypts_after_rotation(app, ctx, monkeypatch):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setitem(app.config, "ENCRYPTION_KEYS", [old])
    stored = crypto.encrypt("li-token-123", "social network tokens")
    assert "li-token-123" not in stored

    monkeypatch.setitem(app.config, "ENCRYPTION_KEYS", [new, old])  # rotation begins
    assert crypto.decrypt(stored, "social network tokens") == "li-token-123"
    moved = crypto.rotate(stored, "social network tokens")

    monkeypatch.setitem(app.config, "ENCRYPTION_KEYS", f"{new}")  # the old key is dropped
    assert crypto.decrypt(moved, "social network tokens") == "li-token-123"
    with pytest.raises(crypto.UndecryptableSecret, match="was a key removed"):
        crypto.decrypt(stored, "social network tokens")


def test_each_purpose_has_its_own_key(app, ctx):
    stored = crypto.encrypt("secret", "social network tokens")
    with pytest.raises(crypto.UndecryptableSecret):
        crypto.decrypt(stored, "webhook signing secrets")


def test_webhook_secrets_stored_before_encryption_keys_were_set_stay_readable(
        app, ctx, monkeypatch):
    """Webhook secrets keep the format they always had (a key derived from SECRET_KEY), and
    setting ENCRYPTION_KEYS later does not lock them out."""
    monkeypatch.setitem(app.config, "ENCRYPTION_KEYS", [])
    before = signing.encrypt("whsec_abc")
    assert crypto.decrypt(before, "webhook signing secrets") == "whsec_abc"
    monkeypatch.setitem(app.config, "ENCRYPTION_KEYS", [Fernet.generate_key().decode()])
    assert signing.decrypt(before) == "whsec_abc"
    after = signing.reencrypt(before)
    monkeypatch.setitem(app.config, "SECRET_KEY", "a-completely-different-secret-key")
    assert signing.decrypt(after) == "whsec_abc"  # now under ENCRYPTION_KEYS alone


def test_a_malformed_key_is_refused_with_a_clear_message(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "ENCRYPTION_KEYS", ["not-a-fernet-key"])
    with pytest.raises(ValueError, match="ENCRYPTION_KEYS must hold Fernet keys"):
        crypto.encrypt("x", "social network tokens")
