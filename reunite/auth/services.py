"""Account rules: registration, login, password change, recovery, admin reset and TOTP.

The server never sees a password or a private key: it receives `auth_key` (derived in the
client), stores only an argon2id hash of it, and keeps key bundles sealed by the client.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from flask_babel import gettext as _
from nacl.exceptions import CryptoError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from reunite.auth import keylog
from reunite.auth.models import Role, User
from reunite.client import protocol as p
from reunite.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from reunite.extensions import db
from reunite.keys import fake_salt, totp_box
from reunite.types import utcnow

_hashers: dict[tuple[int, int], tuple[PasswordHasher, str]] = {}


def _hasher_and_dummy() -> tuple[PasswordHasher, str]:
    """The server-side argon2id hasher (parameters from config) and a dummy hash made with it.

    The dummy hash is verified against when the username is unknown, so both paths cost the same.
    """
    cfg = current_app.config
    key = (int(cfg.get("AUTH_HASH_TIME_COST", 3)), int(cfg.get("AUTH_HASH_MEMORY_KIB", 65536)))
    if key not in _hashers:
        hasher = PasswordHasher(time_cost=key[0], memory_cost=key[1])
        _hashers[key] = (hasher, hasher.hash(secrets.token_bytes(32)))
    return _hashers[key]


class _Hasher:
    """Module-level handle that always uses the current app's parameters."""

    def hash(self, secret: bytes) -> str:
        return _hasher_and_dummy()[0].hash(secret)

    def verify(self, stored: str, secret: bytes) -> bool:
        return _hasher_and_dummy()[0].verify(stored, secret)

    def check_needs_rehash(self, stored: str) -> bool:
        return _hasher_and_dummy()[0].check_needs_rehash(stored)


_hasher = _Hasher()
RESET_VALID_FOR = timedelta(hours=72)
MAX_BUNDLE = 4096
USERNAME_MAX = 64


def normalise_username(raw: str) -> tuple[str, str]:
    """Return (username in NFC, uniqueness key) or raise Invalid naming the field."""
    name = unicodedata.normalize("NFC", raw.strip())
    if not 3 <= len(name) <= USERNAME_MAX:
        raise Invalid(_("A username has 3 to %(max)s characters.", max=USERNAME_MAX), field="username")
    for ch in name:
        cat = unicodedata.category(ch)
        if cat[0] in ("C", "Z") or ch in "@/\\:":
            raise Invalid(_("A username may not contain spaces, control characters or @ / \\ :."), field="username")
    return name, unicodedata.normalize("NFKC", name).casefold()


def find_user(username: str) -> User | None:
    """The account for a username, or None (also for malformed names)."""
    try:
        _, key = normalise_username(username)
    except Invalid:
        return None
    return db.session.scalars(select(User).where(User.username_key == key)).first()


def check_kdf(ops: int, mem: int) -> None:
    """Refuse KDF parameters outside the range clients are allowed to use."""
    try:
        p.check_kdf_params(ops, mem)
    except ValueError as err:
        raise Invalid(str(err), field="ops") from err


@dataclass(frozen=True)
class SealedBundle:
    """A key bundle sealed by the client (nonce and ciphertext)."""

    nonce: bytes
    ciphertext: bytes = field(repr=False)


@dataclass(frozen=True)
class Credentials:
    """What the client derives from a password: salt, KDF parameters, auth key, sealed bundle."""

    salt: bytes
    ops: int
    mem: int
    auth_key: bytes = field(repr=False)
    bundle: SealedBundle = field(repr=False)


@dataclass(frozen=True)
class KeyMaterial:
    """Public keys, the enc-key certificate and the recovery copy, made by the client."""

    identity_pk: bytes
    enc_pk: bytes
    epoch: int
    enc_cert: bytes
    recovery_bundle: SealedBundle = field(repr=False)
    recovery_auth: bytes = field(repr=False)


@dataclass(frozen=True)
class Registration:
    """A self-registration or operator-created account."""

    username: str
    role: Role
    credentials: Credentials
    keys: KeyMaterial
    locale: str = "en"
    birth_year: int | None = None
    birth_month: int | None = None


def _check_keys(username: str, keys: KeyMaterial, expected_epoch: int) -> None:
    if keys.epoch != expected_epoch:
        raise Invalid(_("The key epoch must be %(epoch)s.", epoch=expected_epoch), field="epoch")
    if not p.verify_enc_cert(keys.identity_pk, username, keys.enc_pk, keys.epoch, keys.enc_cert):
        raise Invalid(_("The enc_cert signature does not verify for this username and keys."), field="enc_cert")
    if len(keys.recovery_bundle.ciphertext) > MAX_BUNDLE:
        raise Invalid(_("The recovery bundle is too large."), field="recovery_bundle")


def _check_credentials(creds: Credentials) -> None:
    check_kdf(creds.ops, creds.mem)
    if len(creds.bundle.ciphertext) > MAX_BUNDLE:
        raise Invalid(_("The key bundle is too large."), field="bundle")


