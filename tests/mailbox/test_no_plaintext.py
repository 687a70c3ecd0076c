"""The server never holds plaintext: after a conversation, no table and no log line contains any message
text, except the one message its recipient chose to report."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from sqlalchemy import select

from reunite.extensions import db
from tests.mailbox.conftest import Conv


def _forms(marker: str) -> list[bytes]:
    # as stored bytes, as JSON would escape it, and as text
    import json

    return [marker.encode(), json.dumps(marker).strip('"').encode(), json.dumps(marker, ensure_ascii=False).encode()]


def _cells() -> list[tuple[str, str, bytes]]:
    """Every value of every column of every table, as bytes."""
    out = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)).mappings():
            for column, value in row.items():
                if value is None:
                    continue
                raw = bytes(value) if isinstance(value, bytes | bytearray | memoryview) else str(value).encode()
                out.append((table.name, str(column), raw))
    return out


def test_markers_appear_nowhere_but_in_the_chosen_report(open_conversation: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    conv: Conv = open_conversation(minor=True)
    markers = {f"MARKER-{secrets.token_hex(6)}-秘密-{n}" for n in range(6)}
    ordered = sorted(markers)
    reported = ordered[0]
    senders = [conv.parent, conv.child]
    for n, marker in enumerate(ordered):
        senders[n % 2].box.send(conv.id, f"before {marker} after")
    held = conv.mod.box.held()
    roster = conv.mod.box.conversation(conv.id)
    texts = {}
    for item in held:
        opened = conv.mod.box.open(roster, item)
        assert opened.message is not None
        texts[item["msg_id"]] = opened.message.text
        action = "reject" if ordered[1] in opened.message.text else "release"
        conv.mod.box.moderate(conv.id, item, action, "not this one" if action == "reject" else "")
    # the child reports exactly one message, the one carrying `reported`
    child_roster = conv.child.box.conversation(conv.id)
    for item in conv.child.box.items(conv.id):
        if item["kind"] == "message" and item["sender_id"] == conv.parent.id:
            opened = conv.child.box.open(child_roster, item)
            assert opened.message is not None
            if reported in opened.message.text:
                conv.child.box.report(conv.id, opened, "please look")
    conv.child.box.export(conv.id)
    conv.mod.box.reports()

    cells = _cells()
    assert {t for t, _c, _v in cells} >= {"message", "mod_action", "message_report", "conversation_chain_head"}
    for marker in markers:
        places = {(t, c) for t, c, raw in cells for form in _forms(marker) if form in raw}
        if marker == reported:
            assert places == {("message_report", "m")}, places
        else:
            assert places == set(), f"{marker} found in {places}"
        assert marker not in caplog.text
