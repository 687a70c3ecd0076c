"""Moderators' decisions on proposals, safeguarding flags on claims, and each person's consent."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from reunite.extensions import db
from reunite.types import UTCDateTime, str_enum, utcnow


class DecisionAction(enum.StrEnum):
    """What a moderator decided."""

    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_INFO = "request_info"


class Decision(db.Model):  # type: ignore[name-defined,misc]
    """One moderator's decision on a proposal (kept for the record; the proposal holds the state)."""

    __tablename__ = "decision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposal.id", ondelete="CASCADE"), index=True)
    moderator_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    action: Mapped[DecisionAction] = mapped_column(str_enum(DecisionAction))
    reason: Mapped[str] = mapped_column(Text, default="")
    # Which claim an information request is for ("child" or "parent"), else "".
    addressed_to: Mapped[str] = mapped_column(String(8), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Flag(db.Model):  # type: ignore[name-defined,misc]
    """A safeguarding flag on a claim (e.g. a protection order). Never shown to the other party."""

    __tablename__ = "flag"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id", ondelete="CASCADE"), index=True)
    raised_by: Mapped[int] = mapped_column(ForeignKey("user.id"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cleared_by: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clear_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def is_active(self) -> bool:
        """Not yet cleared by an admin."""
        return self.cleared_at is None


class ConsentState(enum.StrEnum):
    """A person's answer to a possible match."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class Consent(db.Model):  # type: ignore[name-defined,misc]
    """One person's side of an approved proposal: what they share and whether they agree to talk."""

    __tablename__ = "consent"
    __table_args__ = (UniqueConstraint("proposal_id", "side"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposal.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    side: Mapped[str] = mapped_column(String(8))  # "child" or "parent"
    state: Mapped[ConsentState] = mapped_column(str_enum(ConsentState), default=ConsentState.PENDING)
    # Only these two are ever shown to the other person, and only after this person accepted.
    shared_name: Mapped[str] = mapped_column(String(120), default="")
    shared_message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
