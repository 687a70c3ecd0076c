"""The audit log: appends, the chain from genesis, tamper detection naming the row, and the verify command."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from reunite.audit import services as audit
from reunite.audit.models import AuditEntry, AuditHead
from reunite.extensions import db

pytestmark = pytest.mark.usefixtures("app")


def _five(make_user: Any) -> Any:
    admin = make_user("admin")
    for i in range(1, 6):
        audit.record(admin.user, "test.action", "user", f"u-{i}", reason=f"reason {i}", details={"n": i})
    db.session.commit()
    return admin


def test_record_appends_a_chain_from_genesis(make_user: Any) -> None:
    admin = make_user("admin", username="boss")
    first = audit.record(admin.user, "account.reset", "user", "pub-1", "lost both keys", {"b": 2, "a": [1, "ü"]})
    second = audit.record(None, "moderator.certify", "user", "pub-2", details={"expires_ms": 123})
    db.session.commit()
    assert (first.seq, second.seq) == (1, 2)
    assert first.actor_id == admin.user.id
    assert first.actor_username == "boss"
    assert second.actor_id is None
    assert second.actor_username is None
    assert first.created_at.tzinfo is not None
    expected = audit.entry_hash(
        bytes(32),
        1,
        admin.user.id,
        "boss",
        "account.reset",
        "user",
        "pub-1",
        "lost both keys",
        '{"a":[1,"ü"],"b":2}',
        first.created_ms,
    )
    assert first.entry_hash == expected
    head = db.session.get(AuditHead, 1)
    assert head is not None
    assert head.size == 2
    assert head.head == second.entry_hash
    result = audit.verify()
    assert result.is_ok
    assert result.entries == 2
    assert result.first_bad_seq is None
    assert "2 entries" in result.message


def test_empty_log_verifies() -> None:
    result = audit.verify()
    assert result.is_ok
    assert result.entries == 0


def test_nothing_is_written_when_the_caller_rolls_back(make_user: Any) -> None:
    admin = make_user("admin")
    audit.record(admin.user, "account.reset", "user", "pub-1")
    db.session.rollback()
    assert db.session.scalars(select(AuditEntry)).all() == []
    audit.record(admin.user, "account.reset", "user", "pub-1")
    db.session.commit()
    assert [e.seq for e in db.session.scalars(select(AuditEntry))] == [1]
    assert audit.verify().is_ok


def test_missing_actor_and_empty_name_hash_differently() -> None:
    args = ("account.reset", "user", "x", "", "{}", 1)
    assert audit.entry_hash(bytes(32), 1, None, None, *args) != audit.entry_hash(bytes(32), 1, None, "", *args)
    # Length prefixes: moving a character between fields changes the hash.
    assert audit.entry_hash(bytes(32), 1, None, None, "ab", "c", "x", "", "{}", 1) != audit.entry_hash(
        bytes(32), 1, None, None, "a", "bc", "x", "", "{}", 1
    )


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor_id", 999),
        ("actor_username", "someone-else"),
        ("action", "test.other"),
        ("target_type", "claim"),
        ("target_id", "u-99"),
        ("reason", "a different reason"),
        ("details", {"n": 33}),
        ("details", ["not", "a", "dict", "x" * 5000]),
        ("created_ms", 1),
        ("entry_hash", bytes(32)),
    ],
)
def test_changing_any_column_of_a_middle_row_is_detected_and_named(
    make_user: Any, runner: Any, column: str, value: Any
) -> None:
    _five(make_user)
    db.session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values({column: value}))
    db.session.commit()
    result = audit.verify()
    assert not result.is_ok
    assert result.first_bad_seq == 3
    assert "entry 3" in result.message
    out = runner.invoke(args=["reunite", "audit", "verify"])
    assert out.exit_code == 1
    assert "BROKEN at entry 3" in out.output


def test_changing_the_sequence_number_is_detected(make_user: Any) -> None:
    _five(make_user)
    db.session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(seq=30))
    db.session.commit()
    result = audit.verify()
    assert (result.is_ok, result.first_bad_seq) == (False, 3)


def test_deleted_middle_row_is_detected_and_named(make_user: Any, runner: Any) -> None:
    _five(make_user)
    db.session.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
    db.session.commit()
    result = audit.verify()
    assert not result.is_ok
    assert result.first_bad_seq == 2
    assert "entry 2 is missing" in result.message
    out = runner.invoke(args=["reunite", "audit", "verify"])
    assert out.exit_code == 1
    assert "entry 2" in out.output


def test_deleted_last_row_is_detected_through_the_head(make_user: Any) -> None:
    _five(make_user)
    db.session.execute(delete(AuditEntry).where(AuditEntry.seq == 5))
    db.session.commit()
    result = audit.verify()
    assert (result.is_ok, result.first_bad_seq) == (False, 5)


def test_a_row_added_behind_the_heads_back_is_detected(make_user: Any) -> None:
    _five(make_user)
    db.session.execute(update(AuditHead).values(size=4))
    db.session.commit()
    result = audit.verify()
    assert (result.is_ok, result.first_bad_seq) == (False, 5)


def test_verify_command_prints_a_one_line_summary(make_user: Any, runner: Any) -> None:
    _five(make_user)
    out = runner.invoke(args=["reunite", "audit", "verify"])
    assert out.exit_code == 0
    assert out.output.strip() == "audit log OK: 5 entries verified"


def test_details_are_stored_canonically(make_user: Any) -> None:
    entry = audit.record(None, "x.y", "user", "u", details={"z": 1, "a": {"c": 2, "b": 1}})
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(AuditEntry, entry.seq)
    assert stored is not None
    assert json.dumps(stored.details, sort_keys=True, separators=(",", ":")) == '{"a":{"b":1,"c":2},"z":1}'
    assert audit.verify().is_ok


@pytest.mark.parametrize(
    "kwargs",
    [
        {"action": ""},
        {"action": "x" * 65},
        {"target_type": ""},
        {"target_id": "t" * 65},
        {"reason": "r" * 2001},
        {"details": {"bad": object()}},
        {"details": {"nan": float("nan")}},
        {"details": {"big": "x" * 5000}},
        {"details": ["not", "a", "dict"]},
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"actor": None, "action": "a.b", "target_type": "user", "target_id": "u"} | kwargs
    with pytest.raises(audit.AuditError):
        audit.record(**args)
    assert db.session.scalars(select(AuditEntry)).all() == []
