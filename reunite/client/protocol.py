"""Protocol v1 primitives (keys, bundles, key log, envelopes) on PyNaCl and hashlib.

This module is pure: no Flask, no I/O, no logging. The server imports it for the
checks it makes, and ``reunite/static/js/rncrypto.mjs`` mirrors every function
under a camelCase name; both reproduce ``tests/vectors/vectors-v1.json`` byte for
byte. The specs are ``auth-and-keys.md`` and ``mailbox-protocol.md``.

Notation as in the specs: ``lp(x)`` is a 4-byte big-endian length then ``x``;
``u32``/``u64`` are big-endian; strings are UTF-8; binary values travel as
base64url without padding.

Secrets and plaintexts never appear in a ``repr`` or an exception message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import nacl.bindings
import nacl.exceptions
import nacl.pwhash.argon2id
import nacl.signing

__all__ = [
    "DEFAULT_MEM",
    "DEFAULT_OPS",
    "KEYLOG_GENESIS",
    "KEY_BYTES",
    "MSG_ID_BYTES",
    "NONCE_BYTES",
    "SALT_BYTES",
    "SIG_BYTES",
    "CONVLOG_GENESIS",
    "MAX_MEM",
    "MAX_OPS",
    "MAX_TEXT_CHARS",
    "MIN_MEM",
    "MIN_OPS",
    "PAD_BLOCK",
    "BundleError",
    "Envelope",
    "HeaderRosterEntry",
    "Identity",
    "LoginKeys",
    "OpenedMessage",
    "ParsedHeader",
    "ProtocolError",
    "RosterMember",
    "SentMessage",
    "VerificationError",
    "b64d",
    "b64e",
    "blake2b_256",
    "box_keypair_from_seed",
    "build_header",
    "bundle_plaintext",
    "check_kdf_params",
    "checkpoint_message",
    "canonical_json",
    "convlog_entry",
    "convlog_modaction_entry",
    "derive_login_keys",
    "derive_master_key",
    "enc_cert_message",
    "export_message",
    "encrypt_message",
    "fingerprint_digits",
    "format_recovery_key",
    "franking_commitment",
    "header_roster",
    "kdf_derive",
    "key_commitment",
    "keylog_entry",
    "lp",
    "make_enc_cert",
    "make_modcert",
    "modaction_message",
    "modcert_message",
    "new_box_seed",
    "new_identity",
    "new_recovery_key",
    "new_salt",
    "open_body",
    "open_bundle",
    "open_envelope",
    "pad_plaintext",
    "parse_bundle",
    "parse_header",
    "parse_recovery_key",
    "receipt_message",
    "recovery_auth",
    "reporting_rf",
    "safety_number",
    "seal_body",
    "seal_bundle",
    "sig_message",
    "sign_detached",
    "u16",
    "u32",
    "u64",
    "unpad_plaintext",
    "unwrap_key",
    "verify_detached",
    "verify_enc_cert",
    "verify_envelope_signature",
    "verify_modcert",
    "verify_report",
    "wrap_key_for",
]

# --- constants ---------------------------------------------------------------

DEFAULT_OPS = 2
DEFAULT_MEM = 67108864  # 64 MiB, libsodium's INTERACTIVE limits
MIN_OPS = 1
MAX_OPS = 10
MIN_MEM = 8 * 1024 * 1024
MAX_MEM = 1024 * 1024 * 1024

KEY_BYTES = 32
SALT_BYTES = 16
NONCE_BYTES = 24  # XChaCha20-Poly1305-IETF
SIG_BYTES = 64
MSG_ID_BYTES = 16
PAD_BLOCK = 256
MAX_TEXT_CHARS = 16000
_SEALED_KEY_BYTES = KEY_BYTES + 48  # crypto_box_SEALBYTES

KEYLOG_GENESIS = bytes(32)
CONVLOG_GENESIS = bytes(32)

_AUTH_ID, _AUTH_CTX = 1, "RNauth01"
_WRAP_ID, _WRAP_CTX = 2, "RNwrap01"
_RECV_ID, _RECV_CTX = 3, "RNrecv01"

_FINGERPRINT_VERSION = 0
_FINGERPRINT_ITERATIONS = 5200


# --- errors ------------------------------------------------------------------


class ProtocolError(ValueError):
    """Input that does not follow protocol v1 (malformed, wrong size, bad encoding)."""


class BundleError(ProtocolError):
    """A sealed key bundle did not open: wrong key, wrong username or tampered bytes."""


class VerificationError(ProtocolError):
    """A received envelope failed a check; ``reason`` says which (never plaintext)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- encoding ----------------------------------------------------------------

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64e(data: bytes) -> str:
    """Encode bytes as base64url without padding (libsodium's default ``to_base64``)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    """Decode base64url without padding, strictly.

    :raises ValueError: on any character outside the alphabet, padding, an
        impossible length or non-zero trailing bits (so every byte string has
        exactly one accepted encoding).
    """
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("invalid base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise ValueError("invalid base64url") from None
    if b64e(data) != text:
        raise ValueError("invalid base64url (non-canonical)")
    return data


def u16(n: int) -> bytes:
    """Big-endian unsigned 16-bit integer."""
    return _uint(n, 2)


def u32(n: int) -> bytes:
    """Big-endian unsigned 32-bit integer."""
    return _uint(n, 4)


def u64(n: int) -> bytes:
    """Big-endian unsigned 64-bit integer."""
    return _uint(n, 8)


def _uint(n: int, size: int) -> bytes:
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < 1 << (8 * size):
        raise ValueError(f"integer out of range for {size} bytes")
    return n.to_bytes(size, "big")


def lp(data: bytes) -> bytes:
    """Length-prefix: ``u32(len(data)) ‖ data``."""
    return u32(len(data)) + data


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("string is not valid Unicode (lone surrogate)") from None


def _lps(text: str) -> bytes:
    return lp(_utf8(text))


def _need(value: bytes, size: int, name: str) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != size:
        raise ValueError(f"{name} must be {size} bytes")


def blake2b_256(data: bytes, key: bytes = b"") -> bytes:
    """BLAKE2b-256 (libsodium ``crypto_generichash``), optionally keyed."""
    return hashlib.blake2b(data, digest_size=32, key=key).digest()


def _hmac256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


# --- 1. password to keys -----------------------------------------------------


def check_kdf_params(ops: int, mem: int) -> None:
    """Refuse Argon2id parameters outside the accepted range.

    A server could hand out tiny parameters to make a stolen ``auth_key`` cheap to
    attack, or huge ones to exhaust the client; both are refused.

    :raises ValueError: when ``ops`` is not in 1..10 or ``mem`` not in 8 MiB..1 GiB.
    """
    for value in (ops, mem):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("KDF parameters must be integers")
    if not MIN_OPS <= ops <= MAX_OPS:
        raise ValueError(f"ops must be in {MIN_OPS}..{MAX_OPS}")
    if not MIN_MEM <= mem <= MAX_MEM:
        raise ValueError(f"mem must be in {MIN_MEM}..{MAX_MEM} bytes")


def new_salt() -> bytes:
    """Return a random 16-byte Argon2id salt."""
    return secrets.token_bytes(SALT_BYTES)


def derive_master_key(password: str, salt: bytes, ops: int = DEFAULT_OPS, mem: int = DEFAULT_MEM) -> bytes:
    """``MK = Argon2id13(32, NFC(password), salt16, ops, mem)``.

    :raises ValueError: bad salt size, parameters outside :func:`check_kdf_params`.
    """
    _need(salt, SALT_BYTES, "salt")
    check_kdf_params(ops, mem)
    pw = _utf8(unicodedata.normalize("NFC", password))
    return nacl.pwhash.argon2id.kdf(KEY_BYTES, pw, bytes(salt), opslimit=ops, memlimit=mem)


def kdf_derive(key: bytes, subkey_id: int, ctx8: str) -> bytes:
    """libsodium ``crypto_kdf_derive_from_key(32, subkey_id, ctx8, key)``.

    That function is keyed BLAKE2b-256 of the empty message with salt =
    ``subkey_id`` as 8 little-endian bytes plus 8 zero bytes, and personal = the
    8-byte context plus 8 zero bytes; the vector test checks this equivalence
    against libsodium's output.
    """
    _need(key, KEY_BYTES, "key")
    ctx = ctx8.encode("utf-8") if isinstance(ctx8, str) else b""
    if len(ctx) != 8 or not ctx.isascii():
        raise ValueError("context must be 8 ASCII characters")
    salt = _uint(subkey_id, 8)[::-1] + bytes(8)
    return hashlib.blake2b(b"", digest_size=32, key=bytes(key), salt=salt, person=ctx + bytes(8)).digest()


@dataclass(frozen=True)
class LoginKeys:
    """The two keys derived from a password: one sent to the server, one never sent."""

    auth_key: bytes = field(repr=False)
    wrap_key: bytes = field(repr=False)


def derive_login_keys(password: str, salt: bytes, ops: int = DEFAULT_OPS, mem: int = DEFAULT_MEM) -> LoginKeys:
    """Derive ``auth_key`` (id 1, "RNauth01") and ``wrap_key`` (id 2, "RNwrap01")."""
    mk = derive_master_key(password, salt, ops, mem)
    return LoginKeys(
        auth_key=kdf_derive(mk, _AUTH_ID, _AUTH_CTX),
        wrap_key=kdf_derive(mk, _WRAP_ID, _WRAP_CTX),
    )


# --- 2. identity and encryption keys -----------------------------------------


@dataclass(frozen=True)
class Identity:
    """An Ed25519 identity: 32-byte seed, libsodium 64-byte secret key, public key."""

    seed: bytes = field(repr=False)
    sk: bytes = field(repr=False)
    pk: bytes


def new_identity(sign_seed: bytes | None = None) -> Identity:
    """Create (or rebuild from its seed) an Ed25519 identity key pair."""
    seed = secrets.token_bytes(KEY_BYTES) if sign_seed is None else sign_seed
    _need(seed, KEY_BYTES, "sign_seed")
    pk, sk = nacl.bindings.crypto_sign_seed_keypair(bytes(seed))
    return Identity(seed=bytes(seed), sk=sk, pk=pk)


def new_box_seed() -> bytes:
    """Return a random 32-byte seed for an X25519 encryption key pair."""
    return secrets.token_bytes(KEY_BYTES)


def box_keypair_from_seed(seed: bytes) -> tuple[bytes, bytes]:
    """libsodium ``crypto_box_seed_keypair``: ``(pk, sk)``, sk = SHA-512(seed)[:32]."""
    _need(seed, KEY_BYTES, "box seed")
    return nacl.bindings.crypto_box_seed_keypair(bytes(seed))


def _signing_key(secret: bytes) -> nacl.signing.SigningKey:
    # Accept a 32-byte seed or libsodium's 64-byte secret key (seed ‖ pk).
    if isinstance(secret, bytes | bytearray) and len(secret) == 64:
        key = nacl.signing.SigningKey(bytes(secret[:32]))
        if bytes(key.verify_key) != bytes(secret[32:]):
            raise ValueError("secret key does not match its public half")
        return key
    _need(secret, KEY_BYTES, "signing seed")
    return nacl.signing.SigningKey(bytes(secret))


def sign_detached(secret: bytes, message: bytes) -> bytes:
    """Ed25519 detached signature with a 32-byte seed or 64-byte secret key."""
    return _signing_key(secret).sign(message).signature


def verify_detached(pk: bytes, message: bytes, sig: bytes) -> bool:
    """True when ``sig`` is a valid Ed25519 signature of ``message`` under ``pk``."""
    if not isinstance(pk, bytes | bytearray) or len(pk) != KEY_BYTES:
        return False
    if not isinstance(sig, bytes | bytearray) or len(sig) != SIG_BYTES:
        return False
    try:
        nacl.signing.VerifyKey(bytes(pk)).verify(message, bytes(sig))
    except nacl.exceptions.BadSignatureError:
        return False
    return True


def enc_cert_message(username: str, enc_pk: bytes, epoch: int) -> bytes:
    """``"RN-enckey-v1" ‖ lp(username) ‖ enc_pk ‖ u32(epoch)``."""
    _need(enc_pk, KEY_BYTES, "enc_pk")
    return b"RN-enckey-v1" + _lps(username) + bytes(enc_pk) + u32(epoch)


def make_enc_cert(sign_secret: bytes, username: str, enc_pk: bytes, epoch: int) -> bytes:
    """Sign an encryption key with the identity key (seed or 64-byte sk)."""
    return sign_detached(sign_secret, enc_cert_message(username, enc_pk, epoch))


def verify_enc_cert(identity_pk: bytes, username: str, enc_pk: bytes, epoch: int, cert: bytes) -> bool:
    """True when ``cert`` binds ``enc_pk`` at ``epoch`` to ``username``."""
    try:
        message = enc_cert_message(username, enc_pk, epoch)
    except ValueError:
        return False
    return verify_detached(identity_pk, message, cert)


# --- 3. key bundles ----------------------------------------------------------


def bundle_plaintext(sign_seed: bytes, box_seeds: Mapping[int, bytes]) -> bytes:
    """Compact JSON ``{"v":1,"sign_seed":B64,"box_seeds":{"<epoch>":B64}}``.

    Epochs appear in ascending order (as JavaScript orders integer-like keys).
    """
    _need(sign_seed, KEY_BYTES, "sign_seed")
    seeds: dict[str, str] = {}
    for epoch in sorted(box_seeds):
        u32(epoch)
        if epoch < 1:
            raise ValueError("epochs start at 1")
        _need(box_seeds[epoch], KEY_BYTES, "box seed")
        seeds[str(epoch)] = b64e(bytes(box_seeds[epoch]))
    doc = {"v": 1, "sign_seed": b64e(bytes(sign_seed)), "box_seeds": seeds}
    return json.dumps(doc, separators=(",", ":")).encode("ascii")


def parse_bundle(plaintext: bytes) -> tuple[bytes, dict[int, bytes]]:
    """Parse an opened bundle into ``(sign_seed, {epoch: box_seed})``.

    :raises BundleError: when it is not a v1 bundle.
    """
    try:
        doc = json.loads(plaintext)
    except (ValueError, TypeError):
        raise BundleError("bundle is not JSON") from None
    if not isinstance(doc, dict) or doc.get("v") != 1 or set(doc) != {"v", "sign_seed", "box_seeds"}:
        raise BundleError("not a v1 bundle")
    raw_seeds = doc["box_seeds"]
    if not isinstance(raw_seeds, dict):
        raise BundleError("box_seeds must be an object")
    try:
        sign_seed = b64d(doc["sign_seed"])
        box_seeds: dict[int, bytes] = {}
        for name, value in raw_seeds.items():
            if not re.fullmatch(r"[1-9][0-9]{0,9}", name) or int(name) >= 1 << 32:
                raise BundleError("bad epoch in bundle")
            box_seeds[int(name)] = b64d(value)
    except ValueError as exc:
        if isinstance(exc, BundleError):
            raise
        raise BundleError("bad base64 in bundle") from None
    if len(sign_seed) != KEY_BYTES or any(len(s) != KEY_BYTES for s in box_seeds.values()):
        raise BundleError("bundle seeds must be 32 bytes")
    return sign_seed, box_seeds


def _bundle_ad(username: str, recovery: bool) -> bytes:
    return (b"RN-recovery-v1" if recovery else b"RN-bundle-v1") + _lps(username)


def seal_bundle(
    plaintext: bytes,
    key: bytes,
    username: str,
    nonce: bytes | None = None,
    *,
    recovery: bool = False,
) -> tuple[bytes, bytes]:
    """Seal a bundle with XChaCha20-Poly1305-IETF; returns ``(nonce, ciphertext)``.

    ``key`` is ``wrap_key`` (AD ``"RN-bundle-v1" ‖ lp(username)``) or, with
    ``recovery=True``, the recovery key (AD ``"RN-recovery-v1" ‖ lp(username)``).
    Pass ``nonce`` only to reproduce a test vector.
    """
    _need(key, KEY_BYTES, "key")
    nonce = secrets.token_bytes(NONCE_BYTES) if nonce is None else nonce
    _need(nonce, NONCE_BYTES, "nonce")
    ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        bytes(plaintext), _bundle_ad(username, recovery), bytes(nonce), bytes(key)
    )
    return bytes(nonce), ct


def open_bundle(
    nonce: bytes,
    ciphertext: bytes,
    key: bytes,
    username: str,
    *,
    recovery: bool = False,
) -> bytes:
    """Open a sealed bundle.

    :raises BundleError: wrong key (password or recovery key), wrong username or
        tampered bytes.
    """
    _need(key, KEY_BYTES, "key")
    if len(nonce) != NONCE_BYTES:
        raise BundleError("bad nonce size")
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            bytes(ciphertext), _bundle_ad(username, recovery), bytes(nonce), bytes(key)
        )
    except nacl.exceptions.CryptoError:
        raise BundleError("bundle does not open with this key") from None


# --- 4. recovery key ---------------------------------------------------------


def new_recovery_key() -> bytes:
    """Return 32 random bytes, shown once via :func:`format_recovery_key`."""
    return secrets.token_bytes(KEY_BYTES)


def recovery_auth(recovery_key: bytes) -> bytes:
    """``crypto_kdf_derive_from_key(32, 3, "RNrecv01", recovery_key)``."""
    return kdf_derive(recovery_key, _RECV_ID, _RECV_CTX)


def format_recovery_key(key: bytes) -> str:
    """RFC 4648 base32, no padding, upper case, 13 dash-separated groups of 4."""
    _need(key, KEY_BYTES, "recovery key")
    text = base64.b32encode(bytes(key)).decode("ascii").rstrip("=")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def parse_recovery_key(text: str) -> bytes:
    """Read a recovery key typed by a person: any case, spaces and dashes optional.

    :raises ValueError: when it is not exactly a 32-byte key in canonical base32.
    """
    if not isinstance(text, str):
        raise ValueError("recovery key must be text")
    compact = re.sub(r"[\s-]+", "", text).upper()
    if len(compact) != 52 or not re.fullmatch(r"[A-Z2-7]+", compact):
        raise ValueError("a recovery key has 52 letters and digits 2-7")
    try:
        key = base64.b32decode(compact + "====")
    except binascii.Error:
        raise ValueError("invalid recovery key") from None
    if base64.b32encode(key).decode("ascii").rstrip("=") != compact:
        raise ValueError("invalid recovery key")
    return key


# --- 5. key log --------------------------------------------------------------


def keylog_entry(prev: bytes, user_id: str, identity_pk: bytes, enc_pk: bytes, epoch: int, ms: int) -> bytes:
    """Key-log chain entry ``e_i``.

    ``SHA-256("RN-keylog-v1" ‖ prev ‖ lp(user_id) ‖ identity_pk ‖ enc_pk
    ‖ u32(epoch) ‖ u64(ms))``. The first entry uses ``prev = KEYLOG_GENESIS``
    (32 zero bytes).
    """
    _need(prev, 32, "prev")
    _need(identity_pk, KEY_BYTES, "identity_pk")
    _need(enc_pk, KEY_BYTES, "enc_pk")
    data = b"RN-keylog-v1" + bytes(prev) + _lps(user_id) + bytes(identity_pk) + bytes(enc_pk) + u32(epoch) + u64(ms)
    return hashlib.sha256(data).digest()


def checkpoint_message(size: int, head: bytes) -> bytes:
    """What the server signs for a key-log checkpoint (our definition, not in the spec).

    ``"RN-keylog-checkpoint-v1" ‖ u64(size) ‖ head``, where ``size`` is the number of
    entries and ``head`` the last entry ``e_size`` (``KEYLOG_GENESIS`` when empty).
    """
    _need(head, 32, "head")
    return b"RN-keylog-checkpoint-v1" + u64(size) + bytes(head)


# --- 6. moderator certificates -----------------------------------------------


def modcert_message(user_id: str, identity_pk: bytes, expires_ms: int) -> bytes:
    """``"RN-modcert-v1" ‖ lp(user_id) ‖ identity_pk ‖ u64(expires_ms)``."""
    _need(identity_pk, KEY_BYTES, "identity_pk")
    return b"RN-modcert-v1" + _lps(user_id) + bytes(identity_pk) + u64(expires_ms)


def make_modcert(org_secret: bytes, user_id: str, identity_pk: bytes, expires_ms: int) -> bytes:
    """Certify a moderator with the organisation key (32-byte seed or 64-byte sk)."""
    return sign_detached(org_secret, modcert_message(user_id, identity_pk, expires_ms))


def verify_modcert(
    org_pk: bytes,
    user_id: str,
    identity_pk: bytes,
    expires_ms: int,
    sig: bytes,
    now_ms: int,
) -> bool:
    """True when the certificate verifies and ``now_ms < expires_ms``."""
    if not now_ms < expires_ms:
        return False
    try:
        message = modcert_message(user_id, identity_pk, expires_ms)
    except ValueError:
        return False
    return verify_detached(org_pk, message, sig)


# --- 7. safety number --------------------------------------------------------


def fingerprint_digits(user_id: str, identity_pk: bytes) -> str:
    """One side's 30 digits of the safety number (Signal's displayable fingerprint).

    ``h = u16(0) ‖ pk ‖ lp(user_id)``; 5200 times ``h = SHA-512(h ‖ pk)``; the first 30
    bytes of ``h`` as six 5-byte big-endian numbers, each ``mod 100000`` as 5 digits.
    """
    _need(identity_pk, KEY_BYTES, "identity_pk")
    pk = bytes(identity_pk)
    h = u16(_FINGERPRINT_VERSION) + pk + _lps(user_id)
    for _ in range(_FINGERPRINT_ITERATIONS):
        h = hashlib.sha512(h + pk).digest()
    return "".join(f"{int.from_bytes(h[i : i + 5], 'big') % 100000:05d}" for i in range(0, 30, 5))


def safety_number(user_id_a: str, identity_pk_a: bytes, user_id_b: str, identity_pk_b: bytes) -> str:
    """60-digit safety number for two identities; both sides compute the same string.

    The two 30-digit halves from :func:`fingerprint_digits`, ascending, joined.
    """
    halves = sorted(
        (
            fingerprint_digits(user_id_a, identity_pk_a),
            fingerprint_digits(user_id_b, identity_pk_b),
        )
    )
    return halves[0] + halves[1]


# --- 8. mailbox envelopes ----------------------------------------------------


@dataclass(frozen=True)
class RosterMember:
    """A conversation member's current encryption key."""

    user_id: str
    enc_pk: bytes
    epoch: int


