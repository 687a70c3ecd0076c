"""Fellegi–Sunter scoring: the README example, TF adjustment, levels, explanations, params."""

import copy
import json
from typing import Any

import pytest

from reunite.matching import ChildClaim, Model, ParentClaim, claim_from_dict, default_model, score_pair
from reunite.matching.compare import (
    ALT,
    KANJI,
    PHONETIC,
    child_side,
    compare_names,
    compare_nicknames,
    make_token,
    parent_sides,
)
from reunite.matching.scoring import (
    FIELD_INDEX,
    FIELDS,
    NAME_CONDITIONED,
    compare_pair,
    condition_on_namesakes,
    fit,
    names_agree,
    tf_tables,
)
from tests.examples import SPEC_CHILD, SPEC_PARENT

P1001: dict[str, Any] = copy.deepcopy(SPEC_PARENT)
C2001: dict[str, Any] = copy.deepcopy(SPEC_CHILD)


def parent(**changes: Any) -> ParentClaim:
    data = json.loads(json.dumps(P1001))
    data.update(changes)
    claim = claim_from_dict(data)
    assert isinstance(claim, ParentClaim)
    return claim


def child(claimant: dict[str, Any] | None = None, **changes: Any) -> ChildClaim:
    data = json.loads(json.dumps(C2001))
    data.update(changes)
    if claimant is not None:
        data["claimant"] = claimant
    claim = claim_from_dict(data)
    assert isinstance(claim, ChildClaim)
    return claim


@pytest.fixture(scope="module")
def model() -> Model:
    return default_model()


def test_readme_example_scores_above_threshold_with_readable_explanation(model: Model) -> None:
    score, explanation = score_pair(child(), parent(), "1", model)
    assert score >= model.threshold + 10
    json.dumps(explanation, ensure_ascii=False)
    assert "ジョン ≈ John" in explanation["matched_forms"]
    fields = {row["field"]: row for row in explanation["fields"]}
    assert fields["child_birth_date"]["level"] == "exact"
    assert fields["child_given"]["detail"] == "ゆき ≈ Yuki"
    assert fields["child_family"]["level"] == "via_parent"
    assert fields["sought_given"]["bits"] > 0
    assert abs(sum(row["bits"] for row in explanation["fields"]) - score) < 0.1


def test_different_birth_date_and_parent_push_below_threshold(model: Model) -> None:
    other = child(
        claimant={"names": [{"family": "田中", "given": "ゆき"}], "sex": "F", "birth_date": "2009-11-20"},
        sought_parent={"names": [{"given": "ケビン"}], "sex": "M"},
        other_parent={"names": [{"family": "田中", "given": "恵子"}]},
    )
    score, _explanation = score_pair(other, parent(), "1", model)
    assert score < model.threshold


def test_common_surname_counts_less_than_rare_surname(model: Model) -> None:
    def family_bits(surname: str) -> float:
        p = parent(other_parent={"names": [{"family": surname, "given": "愛子"}]})
        c = child(
            other_parent={"names": [{"family": surname}]},
            claimant={"names": [{"family": surname, "given": "ゆき"}], "sex": "F"},
        )
        _score, explanation = score_pair(c, p, "1", model)
        return sum(r["bits"] for r in explanation["fields"] if r["field"] in ("child_family", "other_family"))

    assert family_bits("佐藤") + 2 < family_bits("東海林")


def test_reading_match_is_stronger_than_dictionary_reading_only(model: Model) -> None:
    direct = child(claimant={"names": [{"family": "田中", "given": "ゆき"}], "sex": "F"})
    via_kanji = child(claimant={"names": [{"family": "田中", "given": "由紀"}], "sex": "F"})
    direct_score, _ = score_pair(direct, parent(), "1", model)
    kanji_score, explanation = score_pair(via_kanji, parent(), "1", model)
    rows = {r["field"]: r for r in explanation["fields"]}
    # ゆき is a usual reading of 由紀: its own level, still weaker than the reading written down.
    assert rows["child_given"]["level"] == "kanji_reading"
    assert kanji_score < direct_score


