"""Mailbox rules: rosters, accepting envelopes, the per-conversation chain, moderation, reports, export.

The server never decrypts. It checks what it can check without the message key (who sends, to
which keys, signed by whom, in which order, how large), chains every accepted envelope and
every moderator action, signs a receipt for each, and holds messages for a moderator while the
conversation is pre-moderated. The only plaintext it ever stores is what a recipient chooses
to reveal in a report, and only after it recomputes the franking commitments.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from nacl.exceptions import BadSignatureError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from reunite.auth.models import KeyLogEntry, Role, User
from reunite.client import protocol as p
from reunite.errors import Conflict, Forbidden, Invalid, NotFound
from reunite.extensions import db
from reunite.keys import server_frank_key, server_signing_key
from reunite.mailbox.models import (
    ChainHead,
    Conversation,
    ConversationState,
    KeyChange,
    Member,
    Message,
    MessageState,
    ModAction,
    ReadPosition,
    Report,
)
from reunite.types import utcnow

log = logging.getLogger(__name__)

MAX_ROSTER = 16
MAX_HEADER = 6 + 3 * 4 + 64 + 16 + 4 + 32 + MAX_ROSTER * (4 + 64 + 32 + 4)
# The longest padded plaintext: 16,000 characters that JSON escapes to six bytes each
# (control characters), the JSON frame and a generous sent_at, padded to 256 bytes.
MAX_M = ((p.MAX_TEXT_CHARS * 6 + 512) // p.PAD_BLOCK) * p.PAD_BLOCK
MAX_BODY = p.KEY_BYTES + MAX_M + 16
MAX_REASON = 2000
MAX_NOTE = 2000
PAGE_DEFAULT = 50
PAGE_MAX = 200
EXPORT_FORMAT = "reunite-evidence-v1"


def now_ms() -> int:
    """Milliseconds since the epoch (the protocol's clock)."""
    return int(time.time() * 1000)


# --- rosters ----------------------------------------------------------------------------------


def roster(conv: Conversation) -> list[tuple[Member, User]]:
    """Members with their accounts, in ascending user public id (the order the protocol uses)."""
    rows = db.session.execute(
        select(Member, User).join(User, User.id == Member.user_id).where(Member.conversation_id == conv.id)
    ).all()
    return sorted(((m, u) for m, u in rows), key=lambda mu: mu[1].public_id.encode())


def member_conversation(user: User, public_id: str) -> Conversation:
    """A conversation the user is on the roster of; NotFound otherwise (never reveals existence)."""
    return _seat(user, public_id).conv


@dataclass(frozen=True)
class _Seat:
    """A conversation as one member sees it: the conversation, their roster entry, the whole roster."""

    conv: Conversation
    member: Member
    members: list[tuple[Member, User]]

    @property
    def is_moderator(self) -> bool:
        return self.member.role == "moderator"

    def public_ids(self) -> dict[int, str]:
        return {u.id: u.public_id for _m, u in self.members}


def _seat(user: User, public_id: str) -> _Seat:
    # One round trip for the conversation and its whole roster: every mailbox request starts here,
    # and under load each round trip to the database costs as much as the checks themselves.
    rows = db.session.execute(
        select(Conversation, Member, User)
        .join(Member, Member.conversation_id == Conversation.id)
        .join(User, User.id == Member.user_id)
        .where(Conversation.public_id == public_id)
    ).all()
    if rows:
        conv = rows[0][0]
        members = sorted(((m, u) for _c, m, u in rows), key=lambda mu: mu[1].public_id.encode())
        for member, u in members:
            if u.id == user.id:
                return _Seat(conv, member, members)
    raise NotFound(_("No such conversation."))


def my_conversations(user: User) -> list[Conversation]:
    """Conversations the user is on the roster of, newest first."""
    return list(
        db.session.scalars(
            select(Conversation)
            .join(Member, Member.conversation_id == Conversation.id)
            .where(Member.user_id == user.id)
            .order_by(Conversation.created_at.desc(), Conversation.id.desc())
        )
    )


def _membership(user: User, conv: Conversation) -> Member:
    member = db.session.scalars(
        select(Member).where(Member.conversation_id == conv.id, Member.user_id == user.id)
    ).first()
    if member is None:
        raise NotFound(_("No such conversation."))
    return member


def _is_moderator(member: Member) -> bool:
    return member.role == "moderator"


def has_valid_certificate(user: User) -> bool:
    """Whether the organisation certified this moderator's current identity key and it has not expired."""
    from reunite.moderation.services import has_valid_certificate as check

    return check(user)


def involves_minor(conv: Conversation, members: Sequence[tuple[Member, User]] | None = None) -> bool:
    """Whether a child on the roster may be under 18 today."""
    today = datetime.now(UTC).date()
    return any(u.is_minor_on(today) for m, u in (members if members is not None else roster(conv)) if m.role == "child")


def is_premoderated(conv: Conversation, members: Sequence[tuple[Member, User]] | None = None) -> bool:
    """Messages are held while a minor takes part, and whenever a moderator set it."""
    return bool(conv.is_premoderated) or involves_minor(conv, members)


def _pending_changes(conv: Conversation) -> dict[int, datetime]:
    rows = db.session.execute(
        select(KeyChange.user_id, func.max(KeyChange.created_at))
        .where(KeyChange.conversation_id == conv.id, KeyChange.confirmed_at.is_(None))
        .group_by(KeyChange.user_id)
    ).all()
    return {int(uid): at if at.tzinfo else at.replace(tzinfo=UTC) for uid, at in rows}


def roster_json(conv: Conversation) -> list[dict[str, Any]]:
    """The roster with keys, certificates and unconfirmed key changes, in protocol order."""
    pending = _pending_changes(conv)
    return [roster_member_json(m, u, pending.get(u.id)) for m, u in roster(conv)]


def roster_member_json(member: Member, user: User, keys_changed_at: datetime | None = None) -> dict[str, Any]:
    """A roster entry with the member's current keys and certificates.

    ``keys_changed_at`` is set while a key change of this member waits for a moderator's
    confirmation in this conversation, else null.
    """
    item: dict[str, Any] = {
        "user_id": user.public_id,
        "role": member.role,
        # Clients need the username to check enc_cert, which signs it (auth-and-keys §2); a member
        # who erased their account keeps it only here, in this conversation's record.
        "username": member.departed_username if user.erased_at is not None else user.username,
        "identity_pk": p.b64e(user.identity_pk),
        "enc_pk": p.b64e(user.enc_pk),
        "epoch": user.enc_epoch,
        "enc_cert": p.b64e(user.enc_cert),
        "keys_changed_at": keys_changed_at.isoformat() if keys_changed_at else None,
    }
    if member.role == "moderator" and user.modcert_sig is not None:
        item["modcert"] = {"sig": p.b64e(user.modcert_sig), "expires_ms": user.modcert_expires_ms}
    return item


def _last_seq(conv: Conversation, user: User) -> int:
    value = db.session.scalar(
        select(func.max(Message.seq)).where(Message.conversation_id == conv.id, Message.sender_id == user.id)
    )
    return int(value or 0)


def _key_changes(conv: Conversation) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(KeyChange, User)
        .join(User, User.id == KeyChange.user_id)
        .where(KeyChange.conversation_id == conv.id)
        .order_by(KeyChange.id)
    ).all()
    return [
        {
            "user_id": u.public_id,
            "epoch": k.epoch,
            "changed_at": k.created_at.isoformat(),
            "confirmed": k.confirmed_at is not None,
        }
        for k, u in rows
    ]


