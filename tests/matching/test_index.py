"""MatchIndex: blocking keys, candidates, proposals in both directions, removal."""

import copy
import dataclasses
import json
from typing import Any

import pytest

from reunite.matching import (
    ChildClaim,
    MatchIndex,
    ParentClaim,
    blocking_keys,
    blocking_keys_by_child,
    claim_from_dict,
    default_model,
    score_pair,
)
from reunite.matching.generate import generate
from tests.examples import SPEC_CHILD, SPEC_PARENT

P1001: dict[str, Any] = copy.deepcopy(SPEC_PARENT)
C2001: dict[str, Any] = copy.deepcopy(SPEC_CHILD)


def load(data: dict[str, Any]) -> Any:
    return claim_from_dict(json.loads(json.dumps(data)))


@pytest.fixture(scope="module")
def population() -> list[ParentClaim]:
    claims, _truth = generate(600, 0, seed=7)
    return [c for c in map(claim_from_dict, claims) if isinstance(c, ParentClaim)]


@pytest.fixture
def index(population: list[ParentClaim]) -> MatchIndex:
    idx = MatchIndex(default_model())
    for claim in population:
        idx.add(claim)
    idx.add(load(P1001))
    return idx


def test_readme_child_claim_is_proposed_first_for_p1001_child_1(index: MatchIndex) -> None:
    proposals = index.match(load(C2001))
    assert proposals, "c-2001 got no proposal"
    best = proposals[0]
    assert (best.child_claim_id, best.parent_claim_id, best.child_ref) == ("c-2001", "p-1001", "1")
    assert "ジョン ≈ John" in best.explanation["matched_forms"]
    assert best.score == pytest.approx(best.explanation["score_bits"], abs=0.01)
    assert [p.score for p in proposals] == sorted((p.score for p in proposals), reverse=True)


def test_every_phonetic_variant_is_a_blocking_key(index: MatchIndex) -> None:
    # "Thomas" has the skeletons sms and tms (th as in Thomas or as in think); トーマス only
    # tms. The child knows her father's surname in Latin letters and her own given name.
    parent_claim = load(
        {
            "id": "p-thomas",
            "role": "parent",
            "claimant": {"names": [{"family": "山田", "given": "潤"}], "sex": "M"},
            "other_parent": {"names": [{"family": "トーマス", "given": "ローラ"}], "sex": "F"},
            "children": [
                {"ref": "1", "names": [{"family": "山田", "given": "結衣"}], "sex": "F", "birth_date": "2018-06-18"}
            ],
        }
    )
    index.add(parent_claim)
    child_claim = load(
        {
            "id": "c-thomas",
            "role": "child",
            "claimant": {"names": [{"family": "Thomas", "given": "Yui"}], "sex": "F"},
        }
    )
    assert "n~tms|yui" in blocking_keys(child_claim) & blocking_keys(parent_claim)
    assert ("p-thomas", "1") in index.candidates(child_claim)


def test_l_and_r_are_one_sound_in_blocking_keys(index: MatchIndex) -> None:
    # The father wrote his son's name Leo; the son, who lives in Japan, writes レオ (reo).
    # The skeleton of both is a single consonant, too short to be a key, so the romaji must meet.
    parent_claim = load(
        {
            "id": "p-leo",
            "role": "parent",
            "claimant": {"names": [{"family": "Martin", "given": "Tim"}], "sex": "M"},
            "children": [{"ref": "1", "names": [{"family": "Martin", "given": "Leo"}], "sex": "M"}],
        }
    )
    index.add(parent_claim)
    child_claim = load(
        {"id": "c-leo", "role": "child", "claimant": {"names": [{"family": "マーティン", "given": "レオ"}]}}
    )
    assert "n~mtn|reo" in blocking_keys(child_claim) & blocking_keys(parent_claim)
    assert ("p-leo", "1") in index.candidates(child_claim)


@pytest.mark.parametrize(("kana", "latin"), [("リリー", "Lily"), ("ノア", "Noah")])
def test_a_one_consonant_foreign_name_blocks_with_its_vowel(index: MatchIndex, kana: str, latin: str) -> None:
    # The daughter lives with her mother and writes her mother's surname and her name in
    # katakana; the father wrote the Latin name. Neither romaji (ririi / lily) nor the
    # one-consonant skeleton (r) can be a key; consonant and vowel ("r~i") can.
    parent_claim = load(
        {
            "id": "p-short",
            "role": "parent",
            "claimant": {"names": [{"family": "Edwards", "given": "Tom"}], "sex": "M"},
            "other_parent": {"names": [{"family": "星崎", "given": "恵子"}], "sex": "F"},
            "children": [{"ref": "1", "names": [{"family": "Edwards", "given": latin}], "sex": "F"}],
        }
    )
    index.add(parent_claim)
    child_claim = load({"id": "c-short", "role": "child", "claimant": {"names": [{"family": "星崎", "given": kana}]}})
    assert ("p-short", "1") in index.candidates(child_claim)
    # and a different short name does not share the key
    other = load({"id": "c-other", "role": "child", "claimant": {"names": [{"family": "星崎", "given": "ロイ"}]}})
    assert ("p-short", "1") not in index.candidates(other)


