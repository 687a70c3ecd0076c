"""Conversations, rosters, encrypted messages, the per-conversation hash chain, moderator actions and reports."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false

from reunite.extensions import db
from reunite.types import UTCDateTime, str_enum, utcnow


class ConversationState(enum.StrEnum):
    """Whether messages can be sent."""

    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"


class Conversation(db.Model):  # type: ignore[name-defined,misc]
    """A conversation between the child and the parent of an approved, accepted proposal."""

    __tablename__ = "conversation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposal.id"), unique=True)
    state: Mapped[ConversationState] = mapped_column(
        str_enum(ConversationState),
        default=ConversationState.OPEN,
    )
    # Messages are held for a moderator while a minor takes part, or when a moderator says so.
    is_premoderated: Mapped[bool] = mapped_column(Boolean, default=False)
    close_reason: Mapped[str | None] = mapped_column(String(200))
    # A member's keys changed (admin reset) in a conversation with a child: no messages until a
    # moderator has confirmed the new keys.
    keys_changed_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Member(db.Model):  # type: ignore[name-defined,misc]
    """A roster entry: the child, the parent, or a moderator."""

    __tablename__ = "conversation_member"
    __table_args__ = (UniqueConstraint("conversation_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # "child", "parent", "moderator"
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The username of a member who erased their account, kept only in this conversation's record
    # for the members who remain: every enc_cert signs the username, so without it their
    # clients could not verify any message of the conversation any more.
    departed_username: Mapped[str | None] = mapped_column(String(64))


class MessageState(enum.StrEnum):
    """Whether a message has reached everyone on the roster."""

    HELD = "held"
    DELIVERED = "delivered"
    REJECTED = "rejected"


class ChainHead(db.Model):  # type: ignore[name-defined,misc]
    """The row that serialises appends to one conversation's chain (locked FOR UPDATE)."""

    __tablename__ = "conversation_chain_head"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    head: Mapped[bytes] = mapped_column(LargeBinary(32))


class Message(db.Model):  # type: ignore[name-defined,misc]
    """An envelope as the sender signed it (ciphertext only), with its chain entry and receipt."""

    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("conversation_id", "msg_id"),
        UniqueConstraint("conversation_id", "chain_index"),
        UniqueConstraint("conversation_id", "sender_id", "seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"), index=True)
    msg_id: Mapped[bytes] = mapped_column(LargeBinary(16))
    sender_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    header: Mapped[bytes] = mapped_column(LargeBinary)
    c: Mapped[bytes] = mapped_column(LargeBinary(32))
    kc: Mapped[bytes] = mapped_column(LargeBinary(32))
    nonce: Mapped[bytes] = mapped_column(LargeBinary(24))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # The sealed copies of the message key, base64url, in roster order.
    wrapped: Mapped[list[str]] = mapped_column(JSON)
    sig: Mapped[bytes] = mapped_column(LargeBinary(64))
    received_ms: Mapped[int] = mapped_column(BigInteger)
    rf: Mapped[bytes] = mapped_column(LargeBinary(32))
    chain_index: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    receipt: Mapped[bytes] = mapped_column(LargeBinary(64))
    state: Mapped[MessageState] = mapped_column(str_enum(MessageState), index=True)
    # Written by a moderator who rejected (or released) the message; shown to its sender.
    moderation_reason: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<Message {self.chain_index} of conversation {self.conversation_id} {self.state.value}>"


class ModAction(db.Model):  # type: ignore[name-defined,misc]
    """A moderator's signed release or rejection of a held message, appended to the chain."""

    __tablename__ = "mod_action"
    __table_args__ = (UniqueConstraint("conversation_id", "chain_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"), index=True)
    moderator_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    action: Mapped[str] = mapped_column(String(8))  # "release" or "reject"
    reason: Mapped[str] = mapped_column(Text, default="")
    sig: Mapped[bytes] = mapped_column(LargeBinary(64))
    ms: Mapped[int] = mapped_column(BigInteger)
    chain_index: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    receipt: Mapped[bytes] = mapped_column(LargeBinary(64))


class Report(db.Model):  # type: ignore[name-defined,misc]
    """A recipient's report: the only plaintext the server ever holds, revealed by that person's choice."""

    __tablename__ = "message_report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"), index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    m: Mapped[bytes] = mapped_column(LargeBinary)
    kf: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Report {self.public_id}>"


class ReadPosition(db.Model):  # type: ignore[name-defined,misc]
    """How far a member has read a conversation's chain (for unread counts)."""

    __tablename__ = "conversation_read"
    __table_args__ = (UniqueConstraint("conversation_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    last_index: Mapped[int] = mapped_column(BigInteger, default=0)


class KeyChange(db.Model):  # type: ignore[name-defined,misc]
    """A member's keys changed (admin reset); shown to the other members, confirmed by a moderator."""

    __tablename__ = "conversation_key_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    epoch: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