@dataclass(frozen=True)
class HeaderRosterEntry:
    """A roster member as the header carries it: the key's BLAKE2b-256, not the key."""

    user_id: str
    enc_pk_hash: bytes
    epoch: int


@dataclass(frozen=True)
class ParsedHeader:
    """The fields of an ``RNMSG1`` header."""

    conv_id: str
    msg_id: bytes
    sender_id: str
    seq: int
    sender_identity_hash: bytes
    roster: tuple[HeaderRosterEntry, ...]


@dataclass(frozen=True)
class Envelope:
    """A message as sent and stored: everything here is public or ciphertext."""

    header: bytes
    c: bytes
    kc: bytes
    nonce: bytes
    body: bytes
    wrapped: tuple[bytes, ...]
    sig: bytes

    def to_json(self) -> dict[str, object]:
        """The JSON form: every field base64url, ``wrapped`` a list in roster order."""
        return {
            "header": b64e(self.header),
            "c": b64e(self.c),
            "kc": b64e(self.kc),
            "nonce": b64e(self.nonce),
            "body": b64e(self.body),
            "wrapped": [b64e(w) for w in self.wrapped],
            "sig": b64e(self.sig),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Envelope:
        """Parse the JSON form, checking types, encodings and fixed sizes.

        :raises ProtocolError: on anything malformed.
        """
        names = ("header", "c", "kc", "nonce", "body", "sig")
        if not isinstance(data, Mapping) or set(data) != {*names, "wrapped"}:
            raise ProtocolError("envelope must have exactly header,c,kc,nonce,body,wrapped,sig")
        wrapped_raw = data["wrapped"]
        if not isinstance(wrapped_raw, list) or not wrapped_raw:
            raise ProtocolError("wrapped must be a non-empty list")
        try:
            values = {}
            for name in names:
                raw = data[name]
                if not isinstance(raw, str):
                    raise ProtocolError(f"{name} must be a string")
                values[name] = b64d(raw)
            wrapped: list[bytes] = []
            for item in wrapped_raw:
                if not isinstance(item, str):
                    raise ProtocolError("wrapped items must be strings")
                wrapped.append(b64d(item))
        except ProtocolError:
            raise
        except ValueError:
            raise ProtocolError("envelope field is not base64url") from None
        env = cls(wrapped=tuple(wrapped), **values)
        env.check_sizes()
        return env

    def check_sizes(self) -> None:
        """:raises ProtocolError: when a fixed-size field has the wrong size."""
        fixed = {
            "c": (self.c, 32),
            "kc": (self.kc, 32),
            "nonce": (self.nonce, NONCE_BYTES),
            "sig": (self.sig, SIG_BYTES),
        }
        for name, (value, size) in fixed.items():
            if len(value) != size:
                raise ProtocolError(f"{name} must be {size} bytes")
        if any(len(w) != _SEALED_KEY_BYTES for w in self.wrapped):
            raise ProtocolError(f"wrapped keys must be {_SEALED_KEY_BYTES} bytes")
        if len(self.body) < KEY_BYTES + PAD_BLOCK + 16:
            raise ProtocolError("body too short")


@dataclass(frozen=True)
class SentMessage:
    """What :func:`encrypt_message` returns: envelope plus the sender's record."""

    envelope: Envelope
    msg_id: bytes
    kf: bytes = field(repr=False)
    m: bytes = field(repr=False)


@dataclass(frozen=True)
class OpenedMessage:
    """A message that passed every receiving check."""

    text: str = field(repr=False)
    sent_at: str
    kf: bytes = field(repr=False)
    m: bytes = field(repr=False)
    header: ParsedHeader


def _sorted_roster(roster: Sequence[RosterMember]) -> list[RosterMember]:
    # UTF-8 byte order equals code point order in every language (JS's default
    # sort compares UTF-16 units, which differs for astral characters).
    members = sorted(roster, key=lambda r: _utf8(r.user_id))
    if not members:
        raise ValueError("roster is empty")
    for a, b in zip(members, members[1:], strict=False):
        if a.user_id == b.user_id:
            raise ValueError("duplicate user id in roster")
    return members


def header_roster(roster: Sequence[RosterMember]) -> tuple[HeaderRosterEntry, ...]:
    """The roster as a header must carry it (sorted, keys hashed), for comparison."""
    out = []
    for member in _sorted_roster(roster):
        _need(member.enc_pk, KEY_BYTES, "enc_pk")
        u32(member.epoch)
        out.append(HeaderRosterEntry(member.user_id, blake2b_256(bytes(member.enc_pk)), member.epoch))
    return tuple(out)


def build_header(
    conv_id: str,
    msg_id: bytes,
    sender_id: str,
    seq: int,
    sender_identity_pk: bytes,
    roster: Sequence[RosterMember],
) -> bytes:
    """Message header, canonical bytes.

    ``"RNMSG1" ‖ lp(conv_id) ‖ lp(msg_id16) ‖ lp(sender_id) ‖ u32(seq)
    ‖ H(identity_pk)`` then per member, ascending user id,
    ``lp(user_id) ‖ H(enc_pk) ‖ u32(epoch)``; ``H`` is BLAKE2b-256.
    """
    _need(msg_id, MSG_ID_BYTES, "msg_id")
    _need(sender_identity_pk, KEY_BYTES, "sender_identity_pk")
    if seq < 1:
        raise ValueError("seq counts from 1")
    out = [
        b"RNMSG1",
        _lps(conv_id),
        lp(bytes(msg_id)),
        _lps(sender_id),
        u32(seq),
        blake2b_256(bytes(sender_identity_pk)),
    ]
    for entry in header_roster(roster):
        out += [_lps(entry.user_id), entry.enc_pk_hash, u32(entry.epoch)]
    return b"".join(out)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolError("header truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def lp(self) -> bytes:
        return self.take(self.uint(4))

    def text(self) -> str:
        try:
            return self.lp().decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("header string is not UTF-8") from None

    def done(self) -> bool:
        return self.pos == len(self.data)


def parse_header(header: bytes) -> ParsedHeader:
    """Parse an ``RNMSG1`` header; only :func:`build_header`'s canonical form.

    :raises ProtocolError: when malformed, not sorted or with duplicate members.
    """
    r = _Reader(bytes(header))
    if r.take(6) != b"RNMSG1":
        raise ProtocolError("not an RNMSG1 header")
    conv_id = r.text()
    msg_id = r.lp()
    if len(msg_id) != MSG_ID_BYTES:
        raise ProtocolError("msg_id must be 16 bytes")
    sender_id = r.text()
    seq = r.uint(4)
    if seq < 1:
        raise ProtocolError("seq counts from 1")
    sender_hash = r.take(32)
    roster: list[HeaderRosterEntry] = []
    while not r.done():
        user_id = r.text()
        enc_hash = r.take(32)
        epoch = r.uint(4)
        if roster and not _utf8(roster[-1].user_id) < _utf8(user_id):
            raise ProtocolError("header roster not strictly ascending")
        roster.append(HeaderRosterEntry(user_id, enc_hash, epoch))
    if not roster:
        raise ProtocolError("header roster is empty")
    return ParsedHeader(conv_id, msg_id, sender_id, seq, sender_hash, tuple(roster))


def pad_plaintext(text: str, sent_at: str) -> bytes:
    """``m = pad(UTF-8 JSON {"text": ..., "sent_at": ...}, 256)`` (ISO/IEC 7816-4).

    The JSON is Python's default ``json.dumps`` with ``ensure_ascii=False``
    (": " and ", " separators), as in the vector; rncrypto.mjs writes the same
    bytes.

    :raises ValueError: text longer than 16,000 code points or not encodable as UTF-8.
    """
    if not isinstance(text, str) or not isinstance(sent_at, str):
        raise ValueError("text and sent_at must be strings")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"text longer than {MAX_TEXT_CHARS} characters")
    doc = json.dumps({"text": text, "sent_at": sent_at}, ensure_ascii=False)
    return nacl.bindings.sodium_pad(_utf8(doc), PAD_BLOCK)


def unpad_plaintext(m: bytes) -> tuple[str, str]:
    """Inverse of :func:`pad_plaintext`: ``(text, sent_at)``.

    :raises ProtocolError: bad padding or not the expected JSON.
    """
    if len(m) == 0 or len(m) % PAD_BLOCK:
        raise ProtocolError("plaintext is not padded to 256 bytes")
    try:
        raw = nacl.bindings.sodium_unpad(bytes(m), PAD_BLOCK)
        doc = json.loads(raw.decode("utf-8"))
    except (nacl.exceptions.CryptoError, ValueError):
        raise ProtocolError("plaintext is not a padded JSON message") from None
    if (
        not isinstance(doc, dict)
        or set(doc) != {"text", "sent_at"}
        or not isinstance(doc["text"], str)
        or not isinstance(doc["sent_at"], str)
    ):
        raise ProtocolError("plaintext JSON must be {text, sent_at} strings")
    return doc["text"], doc["sent_at"]


def franking_commitment(kf: bytes, header: bytes, m: bytes) -> bytes:
    """``c = HMAC-SHA256(kf, "RN-frank-v1" ‖ lp(header) ‖ m)``; ``kf`` 32 bytes."""
    _need(kf, KEY_BYTES, "kf")
    return _hmac256(bytes(kf), b"RN-frank-v1" + lp(bytes(header)) + bytes(m))


def key_commitment(key: bytes) -> bytes:
    """``kc = BLAKE2b-256(key=K, "RN-keycommit-v1")``."""
    _need(key, KEY_BYTES, "K")
    return blake2b_256(b"RN-keycommit-v1", key=bytes(key))


def _body_ad(header: bytes, c: bytes, kc: bytes) -> bytes:
    return bytes(header) + bytes(c) + bytes(kc)


def seal_body(key: bytes, nonce: bytes, header: bytes, c: bytes, kc: bytes, kf: bytes, m: bytes) -> bytes:
    """``body = XChaCha20-Poly1305-IETF(kf ‖ m, ad = header ‖ c ‖ kc, nonce, K)``."""
    _need(key, KEY_BYTES, "K")
    _need(nonce, NONCE_BYTES, "nonce")
    _need(kf, KEY_BYTES, "kf")
    return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        bytes(kf) + bytes(m), _body_ad(header, c, kc), bytes(nonce), bytes(key)
    )


