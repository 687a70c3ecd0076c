"""Normalisation: romanisation folding, kana conversion, kanji readings, claim parsing."""

import pytest

from reunite.matching.model import ChildClaim, ClaimFormatError, ParentClaim, claim_from_dict
from reunite.matching.normalise import canonical_romaji, kana_to_romaji, split_script_boundary, split_tokens
from reunite.matching.readings import kanji_readings


@pytest.mark.parametrize("spelling", ["Ōno", "Ohno", "Ono", "Oono", "ONO", "オオノ", "おおの", "Ôno"])
def test_ono_spellings_share_one_key(spelling: str) -> None:
    assert canonical_romaji(spelling) == "ono"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Syōta", "Shōta"),
        ("Syouta", "しょうた"),
        ("Satoh", "さとう"),
        ("Tiba", "Chiba"),
        ("Huzita", "Fujita"),
        ("Zyun", "じゅん"),
        ("Homma", "ほんま"),
        ("Ken'ichi", "けんいち"),
        ("Hattori", "ハットリ"),
        ("Kōo", "こうお"),  # kō + o: a long vowel followed by the same vowel
        ("Kôo", "こうお"),
        ("Soo", "そうお"),
    ],
)
def test_kunrei_passport_and_hepburn_fold_together(a: str, b: str) -> None:
    assert canonical_romaji(a) == canonical_romaji(b)


@pytest.mark.parametrize(("a", "b"), [("Sato", "Saito"), ("Ono", "Onoe"), ("Yuki", "Yoko")])
def test_different_names_stay_different(a: str, b: str) -> None:
    assert canonical_romaji(a) != canonical_romaji(b)


def test_kana_to_romaji_handles_digraphs_sokuon_and_long_marks() -> None:
    assert kana_to_romaji("しょうた") == "shouta"
    assert kana_to_romaji("はっとり") == "hattori"
    assert kana_to_romaji("ピーター") == "piitaa"
    assert kana_to_romaji("マッチ") == "matchi"


def test_tokens_split_on_spaces_and_middle_dots() -> None:
    assert split_tokens("Emma Yuki") == ["Emma", "Yuki"]
    assert split_tokens("エマ・ユキ") == ["エマ", "ユキ"]
    assert split_script_boundary("田中ゆき") == ["田中", "ゆき"]


def test_kanji_readings_include_name_readings() -> None:
    assert kanji_readings("田中")[0] == "tanaka"
    assert "haruto" in kanji_readings("陽翔")
    assert "kazuki" in kanji_readings("一輝")
    assert "hina" in kanji_readings("陽菜")


def test_claim_from_dict_parses_both_roles() -> None:
    parent = claim_from_dict(
        {
            "id": "p-1",
            "role": "parent",
            "claimant": {"names": [{"given": "John"}]},
            "children": [{"ref": "1", "names": [{"given": "Emma"}], "birth_date": "2012-03"}],
        }
    )
    child = claim_from_dict({"id": "c-1", "role": "child", "claimant": {"names": [{"full": "田中ゆき"}]}})
    assert isinstance(parent, ParentClaim)
    assert parent.child("1").person.birth_date == "2012-03"
    assert isinstance(child, ChildClaim)


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"id": "c", "role": "child", "claimant": {}, "colour": "red"}, "colour"),
        ({"id": "c", "role": "child", "claimant": {"birth_date": "2012-13-01"}}, "claimant.birth_date"),
        ({"id": "c", "role": "child", "claimant": {"names": [{"kind": "birth"}]}}, "claimant.names[0]"),
        ({"id": "p", "role": "parent", "claimant": {}}, "children"),
        ({"id": "p", "role": "parent", "claimant": {}, "children": [{"ref": "1"}]}, "children[0].names"),
        ({"id": "c", "role": "child", "claimant": {"nationalities": ["jp"]}}, "claimant.nationalities[0]"),
        ({"id": "c", "role": "child", "claimant": {}, "children": []}, "children"),
    ],
)
def test_invalid_claims_name_the_field(data: dict[str, object], path: str) -> None:
    with pytest.raises(ClaimFormatError) as excinfo:
        claim_from_dict(data)
    assert excinfo.value.field_path == path


def test_kanji_readings_come_usual_readings_first() -> None:
    # Each character's usual readings combine before any character's rare one: 裕太郎 is
    # Hirotarō (裕's second reading) before Yūfutoshirō; reading 裕 as ゆう through every
    # reading of 太郎 first pushed Hirotarō out of the list.
    readings = kanji_readings("裕太郎")
    assert "hirotaro" in readings[:3]
    assert kanji_readings("七花").index("nanaka") < 3
    assert "takehei" in kanji_readings("剛平")  # 剛 as たけ, a name reading
