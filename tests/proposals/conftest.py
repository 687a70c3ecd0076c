"""Builders for stored claims."""

from __future__ import annotations

import copy
import secrets
from typing import Any

import pytest

from reunite.claims.models import Claim, ClaimRole
from reunite.extensions import db
from tests.examples import SPEC_CHILD, SPEC_PARENT

PARENT = {k: v for k, v in copy.deepcopy(SPEC_PARENT).items() if k != "id"}
CHILD = {k: v for k, v in copy.deepcopy(SPEC_CHILD).items() if k != "id"}


@pytest.fixture
def make_claim(app: Any) -> Any:
    """make_claim(data, matched=True) stores a claim and, like the app after a save, matches it."""
    from reunite.proposals import services

    def _make(data: dict[str, Any], matched: bool = True) -> Claim:
        claim = Claim(
            public_id="cl-" + secrets.token_hex(6),
            role=ClaimRole(data["role"]),
            data={k: v for k, v in copy.deepcopy(data).items() if k != "id"},
            version=1,
        )
        db.session.add(claim)
        db.session.commit()
        if matched:
            services.match_claim(claim.id)
            db.session.commit()
        return claim

    return _make