def open_body(key: bytes, nonce: bytes, header: bytes, c: bytes, kc: bytes, body: bytes) -> bytes:
    """Decrypt a body to ``kf ‖ m``.

    :raises VerificationError: when it does not decrypt.
    """
    _need(key, KEY_BYTES, "K")
    if len(nonce) != NONCE_BYTES:
        raise VerificationError("bad nonce size")
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            bytes(body), _body_ad(header, c, kc), bytes(nonce), bytes(key)
        )
    except nacl.exceptions.CryptoError:
        raise VerificationError("body does not decrypt") from None


def wrap_key_for(key: bytes, enc_pk: bytes) -> bytes:
    """``crypto_box_seal(K, enc_pk)`` (random each time)."""
    _need(key, KEY_BYTES, "K")
    _need(enc_pk, KEY_BYTES, "enc_pk")
    return nacl.bindings.crypto_box_seal(bytes(key), bytes(enc_pk))


def unwrap_key(wrapped: bytes, box_pk: bytes, box_sk: bytes) -> bytes:
    """Open my sealed copy of ``K``.

    :raises VerificationError: when it does not open with my key.
    """
    try:
        key = nacl.bindings.crypto_box_seal_open(bytes(wrapped), bytes(box_pk), bytes(box_sk))
    except (nacl.exceptions.CryptoError, TypeError):
        raise VerificationError("my wrapped key does not open") from None
    if len(key) != KEY_BYTES:
        raise VerificationError("wrapped key has the wrong size")
    return key


