"""Matching is queued after commit; a broker outage never loses a claim."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from sqlalchemy import select

from reunite import create_app
from reunite.claims import matching_hook, services
from reunite.claims.models import Claim
from reunite.claims.tasks import enqueue_match, match_claim
from reunite.extensions import db
from tests.claims.conftest import PARENT_EXAMPLE


def test_the_task_calls_the_matching_hook_with_the_id(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    monkeypatch.setattr(matching_hook, "match_claim", seen.append)
    match_claim(7)
    enqueue_match(8)  # no broker in testing: runs in-process
    assert seen == [7, 8]


def test_an_unreachable_broker_logs_a_warning_and_the_claim_stays(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens on port 1: publishing fails fast with a connection error.
    app = create_app("testing", CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    called: list[int] = []
    monkeypatch.setattr(matching_hook, "match_claim", called.append)
    with app.app_context():
        db.create_all()
        try:
            result = services.import_line(1, PARENT_EXAMPLE)
            db.session.commit()
            with caplog.at_level(logging.WARNING, logger="reunite.claims.tasks"):
                enqueue_match(result.claim_id)
            assert "could not queue matching" in caplog.text
            assert called == []
            claim = db.session.scalars(select(Claim)).one()
            assert claim.needs_matching  # the sweep will find it
        finally:
            db.session.remove()
            db.drop_all()
