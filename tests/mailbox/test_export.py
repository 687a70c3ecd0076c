"""Evidence export and the offline verifier; `flask reunite mailbox verify` on the stored chains."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from reunite.client import protocol as p
from reunite.client import verify
from reunite.client.__main__ import main as client_main
from reunite.extensions import db
from reunite.mailbox.models import Message, ModAction
from tests.mailbox.conftest import Conv


def _bundle(conv: Conv, who: str = "parent") -> bytes:
    person = getattr(conv, who) if who != "mod" else conv.mod
    return p.canonical_json(person.box.export(conv.id)) + b"\n"


def _check(raw: bytes, **kw: Any) -> verify.Report:
    return verify.verify_bundle(raw, out=lambda _line: None, **kw)


@pytest.fixture
def exchanged(open_conversation: Any) -> Conv:
    """A minor's conversation with a released, a rejected and a delivered-after-release history."""
    conv: Conv = open_conversation(minor=True)
    conv.child.box.send(conv.id, "Dad? 会いたい 🌸")
    conv.parent.box.send(conv.id, "Yuki, I am so glad.")
    conv.parent.box.send(conv.id, "Send me your address.")
    held = conv.mod.box.held()
    conv.mod.box.moderate(conv.id, held[0], "release", "")
    conv.mod.box.moderate(conv.id, held[1], "release", "fine")
    conv.moderators[1].box.moderate(conv.id, held[2], "reject", "No addresses yet.")
    return conv


def test_every_members_export_verifies(exchanged: Conv) -> None:
    for who in ("parent", "child", "mod"):
        raw = _bundle(exchanged, who)
        report = _check(raw)
        assert report.is_ok, report.first_failure
        doc = json.loads(raw)
        kinds = [e["kind"] for e in doc["entries"]]
        if who == "child":
            # the rejected message and its rejection are withheld from the child: only their hashes
            assert kinds == ["message", "message", "withheld", "modaction", "modaction", "withheld"]
            assert report.plaintexts == 2
            assert report.withheld == 2
        else:
            assert "withheld" not in kinds
            assert report.plaintexts == 3


def test_the_verifier_pins_keys_when_given(exchanged: Conv) -> None:
    raw = _bundle(exchanged)
    doc = json.loads(raw)
    assert _check(raw, server_pk=p.b64d(doc["server_sign_pk"]), org_pk=p.b64d(doc["org_pk"])).is_ok
    report = _check(raw, server_pk=p.new_identity().pk)
    assert report.first_failure == "server_sign_pk: differs from the server key you gave"


EDITS = [
    # (what to change in the parsed bundle, the start of the failure the verifier must name)
    (
        lambda d: d["entries"][0]["envelope"].__setitem__("body", _flip(d["entries"][0]["envelope"]["body"])),
        "entry 1 (message",
    ),
    (lambda d: d["entries"][1].__setitem__("received_ms", d["entries"][1]["received_ms"] + 1), "entry 2"),
    (lambda d: d["entries"][3].__setitem__("reason", "edited"), "entry 4"),
    (lambda d: d["entries"][2].__setitem__("state", "delivered"), "manifest"),
    (lambda d: d["entries"][4].__setitem__("receipt", _flip(d["entries"][4]["receipt"])), "entry 5"),
    (lambda d: d["roster"][0].__setitem__("username", d["roster"][0]["username"] + "x"), "roster[0]"),
    (lambda d: d["roster"][1].__setitem__("keys_changed_at", "2020-01-01T00:00:00+00:00"), "manifest"),
    (lambda d: d["conversation"].__setitem__("state", "closed"), "manifest"),
    (lambda d: d.__setitem__("exported_ms", d["exported_ms"] - 5), "manifest"),
    (lambda d: d["plaintexts"][0].__setitem__("m", _flip(d["plaintexts"][0]["m"], 40)), "plaintexts[0]"),
    (lambda d: d["plaintexts"][1].__setitem__("kf", _flip(d["plaintexts"][1]["kf"])), "plaintexts[1]"),
    (lambda d: d["plaintexts"][1].__setitem__("k", _flip(d["plaintexts"][1]["k"])), "plaintexts[1]"),
    (lambda d: d["entries"].pop(2), "entry 3"),
    (lambda d: d.__setitem__("export_sig", _flip(d["export_sig"])), "manifest"),
]


def _flip(text: str, at: int = 10) -> str:
    raw = bytearray(p.b64d(text))
    raw[min(at, len(raw) - 1)] ^= 0x01
    return p.b64e(bytes(raw))


@pytest.mark.parametrize(("edit", "where"), EDITS)
def test_an_edited_field_fails_and_is_named(exchanged: Conv, edit: Any, where: str) -> None:
    doc = json.loads(_bundle(exchanged, "mod"))
    edit(doc)
    report = _check(p.canonical_json(doc))
    assert not report.is_ok
    assert report.first_failure is not None
    assert report.first_failure.startswith(where), report.first_failure


def test_editing_any_byte_of_the_file_fails(exchanged: Conv) -> None:
    """Every position of the file, one at a time (sampled evenly), with a byte that keeps it printable."""
    raw = _bundle(exchanged, "parent")
    assert _check(raw).is_ok
    step = max(1, len(raw) // 400)
    for pos in range(0, len(raw), step):
        edited = bytearray(raw)
        edited[pos] = ord("A") if raw[pos] != ord("A") else ord("B")
        report = _check(bytes(edited))
        assert not report.is_ok, f"editing byte {pos} went unnoticed"
        assert report.first_failure


def test_client_commands_export_and_verify_offline(exchanged: Conv, tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "bundle.json"
    path.write_bytes(_bundle(exchanged, "child"))
    assert client_main(["verify-export", str(path)]) == 0
    assert "VERIFIED" in capsys.readouterr().out
    raw = bytearray(path.read_bytes())
    i = raw.index(b'"body":"') + 20
    raw[i] = ord("A") if raw[i] != ord("A") else ord("B")
    path.write_bytes(bytes(raw))
    assert client_main(["verify-export", str(path)]) == 1
    captured = capsys.readouterr()
    assert "VERIFICATION FAILED at entry 1 (message" in captured.err
    assert "FAIL entry 1" in captured.out


def test_flask_mailbox_verify_names_the_first_bad_entry(exchanged: Conv, runner: Any) -> None:
    result = runner.invoke(args=["reunite", "mailbox", "verify"])
    assert result.exit_code == 0, result.output
    assert "1 conversations, 6 chain entries" in result.output
    msg = db.session.scalars(select(Message).where(Message.chain_index == 2)).one()
    original = bytes(msg.body)
    db.session.execute(update(Message).where(Message.id == msg.id).values(body=original[:-1] + b"\x00"))
    db.session.commit()
    result = runner.invoke(args=["reunite", "mailbox", "verify"])
    assert result.exit_code == 1
    assert "entry 2 (message" in result.output
    assert "does not match its contents" in result.output
    db.session.execute(update(Message).where(Message.id == msg.id).values(body=original))
    action = db.session.scalars(select(ModAction).where(ModAction.chain_index == 6)).one()
    db.session.execute(update(ModAction).where(ModAction.id == action.id).values(reason="edited"))
    db.session.commit()
    result = runner.invoke(args=["reunite", "mailbox", "verify"])
    assert result.exit_code == 1
    assert "entry 6 (reject" in result.output