def _roster_with_history(conv: Conversation) -> list[dict[str, Any]]:
    """The roster, each entry with ``key_history``: every key of the member with its ``enc_cert``.

    Clients verify each message against the keys its header names, which may be keys a member
    had before an administrator's reset (see docs/mailbox-api.md).
    """
    members = roster(conv)
    history = _key_history([u for _m, u in members], with_certs=True)
    items = roster_json(conv)
    for item in items:
        item["key_history"] = history[item["user_id"]]
    return items


def conversation_json(user: User, public_id: str) -> dict[str, Any]:
    """The conversation with its roster (keys and certificates) for clients to check before sending."""
    conv = member_conversation(user, public_id)
    return {
        "id": conv.public_id,
        "state": conv.state.value,
        "premoderated": is_premoderated(conv),
        "keys_changed_pending": bool(conv.keys_changed_pending),
        "key_changes": _key_changes(conv),
        "roster": _roster_with_history(conv),
        "my_last_seq": _last_seq(conv, user),
        "close_reason": conv.close_reason,
    }


def _visible_messages(conv: Conversation, user: User, member: Member) -> Any:
    """SQL condition: the messages this member may see (held/rejected only to sender and moderators)."""
    cond = Message.conversation_id == conv.id
    if _is_moderator(member):
        return cond
    return cond & or_(Message.state == MessageState.DELIVERED, Message.sender_id == user.id)


def conversation_list(user: User) -> list[dict[str, Any]]:
    """Each of the person's conversations with unread and held counts."""
    out = []
    for conv in my_conversations(user):
        member = _membership(user, conv)
        read = db.session.scalar(
            select(ReadPosition.last_index).where(
                ReadPosition.conversation_id == conv.id, ReadPosition.user_id == user.id
            )
        )
        visible = _visible_messages(conv, user, member)
        unread = db.session.scalar(
            select(func.count(Message.id)).where(
                visible, Message.sender_id != user.id, Message.chain_index > int(read or 0)
            )
        )
        held_query = select(func.count(Message.id)).where(visible, Message.state == MessageState.HELD)
        out.append(
            {
                "id": conv.public_id,
                "state": conv.state.value,
                "premoderated": is_premoderated(conv),
                "keys_changed_pending": bool(conv.keys_changed_pending),
                "unread": int(unread or 0),
                "held": int(db.session.scalar(held_query) or 0),
                "role": member.role,
                "created_at": conv.created_at.isoformat(),
            }
        )
    return out


def member_entries(user: User, public_id: str) -> list[dict[str, Any]]:
    """Every chain entry of a conversation as this member may see it (for the personal-data export).

    Unlike :func:`messages` this does not move the read position.
    """
    return _entries(_seat(user, public_id), 0, None)