@pytest.mark.parametrize(
    ("kanji", "latin"), [("河野", "Kawano"), ("河野", "Kono"), ("中島", "Nakashima"), ("角田", "Kadota")]
)
def test_a_surname_read_another_usual_way_still_blocks(index: MatchIndex, kanji: str, latin: str) -> None:
    # The father wrote the family name in Latin letters with one of its usual readings; the
    # child writes it in kanji and gives nothing else that a key could be made of.
    parent_claim = load(
        {
            "id": "p-reading",
            "role": "parent",
            "claimant": {"names": [{"family": "Brown", "given": "Adam"}], "sex": "M"},
            "other_parent": {"names": [{"family": latin, "given": "Keiko"}], "sex": "F"},
            "children": [{"ref": "1", "names": [{"family": latin, "given": "Kenta"}], "sex": "M"}],
        }
    )
    index.add(parent_claim)
    child_claim = load(
        {"id": "c-reading", "role": "child", "claimant": {"names": [{"family": kanji, "given": "健太"}]}}
    )
    assert ("p-reading", "1") in index.candidates(child_claim)


def test_blocking_keys_of_both_sides_intersect() -> None:
    child_keys = blocking_keys(load(C2001))
    parent_keys = blocking_keys(load(P1001))
    assert child_keys & parent_keys
    assert child_keys & blocking_keys_by_child(load(P1001))["1"]
    assert all(len(k) < 60 for k in child_keys | parent_keys)


def test_candidates_include_the_right_child(index: MatchIndex) -> None:
    assert ("p-1001", "1") in index.candidates(load(C2001))


def test_a_key_held_by_one_then_several_claims_finds_each_of_them() -> None:
    # A posting starts as one slot and becomes a list when a second claim holds the key.
    idx = MatchIndex(default_model())
    found: list[set[str]] = []
    for n in range(3):
        copy_of = json.loads(json.dumps(P1001))
        copy_of["id"] = f"p-copy-{n}"
        idx.add(load(copy_of))
        found.append({claim_id for claim_id, ref in idx.candidates(load(C2001)) if ref == "1"})
    assert found == [{"p-copy-0"}, {"p-copy-0", "p-copy-1"}, {"p-copy-0", "p-copy-1", "p-copy-2"}]


def test_removed_claim_is_no_longer_proposed(index: MatchIndex) -> None:
    index.remove("p-1001")
    assert all(p.parent_claim_id != "p-1001" for p in index.match(load(C2001)))
    index.remove("p-unknown")


def test_re_adding_a_claim_replaces_it(index: MatchIndex) -> None:
    changed = json.loads(json.dumps(P1001))
    changed["children"][0]["birth_date"] = "2001-01-01"
    changed["children"][0]["names"] = [{"family": "Smith", "given": "Oliver"}]
    changed["children"][0]["sex"] = "M"
    index.add(load(changed))
    assert all(p.parent_claim_id != "p-1001" for p in index.match(load(C2001)))


def test_new_parent_claim_finds_existing_child_claim() -> None:
    idx = MatchIndex(default_model())
    idx.add(load(C2001))
    proposals = idx.match_parent(load(P1001))
    assert [(p.child_claim_id, p.parent_claim_id, p.child_ref) for p in proposals] == [("c-2001", "p-1001", "1")]


def test_twins_are_told_apart_by_given_name() -> None:
    twins = json.loads(json.dumps(P1001))
    twins["children"].append(
        {"ref": "2", "names": [{"family": "Smith", "given": "Lily Hana"}], "sex": "F", "birth_date": "2012-03-04"}
    )
    idx = MatchIndex(default_model())
    idx.add(load(twins))
    proposals = idx.match(load(C2001))
    assert [p.child_ref for p in proposals] == ["1"]
    hana = json.loads(json.dumps(C2001))
    hana["claimant"]["names"] = [{"family": "田中", "given": "はな"}]
    assert [p.child_ref for p in idx.match(load(hana))] == ["2"]


def test_unrelated_child_claim_gets_no_proposal(index: MatchIndex) -> None:
    stranger = load(
        {
            "id": "c-9",
            "role": "child",
            "claimant": {"names": [{"family": "東海林", "given": "大地"}], "sex": "M", "birth_date": "1999-01-02"},
            "sought_parent": {"names": [{"given": "Pierre"}], "sex": "M"},
        }
    )
    assert isinstance(stranger, ChildClaim)
    assert index.match(stranger) == []


def test_a_claim_without_the_childs_birth_date_needs_the_undated_offset_less() -> None:
    parent_claim = load(P1001)
    undated_data = copy.deepcopy(C2001)
    del undated_data["claimant"]["birth_date"]
    undated, dated = load(undated_data), load(C2001)
    score, _ = score_pair(undated, parent_claim, "1")
    # A threshold just above this score, and an offset that brings it just below.
    model = dataclasses.replace(default_model(), threshold=score + 0.5, undated_offset=1.0)
    idx = MatchIndex(model)
    idx.add(parent_claim)
    proposals = idx.match(undated)
    assert [(p.parent_claim_id, p.child_ref) for p in proposals] == [("p-1001", "1")]
    assert proposals[0].explanation["threshold_bits"] == pytest.approx(score - 0.5)
    # The dated claim is held to the threshold itself (and passes it on its birth date).
    assert idx.match(dated)[0].explanation["threshold_bits"] == pytest.approx(score + 0.5)
    # Without the offset, the undated claim is not proposed; from the parent side neither.
    strict = MatchIndex(dataclasses.replace(model, undated_offset=0.0))
    strict.add(parent_claim)
    assert strict.match(undated) == []
    both = MatchIndex(model)
    both.add(undated)
    assert [p.child_claim_id for p in both.match_parent(parent_claim)] == ["c-2001"]