def test_an_unusual_reading_of_kanji_is_weaker_than_a_usual_one(model: Model) -> None:
    # 浅崎 reads Sensaki (pykakasi's choice) and Asasaki (each character's first reading)
    # before Asazaki (a voiced second character, a later reading of 崎).
    usual = compare_names((make_token("Asasaki"),), (make_token("浅崎"),))
    unusual = compare_names((make_token("Asazaki"),), (make_token("浅崎"),))
    assert usual is not None
    assert usual.level == KANJI
    assert unusual is not None
    assert unusual.level == ALT
    for name in ("child_given", "child_family"):
        levels = FIELDS[FIELD_INDEX[name]].levels
        weights = model.weights[FIELD_INDEX[name]]
        assert weights[levels.index("kanji_reading")] > weights[levels.index("alt_reading")]


@pytest.mark.parametrize(
    ("remembered", "recorded"),
    [
        ("ジム", "James"),
        ("Jim", "James"),
        ("トニー", "Anthony"),
        ("アンディ", "Andrew"),
        ("Liz", "Elizabeth"),
        ("ジョー", "Joseph"),
        ("ボブ", "Robert"),
    ],
)
def test_a_remembered_nickname_agrees_with_the_recorded_name(model: Model, remembered: str, recorded: str) -> None:
    p = parent(claimant={"names": [{"family": "Smith", "given": recorded}], "sex": "M"})
    nick = child(sought_parent={"names": [{"given": remembered}], "sex": "M"})
    other = child(sought_parent={"names": [{"given": "ケン"}], "sex": "M"})
    nick_score, explanation = score_pair(nick, p, "1", model)
    other_score, _ = score_pair(other, p, "1", model)
    rows = {r["field"]: r for r in explanation["fields"]}
    assert rows["sought_given"]["level"] == "nickname"
    assert rows["sought_given"]["detail"] == f"{remembered} ≈ {recorded}"
    assert nick_score > other_score


def test_no_nickname_between_unrelated_names() -> None:
    assert compare_nicknames((make_token("ジム"),), (make_token("John"),)) is None
    assert compare_nicknames((make_token("Tom"),), (make_token("James"),)) is None
    assert compare_nicknames((make_token("ケン"),), (make_token("けん"),)) is None  # no Latin side
    assert compare_nicknames((make_token("ジェイ"),), (make_token("Joseph"),)) is None  # Jay is not Joe


def test_two_latin_names_agree_phonetically_only_if_they_also_look_alike() -> None:
    # Schmidt ≈ Smith and Kato ≈ Carter share a consonant skeleton but are different names;
    # a misspelt Richard still agrees.
    assert compare_names((make_token("Schmidt"),), (make_token("Smith"),)) is None
    assert compare_names((make_token("Kato"),), (make_token("Carter"),)) is None
    assert compare_names((make_token("シュミット"),), (make_token("Schmidt"),)) is not None
    misspelt = compare_names((make_token("Ricard"),), (make_token("Richard"),))
    assert misspelt is not None
    assert misspelt.level == PHONETIC


def test_macron_and_passport_spellings_agree(model: Model) -> None:
    p = parent(other_parent={"names": [{"family": "Ōno", "given": "Yōko"}]})
    c = child(other_parent={"names": [{"family": "Ohno", "given": "Yoko"}]})
    _score, explanation = score_pair(c, p, "1", model)
    rows = {r["field"]: r for r in explanation["fields"]}
    assert rows["other_family"]["level"] in ("exact", "reading")
    assert rows["other_given"]["level"] in ("exact", "reading")


def test_unknown_child_ref_raises(model: Model) -> None:
    with pytest.raises(KeyError):
        score_pair(child(), parent(), "9", model)