def leave_for_erasure(user: User) -> list[int]:
    """Account erasure: close each of the person's conversations for the members who remain.

    The messages, the chain and everyone's sealed copies of the message keys stay: the sender's
    signature covers every copy, so removing the leaving person's copies would make every
    message fail verification for the others. Those copies open only with the person's private
    key, whose sealed copies the erasure deletes. The member row stays (the message headers name
    it) with the username the enc_certs sign; the read position goes. Each remaining member
    gets a notification. Adds and flushes; the caller commits.

    :returns: ids of the notifications to mail after the commit.
    """
    from reunite.notifications.services import notify

    notes: list[int] = []
    now = utcnow()
    for conv in my_conversations(user):
        for member, other in roster(conv):
            if other.id == user.id:
                member.departed_username = user.username
            elif other.erased_at is None:
                notes.append(int(notify(other, "member_left", f"/conversations/{conv.public_id}").id))
        if conv.state != ConversationState.CLOSED:
            conv.state = ConversationState.CLOSED
            conv.closed_at = now
            conv.close_reason = "account_erased"
        db.session.execute(
            delete(ReadPosition).where(ReadPosition.conversation_id == conv.id, ReadPosition.user_id == user.id)
        )
    db.session.flush()
    return notes


# --- the chain --------------------------------------------------------------------------------


def _head_for_update(conv: Conversation) -> ChainHead:
    head = db.session.scalars(select(ChainHead).where(ChainHead.conversation_id == conv.id).with_for_update()).first()
    if head is None:
        try:
            with db.session.begin_nested():
                db.session.add(ChainHead(conversation_id=conv.id, size=0, head=p.CONVLOG_GENESIS))
        except IntegrityError:
            pass  # created by a concurrent first append; lock the row it made
        head = db.session.scalars(select(ChainHead).where(ChainHead.conversation_id == conv.id).with_for_update()).one()
    return head


def _receipt(entry_hash: bytes, index: int) -> bytes:
    return bytes(server_signing_key().sign(p.receipt_message(entry_hash, index)).signature)


# --- sending ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    """The server's answer to a send: where the envelope sits in the chain, and its receipt."""

    index: int
    entry_hash: bytes
    receipt: bytes
    received_ms: int
    state: MessageState
    is_new: bool = True

    def as_json(self) -> dict[str, Any]:
        """The API's answer."""
        return {
            "index": self.index,
            "entry_hash": p.b64e(self.entry_hash),
            "receipt": p.b64e(self.receipt),
            "received_ms": self.received_ms,
            "state": self.state.value,
        }


def _accepted(msg: Message, *, is_new: bool) -> Accepted:
    return Accepted(msg.chain_index, msg.entry_hash, msg.receipt, msg.received_ms, msg.state, is_new)


def _same_envelope(msg: Message, sender: User, seq: int, env: p.Envelope) -> bool:
    stored = (msg.header, msg.c, msg.kc, msg.nonce, msg.body, tuple(msg.wrapped), msg.sig)
    given = (env.header, env.c, env.kc, env.nonce, env.body, tuple(p.b64e(w) for w in env.wrapped), env.sig)
    return msg.sender_id == sender.id and msg.seq == seq and stored == given


def check_sizes(env: p.Envelope) -> None:
    """Refuse envelopes outside the protocol's fixed sizes and the mailbox's limits."""
    try:
        env.check_sizes()
    except p.ProtocolError as err:
        raise Invalid(_("The envelope is malformed: %(problem)s.", problem=str(err)), field="envelope") from err
    if len(env.header) > MAX_HEADER:
        raise Invalid(_("The message header is too large."), field="envelope.header")
    if len(env.body) > MAX_BODY or (len(env.body) - p.KEY_BYTES - 16) % p.PAD_BLOCK:
        raise Invalid(
            _("The message is too long (at most %(max)s characters).", max=p.MAX_TEXT_CHARS), field="envelope.body"
        )


def _check_roster_for_sending(conv: Conversation, members: Sequence[tuple[Member, User]]) -> None:
    mods = [u for m, u in members if m.role == "moderator"]
    if not mods:
        raise Conflict(_("This conversation has no moderator, so no messages can be sent."))
    for mod in mods:
        if not has_valid_certificate(mod):
            raise Conflict(
                _(
                    "A moderator of this conversation (%(name)s) has no valid certificate. "
                    "Messages can be sent again once the organisation renews it.",
                    name=mod.username,
                )
            )


def _check_open(conv: Conversation) -> None:
    if conv.state == ConversationState.CLOSED:
        raise Conflict(_("This conversation is closed. No more messages can be sent."))
    if conv.state == ConversationState.PAUSED:
        raise Conflict(_("A moderator has paused this conversation. You can send again when it is reopened."))
    if conv.keys_changed_pending:
        raise Conflict(
            _("Someone's keys changed. The conversation is paused until a moderator has confirmed the new keys.")
        )