def sig_message(
    header: bytes,
    c: bytes,
    kc: bytes,
    nonce: bytes,
    body: bytes,
    wrapped: Sequence[bytes],
) -> bytes:
    """What the sender signs.

    ``"RN-sig-v1" ‖ lp(header) ‖ c ‖ kc ‖ H(nonce ‖ body) ‖ H(wrapped_1 ‖ … ‖
    wrapped_n)``, ``H`` = BLAKE2b-256.
    """
    return (
        b"RN-sig-v1"
        + lp(bytes(header))
        + bytes(c)
        + bytes(kc)
        + blake2b_256(bytes(nonce) + bytes(body))
        + blake2b_256(b"".join(bytes(w) for w in wrapped))
    )


def _envelope_sig_message(env: Envelope) -> bytes:
    return sig_message(env.header, env.c, env.kc, env.nonce, env.body, env.wrapped)


def verify_envelope_signature(identity_pk: bytes, envelope: Envelope) -> bool:
    """True when ``envelope.sig`` verifies under the sender's identity key."""
    return verify_detached(identity_pk, _envelope_sig_message(envelope), envelope.sig)


def encrypt_message(
    sign_secret: bytes,
    conv_id: str,
    sender_id: str,
    seq: int,
    roster: Sequence[RosterMember],
    text: str,
    sent_at: str,
    *,
    msg_id: bytes | None = None,
) -> SentMessage:
    """Build a signed envelope for every roster member (mailbox-protocol steps 1-8).

    The caller must have checked the roster first (enc_certs, moderator certificates, at
    least one moderator): this function only encrypts to the keys it is given.

    :param sign_secret: the sender's identity seed (32 bytes) or secret key (64 bytes).
    :raises ValueError: text too long, malformed roster or keys.
    """
    identity_pk = bytes(_signing_key(sign_secret).verify_key)
    msg_id = secrets.token_bytes(MSG_ID_BYTES) if msg_id is None else msg_id
    members = _sorted_roster(roster)
    m = pad_plaintext(text, sent_at)
    header = build_header(conv_id, msg_id, sender_id, seq, identity_pk, members)
    kf = secrets.token_bytes(KEY_BYTES)
    c = franking_commitment(kf, header, m)
    key = secrets.token_bytes(KEY_BYTES)
    kc = key_commitment(key)
    nonce = secrets.token_bytes(NONCE_BYTES)
    body = seal_body(key, nonce, header, c, kc, kf, m)
    wrapped = tuple(wrap_key_for(key, member.enc_pk) for member in members)
    sig = sign_detached(sign_secret, sig_message(header, c, kc, nonce, body, wrapped))
    envelope = Envelope(header, c, kc, nonce, body, wrapped, sig)
    return SentMessage(envelope=envelope, msg_id=bytes(msg_id), kf=kf, m=m)