def test_params_round_trip_through_json(model: Model) -> None:
    again = Model.from_json(json.loads(json.dumps(model.to_json())))
    assert again.weights == model.weights
    assert again.threshold == model.threshold
    assert score_pair(child(), parent(), "1", again)[0] == pytest.approx(score_pair(child(), parent(), "1", model)[0])


def test_params_with_other_levels_are_rejected(model: Model) -> None:
    data = model.to_json()
    data["fields"]["child_sex"]["levels"] = ["agree"]
    with pytest.raises(ValueError, match="child_sex"):
        Model.from_json(data)


def test_child_surname_from_the_claimant_is_its_own_level(model: Model) -> None:
    # The child now uses the claiming parent's surname, not the one listed in the parent
    # claim and not the other parent's: much weaker evidence than the usual "via_parent"
    # (on the dev data even negative), but not a disagreement.
    p = parent(
        children=[
            {"ref": "1", "names": [{"family": "Tanaka", "given": "Emma Yuki"}], "sex": "F", "birth_date": "2012-03-04"}
        ]
    )
    c = child(claimant={"names": [{"family": "スミス", "given": "ゆき"}], "sex": "F", "birth_date": "2012-03-04"})
    _score, explanation = score_pair(c, p, "1", model)
    fields = {row["field"]: row for row in explanation["fields"]}
    assert fields["child_family"]["level"] == "via_claimant"
    assert fields["child_family"]["detail"] == "スミス ≈ Smith"
    weights = dict(zip(FIELDS[FIELD_INDEX["child_family"]].levels, model.weights[1], strict=True))
    assert weights["disagree"] < fields["child_family"]["bits"] < weights["via_parent"]


def test_different_kanji_spellings_agree_only_through_likely_readings() -> None:
    # Variant kanji of one name (こうき: 光希 / 晃輝) agree by reading; two different names
    # must not agree through an unlikely combination of character readings (健一/雄一
    # both have "takehajime" among their dictionary readings).
    variant = compare_names((make_token("光希"),), (make_token("晃輝"),))
    assert variant is not None
    assert variant.level == ALT
    assert variant.tf_key == "r:koki"
    assert compare_names((make_token("健一"),), (make_token("雄一"),)) is None


def test_one_written_surname_counts_once_whatever_reading_matched_it(model: Model) -> None:
    # The child and the parent they live with both write 長部. The parent claim has the
    # child as 長部 (matched as written) and the other parent as Nagabe (matched through
    # another reading of 長部): still one observation of one surname, counted once.
    p = parent(
        children=[{"ref": "1", "names": [{"family": "長部", "given": "蓮"}], "sex": "M"}],
        other_parent={"names": [{"family": "Nagabe", "given": "Tatsuya"}], "sex": "M"},
    )
    c = child(
        claimant={"names": [{"family": "長部", "given": "蓮"}], "sex": "M"},
        other_parent={"names": [{"family": "長部"}]},
    )
    _score, explanation = score_pair(c, p, "1", model)
    fields = {row["field"]: row for row in explanation["fields"]}
    assert fields["child_family"]["level"] == "exact"
    assert "other_family" not in fields
    # a different surname for the other parent is still compared (and disagrees)
    c2 = child(
        claimant={"names": [{"family": "長部", "given": "蓮"}], "sex": "M"},
        other_parent={"names": [{"family": "佐藤"}]},
    )
    _score, explanation = score_pair(c2, p, "1", model)
    assert {row["field"]: row for row in explanation["fields"]}["other_family"]["level"] == "disagree"


