"""The browser module and the Python client read each other's messages through the real API."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reunite.client import protocol as p
from tests.mailbox.conftest import SENT_AT, Conv

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def node() -> str:
    path = shutil.which("node")
    assert path is not None, "node is required for the JavaScript tests"
    assert (ROOT / "node_modules" / "libsodium-wrappers-sumo" / "package.json").is_file(), "run `npm ci` first"
    return path


def _run(node: str, script: str, doc: dict[str, Any]) -> dict[str, Any]:
    result = subprocess.run(
        [node, str(ROOT / "tests" / "js" / script)], input=json.dumps(doc), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def test_python_sends_node_reads(open_conversation: Any, node: str) -> None:
    conv: Conv = open_conversation()
    text = "会いたい / miss you 🌸 \x00 \u2028"
    _, answer = conv.parent.box.send(conv.id, text)
    roster = conv.child.box.conversation(conv.id)
    [item] = conv.child.box.items(conv.id)
    keys = conv.child.session.keys
    doc = {"conversation": roster, "item": item, "user_id": conv.child.id, "box_seed": p.b64e(keys.box_seeds[1])}
    opened = _run(node, "mailbox-open.mjs", doc | {"prev": p.b64e(p.CONVLOG_GENESIS)})
    assert opened == {"ok": True, "text": text, "sent_at": opened["sent_at"], "entry_hash": answer["entry_hash"]}
    # a byte changed in transit: Node refuses and never prints the text
    item["envelope"]["body"] = p.b64e(
        bytes([p.b64d(item["envelope"]["body"])[0] ^ 1]) + p.b64d(item["envelope"]["body"])[1:]
    )
    bad = _run(node, "mailbox-open.mjs", doc)
    assert bad["ok"] is False
    assert "text" not in bad


def test_node_composes_python_posts_and_the_recipient_reads(open_conversation: Any, node: str) -> None:
    conv: Conv = open_conversation()
    roster = conv.child.box.conversation(conv.id)
    doc = {
        "conversation": roster,
        "sign_seed": p.b64e(conv.child.session.keys.sign_seed),
        "sender_id": conv.child.id,
        "text": "お父さん、わたしです。",
        "sent_at": SENT_AT,
    }
    composed = _run(node, "mailbox-encrypt.mjs", doc)
    env = p.Envelope.from_json(composed["envelope"])
    answer = conv.child.box.post_envelope(conv.id, p.b64d(composed["msg_id"]), composed["seq"], env)
    assert answer["state"] == "delivered"
    [item] = conv.parent.box.items(conv.id)
    opened = conv.parent.box.open(conv.parent.box.conversation(conv.id), item)
    assert opened.message is not None
    assert opened.message.text == "お父さん、わたしです。"


def test_modaction_chain_entry_is_the_same_in_both_languages(node: str) -> None:
    args = [
        p.b64e(bytes(range(32))),
        p.b64e(bytes(16)),
        "reject",
        "理由 reason",
        "u-moderator",
        p.b64e(bytes(64)),
        1795781588979,
    ]
    call = {
        "op": "call",
        "fn": "convlogModactionEntry",
        "args": [{"b": a} if i in (0, 1, 5) else a for i, a in enumerate(args)],
    }
    result = subprocess.run(
        [node, str(ROOT / "tests" / "js" / "interop.mjs")],
        input=json.dumps({"requests": [call]}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    [resp] = json.loads(result.stdout)["responses"]
    assert resp["ok"], resp
    expected = p.convlog_modaction_entry(
        bytes(range(32)), bytes(16), "reject", "理由 reason", "u-moderator", bytes(64), 1795781588979
    )
    assert p.b64d(resp["result"]["b"]) == expected