def open_envelope(
    envelope: Envelope,
    my_user_id: str,
    my_box_pk: bytes,
    my_box_sk: bytes,
    sender_identity_pk: bytes,
    expected_roster: Sequence[RosterMember],
    *,
    conv_id: str | None = None,
) -> OpenedMessage:
    """Run every receiving check and return the message only if all hold.

    Checks: sizes; header parses; the header's roster equals ``expected_roster``
    (same members, keys and epochs); the sender is on it and
    ``sender_identity_pk`` is the key the header names; ``conv_id`` matches when
    given; I am on the roster with ``my_box_pk``; one wrapped key per member;
    ``sig``; my wrapped key opens; ``kc``; the body decrypts; ``c`` recomputes
    from ``kf ‖ m``; ``m`` unpads to the expected JSON.

    :raises VerificationError: naming the failed check (never the plaintext).
    """
    try:
        envelope.check_sizes()
        parsed = parse_header(envelope.header)
    except ProtocolError as exc:
        raise VerificationError(f"malformed envelope: {exc}") from None
    try:
        expected = header_roster(expected_roster)
    except ValueError:
        raise VerificationError("expected roster is malformed") from None
    if conv_id is not None and parsed.conv_id != conv_id:
        raise VerificationError("header names another conversation")
    if parsed.roster != expected:
        raise VerificationError("header roster does not match the conversation's keys")
    ids = [entry.user_id for entry in parsed.roster]
    if parsed.sender_id not in ids:
        raise VerificationError("sender is not on the roster")
    if (
        not isinstance(sender_identity_pk, bytes | bytearray)
        or len(sender_identity_pk) != KEY_BYTES
        or not hmac.compare_digest(parsed.sender_identity_hash, blake2b_256(bytes(sender_identity_pk)))
    ):
        raise VerificationError("header names another sender identity key")
    if my_user_id not in ids:
        raise VerificationError("I am not on the roster")
    index = ids.index(my_user_id)
    if len(my_box_pk) != KEY_BYTES or parsed.roster[index].enc_pk_hash != blake2b_256(bytes(my_box_pk)):
        raise VerificationError("header roster names another key for me")
    if len(envelope.wrapped) != len(ids):
        raise VerificationError("one wrapped key per roster member is required")
    if not verify_envelope_signature(sender_identity_pk, envelope):
        raise VerificationError("signature does not verify")
    key = unwrap_key(envelope.wrapped[index], my_box_pk, my_box_sk)
    if not hmac.compare_digest(key_commitment(key), envelope.kc):
        raise VerificationError("key commitment does not match")
    inner = open_body(key, envelope.nonce, envelope.header, envelope.c, envelope.kc, envelope.body)
    kf, m = inner[:KEY_BYTES], inner[KEY_BYTES:]
    if not hmac.compare_digest(franking_commitment(kf, envelope.header, m), envelope.c):
        raise VerificationError("franking commitment does not match")
    try:
        text, sent_at = unpad_plaintext(m)
    except ProtocolError:
        raise VerificationError("plaintext is malformed") from None
    return OpenedMessage(text=text, sent_at=sent_at, kf=kf, m=m, header=parsed)


