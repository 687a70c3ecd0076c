"""The mailbox paths shortened for load (bench/load.py): replays found under the lock, the read position
moved by one UPDATE, the seat read in one query; each still gives the answers the protocol requires."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from sqlalchemy import event, select

from reunite.client.api import ApiError
from reunite.extensions import db
from reunite.mailbox.models import Message, ReadPosition
from tests.mailbox.conftest import Conv
from tests.mailbox.test_api import craft, refused


def test_a_retry_after_the_conversation_was_paused_still_gets_its_first_receipt(open_conversation: Any) -> None:
    conv: Conv = open_conversation()
    roster = conv.parent.box.conversation(conv.id)
    msg_id, seq, env, _, _ = craft(conv.parent, roster, "sent just before the pause")
    first = conv.parent.box.post_envelope(conv.id, msg_id, seq, env)
    conv.mod.box.set_state(conv.id, state="paused", reason="checking something")
    assert conv.parent.box.post_envelope(conv.id, msg_id, seq, env) == first
    # A new message is still refused while paused.
    new_id, new_seq, new_env, _, _ = craft(conv.parent, roster, "after the pause", seq=seq + 1)
    err = refused(conv.parent, conv.id, new_id, new_seq, new_env)
    assert err.status == 409
    assert len(db.session.scalars(select(Message)).all()) == 1


def test_a_stored_msg_id_under_a_higher_seq_is_a_conflict_and_stores_nothing(
    open_conversation: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    conv: Conv = open_conversation()
    roster = conv.parent.box.conversation(conv.id)
    msg_id, seq, env, _, _ = craft(conv.parent, roster, "first")
    conv.parent.box.post_envelope(conv.id, msg_id, seq, env)
    # Properly signed, but reusing the stored msg_id under the next seq: only the unique constraint sees it.
    roster = conv.parent.box.conversation(conv.id)
    real_token_bytes = secrets.token_bytes
    monkeypatch.setattr(secrets, "token_bytes", lambda n: msg_id if n == len(msg_id) else real_token_bytes(n))
    same_id, next_seq, other, _, _ = craft(conv.parent, roster, "second")
    monkeypatch.undo()
    assert same_id == msg_id
    assert next_seq == seq + 1
    err = refused(conv.parent, conv.id, msg_id, next_seq, other)
    assert err.status == 409
    assert err.field == "msg_id"
    assert len(db.session.scalars(select(Message)).all()) == 1
    # The sender can go on with a fresh message at that seq.
    fresh_id, fresh_seq, fresh, _, _ = craft(conv.parent, roster, "second, properly")
    assert conv.parent.box.post_envelope(conv.id, fresh_id, fresh_seq, fresh)["index"] == 2


def test_the_read_position_only_moves_forward(open_conversation: Any) -> None:
    conv: Conv = open_conversation()
    for n in range(3):
        conv.parent.box.send(conv.id, f"message {n}")
    url = f"/api/v1/conversations/{conv.id}/messages"
    assert [c["unread"] for c in conv.child.box.conversations()] == [3]
    conv.child.client.get(url, after=0, limit=2)
    assert [c["unread"] for c in conv.child.box.conversations()] == [1]
    conv.child.client.get(url, after=2)
    assert [c["unread"] for c in conv.child.box.conversations()] == [0]
    conv.child.client.get(url, after=0, limit=1)  # an older page does not move it back
    assert [c["unread"] for c in conv.child.box.conversations()] == [0]
    assert len(db.session.scalars(select(ReadPosition)).all()) == 1


def test_sending_reads_the_conversation_and_roster_once(open_conversation: Any, app: Any) -> None:
    conv: Conv = open_conversation()
    roster = conv.parent.box.conversation(conv.id)
    msg_id, seq, env, _, _ = craft(conv.parent, roster, "counted")
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        conv.parent.box.post_envelope(conv.id, msg_id, seq, env)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    roster_reads = [s for s in statements if "FROM conversation_member" in s or "FROM conversation " in s]
    assert len(roster_reads) == 1, roster_reads
    # A new message needs no lookup by msg_id before it is chained.
    assert not [s for s in statements if "message.msg_id =" in s]
    with_stranger = refused(conv.child, "cv-nope", msg_id, seq, env)
    assert with_stranger.status == 404
    assert isinstance(with_stranger, ApiError)
