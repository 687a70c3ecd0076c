"""Claim rules: role rules, own claims only, history, import keyed by id, export."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from reunite.claims import services
from reunite.claims.models import Claim, ClaimRevision, ClaimRole
from reunite.errors import Forbidden, Invalid, NotFound
from reunite.extensions import db
from tests.claims.conftest import CHILD_EXAMPLE, PARENT_EXAMPLE


def count(model: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_parent_files_a_parent_claim_with_a_first_revision(make_user: Any, parent_data: dict[str, Any]) -> None:
    owner = make_user("parent").user
    claim = services.create_claim(owner, parent_data)
    db.session.commit()
    assert re.fullmatch(r"cl-[0-9a-f]{16}", claim.public_id)
    assert claim.owner_id == owner.id
    assert claim.role == ClaimRole.PARENT
    assert claim.source_id is None
    assert claim.version == 1
    assert claim.data == parent_data
    assert claim.matched_version is None
    assert claim.needs_matching
    assert claim.interchange_id == claim.public_id
    [revision] = claim.revisions
    assert (revision.version, revision.data, revision.author_id) == (1, parent_data, owner.id)
    assert claim.created_at.tzinfo is not None


def test_a_child_files_a_child_claim(make_user: Any, child_data: dict[str, Any]) -> None:
    claim = services.create_claim(make_user("child").user, child_data)
    assert claim.role == ClaimRole.CHILD
    assert claim.data["sought_parent"]["names"] == [{"given": "ジョン"}]


@pytest.mark.parametrize(
    ("account", "example"),
    [("child", PARENT_EXAMPLE), ("parent", CHILD_EXAMPLE)],
)
def test_the_wrong_role_is_forbidden_and_writes_nothing(make_user: Any, account: str, example: dict[str, Any]) -> None:
    data = {k: v for k, v in example.items() if k != "id"}
    with pytest.raises(Forbidden) as info:
        services.create_claim(make_user(account).user, data)
    assert info.value.field == "role"
    db.session.rollback()
    assert count(Claim) == count(ClaimRevision) == 0


@pytest.mark.parametrize("staff", ["moderator", "admin"])
def test_staff_do_not_file_claims(make_user: Any, parent_data: dict[str, Any], staff: str) -> None:
    with pytest.raises(Forbidden):
        services.create_claim(make_user(staff).user, parent_data)
    assert count(Claim) == 0


def test_invalid_content_names_the_field_and_writes_nothing(make_user: Any, parent_data: dict[str, Any]) -> None:
    parent_data["children"][0]["birth_date"] = "2012-13"
    with pytest.raises(Invalid) as info:
        services.create_claim(make_user("parent").user, parent_data)
    assert info.value.field == "children[0].birth_date"
    db.session.rollback()
    assert count(Claim) == 0


def test_an_edit_makes_a_new_version_and_keeps_the_old_one(make_user: Any, make_claim: Any) -> None:
    owner = make_user("parent").user
    claim = make_claim(owner)
    before = copy.deepcopy(claim.data)
    changed = copy.deepcopy(before)
    changed["children"][0]["names"].append({"family": "田中", "given": "ゆき", "kind": "current"})
    claim.matched_version = 1  # the matcher saw version 1
    db.session.commit()
    first_updated = claim.updated_at

    same, is_changed = services.update_claim(owner, claim.public_id, changed)
    db.session.commit()
    assert is_changed
    assert same.id == claim.id
    assert claim.version == 2
    assert claim.data == changed
    assert claim.updated_at >= first_updated
    assert claim.needs_matching  # version 2 was not matched yet
    revisions = services.history(owner, claim.public_id)
    assert [(r.version, r.data) for r in revisions] == [(1, before), (2, changed)]


def test_identical_content_makes_no_new_revision(make_user: Any, make_claim: Any, parent_data: dict[str, Any]) -> None:
    owner = make_user("parent").user
    claim = make_claim(owner)
    # Different spelling of the same content: whitespace, key order, NFC.
    same = dict(reversed(list(copy.deepcopy(parent_data).items())))
    same["claimant"]["names"][0]["family"] = "  Smith "
    _, is_changed = services.update_claim(owner, claim.public_id, same)
    db.session.commit()
    assert not is_changed
    assert claim.version == 1
    assert count(ClaimRevision) == 1


def test_the_role_of_a_claim_cannot_change(make_user: Any, make_claim: Any, child_data: dict[str, Any]) -> None:
    owner = make_user("parent").user
    claim = make_claim(owner)
    with pytest.raises(Forbidden):
        services.update_claim(owner, claim.public_id, child_data)


def test_another_persons_claim_does_not_exist_for_you(make_user: Any, make_claim: Any, parent_data: Any) -> None:
    claim = make_claim(make_user("parent").user)
    other = make_user("parent").user
    for call in (
        lambda: services.get_own_claim(other, claim.public_id),
        lambda: services.update_claim(other, claim.public_id, parent_data),
        lambda: services.history(other, claim.public_id),
    ):
        with pytest.raises(NotFound) as info:
            call()
        with pytest.raises(NotFound) as missing:
            services.get_own_claim(other, "cl-0000000000000000")
        assert info.value.message == missing.value.message
    assert services.list_own_claims(other) == []
    assert claim.version == 1


def test_list_own_claims_shows_only_ones_own(make_user: Any, make_claim: Any) -> None:
    alice = make_user("parent").user
    bob = make_user("parent").user
    mine = [make_claim(alice), make_claim(alice)]
    make_claim(bob)
    assert {c.id for c in services.list_own_claims(alice)} == {c.id for c in mine}


def test_import_creates_an_unowned_claim_keyed_by_its_id(app: Any) -> None:
    result = services.import_line(1, PARENT_EXAMPLE)
    db.session.commit()
    assert result.outcome == "created"
    assert result.is_changed
    claim = db.session.get(Claim, result.claim_id)
    assert claim is not None
    assert claim.owner_id is None
    assert claim.source_id == "p-1001"
    assert "id" not in claim.data
    assert services.export_claim(claim) == PARENT_EXAMPLE

    again = services.import_line(1, copy.deepcopy(PARENT_EXAMPLE))
    assert (again.outcome, again.claim_id, again.is_changed) == ("unchanged", claim.id, False)

    changed = copy.deepcopy(PARENT_EXAMPLE)
    changed["separated_on"] = "2016-08"
    assert services.import_line(1, changed).outcome == "updated"
    db.session.commit()
    assert claim.version == 2
    assert [r.author_id for r in claim.revisions] == [None, None]
    assert count(Claim) == 1


def test_import_refuses_a_role_change_and_keeps_the_claim(app: Any) -> None:
    services.import_line(1, PARENT_EXAMPLE)
    db.session.commit()
    as_child = copy.deepcopy(CHILD_EXAMPLE)
    as_child["id"] = PARENT_EXAMPLE["id"]
    with pytest.raises(Invalid) as info:
        services.import_line(2, as_child)
    assert info.value.field == "role"
    db.session.commit()
    claim = db.session.scalars(select(Claim)).one()
    assert claim.role == ClaimRole.PARENT
    assert claim.version == 1


def test_an_app_claim_is_exported_under_its_public_id_and_reimports_unchanged(make_user: Any, make_claim: Any) -> None:
    claim = make_claim(make_user("child").user)
    [exported] = list(services.export_all())
    assert exported["id"] == claim.public_id
    assert {k: v for k, v in exported.items() if k != "id"} == claim.data
    result = services.import_line(1, exported)
    assert (result.outcome, result.claim_id) == ("unchanged", claim.id)
    assert count(Claim) == 1


def test_export_all_reads_in_batches_and_keeps_order(app: Any) -> None:
    for n in range(7):
        obj = copy.deepcopy(CHILD_EXAMPLE)
        obj["id"] = f"c-{n}"
        services.import_line(n + 1, obj)
    db.session.commit()
    assert [obj["id"] for obj in services.export_all(batch=3)] == [f"c-{n}" for n in range(7)]


def test_the_sweep_finds_claims_whose_version_was_not_matched(app: Any) -> None:
    ids = [services.import_line(n, {**CHILD_EXAMPLE, "id": f"c-{n}"}).claim_id for n in range(3)]
    db.session.commit()
    assert services.unmatched_claim_ids() == ids
    first, second, _ = (db.session.get(Claim, i) for i in ids)
    first.matched_version = 1
    second.matched_version = 1
    db.session.commit()
    assert services.unmatched_claim_ids() == ids[2:]
    changed = {**CHILD_EXAMPLE, "id": "c-1", "separated_on": "2017"}
    assert services.import_line(9, changed).outcome == "updated"
    db.session.commit()
    assert services.unmatched_claim_ids() == ids[1:]
    assert services.unmatched_claim_ids(limit=1) == ids[1:2]
