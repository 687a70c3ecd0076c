"""Account erasure on PostgreSQL, where foreign keys (and their ON DELETE rules) are enforced."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from reunite import create_app
from reunite.claims.models import Claim
from reunite.extensions import db
from reunite.mailbox.models import Conversation
from reunite.proposals.models import Proposal
from tests.auth.test_erasure import parent_claim_ids, snapshot, talked  # noqa: F401 - fixture
from tests.auth.test_erasure import (
    test_an_interrupted_erasure_leaves_everything_as_it_was as interrupted_erasure_changes_nothing,
)
from tests.conftest import PASSWORD, IsolatedClient
from tests.mailbox.conftest import Conv, open_conversation  # noqa: F401 - fixture
from tests.moderation.conftest import family, moderator, org  # noqa: F401 - fixtures

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def erasure_pg(pg_url: str) -> Iterator[str]:
    """A database of this module's own on the session's PostgreSQL server."""
    import psycopg

    name = pg_url.rsplit("/", 1)[1] + "_erasure"
    admin = pg_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def app(erasure_pg: str) -> Iterator[Flask]:
    """The app on PostgreSQL with an empty schema (overrides the SQLite app of tests/conftest.py)."""
    from reunite.proposals.services import reset_index

    application = create_app("testing", SQLALCHEMY_DATABASE_URI=erasure_pg)
    application.test_client_class = IsolatedClient
    reset_index()
    with application.app_context():
        assert db.engine.dialect.name == "postgresql"
        db.drop_all()
        db.create_all()
        yield application
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def test_erasure_on_postgresql(talked: Conv) -> None:  # noqa: F811
    parent_id = talked.parent.made.user.id
    claim_ids = parent_claim_ids(talked)
    before = snapshot(parent_id, claim_ids)
    talked.parent.client.delete_account(PASSWORD)
    db.session.expire_all()
    after = snapshot(parent_id, claim_ids)
    assert (after["claims"], after["revisions"], after["flags"], after["notifications"]) == (0, 0, 0, 0)
    assert after["messages"] == before["messages"]
    assert after["members"] == before["members"]
    proposal = db.session.scalars(select(Proposal)).one()
    assert proposal.parent_claim_id is None
    conv = db.session.scalars(select(Conversation)).one()
    assert conv.proposal_id == proposal.id
    assert conv.state.value == "closed"
    assert db.session.scalars(select(Claim).where(Claim.owner_id == talked.child.made.user.id)).one()
    roster = talked.child.box.conversation(talked.id)
    opened = [talked.child.box.open(roster, item).message for item in talked.child.box.items(talked.id)]
    assert all(m is not None for m in opened)
    assert len(opened) == 2


def test_an_interrupted_erasure_on_postgresql_changes_nothing(
    talked: Conv,  # noqa: F811
    api: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SQLite test's failure injection, on PostgreSQL's transactions."""
    interrupted_erasure_changes_nothing(talked, api, monkeypatch)
