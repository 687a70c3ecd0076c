"""Server-side key material derived from configured secrets (signing, franking, prelogin, TOTP sealing)."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from nacl.secret import SecretBox
from nacl.signing import SigningKey


def _derive(label: bytes, secret: str) -> bytes:
    return hashlib.sha256(b"RN-server-" + label + b"-v1\x00" + secret.encode()).digest()


def server_signing_key() -> SigningKey:
    """The server's Ed25519 key for key-log checkpoints and mailbox receipts."""
    return SigningKey(_derive(b"sign", current_app.config["SERVER_SIGNING_SEED"]))


def server_frank_key() -> bytes:
    """The server's franking key (mailbox reports)."""
    return _derive(b"frank", current_app.config["SERVER_FRANK_KEY"])


def fake_salt(username_key: str) -> bytes:
    """A stable salt for an unknown username: HMAC-SHA256(server_secret, "prelogin" ‖ username)[:16]."""
    secret = current_app.config["PRELOGIN_SECRET"].encode()
    return hmac.new(secret, b"prelogin" + username_key.encode(), hashlib.sha256).digest()[:16]


def totp_box() -> SecretBox:
    """Seals TOTP secrets at rest under a key derived from SECRET_KEY."""
    return SecretBox(_derive(b"totp", current_app.config["SECRET_KEY"]))
