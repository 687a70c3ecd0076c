"""Audit log rows and the head row that serialises appends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from reunite.extensions import db


class AuditEntry(db.Model):  # type: ignore[name-defined,misc]
    """One staff action. Every column is covered by ``entry_hash`` (``seq`` is the key and in the hash).

    ``actor_id`` is deliberately not a foreign key: the log must outlive the account, and a
    cascading update or delete would break the chain.
    """

    __tablename__ = "audit_entry"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_username: Mapped[str | None] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))

    @property
    def created_at(self) -> datetime:
        """When the action was recorded, as an aware UTC datetime."""
        return datetime.fromtimestamp(self.created_ms / 1000, UTC)

    def __repr__(self) -> str:
        return f"<AuditEntry {self.seq} {self.action} {self.target_type}:{self.target_id}>"


class AuditHead(db.Model):  # type: ignore[name-defined,misc]
    """The single row (id 1) locked FOR UPDATE by every append: the chain's size and newest hash."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    head: Mapped[bytes] = mapped_column(LargeBinary(32))