def send(sender: User, public_id: str, msg_id: bytes, seq: int, env: p.Envelope) -> Accepted:
    """Check an envelope against the spec's every acceptance rule, chain it, and sign a receipt.

    The same ``msg_id`` with the same bytes returns the first receipt again (``is_new`` False).

    :raises NotFound: the sender is not on the roster.
    :raises Invalid: header, keys, signature, sequence or sizes are wrong.
    :raises Conflict: same msg_id with other bytes; the conversation is paused or closed.
    """
    seat = _seat(sender, public_id)
    conv, members = seat.conv, seat.members
    try:
        _check_open(conv)
        _check_roster_for_sending(conv, members)
        _check_envelope(conv, sender, members, msg_id, seq, env)
    except (Conflict, Invalid):
        # A retry of a message chained before the conversation was paused or its roster changed
        # still gets its first receipt. New messages skip this lookup: under the lock below, a
        # seq at or under the sender's last one, or a msg_id already stored, is a replay check.
        replay = _replay(conv, sender, msg_id, seq, env)
        if replay is not None:
            return replay
        raise
    received_ms = now_ms()
    head = _head_for_update(conv)
    # Under the lock the sender's last seq cannot move.
    last = _last_seq(conv, sender)
    if seq <= last:
        # A retry of this very send may have been chained while we waited for the lock.
        replay = _replay(conv, sender, msg_id, seq, env)
        if replay is not None:
            return replay
        raise Invalid(_("The sequence number must be greater than your last one (%(last)s).", last=last), field="seq")
    index = head.size + 1
    entry_hash = p.convlog_entry(head.head, msg_id, env.c, env.kc, env.nonce, env.body, env.sig, received_ms)
    msg = Message(
        conversation_id=conv.id,
        msg_id=msg_id,
        sender_id=sender.id,
        seq=seq,
        header=env.header,
        c=env.c,
        kc=env.kc,
        nonce=env.nonce,
        body=env.body,
        wrapped=[p.b64e(w) for w in env.wrapped],
        sig=env.sig,
        received_ms=received_ms,
        rf=p.reporting_rf(server_frank_key(), env.c, conv.public_id, msg_id, received_ms),
        chain_index=index,
        entry_hash=entry_hash,
        receipt=_receipt(entry_hash, index),
        state=MessageState.HELD if is_premoderated(conv, members) else MessageState.DELIVERED,
    )
    head.size = index
    head.head = entry_hash
    db.session.add(msg)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        replay = _replay(conv, sender, msg_id, seq, env)
        if replay is not None:
            return replay
        raise Conflict(_("Another message was sent at the same moment. Send it again.")) from None
    return _accepted(msg, is_new=True)


def _replay(conv: Conversation, sender: User, msg_id: bytes, seq: int, env: p.Envelope) -> Accepted | None:
    existing = db.session.scalars(
        select(Message).where(Message.conversation_id == conv.id, Message.msg_id == msg_id)
    ).first()
    if existing is None:
        return None
    if _same_envelope(existing, sender, seq, env):
        return _accepted(existing, is_new=False)
    raise Conflict(_("A different message was already sent with this message id."), field="msg_id")


def _check_envelope(
    conv: Conversation, sender: User, members: Sequence[tuple[Member, User]], msg_id: bytes, seq: int, env: p.Envelope
) -> None:
    """The checks that need no lock: sizes, header against the roster's current keys, signature."""
    check_sizes(env)
    try:
        header = p.parse_header(env.header)
    except p.ProtocolError as err:
        raise Invalid(
            _("The message header is malformed: %(problem)s.", problem=str(err)), field="envelope.header"
        ) from err
    if header.conv_id != conv.public_id:
        raise Invalid(_("The message header names another conversation."), field="envelope.header")
    if header.sender_id != sender.public_id:
        raise Invalid(_("The message header names another sender."), field="envelope.header")
    if header.msg_id != msg_id:
        raise Invalid(_("The message header carries another message id."), field="msg_id")
    if header.seq != seq:
        raise Invalid(_("The message header carries another sequence number."), field="seq")
    if not hmac.compare_digest(header.sender_identity_hash, p.blake2b_256(sender.identity_pk)):
        raise Invalid(
            _("The message header names another identity key for you. Log in again."), field="envelope.header"
        )
    current = p.header_roster([p.RosterMember(u.public_id, u.enc_pk, u.enc_epoch) for _m, u in members])
    if header.roster != current:
        raise Invalid(
            _("The message was encrypted for other keys or other members than this conversation has now. Reload it."),
            field="envelope.header",
        )
    if len(env.wrapped) != len(members):
        raise Invalid(_("The message must carry one wrapped key per roster member."), field="envelope.wrapped")
    if not p.verify_envelope_signature(sender.identity_pk, env):
        raise Invalid(_("The message signature does not verify."), field="envelope.sig")


# --- reading ----------------------------------------------------------------------------------


def envelope_json(msg: Message) -> dict[str, Any]:
    """The stored envelope in its JSON form."""
    return {
        "header": p.b64e(msg.header),
        "c": p.b64e(msg.c),
        "kc": p.b64e(msg.kc),
        "nonce": p.b64e(msg.nonce),
        "body": p.b64e(msg.body),
        "wrapped": list(msg.wrapped),
        "sig": p.b64e(msg.sig),
    }


def _message_item(msg: Message, sender: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "index": msg.chain_index,
        "kind": "message",
        "msg_id": p.b64e(msg.msg_id),
        "sender_id": sender,
        "seq": msg.seq,
        "state": msg.state.value,
        "received_ms": msg.received_ms,
        "envelope": envelope_json(msg),
        "entry_hash": p.b64e(msg.entry_hash),
        "receipt": p.b64e(msg.receipt),
    }
    if msg.moderation_reason is not None:
        item["reason"] = msg.moderation_reason
    return item


