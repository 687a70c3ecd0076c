"""A notification for one account: a kind, a link inside the site, read state and mail state."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from reunite.extensions import db
from reunite.types import UTCDateTime, str_enum, utcnow


class MailState(enum.StrEnum):
    """Where the e-mail for a notification stands."""

    PENDING = "pending"  # to be sent (or being retried)
    SENT = "sent"
    FAILED = "failed"  # gave up after the last retry or a permanent refusal
    NONE = "none"  # no address: shown only on the page


class Notification(db.Model):  # type: ignore[name-defined,misc]
    """Something on the site needs the person's attention. Holds no names and no content, only a link."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_mail_state_created_at", "mail_state", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    link: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mail_state: Mapped[MailState] = mapped_column(
        str_enum(MailState),
        default=MailState.NONE,
    )
    mail_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The last send attempt: the sweep leaves a mail alone while its retries may still be running.
    mail_attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_read(self) -> bool:
        """Whether the person has marked it read."""
        return self.read_at is not None

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.kind} {self.mail_state.value}>"
