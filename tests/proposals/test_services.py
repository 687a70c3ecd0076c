"""The matcher on stored claims: proposals, idempotence, rejected pairs, the sweep, rematch."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select

from reunite.claims.models import Claim
from reunite.claims.services import unmatched_claim_ids
from reunite.extensions import db
from reunite.proposals import services
from reunite.proposals.models import Proposal, ProposalStatus
from tests.proposals.conftest import CHILD, PARENT


def proposals() -> list[Proposal]:
    return list(db.session.scalars(select(Proposal)))


def test_child_remembering_john_finds_the_smith_case(make_claim: Any) -> None:
    parent = make_claim(PARENT)
    child = make_claim(CHILD)
    made = proposals()
    assert len(made) == 1
    p = made[0]
    assert (p.child_claim_id, p.parent_claim_id, p.child_ref) == (child.id, parent.id, "1")
    assert p.status == ProposalStatus.PROPOSED
    assert p.score >= p.explanation["threshold_bits"]
    assert any("ジョン" in form and "John" in form for form in p.explanation["matched_forms"])
    fields = {row["field"] for row in p.explanation["fields"]}
    assert {"child_birth_date", "sought_given"} <= fields
    assert db.session.get(Claim, parent.id).matched_version == 1


def test_order_does_not_matter_and_matching_is_idempotent(make_claim: Any) -> None:
    child = make_claim(CHILD)
    assert proposals() == []
    parent = make_claim(PARENT)
    assert len(proposals()) == 1
    for _ in range(3):
        services.match_claim(parent.id)
        services.match_claim(child.id)
        db.session.commit()
    assert len(proposals()) == 1
    again = services.match_claim(child.id)
    db.session.commit()
    assert again == 0
    # A fresh worker (empty index) reaches the same state.
    services.reset_index()
    assert services.match_claim(child.id) == 0
    db.session.commit()
    assert len(proposals()) == 1


def test_unrelated_family_gets_no_proposal(make_claim: Any) -> None:
    make_claim(PARENT)
    other = copy.deepcopy(CHILD)
    other["claimant"] = {"names": [{"family": "鈴木", "given": "大翔"}], "sex": "M", "birth_date": "2009-11-20"}
    other["sought_parent"] = {"names": [{"given": "マリア"}], "sex": "F"}
    other["other_parent"] = {"names": [{"family": "鈴木", "given": "健一"}]}
    child = make_claim(other)
    services.match_claim(child.id)
    db.session.commit()
    assert proposals() == []


def test_rejected_pair_returns_only_when_a_matched_field_changes(make_claim: Any) -> None:
    parent = make_claim(PARENT)
    child = make_claim(CHILD)
    services.match_claim(child.id)
    db.session.commit()
    (p,) = proposals()
    p.status = ProposalStatus.REJECTED
    db.session.commit()

    # A change in a field that did not count (languages): still rejected.
    child.data = {**child.data, "languages": ["ja", "en"]}
    child.version += 1
    db.session.commit()
    services.match_claim(child.id)
    db.session.commit()
    db.session.refresh(p)
    assert p.status == ProposalStatus.REJECTED

    # The child remembers more of the father's name: a matched field changed, so it comes back.
    data = copy.deepcopy(child.data)
    data["sought_parent"]["names"].append({"family": "スミス", "given": "ジョン"})
    child.data = data
    child.version += 1
    db.session.commit()
    services.match_claim(child.id)
    db.session.commit()
    db.session.refresh(p)
    assert p.status == ProposalStatus.PROPOSED
    assert len(proposals()) == 1
    assert parent.id == p.parent_claim_id


def test_decided_proposals_are_left_alone(make_claim: Any) -> None:
    make_claim(PARENT)
    child = make_claim(CHILD)
    services.match_claim(child.id)
    db.session.commit()
    (p,) = proposals()
    p.status = ProposalStatus.APPROVED
    score = p.score
    db.session.commit()
    child.version += 1
    db.session.commit()
    services.match_claim(child.id)
    db.session.commit()
    db.session.refresh(p)
    assert p.status == ProposalStatus.APPROVED
    assert p.score == score


def test_sweep_finds_claims_never_matched(make_claim: Any) -> None:
    a = make_claim(PARENT, matched=False)
    b = make_claim(CHILD, matched=False)
    assert unmatched_claim_ids() == [a.id, b.id]
    services.match_claim(a.id)
    db.session.commit()
    assert unmatched_claim_ids() == [b.id]
    b.version += 1  # edited after matching
    services.match_claim(b.id)
    db.session.commit()
    assert unmatched_claim_ids() == []


def test_sweep_task_queues_matching_in_process(make_claim: Any) -> None:
    from reunite.proposals.tasks import sweep_unmatched

    make_claim(PARENT, matched=False)
    make_claim(CHILD, matched=False)
    assert sweep_unmatched.delay().get() == 2  # no broker configured: runs in-process
    assert len(proposals()) == 1
    assert unmatched_claim_ids() == []


def test_rematch_command(make_claim: Any, runner: Any) -> None:
    make_claim(PARENT, matched=False)
    make_claim(CHILD, matched=False)
    out = runner.invoke(args=["reunite", "rematch"])
    assert out.exit_code == 0, out.output
    assert "rematched 2 claims" in out.output
    assert len(proposals()) == 1
    assert unmatched_claim_ids() == []


def test_bulk_marking_keeps_a_claim_edited_since_it_was_read_waiting(make_claim: Any) -> None:
    seen = make_claim(PARENT, matched=False)
    edited = make_claim(PARENT, matched=False)
    read_version = edited.version
    edited.version += 1  # edited after the matcher read it
    db.session.commit()
    services.mark_versions_matched([(seen.id, seen.version), (edited.id, read_version)])
    db.session.commit()
    assert unmatched_claim_ids() == [edited.id]


def test_the_threshold_is_configurable(app: Any, make_claim: Any) -> None:
    # The README pair scores about 39 bits: above the shipped threshold, below 60.
    app.config["MATCH_THRESHOLD_BITS"] = 60.0
    services.reset_index()
    try:
        make_claim(PARENT)
        child = make_claim(CHILD)
        assert proposals() == []
        app.config["MATCH_THRESHOLD_BITS"] = None
        services.reset_index()
        assert services.match_claim(child.id) == 1
        db.session.commit()
        assert len(proposals()) == 1
    finally:
        app.config["MATCH_THRESHOLD_BITS"] = None
        services.reset_index()