# --- server-side helpers -----------------------------------------------------


def reporting_rf(server_frank_key: bytes, c: bytes, conv_id: str, msg_id: bytes, received_ms: int) -> bytes:
    """Server's reporting tag.

    ``rf = HMAC-SHA256(server_frank_key, "RN-rf-v1" ‖ c ‖ lp(conv_id) ‖ lp(msg_id)
    ‖ u64(received_ms))``.
    """
    _need(server_frank_key, KEY_BYTES, "server_frank_key")
    data = b"RN-rf-v1" + bytes(c) + _lps(conv_id) + lp(bytes(msg_id)) + u64(received_ms)
    return _hmac256(bytes(server_frank_key), data)


def convlog_entry(
    prev: bytes,
    msg_id: bytes,
    c: bytes,
    kc: bytes,
    nonce: bytes,
    body: bytes,
    sig: bytes,
    received_ms: int,
) -> bytes:
    """Conversation chain entry ``e_i``.

    ``SHA-256("RN-convlog-v1" ‖ prev ‖ lp(msg_id) ‖ c ‖ kc ‖ H(nonce ‖ body) ‖ sig
    ‖ u64(received_ms))``. The first entry uses ``prev = CONVLOG_GENESIS`` (32
    zero bytes: the spec leaves ``e_0`` implicit; same convention as the key log).
    """
    _need(prev, 32, "prev")
    data = (
        b"RN-convlog-v1"
        + bytes(prev)
        + lp(bytes(msg_id))
        + bytes(c)
        + bytes(kc)
        + blake2b_256(bytes(nonce) + bytes(body))
        + bytes(sig)
        + u64(received_ms)
    )
    return hashlib.sha256(data).digest()


