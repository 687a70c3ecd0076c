"""A real Celery worker process on Redis matches claims stored in PostgreSQL."""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from reunite import create_app
from reunite.claims.models import Claim, ClaimRole
from reunite.extensions import db
from reunite.proposals.models import Proposal
from tests.conftest import flush_redis, running_worker, service_env
from tests.proposals.conftest import CHILD, PARENT

pytestmark = pytest.mark.services
BROKER = "redis://127.0.0.1:6379/14"


@pytest.fixture(scope="module")
def broker(redis_url: str) -> str:
    return flush_redis(BROKER)


@pytest.fixture(scope="module")
def worker(pg_migrated: str, broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`celery -A worker.celery_app worker` as its own process; yields its log file."""
    env = service_env(pg_migrated, TEST_BROKER_URL=broker)
    with running_worker(env, tmp_path_factory.mktemp("worker") / "worker.log") as log:
        yield log


@pytest.fixture
def pg_app(pg_migrated: str, broker: str) -> Iterator[Flask]:
    """The app in this process, on the same PostgreSQL database and broker as the worker."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=pg_migrated, CELERY_BROKER_URL=broker)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
        app.extensions["celery"].close()


def _store(data: dict[str, Any]) -> int:
    claim = Claim(
        public_id="cl-" + secrets.token_hex(6), role=ClaimRole(data["role"]), data=copy.deepcopy(data), version=1
    )
    db.session.add(claim)
    db.session.commit()
    return claim.id


def _wait_for(predicate: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()  # see other processes' commits
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("timed out waiting for the worker")


def _variant(tag: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A parent claim and the matching child claim, distinct per test so tests do not see each other."""
    parent = copy.deepcopy(PARENT)
    child = copy.deepcopy(CHILD)
    parent["children"][0]["birth_date"] = child["claimant"]["birth_date"] = tag
    return parent, child


def test_worker_matches_claims_queued_after_commit(pg_app: Flask, worker: Path) -> None:
    from reunite.claims.tasks import enqueue_match

    parent_data, child_data = _variant("2012-05-06")
    parent_id = _store(parent_data)
    enqueue_match(parent_id)
    child_id = _store(child_data)
    enqueue_match(child_id)
    proposal = _wait_for(
        lambda: db.session.scalars(select(Proposal).where(Proposal.child_claim_id == child_id)).first()
    )
    assert proposal.parent_claim_id == parent_id
    assert proposal.child_ref == "1"
    assert _wait_for(lambda: db.session.get(Claim, child_id).matched_version == 1)
    # Redelivery is harmless: the same task again makes no second proposal.
    enqueue_match(child_id)
    enqueue_match(child_id)
    time.sleep(2)
    db.session.rollback()
    rows = db.session.scalars(select(Proposal).where(Proposal.child_claim_id == child_id)).all()
    assert len(rows) == 1
    assert "reunite.claims.match_claim[" in worker.read_text()


def test_sweep_catches_claims_saved_while_nothing_was_queued(pg_app: Flask, worker: Path) -> None:
    from reunite.proposals.tasks import sweep_unmatched

    parent_data, child_data = _variant("2012-07-08")
    parent_id = _store(parent_data)  # saved, never queued (as if the broker had been down)
    child_id = _store(child_data)
    sweep_unmatched.delay()
    proposal = _wait_for(
        lambda: db.session.scalars(select(Proposal).where(Proposal.child_claim_id == child_id)).first()
    )
    assert proposal.parent_claim_id == parent_id
    assert _wait_for(lambda: db.session.get(Claim, parent_id).matched_version == 1)
