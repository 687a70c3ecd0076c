"""Builders for the moderation flow: certified moderators, people with claims, a proposal between them."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from reunite.auth import services as auth_services
from reunite.claims import services as claim_services
from reunite.claims.models import Claim
from reunite.client import protocol as p
from reunite.extensions import db
from reunite.proposals import services as matcher
from reunite.proposals.models import Proposal
from tests.conftest import Made
from tests.proposals.conftest import CHILD, PARENT


@pytest.fixture
def org(app: Any) -> bytes:
    """An organisation key whose public half is configured; returns its seed."""
    identity = p.new_identity()
    app.config["ORG_PUBLIC_KEY"] = p.b64e(identity.pk)
    return identity.seed


@pytest.fixture
def moderator(make_user: Any, org: bytes) -> Any:
    """moderator() makes a certified moderator."""

    def _make(role: str = "moderator") -> Made:
        made = make_user(role)
        auth_services.certify_moderator(made.user, org, int(time.time() * 1000) + 86_400_000)
        db.session.commit()
        return made

    return _make


@dataclass
class Family:
    """A parent and a child, each with an account and a claim, and the proposal linking them."""

    parent: Made
    child: Made
    parent_claim: Claim
    child_claim: Claim
    proposal: Proposal


@pytest.fixture
def family(make_user: Any) -> Any:
    """family(child_birth="2012-03-04") files both claims through the claims service and matches them."""

    def _make(child_birth: str = "2012-03-04", child_birth_year: int | None = None) -> Family:
        parent = make_user("parent")
        child = make_user("child", birth_year=child_birth_year or int(child_birth[:4]))
        parent_data = copy.deepcopy(PARENT)
        parent_data["children"][0]["birth_date"] = child_birth
        child_data = copy.deepcopy(CHILD)
        child_data["claimant"]["birth_date"] = child_birth
        parent_data.pop("role", None)
        child_data.pop("role", None)
        pc = claim_services.create_claim(parent.user, {"role": "parent", **parent_data})
        cc = claim_services.create_claim(child.user, {"role": "child", **child_data})
        db.session.commit()
        matcher.match_claim(pc.id)
        matcher.match_claim(cc.id)
        db.session.commit()
        proposal = db.session.scalars(select(Proposal).where(Proposal.child_claim_id == cc.id)).one()
        return Family(parent, child, pc, cc, proposal)

    return _make