@pytest.mark.parametrize(
    ("recorded", "remembered", "level"),
    [
        ("2012-03-04", "2012-03-04", "exact"),
        ("2012-03-04", "2012-03-05", "near"),  # a day off
        ("2012-03-04", "2012-03-06", "near"),
        ("2012-03-14", "2012-03-11", "digit_slip"),  # one digit of the day, three days apart
        ("2012-03-04", "2012-08-04", "digit_slip"),  # one digit of the month
        ("2012-03-04", "2013-03-04", "digit_slip"),  # the year, same day and month
        ("2012-03-04", "2012-04-03", "day_month_swapped"),
        ("2012-03-04", "2012-03-25", "same_year_differ"),
        ("2012-03-04", "2013-07-20", "year_off_by_one"),
        ("2012-03-04", "2015-07-20", "disagree"),
    ],
)
def test_birth_date_levels(model: Model, recorded: str, remembered: str, level: str) -> None:
    kid = {"ref": "1", "names": [{"family": "Smith", "given": "Emma Yuki"}], "sex": "F", "birth_date": recorded}
    p = parent(children=[kid])
    c = child(claimant={"names": [{"family": "田中", "given": "ゆき"}], "sex": "F", "birth_date": remembered})
    _score, explanation = score_pair(c, p, "1", model)
    assert {row["field"]: row for row in explanation["fields"]}["child_birth_date"]["level"] == level


def test_a_day_off_is_stronger_evidence_than_another_one_digit_slip(model: Model) -> None:
    levels = FIELDS[FIELD_INDEX["child_birth_date"]].levels
    weights = dict(zip(levels, model.weights[FIELD_INDEX["child_birth_date"]], strict=True))
    assert weights["exact"] > weights["near"] > weights["digit_slip"] > 0


def test_u_of_the_childs_companion_fields_comes_from_namesakes() -> None:
    # Two different children with the same name are nearly always the same sex, so for a
    # candidate whose names already agree a sex agreement is almost no evidence.
    parent = claim_from_dict(copy.deepcopy(SPEC_PARENT))
    assert isinstance(parent, ParentClaim)
    ps = parent_sides(parent)[0]
    same_name = copy.deepcopy(SPEC_CHILD)
    same_name["id"] = "namesake"
    namesake = child_side(claim_from_dict(same_name))
    other_name = copy.deepcopy(SPEC_CHILD)
    other_name["claimant"]["names"] = [{"family": "Tanaka", "given": "Hiroshi"}]
    stranger = child_side(claim_from_dict(other_name))
    other_name["id"], other_name["claimant"]["sex"] = "boy", "M"
    boy = child_side(claim_from_dict(other_name))
    assert names_agree(compare_pair(namesake, ps))
    assert not names_agree(compare_pair(stranger, ps))

    true_pairs = [(namesake, ps)] * 5
    strangers = [(stranger, ps), (boy, ps)] * 25
    plain = fit(true_pairs, strangers, {})
    conditioned = condition_on_namesakes(plain, [(namesake, ps)] * 50 + strangers)
    sex = FIELD_INDEX["child_sex"]
    assert plain.u[sex][0] == pytest.approx(0.5)
    assert conditioned.u[sex][0] > 0.98
    assert conditioned.weight((sex, 0, "", None)) < 0.1 < plain.weight((sex, 0, "", None))
    for spec in FIELDS:
        if spec.name not in NAME_CONDITIONED:
            assert conditioned.u[FIELD_INDEX[spec.name]] == plain.u[FIELD_INDEX[spec.name]]


