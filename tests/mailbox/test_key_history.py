"""Messages are verified against the keys their header names: a member's admin reset must not turn
their earlier, genuine messages into "failed verification", and forged historic keys still fail."""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from reunite.auth import services as auth_services
from reunite.client import mailbox_cli
from reunite.client import protocol as p
from reunite.client.api import PREVIOUS_KEYS, Mailbox
from reunite.extensions import db
from tests.mailbox.conftest import SENT_AT, Conv, Person, act_as
from tests.mailbox.test_api import members_of


@pytest.fixture(autouse=True)
def pin_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "pins.json"
    monkeypatch.setenv("REUNITE_PINS", str(path))
    return path


def _read(person: Person, cid: str) -> None:
    args = argparse.Namespace(command="read", conversation=cid, accept_key_change=True, org_pk=None, after=0)
    assert mailbox_cli.run(args, person.client, person.session) == 0


def _reset_child(app: Flask, conv: Conv, make_user: Any) -> Person:
    """An administrator resets the child: new identity and encryption keys at epoch 2."""
    admin = make_user("admin")
    code = auth_services.issue_reset(admin.user, conv.child.id)
    db.session.commit()
    fresh = act_as(app, make_user("parent"))  # any logged-out client can finish a reset
    session, _ = fresh.client.complete_reset(conv.child.made.user.username, code, "a brand new password")
    assert session.keys.epoch == 2
    return Person(conv.child.made, fresh.client, session, Mailbox(fresh.client, session))


def _item(sender: Person, env: p.Envelope, msg_id: bytes, seq: int) -> dict[str, Any]:
    return {
        "index": 99,
        "kind": "message",
        "msg_id": p.b64e(msg_id),
        "sender_id": sender.id,
        "seq": seq,
        "state": "delivered",
        "envelope": env.to_json(),
    }


def _forge(
    sender: Person,
    conv: dict[str, Any],
    members: list[p.RosterMember],
    *,
    seq: int = 50,
    sign_seed: bytes | None = None,
    wrap: bool = True,
) -> dict[str, Any]:
    """A message item signed by ``sign_seed`` (default: the sender's key) naming ``members``' keys."""
    members = sorted(members, key=lambda r: r.user_id.encode())
    seed = sign_seed or sender.session.keys.identity.seed
    identity_pk = p.new_identity(seed).pk
    msg_id = secrets.token_bytes(16)
    m = p.pad_plaintext("forged words", SENT_AT)
    header = p.build_header(conv["id"], msg_id, sender.id, seq, identity_pk, members)
    kf, key, nonce = secrets.token_bytes(32), secrets.token_bytes(32), secrets.token_bytes(24)
    c = p.franking_commitment(kf, header, m)
    kc = p.key_commitment(key)
    body = p.seal_body(key, nonce, header, c, kc, kf, m)
    wrapped = tuple(p.wrap_key_for(key, r.enc_pk) for r in members)
    sig = p.sign_detached(seed, p.sig_message(header, c, kc, nonce, body, wrapped))
    return _item(sender, p.Envelope(header, c, kc, nonce, body, wrapped, sig), msg_id, seq)


def test_messages_from_before_a_reset_stay_verified_and_old_copies_say_previous_keys(
    open_conversation: Any, make_user: Any, app: Flask, capsys: Any
) -> None:
    conv: Conv = open_conversation()
    conv.parent.box.send(conv.id, "parent before the reset")
    conv.child.box.send(conv.id, "child before the reset")
    child = _reset_child(app, conv, make_user)
    conv.mod.box.set_state(conv.id, confirm_keys=True)
    conv.parent.box.send(conv.id, "parent after the reset")
    child.box.send(conv.id, "child after the reset")

    # The roster carries every member's certified key history.
    roster = conv.parent.box.conversation(conv.id)
    history = {r["user_id"]: r["key_history"] for r in roster["roster"]}
    assert [h["epoch"] for h in history[conv.child.id]] == [1, 2]
    assert all({"identity_pk", "enc_pk", "epoch", "enc_cert", "ms"} <= set(h) for h in history[conv.child.id])

    capsys.readouterr()
    _read(conv.parent, conv.id)
    out = capsys.readouterr().out
    for text in ("parent before the reset", "child before the reset", "parent after the reset", "child after"):
        assert text in out
    assert "failed verification" not in out

    _read(child, conv.id)
    out = capsys.readouterr().out
    assert "parent after the reset" in out
    assert "child after the reset" in out
    assert "parent before the reset" not in out
    assert "child before the reset" not in out
    assert out.count(PREVIOUS_KEYS) == 2
    assert "failed verification" not in out

    items = [i for i in child.box.items(conv.id) if i["kind"] == "message"]
    opened = [child.box.open(roster, i) for i in items]
    assert [o.previous_keys for o in opened] == [True, True, False, False]
    assert [o.message is not None for o in opened] == [False, False, True, True]


def test_forged_historic_keys_and_foreign_signatures_still_fail(
    open_conversation: Any, make_user: Any, app: Flask
) -> None:
    conv: Conv = open_conversation()
    child = _reset_child(app, conv, make_user)
    roster = conv.parent.box.conversation(conv.id)
    current = members_of(roster)

    # Control: a message made the same way with the real current keys opens.
    good = _forge(conv.parent, roster, current)
    assert child.box.open(roster, good).message is not None

    # The header names a key (epoch 1) that never belonged to the child.
    fake_pk, _ = p.box_keypair_from_seed(p.new_box_seed())
    fake = [r if r.user_id != conv.child.id else p.RosterMember(r.user_id, fake_pk, 1) for r in current]
    for reader in (child, conv.parent, conv.mod):
        opened = reader.box.open(roster, _forge(conv.parent, roster, fake))
        assert opened.message is None
        assert not opened.previous_keys
        assert "not in their certified history" in (opened.problem or "")

    # A historic key the server slips into the history without a valid enc_cert does not count.
    lying = {**roster, "roster": [dict(r) for r in roster["roster"]]}
    for r in lying["roster"]:
        if r["user_id"] == conv.child.id:
            r["key_history"] = [*r["key_history"], {**r["key_history"][0], "enc_pk": p.b64e(fake_pk)}]
    opened = conv.parent.box.open(lying, _forge(conv.parent, lying, fake))
    assert opened.message is None
    assert "not in their certified history" in (opened.problem or "")

    # Signed by a key that is not in the sender's history.
    stranger = p.new_identity()
    opened = child.box.open(roster, _forge(conv.parent, roster, current, sign_seed=stranger.seed))
    assert opened.message is None
    assert not opened.previous_keys
    assert "sender identity key" in (opened.problem or "")

    # The child's old (real) key named, but the signature is broken: failed, not "previous keys".
    old_child = next(h for h in roster["roster"] if h["user_id"] == conv.child.id)["key_history"][0]
    old = [
        r if r.user_id != conv.child.id else p.RosterMember(r.user_id, p.b64d(old_child["enc_pk"]), 1) for r in current
    ]
    item = _forge(conv.parent, roster, old)
    assert child.box.open(roster, item).previous_keys
    item["envelope"] = {**item["envelope"], "sig": p.b64e(bytes(64))}
    opened = child.box.open(roster, item)
    assert opened.message is None
    assert not opened.previous_keys
    assert opened.problem == "signature does not verify"
