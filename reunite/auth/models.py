"""Accounts, their public keys and sealed key bundles, and the hash-chained key log."""

from __future__ import annotations

import enum
from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from reunite.extensions import db
from reunite.types import UTCDateTime, str_enum, utcnow


class Role(enum.StrEnum):
    """What an account may do."""

    CHILD = "child"
    PARENT = "parent"
    MODERATOR = "moderator"
    ADMIN = "admin"


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    """An account. The server holds only hashes of the auth keys and sealed (encrypted) key bundles."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    username: Mapped[str] = mapped_column(String(64))
    username_key: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(str_enum(Role))
    locale: Mapped[str] = mapped_column(String(8), default="en")
    birth_year: Mapped[int | None] = mapped_column(Integer)
    birth_month: Mapped[int | None] = mapped_column(Integer)
    # Optional address for notification mail; shown only to its owner, never in logs or repr.
    email: Mapped[str | None] = mapped_column(String(254))

    kdf_salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    kdf_ops: Mapped[int] = mapped_column(Integer)
    kdf_mem: Mapped[int] = mapped_column(BigInteger)
    auth_hash: Mapped[str] = mapped_column(String(255))
    recovery_hash: Mapped[str] = mapped_column(String(255))

    identity_pk: Mapped[bytes] = mapped_column(LargeBinary(32))
    enc_pk: Mapped[bytes] = mapped_column(LargeBinary(32))
    enc_epoch: Mapped[int] = mapped_column(Integer, default=1)
    enc_cert: Mapped[bytes] = mapped_column(LargeBinary(64))
    bundle_nonce: Mapped[bytes] = mapped_column(LargeBinary(24))
    bundle_ct: Mapped[bytes] = mapped_column(LargeBinary)
    recovery_nonce: Mapped[bytes] = mapped_column(LargeBinary(24))
    recovery_ct: Mapped[bytes] = mapped_column(LargeBinary)

    # Moderators: the organisation's certificate over their identity key.
    modcert_sig: Mapped[bytes | None] = mapped_column(LargeBinary(64))
    modcert_expires_ms: Mapped[int | None] = mapped_column(BigInteger)

    # Moderators and admins: TOTP secret, sealed under a key derived from SECRET_KEY.
    totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)

    # Admin reset: a one-time code (stored hashed) that lets the person set new credentials and keys.
    reset_hash: Mapped[str | None] = mapped_column(String(255))
    reset_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Changing this value ends every other session of the account (password change, reset).
    session_nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    keys_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the person erased the account: the row is then a tombstone that keeps only the
    # public id, the role and the public keys (see reunite.auth.erasure).
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_erased(self) -> bool:
        """Whether the account was erased (a tombstone that can never log in)."""
        return self.erased_at is not None

    def get_id(self) -> str:
        """Flask-Login identity: public id plus the session nonce, so a nonce change logs out."""
        return f"{self.public_id}:{self.session_nonce}"

    @property
    def is_staff(self) -> bool:
        """Moderators and admins, who must use TOTP."""
        return self.role in (Role.MODERATOR, Role.ADMIN)

    @property
    def has_totp(self) -> bool:
        """Whether a TOTP secret has been set up and confirmed."""
        return self.totp_confirmed_at is not None

    def is_minor_on(self, day: date) -> bool:
        """Whether the person may still be under 18 on `day` (unknown month counts as December)."""
        if self.role != Role.CHILD:
            return False
        if self.birth_year is None:
            return True
        # Without the day, the person counts as a minor through the whole birth month.
        return (day.year, day.month) <= (self.birth_year + 18, self.birth_month or 12)

    def __repr__(self) -> str:
        return f"<User {self.public_id} {self.role.value}>"


class KeyLogEntry(db.Model):  # type: ignore[name-defined,misc]
    """One key event (registration, new epoch, reset) in the append-only, hash-chained key log."""

    __tablename__ = "key_log_entry"
    __table_args__ = (UniqueConstraint("seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    user_public_id: Mapped[str] = mapped_column(String(32), index=True)
    event: Mapped[str] = mapped_column(String(16))
    identity_pk: Mapped[bytes] = mapped_column(LargeBinary(32))
    enc_pk: Mapped[bytes] = mapped_column(LargeBinary(32))
    epoch: Mapped[int] = mapped_column(Integer)
    ms: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # The enc_cert of these keys (not part of the hashed entry: it verifies under identity_pk on
    # its own). Kept so clients can check messages sent before a later reset; null in old rows.
    enc_cert: Mapped[bytes | None] = mapped_column(LargeBinary(64), nullable=True)


class KeyLogHead(db.Model):  # type: ignore[name-defined,misc]
    """The single row that serialises appends to the key log (locked FOR UPDATE)."""

    __tablename__ = "key_log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    head: Mapped[bytes] = mapped_column(LargeBinary(32))


class KeyLogCheckpoint(db.Model):  # type: ignore[name-defined,misc]
    """A server-signed (size, head) statement over the key log."""

    __tablename__ = "key_log_checkpoint"
    __table_args__ = (UniqueConstraint("size"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    head: Mapped[bytes] = mapped_column(LargeBinary(32))
    sig: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
