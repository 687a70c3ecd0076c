"""Identity claims (claims-v1 content) and their revision history."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reunite.extensions import db
from reunite.types import UTCDateTime, str_enum, utcnow

NEEDS_MATCHING_SQL = "matched_version IS NULL OR matched_version <> version"


class ClaimRole(enum.StrEnum):
    """Who filed the claim: a parent looking for children, or a child looking for a parent."""

    PARENT = "parent"
    CHILD = "child"


class Claim(db.Model):  # type: ignore[name-defined,misc]
    """What one person says about a separated family, as a canonical claims-v1 object.

    ``data`` holds the claims-v1 object without ``id``; the interchange id is ``source_id``
    for imported claims and ``public_id`` for claims made in the app. ``matched_version``
    is set by the matching worker; a claim whose ``matched_version`` differs from
    ``version`` still needs matching.
    """

    __tablename__ = "claim"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    source_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    role: Mapped[ClaimRole] = mapped_column(str_enum(ClaimRole))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    matched_version: Mapped[int | None] = mapped_column(Integer)

    revisions: Mapped[list[ClaimRevision]] = relationship(
        back_populates="claim", order_by="ClaimRevision.version", cascade="all, delete-orphan"
    )

    __table_args__ = (
        # Only the claims still waiting for the matcher are in this index, so the sweep stays cheap.
        Index(
            "ix_claim_needs_matching",
            "id",
            postgresql_where=text(NEEDS_MATCHING_SQL),
            sqlite_where=text(NEEDS_MATCHING_SQL),
        ),
    )

    @property
    def interchange_id(self) -> str:
        """The claims-v1 ``id`` this claim has in exports."""
        return self.source_id or self.public_id

    @property
    def needs_matching(self) -> bool:
        """Whether the matcher has not yet seen the current version."""
        return self.matched_version != self.version

    def __repr__(self) -> str:
        return f"<Claim {self.public_id} {self.role.value} v{self.version}>"


class ClaimRevision(db.Model):  # type: ignore[name-defined,misc]
    """One version of a claim's content, kept so that edits have a history."""

    __tablename__ = "claim_revision"
    __table_args__ = (UniqueConstraint("claim_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    claim: Mapped[Claim] = relationship(back_populates="revisions")

    def __repr__(self) -> str:
        return f"<ClaimRevision claim={self.claim_id} v{self.version}>"
