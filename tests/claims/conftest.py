"""Claim fixtures: the two examples of claims-v1.md and a builder that files claims through the service."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reunite.extensions import db
from tests.examples import SPEC_CHILD, SPEC_PARENT

PARENT_EXAMPLE: dict[str, Any] = copy.deepcopy(SPEC_PARENT)
CHILD_EXAMPLE: dict[str, Any] = copy.deepcopy(SPEC_CHILD)


def without_id(claim: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a claims-v1 object without its id (what the app and the API take)."""
    out = copy.deepcopy(claim)
    out.pop("id", None)
    return out


@pytest.fixture
def parent_data() -> dict[str, Any]:
    """The parent example of claims-v1.md, without id."""
    return without_id(PARENT_EXAMPLE)


@pytest.fixture
def child_data() -> dict[str, Any]:
    """The child example of claims-v1.md, without id."""
    return without_id(CHILD_EXAMPLE)


@pytest.fixture
def make_claim(app: Any) -> Any:
    """Builder: make_claim(user, data=None) files a claim as `user` (example data for the role) and commits."""
    from reunite.claims import services

    def _make(user: Any, data: dict[str, Any] | None = None) -> Any:
        if data is None:
            data = without_id(PARENT_EXAMPLE if user.role.value == "parent" else CHILD_EXAMPLE)
        claim = services.create_claim(user, data)
        db.session.commit()
        return claim

    return _make
