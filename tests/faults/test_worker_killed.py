"""The worker is killed (SIGKILL) in the middle of matching: the task is redelivered, nothing is lost or doubled."""

from __future__ import annotations

import copy
import secrets
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from sqlalchemy import func, select

from reunite.claims.models import Claim, ClaimRole
from reunite.claims.tasks import enqueue_match
from reunite.extensions import db
from reunite.proposals.models import Proposal
from reunite.tasks import broker_transport_options
from tests.faults.conftest import celery_worker, refreshed, task_events, wait_until
from tests.faults.families import family

pytestmark = [pytest.mark.services, pytest.mark.slow]
FAMILIES = 6
MATCH = "reunite.claims.match_claim"


def _store(data: dict[str, object]) -> int:
    role = ClaimRole(str(data["role"]))
    claim = Claim(public_id="cl-" + secrets.token_hex(6), role=role, data=copy.deepcopy(data), version=1)
    db.session.add(claim)
    db.session.commit()
    return claim.id


def _waiting_on_a_lock(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    ).fetchone()
    return int(row[0]) if row else 0


def test_a_killed_worker_loses_no_claim_and_doubles_no_proposal(
    local_app: Flask, fault_env: dict[str, str], tmp_path: Path
) -> None:
    pairs = []
    for n in range(FAMILIES):
        parent_data, child_data = family(n)
        pairs.append((_store(child_data), _store(parent_data)))
    claim_ids = [claim_id for pair in pairs for claim_id in pair]
    first_child = pairs[0][0]

    # Another transaction holds the first claim's row, so the worker that takes its task stops
    # inside it: proposals inserted, the claim not yet marked matched, nothing committed.
    blocker = psycopg.connect(fault_env["TEST_DATABASE_URL"], connect_timeout=5)
    blocker.execute("SELECT id FROM claim WHERE id = %s FOR UPDATE", (first_child,))
    for claim_id in claim_ids:
        enqueue_match(claim_id)  # in order: the first child's task is the first the worker takes

    with psycopg.connect(fault_env["TEST_DATABASE_URL"], autocommit=True, connect_timeout=5) as watcher:
        with celery_worker(fault_env, tmp_path / "first.log") as first:
            wait_until(lambda: _waiting_on_a_lock(watcher), 90, "the worker to block inside the first task")
            in_flight = task_events(first.text(), MATCH)["received"]
            first.kill()
            # A worker killed during its few milliseconds inside a scan for unacknowledged tasks
            # leaves the scan's lock in Redis (this once failed a full run): make that happen
            # every time, with the expiry the killed worker's settings give the lock. It must
            # expire soon enough for the next worker to redeliver the task.
            options = broker_transport_options(float(fault_env["BROKER_VISIBILITY_TIMEOUT_S"]))
            with local_app.extensions["celery"].connection_for_write() as conn:
                channel = conn.default_channel
                left = channel.client.lock(channel.unacked_mutex_key, timeout=options["unacked_mutex_expire"])
                assert left.acquire(blocking=False)
        blocker.rollback()  # the killed worker's transaction is rolled back by the server, never committed
        blocker.close()
        wait_until(lambda: not _waiting_on_a_lock(watcher), 30, "the killed worker's transaction to end")
    assert len(in_flight) == 1, in_flight
    assert not task_events(first.text(), MATCH)["succeeded"]
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Proposal)) == 0  # nothing half-written

    with celery_worker(fault_env, tmp_path / "second.log") as second:
        wait_until(
            refreshed(
                lambda: (
                    db.session.scalar(
                        select(func.count()).select_from(Claim).where(Claim.matched_version == Claim.version)
                    )
                    == len(claim_ids)
                )
            ),
            120,
            "every claim to be matched",
        )
        # The task the first worker died in was handed to the second one (not re-queued by a sweep:
        # this worker runs no beat) and succeeded there.
        redelivered = wait_until(
            lambda: in_flight <= task_events(second.text(), MATCH)["succeeded"], 60, "the lost task to be redelivered"
        )
    assert redelivered

    db.session.rollback()
    rows = db.session.execute(select(Proposal.child_claim_id, Proposal.parent_claim_id, Proposal.child_ref)).all()
    per_pair = Counter((child, parent) for child, parent, _ref in rows)
    # Count in, count out: every claim went in and was matched; each family gives one proposal, once.
    assert sum(1 for claim_id in claim_ids if db.session.get(Claim, claim_id).matched_version == 1) == len(claim_ids)
    assert per_pair == Counter({pair: 1 for pair in pairs})
    assert len(rows) == FAMILIES