def _action_item(action: ModAction, msg_id: bytes, moderator: str) -> dict[str, Any]:
    return {
        "index": action.chain_index,
        "kind": "modaction",
        "msg_id": p.b64e(msg_id),
        "action": action.action,
        "reason": action.reason,
        "moderator_id": moderator,
        "ms": action.ms,
        "sig": p.b64e(action.sig),
        "entry_hash": p.b64e(action.entry_hash),
        "receipt": p.b64e(action.receipt),
    }


def _public_ids(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {uid: pid for uid, pid in db.session.execute(select(User.id, User.public_id).where(User.id.in_(ids)))}


def _entries(seat: _Seat, after: int, limit: int | None, *, everything: bool = False) -> list[dict[str, Any]]:
    """Chain entries after ``after`` in order, as the seat's member may see them (or all of them)."""
    conv = seat.conv
    msg_cond = Message.conversation_id == conv.id
    if not everything and not seat.is_moderator:
        msg_cond = msg_cond & or_(Message.state == MessageState.DELIVERED, Message.sender_id == seat.member.user_id)
    mq = select(Message).where(msg_cond, Message.chain_index > after).order_by(Message.chain_index)
    aq = (
        select(ModAction, Message.msg_id)
        .join(Message, Message.id == ModAction.message_id)
        .where(msg_cond, ModAction.chain_index > after)
        .order_by(ModAction.chain_index)
    )
    if limit is not None:
        mq = mq.limit(limit)
        aq = aq.limit(limit)
    messages = list(db.session.scalars(mq))
    actions = [(a, mid) for a, mid in db.session.execute(aq)]
    names = seat.public_ids()
    missing = ({m.sender_id for m in messages} | {a.moderator_id for a, _mid in actions}) - set(names)
    names |= _public_ids(missing)
    items = [_message_item(m, names[m.sender_id]) for m in messages]
    items += [_action_item(a, mid, names[a.moderator_id]) for a, mid in actions]
    items.sort(key=lambda item: int(item["index"]))
    return items if limit is None else items[:limit]


def messages(user: User, public_id: str, after: int = 0, limit: int = PAGE_DEFAULT) -> dict[str, Any]:
    """A page of the chain as this member may see it, and the read position moved to its end.

    ``next_after`` is the index to pass as ``after`` for the next page (or to poll for new
    entries); ``more`` says whether another page is already waiting.
    """
    seat = _seat(user, public_id)
    limit = max(1, min(limit, PAGE_MAX))
    items = _entries(seat, after, limit + 1)
    more = len(items) > limit
    items = items[:limit]
    next_after = int(items[-1]["index"]) if items else after
    if items:
        # Moving the read position forward is one UPDATE in the usual case (readers poll often).
        mine = (ReadPosition.conversation_id == seat.conv.id) & (ReadPosition.user_id == user.id)
        moved = db.session.execute(
            update(ReadPosition)
            .where(mine, ReadPosition.last_index < next_after)
            .values(last_index=next_after)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount == 0 and db.session.scalar(select(ReadPosition.id).where(mine)) is None:  # type: ignore[attr-defined]
            db.session.add(ReadPosition(conversation_id=seat.conv.id, user_id=user.id, last_index=next_after))
            db.session.flush()
    return {"items": items, "next_after": next_after, "more": more}


def _message_by_id(conv: Conversation, msg_id_text: str) -> Message:
    try:
        msg_id = p.b64d(msg_id_text)
    except ValueError as err:
        raise NotFound(_("No such message.")) from err
    msg = db.session.scalars(
        select(Message).where(Message.conversation_id == conv.id, Message.msg_id == msg_id)
    ).first()
    if msg is None:
        raise NotFound(_("No such message."))
    return msg


# --- moderation -------------------------------------------------------------------------------


def _moderator_member(user: User, conv: Conversation) -> Member:
    member = _membership(user, conv)
    if not _is_moderator(member) or user.role not in (Role.MODERATOR, Role.ADMIN):
        raise Forbidden(_("Only the moderators of this conversation can do this."))
    if not has_valid_certificate(user):
        raise Forbidden(_("Your moderator certificate is missing or expired."))
    return member


def moderate(user: User, public_id: str, msg_id_text: str, action: str, reason: str, sig: bytes) -> dict[str, Any]:
    """Release or reject a held message with the moderator's signature; the action is chained.

    :raises Forbidden: not a certified moderator on this roster.
    :raises Invalid: unknown action, missing reason for a rejection, bad signature.
    :raises Conflict: the message is not held (already released or rejected).
    """
    conv = member_conversation(user, public_id)
    _moderator_member(user, conv)
    if action not in ("release", "reject"):
        raise Invalid(_("The action must be 'release' or 'reject'."), field="action")
    reason = reason.strip()
    if action == "reject" and not reason:
        raise Invalid(_("Give a reason for not delivering the message; its sender will see it."), field="reason")
    if len(reason) > MAX_REASON:
        raise Invalid(_("The reason is too long (at most %(max)s characters).", max=MAX_REASON), field="reason")
    msg = _message_by_id(conv, msg_id_text)
    if not p.verify_detached(user.identity_pk, p.modaction_message(msg.entry_hash, action, reason), sig):
        raise Invalid(_("The moderator signature does not verify."), field="sig")
    head = _head_for_update(conv)
    db.session.refresh(msg)
    if msg.state != MessageState.HELD:
        raise Conflict(_("This message is no longer held (it was already released or rejected)."))
    ms = now_ms()
    index = head.size + 1
    entry_hash = p.convlog_modaction_entry(head.head, msg.msg_id, action, reason, user.public_id, sig, ms)
    act = ModAction(
        conversation_id=conv.id,
        message_id=msg.id,
        moderator_id=user.id,
        action=action,
        reason=reason,
        sig=sig,
        ms=ms,
        chain_index=index,
        entry_hash=entry_hash,
        receipt=_receipt(entry_hash, index),
    )
    head.size = index
    head.head = entry_hash
    msg.state = MessageState.DELIVERED if action == "release" else MessageState.REJECTED
    msg.moderation_reason = reason or None
    db.session.add(act)
    db.session.flush()
    _audit(user, f"message.{action}", conv.public_id, reason, index=index)
    return _action_item(act, msg.msg_id, user.public_id)


def _audit(actor: User, action: str, target: str, reason: str = "", **details: Any) -> None:
    from reunite.audit.services import record

    record(actor, action, "conversation", target, reason, details or None)


def set_state(
    user: User,
    public_id: str,
    *,
    state: str | None = None,
    premoderated: bool | None = None,
    confirm_keys: bool = False,
    reason: str = "",
) -> dict[str, Any]:
    """A moderator pauses, reopens or closes a conversation, sets pre-moderation, or confirms new keys.

    :raises Invalid: an unknown state, or switching pre-moderation off while a minor takes part.
    :raises Conflict: reopening a closed conversation.
    """
    conv = member_conversation(user, public_id)
    _moderator_member(user, conv)
    reason = reason.strip()[:MAX_REASON]
    if state is not None:
        try:
            new = ConversationState(state)
        except ValueError as err:
            raise Invalid(_("The state must be open, paused or closed."), field="state") from err
        if conv.state == ConversationState.CLOSED and new != ConversationState.CLOSED:
            raise Conflict(_("A closed conversation cannot be reopened."))
        if new != conv.state:
            conv.state = new
            if new == ConversationState.CLOSED:
                conv.closed_at = utcnow()
                conv.close_reason = reason or "moderator"
            _audit(user, f"conversation.{new.value}", conv.public_id, reason)
    if premoderated is not None:
        if not premoderated and involves_minor(conv):
            raise Invalid(_("A child under 18 takes part, so messages stay pre-moderated."), field="premoderated")
        if conv.is_premoderated != premoderated:
            conv.is_premoderated = premoderated
            _audit(user, "conversation.premoderation", conv.public_id, reason, on=premoderated)
    if confirm_keys:
        for change in db.session.scalars(
            select(KeyChange).where(KeyChange.conversation_id == conv.id, KeyChange.confirmed_at.is_(None))
        ):
            change.confirmed_by = user.id
            change.confirmed_at = utcnow()
        if conv.keys_changed_pending:
            conv.keys_changed_pending = False
            _audit(user, "conversation.keys_confirmed", conv.public_id, reason)
    db.session.flush()
    return conversation_json(user, public_id)


def keys_changed(user: User) -> int:
    """Hook for an admin reset: mark every conversation of the user, and pause those with a child.

    A child's new keys (or anyone's in a conversation with a minor) pause the conversation
    until a moderator confirms them (``set_state(confirm_keys=True)``).

    :returns: how many conversations were marked.
    """
    convs = list(
        db.session.scalars(
            select(Conversation)
            .join(Member, Member.conversation_id == Conversation.id)
            .where(Member.user_id == user.id)
        )
    )
    for conv in convs:
        db.session.add(KeyChange(conversation_id=conv.id, user_id=user.id, epoch=user.enc_epoch))
        if user.role == Role.CHILD or is_premoderated(conv):
            conv.keys_changed_pending = True
    db.session.flush()
    return len(convs)


def held_for_moderator(user: User) -> dict[str, Any]:
    """Held messages across the conversations this user moderates, oldest first.

    ``{items: [{conversation_id, ...the message item of /messages}]}``.
    """
    if user.role not in (Role.MODERATOR, Role.ADMIN):
        raise Forbidden(_("Only moderators see held messages."))
    rows = db.session.execute(
        select(Message, Conversation.public_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Member, Member.conversation_id == Conversation.id)
        .where(Member.user_id == user.id, Member.role == "moderator", Message.state == MessageState.HELD)
        .order_by(Message.received_ms, Message.id)
    ).all()
    names = _public_ids({m.sender_id for m, _cid in rows})
    return {"items": [{"conversation_id": cid, **_message_item(m, names[m.sender_id])} for m, cid in rows]}


# --- reports ----------------------------------------------------------------------------------


def report(user: User, public_id: str, msg_id_text: str, m: bytes, kf: bytes, note: str = "") -> dict[str, Any]:
    """Store a recipient's report only if the revealed ``(m, kf)`` recompute ``c`` and ``rf``.

    :raises Forbidden: the reporter sent the message, or cannot see it.
    :raises Invalid: the text or key does not match what was sent.
    """
    conv = member_conversation(user, public_id)
    member = _membership(user, conv)
    msg = _message_by_id(conv, msg_id_text)
    if msg.sender_id == user.id:
        raise Forbidden(_("You cannot report your own message."))
    if msg.state != MessageState.DELIVERED and not _is_moderator(member):
        raise NotFound(_("No such message."))
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise Invalid(_("The note is too long (at most %(max)s characters).", max=MAX_NOTE), field="note")
    if len(m) > MAX_M or not p.verify_report(msg.header, m, kf, msg.c):
        raise Invalid(_("The reported text does not match the message that was sent, so it was not stored."), field="m")
    franked = hmac.new(kf, b"RN-frank-v1" + p.lp(msg.header) + m, hashlib.sha256).digest()
    rf = p.reporting_rf(server_frank_key(), franked, conv.public_id, msg.msg_id, msg.received_ms)
    if not hmac.compare_digest(rf, msg.rf):
        raise Invalid(_("The message's server tag does not match, so the report was not stored."), field="m")
    try:
        p.unpad_plaintext(m)
    except p.ProtocolError as err:
        raise Invalid(_("The reported text is not a message."), field="m") from err
    existing = db.session.scalars(
        select(Report).where(Report.message_id == msg.id, Report.reporter_id == user.id)
    ).first()
    if existing is not None:
        return {"id": existing.public_id, "created_at": existing.created_at.isoformat(), "is_new": False}
    rep = Report(public_id="rp-" + secrets.token_hex(8), message_id=msg.id, reporter_id=user.id, m=m, kf=kf, note=note)
    db.session.add(rep)
    db.session.flush()
    return {"id": rep.public_id, "created_at": rep.created_at.isoformat(), "is_new": True}


def reports_for_moderator(user: User) -> dict[str, Any]:
    """Reports in the conversations this user moderates, newest first, with the verified plaintext.

    Each item carries the envelope too, so a moderator's client can re-check ``c`` and the
    sender's signature itself.
    """
    if user.role not in (Role.MODERATOR, Role.ADMIN):
        raise Forbidden(_("Only moderators see reports."))
    rows = db.session.execute(
        select(Report, Message, Conversation)
        .join(Message, Message.id == Report.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Member, Member.conversation_id == Conversation.id)
        .where(Member.user_id == user.id, Member.role == "moderator")
        .order_by(Report.created_at.desc(), Report.id.desc())
    ).all()
    names = _public_ids({r.reporter_id for r, _m, _c in rows} | {m.sender_id for _r, m, _c in rows})
    out = []
    for rep, msg, conv in rows:
        try:
            text, sent_at = p.unpad_plaintext(rep.m)
        except p.ProtocolError:
            text, sent_at = "", ""
        out.append(
            {
                "id": rep.public_id,
                "conversation_id": conv.public_id,
                "msg_id": p.b64e(msg.msg_id),
                "index": msg.chain_index,
                "sender_id": names[msg.sender_id],
                "reporter_id": names[rep.reporter_id],
                "text": text,
                "sent_at": sent_at,
                "note": rep.note,
                "m": p.b64e(rep.m),
                "kf": p.b64e(rep.kf),
                "created_at": rep.created_at.isoformat(),
                "received_ms": msg.received_ms,
                "envelope": envelope_json(msg),
            }
        )
    return {"items": out}


# --- evidence export --------------------------------------------------------------------------


def server_keys() -> dict[str, Any]:
    """The server's receipt-signing key and the organisation key that certifies moderators."""
    return {
        "server_sign_pk": p.b64e(bytes(server_signing_key().verify_key)),
        "org_pk": current_app.config.get("ORG_PUBLIC_KEY"),
    }


def _key_history(users: Sequence[User], *, with_certs: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Each user's key log entries, oldest first; ``ms`` = when the keys became current.

    ``with_certs`` adds each entry's ``enc_cert`` and leaves out entries logged before the
    key log kept certificates (a client could not check them).
    """
    ids = [u.public_id for u in users]
    history: dict[str, list[dict[str, Any]]] = {pid: [] for pid in ids}
    rows = db.session.scalars(select(KeyLogEntry).where(KeyLogEntry.user_public_id.in_(ids)).order_by(KeyLogEntry.seq))
    for e in rows:
        item: dict[str, Any] = {
            "identity_pk": p.b64e(e.identity_pk),
            "enc_pk": p.b64e(e.enc_pk),
            "epoch": e.epoch,
            "ms": e.ms,
        }
        if with_certs:
            if e.enc_cert is None:
                continue
            item["enc_cert"] = p.b64e(e.enc_cert)
        history[e.user_public_id].append(item)
    return history


def export_parts(doc: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The named parts of a bundle the server signs, each with its SHA-256 (see ``export_message``)."""
    parts: list[tuple[str, bytes]] = []
    for name in ("format", "conversation", "exported_by", "exported_ms", "server_sign_pk", "org_pk", "roster"):
        parts.append((name, hashlib.sha256(p.canonical_json(doc.get(name))).digest()))
    for entry in doc.get("entries", []):
        parts.append((f"entries/{entry.get('index')}", hashlib.sha256(p.canonical_json(entry)).digest()))
    return parts


def export(user: User, public_id: str) -> dict[str, Any]:
    """The evidence bundle of a conversation as this member may see it, signed by the server.

    Entries hidden from the member (held or rejected messages of others, and their moderator
    actions) appear as ``{"index", "kind": "withheld", "entry_hash", "receipt"}`` so the chain
    still verifies without revealing them. The client adds ``plaintexts``.
    """
    seat = _seat(user, public_id)
    conv, members = seat.conv, seat.members
    visible = {int(item["index"]): item for item in _entries(seat, 0, None)}
    entries: list[dict[str, Any]] = []
    all_rows = [
        (m.chain_index, m.entry_hash, m.receipt)
        for m in db.session.scalars(select(Message).where(Message.conversation_id == conv.id))
    ]
    all_rows += [
        (a.chain_index, a.entry_hash, a.receipt)
        for a in db.session.scalars(select(ModAction).where(ModAction.conversation_id == conv.id))
    ]
    for index, entry_hash, receipt in sorted(all_rows):
        entries.append(
            visible.get(index)
            or {"index": index, "kind": "withheld", "entry_hash": p.b64e(entry_hash), "receipt": p.b64e(receipt)}
        )
    history = _key_history([u for _m, u in members])
    roster_items = roster_json(conv)
    for item in roster_items:
        item["key_history"] = history[item["user_id"]]
    keys = server_keys()
    doc: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "conversation": {
            "id": conv.public_id,
            "state": conv.state.value,
            "premoderated": is_premoderated(conv),
            "created_at": conv.created_at.isoformat(),
        },
        "exported_by": user.public_id,
        "exported_ms": now_ms(),
        "server_sign_pk": keys["server_sign_pk"],
        "org_pk": keys["org_pk"],
        "roster": roster_items,
        "entries": entries,
    }
    parts = export_parts(doc)
    doc["manifest"] = [{"part": name, "sha256": p.b64e(digest)} for name, digest in parts]
    doc["export_sig"] = p.b64e(bytes(server_signing_key().sign(p.export_message(parts)).signature))
    return doc


# --- verification (operator command) ----------------------------------------------------------


@dataclass
class ChainCheck:
    """The outcome of recomputing every conversation's chain."""

    conversations: int = 0
    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def is_ok(self) -> bool:
        """No problem found."""
        return not self.problems


def verify_chains() -> ChainCheck:
    """Recompute each conversation's chain from genesis, check receipts, ``rf`` and the head row.

    Stops at the first bad entry of each conversation and names it.
    """
    result = ChainCheck()
    verify_key = server_signing_key().verify_key
    frank = server_frank_key()
    for conv in db.session.scalars(select(Conversation).order_by(Conversation.id)):
        result.conversations += 1
        moderators = _public_ids(
            set(db.session.scalars(select(ModAction.moderator_id).where(ModAction.conversation_id == conv.id)))
        )
        msgs = list(db.session.scalars(select(Message).where(Message.conversation_id == conv.id)))
        msg_ids = {m.id: m.msg_id for m in msgs}
        rows: list[tuple[int, Message | ModAction]] = [(m.chain_index, m) for m in msgs]
        rows += [
            (a.chain_index, a)
            for a in db.session.scalars(select(ModAction).where(ModAction.conversation_id == conv.id))
        ]
        rows.sort(key=lambda r: r[0])
        prev = p.CONVLOG_GENESIS
        problem = None
        for expected_index, (index, row) in enumerate(rows, start=1):
            result.entries += 1
            where = f"conversation {conv.public_id}, entry {index}"
            if index != expected_index:
                problem = f"{where}: expected index {expected_index} (an entry is missing or duplicated)"
                break
            if isinstance(row, Message):
                computed = p.convlog_entry(
                    prev, row.msg_id, row.c, row.kc, row.nonce, row.body, row.sig, row.received_ms
                )
                rf = p.reporting_rf(frank, row.c, conv.public_id, row.msg_id, row.received_ms)
                if not hmac.compare_digest(rf, row.rf):
                    problem = f"{where} (message {p.b64e(row.msg_id)}): rf does not recompute"
                    break
                label = f"message {p.b64e(row.msg_id)}"
            else:
                computed = p.convlog_modaction_entry(
                    prev,
                    msg_ids.get(row.message_id, b""),
                    row.action,
                    row.reason,
                    moderators.get(row.moderator_id, ""),
                    row.sig,
                    row.ms,
                )
                label = f"{row.action} of message {p.b64e(msg_ids.get(row.message_id, b''))}"
            if not hmac.compare_digest(computed, row.entry_hash):
                problem = f"{where} ({label}): the stored entry does not match its contents"
                break
            try:
                verify_key.verify(p.receipt_message(computed, index), row.receipt)
            except (BadSignatureError, ValueError):
                problem = f"{where} ({label}): the receipt signature does not verify"
                break
            prev = computed
        if problem is None:
            head = db.session.get(ChainHead, conv.id)
            size = len(rows)
            if (head is None and size) or (head is not None and (head.size != size or head.head != prev)):
                problem = f"conversation {conv.public_id}: the chain head does not match its {size} entries"
        if problem:
            result.problems.append(problem)
    return result
