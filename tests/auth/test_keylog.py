"""The hash-chained key log: appends, checkpoints, tamper detection, and the verify command."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from reunite.auth import keylog, services
from reunite.auth.models import KeyLogCheckpoint, KeyLogEntry
from reunite.client import protocol as p
from reunite.extensions import db
from reunite.keys import server_signing_key


def test_chain_and_checkpoints_verify(make_user: Any) -> None:
    for role in ("parent", "child", "parent"):
        make_user(role)
    result = keylog.verify()
    assert result.is_ok
    assert result.entries == 3
    assert result.checkpoints == 3
    cp = keylog.latest_checkpoint()
    assert cp is not None
    assert cp.size == 3
    server_signing_key().verify_key.verify(p.checkpoint_message(cp.size, cp.head), cp.sig)
    # The head is the spec's chain computed from genesis.
    prev = bytes(32)
    for e in db.session.scalars(select(KeyLogEntry).order_by(KeyLogEntry.seq)):
        prev = p.keylog_entry(prev, e.user_public_id, e.identity_pk, e.enc_pk, e.epoch, e.ms)
    assert prev == cp.head


def test_changed_row_is_detected_and_named(make_user: Any, runner: Any) -> None:
    users = [make_user("parent") for _ in range(3)]
    db.session.execute(update(KeyLogEntry).where(KeyLogEntry.seq == 2).values(enc_pk=users[0].user.enc_pk))
    db.session.commit()
    result = keylog.verify()
    assert not result.is_ok
    assert result.first_bad_seq == 2
    out = runner.invoke(args=["reunite", "keylog", "verify"])
    assert out.exit_code == 1
    assert "entry 2" in out.output


def test_deleted_row_is_detected(make_user: Any) -> None:
    for _ in range(3):
        make_user("parent")
    db.session.execute(delete(KeyLogEntry).where(KeyLogEntry.seq == 3))
    db.session.commit()
    assert not keylog.verify().is_ok


def test_forged_checkpoint_is_detected(make_user: Any) -> None:
    make_user("parent")
    db.session.execute(update(KeyLogCheckpoint).values(sig=bytes(64)))
    db.session.commit()
    result = keylog.verify()
    assert not result.is_ok
    assert "signature" in (result.problem or "")


def test_verify_command_passes_on_a_good_log(make_user: Any, runner: Any) -> None:
    make_user("child")
    out = runner.invoke(args=["reunite", "keylog", "verify"])
    assert out.exit_code == 0
    assert "1 entries" in out.output


def test_admin_reset_appends_a_new_epoch(make_user: Any) -> None:
    admin = make_user("admin")
    target = make_user("parent")
    code = services.issue_reset(admin.user, target.user.public_id)
    db.session.commit()
    assert services.reset_epoch(target.user.username, code) == 2
    entries = db.session.scalars(select(KeyLogEntry).where(KeyLogEntry.user_public_id == target.user.public_id)).all()
    assert [e.epoch for e in entries] == [1]
