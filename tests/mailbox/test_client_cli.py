"""The Python client's mailbox commands: read shows only verified text and safety numbers; pinned keys warn."""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path
from typing import Any

import pytest

from reunite.auth import services as auth_services
from reunite.client import mailbox_cli
from reunite.extensions import db
from tests.mailbox.conftest import Conv, Person, act_as
from tests.mailbox.test_api import craft


def _run(person: Person, command: str, cid: str, **extra: Any) -> int:
    args = argparse.Namespace(command=command, conversation=cid, accept_key_change=False, org_pk=None, after=0)
    for key, value in extra.items():
        setattr(args, key, value)
    return mailbox_cli.run(args, person.client, person.session)


@pytest.fixture(autouse=True)
def pin_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "pins.json"
    monkeypatch.setenv("REUNITE_PINS", str(path))
    return path


def test_read_shows_verified_text_safety_numbers_and_hides_bad_messages(open_conversation: Any, capsys: Any) -> None:
    conv: Conv = open_conversation()
    conv.parent.box.send(conv.id, "a good message")
    roster = conv.parent.box.conversation(conv.id)
    secret_text = f"never shown {secrets.token_hex(4)}"
    msg_id, seq, env, _, _ = craft(
        conv.parent, roster, secret_text, seq=2, wrap_keys={conv.child.id: secrets.token_bytes(32)}
    )
    conv.parent.box.post_envelope(conv.id, msg_id, seq, env)
    assert _run(conv.child, "read", conv.id) == 0
    out = capsys.readouterr().out
    assert "a good message" in out
    assert "failed verification (key commitment does not match)" in out
    assert secret_text not in out
    assert out.count("safety number with") == 2  # the parent and the moderator


def test_a_changed_partner_key_warns_loudly_and_blocks_sending_until_accepted(
    open_conversation: Any, make_user: Any, app: Any, capsys: Any, pin_file: Path
) -> None:
    conv: Conv = open_conversation()
    assert _run(conv.child, "read", conv.id) == 0
    assert pin_file.is_file()
    capsys.readouterr()
    admin = make_user("admin")
    code = auth_services.issue_reset(admin.user, conv.parent.id)
    db.session.commit()
    act_as(app, make_user("parent")).client.complete_reset(conv.parent.made.user.username, code, "new password here")
    assert _run(conv.child, "read", conv.id) == 0
    err = capsys.readouterr().err
    assert f"WARNING: the identity key of {conv.parent.id} HAS CHANGED" in err
    assert _run(conv.child, "send", conv.id, text="are you still you?") == 1
    assert "refusing to send" in capsys.readouterr().err
    assert _run(conv.child, "send", conv.id, text="checked in person", accept_key_change=True) == 0
    assert "re-pinned as you asked" in capsys.readouterr().err
    assert _run(conv.child, "send", conv.id, text="no more warning") == 0
    assert "WARNING" not in capsys.readouterr().err