def receipt_message(e_i: bytes, i: int) -> bytes:
    """``"RN-receipt-v1" ‖ e_i ‖ u64(i)`` (signed by the server)."""
    _need(e_i, 32, "e_i")
    return b"RN-receipt-v1" + bytes(e_i) + u64(i)


def modaction_message(e_i: bytes, action: str, reason: str) -> bytes:
    """``"RN-modaction-v1" ‖ e_i ‖ lp(action) ‖ lp(reason)`` (moderator signs)."""
    _need(e_i, 32, "e_i")
    return b"RN-modaction-v1" + bytes(e_i) + _lps(action) + _lps(reason)


def verify_report(header: bytes, m: bytes, kf: bytes, c: bytes) -> bool:
    """True when a reported ``(m, kf)`` recomputes the stored commitment ``c``."""
    if not isinstance(kf, bytes | bytearray) or len(kf) != KEY_BYTES:
        return False
    return hmac.compare_digest(franking_commitment(kf, header, m), bytes(c))


def convlog_modaction_entry(
    prev: bytes,
    msg_id: bytes,
    action: str,
    reason: str,
    moderator_id: str,
    sig: bytes,
    ms: int,
) -> bytes:
    """Conversation chain entry ``e_i`` for a moderator's action on a message (our definition).

    ``SHA-256("RN-convlog-modaction-v1" ‖ prev ‖ lp(msg_id) ‖ lp(action) ‖ lp(reason)
    ‖ lp(moderator_id) ‖ sig ‖ u64(ms))``; ``sig`` is the moderator's signature over
    :func:`modaction_message` and ``ms`` the time the server accepted the action. Message
    entries and action entries share one chain per conversation.
    """
    _need(prev, 32, "prev")
    data = (
        b"RN-convlog-modaction-v1"
        + bytes(prev)
        + lp(bytes(msg_id))
        + _lps(action)
        + _lps(reason)
        + _lps(moderator_id)
        + bytes(sig)
        + u64(ms)
    )
    return hashlib.sha256(data).digest()


def canonical_json(doc: object) -> bytes:
    """The one byte form of a JSON document used for evidence bundles.

    Keys sorted, no whitespace, UTF-8 (non-ASCII kept as is). Integers and strings only in
    practice; floats are refused so that no two writers can disagree on a number's spelling.

    :raises ValueError: when the document holds a float or a non-JSON value.
    """

    def _check(value: object) -> None:
        if isinstance(value, float):
            raise ValueError("floats are not allowed in canonical JSON")
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ValueError("object keys must be strings")
                _check(item)
        elif isinstance(value, list):
            for item in value:
                _check(item)

    _check(doc)
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return _utf8(text)


def export_message(parts: Sequence[tuple[str, bytes]]) -> bytes:
    """What the server signs over an evidence bundle (our definition, not in the spec).

    ``"RN-export-v1" ‖ u32(n)`` then, per part in order, ``lp(name) ‖ SHA-256(canonical_json(part))``
    (the caller passes the 32-byte hashes).
    """
    out = [b"RN-export-v1", u32(len(parts))]
    for name, digest in parts:
        _need(digest, 32, "part hash")
        out += [_lps(name), bytes(digest)]
    return b"".join(out)
