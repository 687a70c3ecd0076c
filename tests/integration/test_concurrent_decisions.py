"""Two moderators deciding the same proposal at the same moment on PostgreSQL: exactly one wins."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select

from reunite import create_app
from reunite.errors import Conflict
from reunite.extensions import db
from reunite.moderation import services
from reunite.moderation.models import Decision
from reunite.proposals.models import Proposal, ProposalStatus
from reunite.proposals.services import reset_index

pytestmark = pytest.mark.services


@pytest.fixture
def pg_app(pg_migrated: str) -> Iterator[Flask]:
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=pg_migrated)
    reset_index()
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    reset_index()


@pytest.mark.parametrize("actions", [("approve", "reject"), ("reject", "reject"), ("approve", "approve")])
def test_exactly_one_of_two_simultaneous_decisions_wins(pg_app: Flask, actions: tuple[str, str]) -> None:
    import copy
    import secrets
    import time

    from reunite.auth import services as auth_services
    from reunite.auth.models import Role
    from reunite.claims import services as claim_services
    from reunite.cli import create_account
    from reunite.client import protocol as p
    from reunite.proposals import services as matcher
    from tests.proposals.conftest import CHILD, PARENT

    org = p.new_identity()
    pg_app.config["ORG_PUBLIC_KEY"] = p.b64e(org.pk)
    tag = secrets.token_hex(3)
    mods = []
    for i in range(2):
        user, _ = create_account(f"cmod{i}-{tag}", Role.MODERATOR, "moderator password", None)
        auth_services.certify_moderator(user, org.seed, int(time.time() * 1000) + 86_400_000)
        mods.append(user)
    parent, _ = create_account(f"cpar-{tag}", Role.PARENT, "parent password!", None)
    child, _ = create_account(f"cchi-{tag}", Role.CHILD, "child password!!", 2001)
    db.session.commit()
    pd, cd = copy.deepcopy(PARENT), copy.deepcopy(CHILD)
    birth = f"2001-{secrets.randbelow(12) + 1:02d}-{secrets.randbelow(28) + 1:02d}"
    pd["children"][0]["birth_date"] = cd["claimant"]["birth_date"] = birth
    pc = claim_services.create_claim(parent, pd)
    cc = claim_services.create_claim(child, cd)
    db.session.commit()
    matcher.match_claim(pc.id)
    matcher.match_claim(cc.id)
    db.session.commit()
    proposal = db.session.scalars(select(Proposal).where(Proposal.child_claim_id == cc.id)).one()
    seen = proposal.state_version
    public_id = proposal.public_id
    mod_ids = [m.id for m in mods]

    barrier = threading.Barrier(2)
    results: list[str] = []

    def decide(mod_id: int, action: str) -> None:
        with pg_app.app_context():
            from reunite.auth.models import User

            mod = db.session.get(User, mod_id)
            barrier.wait()
            try:
                services.decide(mod, public_id, action, "reason given", seen)
                db.session.commit()
                results.append("won")
            except Conflict:
                db.session.rollback()
                results.append("told")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=decide, args=(mod_ids[i], actions[i])) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["told", "won"]
    db.session.expire_all()
    proposal = db.session.get(Proposal, proposal.id)
    assert proposal.state_version == seen + 1
    assert proposal.status in (ProposalStatus.APPROVED, ProposalStatus.REJECTED)
    count = db.session.scalar(select(func.count()).select_from(Decision).where(Decision.proposal_id == proposal.id))
    assert count == 1