def _apply_credentials(user: User, creds: Credentials) -> None:
    user.kdf_salt = creds.salt
    user.kdf_ops = creds.ops
    user.kdf_mem = creds.mem
    user.auth_hash = _hasher.hash(creds.auth_key)
    user.bundle_nonce = creds.bundle.nonce
    user.bundle_ct = creds.bundle.ciphertext


def _apply_keys(user: User, keys: KeyMaterial) -> None:
    user.identity_pk = keys.identity_pk
    user.enc_pk = keys.enc_pk
    user.enc_epoch = keys.epoch
    user.enc_cert = keys.enc_cert
    user.recovery_nonce = keys.recovery_bundle.nonce
    user.recovery_ct = keys.recovery_bundle.ciphertext
    user.recovery_hash = _hasher.hash(keys.recovery_auth)
    user.keys_changed_at = utcnow()


def validate_birth(role: Role, year: int | None, month: int | None, today: date) -> None:
    """Children give at least their birth year; it decides whether their messages are pre-moderated."""
    if role == Role.CHILD and year is None:
        raise Invalid(_("Children give their year of birth."), field="birth_year")
    if year is not None and not today.year - 120 <= year <= today.year:
        raise Invalid(_("The year of birth is not plausible."), field="birth_year")
    if month is not None and not 1 <= month <= 12:
        raise Invalid(_("The month of birth must be 1 to 12."), field="birth_month")


def register(reg: Registration, *, self_service: bool = True) -> User:
    """Create an account and append its keys to the key log.

    :raises Invalid: a field is malformed or the certificate does not verify.
    :raises Conflict: the username is taken.
    """
    username, key = normalise_username(reg.username)
    if username != reg.username:
        raise Invalid(_("Send the username in NFC form without surrounding spaces."), field="username")
    if self_service and reg.role not in (Role.CHILD, Role.PARENT):
        raise Forbidden(_("Only children and parents can register themselves."))
    if reg.locale not in current_app.config["LANGUAGES"]:
        raise Invalid(_("Unknown language."), field="locale")
    validate_birth(reg.role, reg.birth_year, reg.birth_month, datetime.now(UTC).date())
    _check_credentials(reg.credentials)
    _check_keys(username, reg.keys, 1)
    if db.session.scalars(select(User.id).where(User.username_key == key)).first() is not None:
        raise Conflict(_("This username is taken. Choose another."), field="username")
    user = User(
        public_id="u-" + secrets.token_hex(8),
        username=username,
        username_key=key,
        role=reg.role,
        locale=reg.locale,
        birth_year=reg.birth_year if reg.role == Role.CHILD else None,
        birth_month=reg.birth_month if reg.role == Role.CHILD else None,
        session_nonce=secrets.token_hex(8),
    )
    _apply_credentials(user, reg.credentials)
    _apply_keys(user, reg.keys)
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError as err:
        db.session.rollback()
        raise Conflict(_("This username is taken. Choose another."), field="username") from err
    keylog.append(user, "register")
    return user


@dataclass(frozen=True)
class Prelogin:
    """The salt and KDF parameters a client needs to derive its keys."""

    salt: bytes
    ops: int
    mem: int


def prelogin(username: str) -> Prelogin:
    """Real parameters for a known username; a stable fake salt and default parameters otherwise."""
    user = find_user(username)
    if user is not None:
        return Prelogin(user.kdf_salt, user.kdf_ops, user.kdf_mem)
    try:
        _, key = normalise_username(username)
    except Invalid:
        key = unicodedata.normalize("NFKC", username).casefold()
    return Prelogin(fake_salt(key), p.DEFAULT_OPS, p.DEFAULT_MEM)


