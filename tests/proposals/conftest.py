"""Builders for stored claims."""

from __future__ import annotations

import copy
import secrets
from typing import Any

import pytest

from reunite.claims.models import Claim, ClaimRole
from reunite.extensions import db

PARENT = {
    "role": "parent",
    "claimant": {"names": [{"family": "Smith", "given": "John"}], "sex": "M", "nationalities": ["US"]},
    "other_parent": {
        "names": [{"family": "田中", "given": "愛子"}, {"family": "Tanaka", "given": "Aiko", "kind": "reading"}],
        "sex": "F",
        "nationalities": ["JP"],
    },
    "children": [
        {
            "ref": "1",
            "names": [{"family": "Smith", "given": "Emma Yuki"}],
            "sex": "F",
            "birth_date": "2012-03-04",
            "birth_place": {"city": "Seattle", "country": "US"},
        }
    ],
    "separated_on": "2016-07",
    "last_known_place": {"city": "Osaka", "country": "JP"},
    "languages": ["en"],
}
CHILD = {
    "role": "child",
    "claimant": {
        "names": [{"family": "田中", "given": "ゆき"}],
        "sex": "F",
        "birth_date": "2012-03-04",
        "birth_place": {"country": "US"},
    },
    "sought_parent": {"names": [{"given": "ジョン"}], "sex": "M", "nationalities": ["US"]},
    "other_parent": {"names": [{"family": "田中", "given": "愛子"}]},
    "separated_on": "2016",
    "languages": ["ja"],
}


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