def test_a_surname_written_for_two_people_counts_once(model: Model) -> None:
    # The child writes their own surname in kanji and the sought parent's in kana: the
    # child carries that parent's surname, so the two agreements are one observation.
    p = parent(
        claimant={"names": [{"family": "ふじぎし", "given": "たくみ"}], "sex": "M"},
        children=[{"ref": "1", "names": [{"family": "藤岸", "given": "春人"}], "sex": "M"}],
    )
    c = child(
        claimant={"names": [{"family": "藤岸", "given": "春人"}], "sex": "M"},
        sought_parent={"names": [{"family": "ふじぎし"}], "sex": "M"},
    )
    _score, explanation = score_pair(c, p, "1", model)
    fields = {row["field"]: row for row in explanation["fields"]}
    assert fields["child_family"]["level"] == "exact"
    assert "sought_family" not in fields
    # スミス and Smith are one surname too (by sound); a different surname still counts
    p2 = parent(children=[{"ref": "1", "names": [{"family": "Smith", "given": "Emma"}], "sex": "F"}])
    same = child(
        claimant={"names": [{"family": "スミス", "given": "エマ"}], "sex": "F"},
        sought_parent={"names": [{"family": "Smith"}], "sex": "M"},
    )
    fields = {row["field"]: row for row in score_pair(same, p2, "1", model)[1]["fields"]}
    assert fields["child_family"]["level"] == "phonetic"
    assert "sought_family" not in fields
    other = child(
        claimant={"names": [{"family": "田中", "given": "エマ"}], "sex": "F"},
        sought_parent={"names": [{"family": "Smith"}], "sex": "M"},
    )
    fields = {row["field"]: row for row in score_pair(other, p2, "1", model)[1]["fields"]}
    assert fields["sought_family"]["level"] == "exact"


def test_a_phonetic_agreement_is_as_rare_as_its_skeleton() -> None:
    # Northshaw (ノースショー) and Newworth (ニューワース) share only the skeleton "ns" of
    # every Nash and Nance: the agreement is weighed by how common the skeleton is, not by
    # how rare either name is.
    m = compare_names((make_token("ノースショー"),), (make_token("ニューワース"),))
    assert m is not None
    assert m.level == PHONETIC
    assert m.tf_key == "p:ns"
    sms = compare_names((make_token("スミス"),), (make_token("Smith"),))
    assert sms is not None
    assert sms.tf_key == "p:sms"
    base = default_model()
    i = FIELD_INDEX["other_family"]
    common = Model(m=base.m, u=base.u, tf={"family": {"p:ns": 0.02, "p:fks": 0.0005, "r:nyuwasu": 0.0001}})
    common_skeleton = common.weight((i, PHONETIC, "p:ns", m))
    rare_skeleton = common.weight((i, PHONETIC, "p:fks", m))
    assert common_skeleton < rare_skeleton
    assert common_skeleton < common.weights[i][PHONETIC] - 4  # a skeleton of every 50th person
    # the rare value that happens to share the skeleton does not lend it its rarity
    assert common.weight((i, PHONETIC, "p:ns", m)) < common.weight((i, PHONETIC, "r:nyuwasu", m))


def test_a_nickname_needs_more_than_one_shared_consonant() -> None:
    # Wen (of Wendy) and アンナ share the skeleton "an" (a vowel and an n); so do Ann, Ian
    # and Owen. A nickname of that shape must also start with the same letter.
    assert compare_nicknames((make_token("アンナ"),), (make_token("Wendy"),)) is None
    for remembered, recorded in (("ウェン", "Wendy"), ("エド", "Edward"), ("アル", "Albert")):
        m = compare_nicknames((make_token(remembered),), (make_token(recorded),))
        assert m is not None, (remembered, recorded)


def test_tf_tables_count_skeletons_across_scripts() -> None:
    # Smith written スミス and Smith is one skeleton, "sms", held by everyone of that family;
    # the value "smith" only by those who wrote it in Latin letters.
    katakana = copy.deepcopy(SPEC_PARENT)
    katakana["id"] = "p-kata"
    katakana["claimant"]["names"] = [{"family": "スミス", "given": "ジョン"}]
    katakana["children"][0]["names"] = [{"family": "スミス", "given": "エマ"}]
    sides = [ps for data in (SPEC_PARENT, katakana) for ps in parent_sides(claim_from_dict(copy.deepcopy(data)))]
    family = tf_tables(sides)["family"]
    assert family["p:sms"] == pytest.approx(4 / 6)  # four of six people; the Tanakas are not
    assert family["r:smith"] == pytest.approx(2 / 6)
    assert family["r:tanaka"] == pytest.approx(2 / 6)