def _verify_hash(stored: str | None, secret: bytes) -> bool:
    try:
        return _hasher.verify(stored or _hasher_and_dummy()[1], secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(username: str, auth_key: bytes) -> User:
    """The account whose auth key this is.

    :raises Unauthorized: wrong key or unknown user, with the same message and about the same cost.
    """
    user = find_user(username)
    ok = _verify_hash(user.auth_hash if user else None, auth_key)
    if user is None or not ok:
        raise Unauthorized(_("Wrong username or password."))
    if _hasher.check_needs_rehash(user.auth_hash):
        user.auth_hash = _hasher.hash(auth_key)
    return user


def change_password(user: User, old_auth_key: bytes, creds: Credentials) -> None:
    """Replace salt, auth key and sealed bundle in one step after proving the old auth key."""
    if not _verify_hash(user.auth_hash, old_auth_key):
        raise Unauthorized(_("The current password is wrong."))
    _check_credentials(creds)
    _apply_credentials(user, creds)
    user.session_nonce = secrets.token_hex(8)


def _recovering_user(username: str, recovery_auth: bytes) -> User:
    user = find_user(username)
    ok = _verify_hash(user.recovery_hash if user else None, recovery_auth)
    if user is None or not ok:
        raise Unauthorized(_("Wrong username or recovery key."))
    return user


def recovery_bundle(username: str, recovery_auth: bytes) -> User:
    """The account after proving the recovery key (the caller returns its recovery copy)."""
    return _recovering_user(username, recovery_auth)


def recover(username: str, recovery_auth: bytes, creds: Credentials) -> User:
    """Set a new password after proving the recovery key; keys stay the same."""
    user = _recovering_user(username, recovery_auth)
    _check_credentials(creds)
    _apply_credentials(user, creds)
    user.session_nonce = secrets.token_hex(8)
    return user


def issue_reset(admin: User, target_public_id: str) -> str:
    """Let an admin issue a one-time reset code for an account whose password and recovery key are lost.

    :returns: the code, shown once to the admin and handed to the person out of band.
    """
    if admin.role != Role.ADMIN:
        raise Forbidden(_("Only administrators can reset accounts."))
    user = db.session.scalars(select(User).where(User.public_id == target_public_id)).first()
    if user is None or user.erased_at is not None:  # an erased account has nothing to reset
        raise NotFound(_("No such account."))
    raw = base64.b32encode(secrets.token_bytes(15)).decode()
    code = "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))
    user.reset_hash = _hasher.hash(code.encode())
    user.reset_expires_at = utcnow() + RESET_VALID_FOR
    return code


def _resetting_user(username: str, code: str) -> User:
    user = find_user(username)
    ok = _verify_hash(user.reset_hash if user else None, code.strip().upper().encode())
    if user is None or not ok or user.reset_expires_at is None or user.reset_expires_at < utcnow():
        raise Unauthorized(_("Wrong username or reset code, or the code has expired."))
    return user


def reset_epoch(username: str, code: str) -> int:
    """The epoch the client must use for its new keys."""
    return _resetting_user(username, code).enc_epoch + 1


def complete_reset(username: str, code: str, creds: Credentials, keys: KeyMaterial) -> User:
    """Install new credentials and new keys (next epoch); logs the key change and ends other sessions."""
    user = _resetting_user(username, code)
    _check_credentials(creds)
    _check_keys(user.username, keys, user.enc_epoch + 1)
    _apply_credentials(user, creds)
    _apply_keys(user, keys)
    user.reset_hash = None
    user.reset_expires_at = None
    user.session_nonce = secrets.token_hex(8)
    # A new identity key invalidates the moderator certificate until it is certified again.
    user.modcert_sig = None
    user.modcert_expires_ms = None
    keylog.append(user, "reset")
    from reunite.mailbox.services import keys_changed  # late: the mailbox imports this module's models

    keys_changed(user)
    return user


# --- TOTP for moderators and admins -------------------------------------------------------------


def totp_secret(user: User) -> str | None:
    """The account's TOTP secret, unsealed, or None."""
    if user.totp_sealed is None:
        return None
    try:
        return totp_box().decrypt(user.totp_sealed).decode()
    except CryptoError:
        return None


def begin_totp(user: User) -> str:
    """Create (or return the pending) TOTP secret for a staff account that has not confirmed one."""
    if not user.is_staff:
        raise Forbidden(_("Only moderators and administrators use TOTP."))
    if user.has_totp:
        raise Conflict(_("TOTP is already set up."))
    secret = totp_secret(user)
    if secret is None:
        secret = pyotp.random_base32()
        user.totp_sealed = totp_box().encrypt(secret.encode())
    return secret


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// URI shown as a QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="reunite")


def _check_code(user: User, secret: str, code: str) -> bool:
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6:
        return False
    totp = pyotp.TOTP(secret)
    now = datetime.now(UTC)
    for offset in (-1, 0, 1):
        at = now + timedelta(seconds=30 * offset)
        step = totp.timecode(at)
        if hmac.compare_digest(totp.at(at), code):
            # A code is good once: replaying the same or an older step is refused.
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False
            user.totp_last_step = step
            return True
    return False


def confirm_totp(user: User, code: str) -> None:
    """Confirm setup with a first code from the authenticator app."""
    secret = totp_secret(user)
    if secret is None:
        raise Invalid(_("Start TOTP setup first."), field="code")
    if not _check_code(user, secret, code):
        raise Invalid(_("That code is not right. Check the time on your phone and try the next code."), field="code")
    user.totp_confirmed_at = utcnow()


def verify_totp(user: User, code: str) -> None:
    """Check a login code for an account with confirmed TOTP."""
    secret = totp_secret(user)
    if secret is None or not user.has_totp:
        raise Invalid(_("TOTP is not set up."), field="code")
    if not _check_code(user, secret, code):
        raise Invalid(_("That code is not right. Try the next code from your app."), field="code")


def certify_moderator(user: User, org_seed: bytes, expires_ms: int) -> bytes:
    """Sign the moderator's identity key with the organisation key and store the certificate."""
    if user.role not in (Role.MODERATOR, Role.ADMIN):
        raise Invalid(_("Only moderators can be certified."), field="username")
    sig = p.make_modcert(org_seed, user.public_id, user.identity_pk, expires_ms)
    user.modcert_sig = sig
    user.modcert_expires_ms = expires_ms
    return sig
