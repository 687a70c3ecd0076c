"""Client-side account material: everything derived from a password, built as API request fields.

Used by the Python client, the operator CLI (create-user) and the tests. Nothing here talks to
the network, and nothing secret leaves except as the spec allows (auth_key, sealed bundles,
recovery_auth).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reunite.client import protocol as p


@dataclass(frozen=True)
class KeySet:
    """The private seeds of an account, held only in the client's memory."""

    sign_seed: bytes = field(repr=False)
    box_seeds: dict[int, bytes] = field(repr=False)

    @property
    def epoch(self) -> int:
        """The newest encryption-key epoch."""
        return max(self.box_seeds)

    @property
    def identity(self) -> p.Identity:
        """The Ed25519 identity key pair."""
        return p.new_identity(self.sign_seed)

    def box_keypair(self, epoch: int | None = None) -> tuple[bytes, bytes]:
        """(pk, sk) of the encryption key at `epoch` (default: newest)."""
        return p.box_keypair_from_seed(self.box_seeds[self.epoch if epoch is None else epoch])

    def plaintext(self) -> bytes:
        """The bundle plaintext as the spec fixes it."""
        return p.bundle_plaintext(self.sign_seed, self.box_seeds)


def new_keyset(epoch: int = 1) -> KeySet:
    """Fresh identity and encryption seeds."""
    return KeySet(sign_seed=p.new_identity().seed, box_seeds={epoch: p.new_box_seed()})


def _bundle(nonce: bytes, ct: bytes) -> dict[str, str]:
    return {"nonce": p.b64e(nonce), "ciphertext": p.b64e(ct)}


def credential_fields(username: str, password: str, keys: KeySet, ops: int, mem: int) -> dict[str, Any]:
    """salt, ops, mem, auth_key and the bundle sealed under the new wrap_key."""
    salt = p.new_salt()
    derived = p.derive_login_keys(password, salt, ops, mem)
    nonce, ct = p.seal_bundle(keys.plaintext(), derived.wrap_key, username)
    return {
        "salt": p.b64e(salt),
        "ops": ops,
        "mem": mem,
        "auth_key": p.b64e(derived.auth_key),
        "bundle": _bundle(nonce, ct),
    }


@dataclass(frozen=True)
class NewKeys:
    """Public key fields for the API and the recovery key to show the person once."""

    fields: dict[str, Any]
    recovery_key: bytes = field(repr=False)


def key_fields(username: str, keys: KeySet, recovery_key: bytes | None = None) -> NewKeys:
    """identity_pk, enc_pk, epoch, enc_cert, the recovery copy of the bundle and recovery_auth."""
    rk = recovery_key or p.new_recovery_key()
    identity = keys.identity
    enc_pk, _ = keys.box_keypair()
    cert = p.make_enc_cert(identity.seed, username, enc_pk, keys.epoch)
    nonce, ct = p.seal_bundle(keys.plaintext(), rk, username, recovery=True)
    return NewKeys(
        fields={
            "identity_pk": p.b64e(identity.pk),
            "enc_pk": p.b64e(enc_pk),
            "epoch": keys.epoch,
            "enc_cert": p.b64e(cert),
            "recovery_bundle": _bundle(nonce, ct),
            "recovery_auth": p.b64e(p.recovery_auth(rk)),
        },
        recovery_key=rk,
    )


def open_login_bundle(username: str, password: str, salt: bytes, ops: int, mem: int, bundle: dict[str, str]) -> KeySet:
    """Open the bundle returned at login with the password-derived wrap_key."""
    wrap_key = p.derive_login_keys(password, salt, ops, mem).wrap_key
    plain = p.open_bundle(p.b64d(bundle["nonce"]), p.b64d(bundle["ciphertext"]), wrap_key, username)
    return keyset_from_plaintext(plain)


def keyset_from_plaintext(plain: bytes) -> KeySet:
    """Parse an opened bundle."""
    sign_seed, box_seeds = p.parse_bundle(plain)
    return KeySet(sign_seed=sign_seed, box_seeds=dict(box_seeds))
