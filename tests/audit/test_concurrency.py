"""Concurrent appends on PostgreSQL: the locked head row keeps one unbroken chain."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select

from reunite import create_app
from reunite.audit import services as audit
from reunite.audit.models import AuditEntry
from reunite.extensions import db

pytestmark = pytest.mark.services


@pytest.fixture
def pg_app(pg_migrated: str) -> Iterator[Flask]:
    """The app on the session's migrated PostgreSQL database; the engine is disposed afterwards."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=pg_migrated)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_two_threads_appending_fifty_each_make_one_chain(pg_app: Flask) -> None:
    with pg_app.app_context():
        before = audit.verify()
        assert before.is_ok, before.message
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def append(tag: str) -> None:
        try:
            # Each thread has its own app context, hence its own session and connection.
            with pg_app.app_context():
                start.wait(timeout=30)
                for i in range(50):
                    audit.record(None, "test.concurrent", "thread", f"{tag}-{i}", details={"i": i})
                    db.session.commit()
                db.session.remove()
        except BaseException as err:  # reported to the main thread below
            errors.append(err)

    threads = [threading.Thread(target=append, args=(tag,)) for tag in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with pg_app.app_context():
        result = audit.verify()
        assert result.is_ok, result.message
        assert result.entries == before.entries + 100
        seqs = db.session.scalars(
            select(AuditEntry.seq).where(AuditEntry.action == "test.concurrent").order_by(AuditEntry.seq)
        ).all()
        assert len(seqs) == 100
        targets = db.session.scalar(
            select(func.count(func.distinct(AuditEntry.target_id))).where(AuditEntry.action == "test.concurrent")
        )
        assert targets == 100
        owners = [
            t[0]
            for t in db.session.scalars(
                select(AuditEntry.target_id).where(AuditEntry.action == "test.concurrent").order_by(AuditEntry.seq)
            )
        ]
        assert owners.count("a") == owners.count("b") == 50
