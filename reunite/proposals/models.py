"""The proposals the matcher makes: a child claim linked to one child of a parent claim."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from reunite.extensions import db
from reunite.types import UTCDateTime, str_enum, utcnow


class ProposalStatus(enum.StrEnum):
    """Where a proposal stands in moderation."""

    PROPOSED = "proposed"
    INFO_REQUESTED = "info_requested"
    HALF_APPROVED = "half_approved"  # a minor is involved: one of two approvals given
    APPROVED = "approved"
    REJECTED = "rejected"
    CLOSED = "closed"


class Proposal(db.Model):  # type: ignore[name-defined,misc]
    """A proposed link from a child claim to one child of a parent claim, with score and explanation."""

    __tablename__ = "proposal"
    __table_args__ = (UniqueConstraint("child_claim_id", "parent_claim_id", "child_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    # Null once the person whose claim it was erased their account (the closed proposal stays
    # because a conversation may refer to it).
    child_claim_id: Mapped[int | None] = mapped_column(ForeignKey("claim.id", ondelete="CASCADE"), index=True)
    parent_claim_id: Mapped[int | None] = mapped_column(ForeignKey("claim.id", ondelete="CASCADE"), index=True)
    child_ref: Mapped[str] = mapped_column(String(40))
    score: Mapped[float] = mapped_column(Float)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Hash of the claim content in the fields that matched: a rejected pair comes back only when it changes.
    matched_sig: Mapped[str] = mapped_column(String(64))
    status: Mapped[ProposalStatus] = mapped_column(
        str_enum(ProposalStatus),
        default=ProposalStatus.PROPOSED,
        index=True,
    )
    # Bumped by every decision: a decision names the state it saw, so of two at once exactly one wins.
    state_version: Mapped[int] = mapped_column(Integer, default=1)
    involves_minor: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<Proposal {self.public_id} {self.status.value} {self.score}>"
