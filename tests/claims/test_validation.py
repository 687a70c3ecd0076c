"""claims-v1 validation: the schema, the semantic rules, canonical form; every error names its field."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from reunite.claims.validation import canonical, json_path, validate_claim
from reunite.errors import Invalid
from tests.claims.conftest import CHILD_EXAMPLE, PARENT_EXAMPLE

TODAY = date(2026, 11, 27)


def check(obj: Any, *, require_id: bool = True) -> dict[str, Any]:
    return validate_claim(obj, require_id=require_id, today=TODAY)


@pytest.mark.parametrize("example", [PARENT_EXAMPLE, CHILD_EXAMPLE])
def test_the_examples_of_the_spec_are_valid_and_already_canonical(example: dict[str, Any]) -> None:
    result = check(example)
    assert result == example
    assert list(result) == [key for key in example]  # the spec's key order is the canonical order


def test_strings_are_trimmed_and_nfc_normalised() -> None:
    claim = copy.deepcopy(CHILD_EXAMPLE)
    # "ガ" written as カ + combining dakuten, with spaces around it.
    claim["sought_parent"]["names"][0]["given"] = "  \u30ab\u3099ン "
    claim["other_parent"]["names"][0]["family"] = "\tCafe\u0301\n"
    result = check(claim)
    assert result["sought_parent"]["names"][0]["given"] == "\u30acン"
    assert result["other_parent"]["names"][0]["family"] == "Caf\u00e9"
    assert claim["sought_parent"]["names"][0]["given"] == "  \u30ab\u3099ン "  # the input is not modified


def test_empty_optional_lists_and_places_are_left_out() -> None:
    claim = copy.deepcopy(CHILD_EXAMPLE)
    claim["languages"] = []
    claim["last_known_place"] = {}
    claim["other_parent"]["nationalities"] = []
    result = check(claim)
    assert "languages" not in result
    assert "last_known_place" not in result
    assert "nationalities" not in result["other_parent"]


def mutate(base: dict[str, Any], change: Any) -> dict[str, Any]:
    obj = copy.deepcopy(base)
    change(obj)
    return obj


P = PARENT_EXAMPLE
C = CHILD_EXAMPLE

BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown top-level field", mutate(P, lambda o: o.update(colour="red")), "colour", "Unknown field"),
    ("unknown child field", mutate(P, lambda o: o["children"][0].update(eyes="brown")), "children[0].eyes", "Unknown"),
    ("unknown name field", mutate(P, lambda o: o["claimant"]["names"][0].update(x=1)), "claimant.names[0].x", "x"),
    ("unknown place field", mutate(P, lambda o: o["last_known_place"].update(zip="1")), "last_known_place.zip", "zip"),
    ("missing id", mutate(P, lambda o: o.pop("id")), "id", "required"),
    ("missing claimant", mutate(C, lambda o: o.pop("claimant")), "claimant", "required"),
    ("bad role", mutate(P, lambda o: o.update(role="uncle")), "role", "parent"),
    ("parent without children", mutate(P, lambda o: o.pop("children")), "children", "child"),
    ("parent with empty children", mutate(P, lambda o: o.update(children=[])), "children", "empty"),
    ("parent with sought_parent", mutate(P, lambda o: o.update(sought_parent={})), "sought_parent", "sought"),
    ("child with children", mutate(C, lambda o: o.update(children=P["children"])), "children", "child claim"),
    ("child without ref", mutate(P, lambda o: o["children"][0].pop("ref")), "children[0].ref", "required"),
    ("child without names", mutate(P, lambda o: o["children"][0].pop("names")), "children[0].names", "required"),
    (
        "not a date",
        mutate(P, lambda o: o["children"][0].update(birth_date="4 March")),
        "children[0].birth_date",
        "date",
    ),
    ("month 13", mutate(P, lambda o: o.update(separated_on="2016-13")), "separated_on", "date"),
    (
        "30 February",
        mutate(P, lambda o: o["children"][0].update(birth_date="2012-02-30")),
        "children[0].birth_date",
        "day",
    ),
    (
        "29 Feb not leap",
        mutate(C, lambda o: o["claimant"].update(birth_date="2013-02-29")),
        "claimant.birth_date",
        "day",
    ),
    ("future year", mutate(C, lambda o: o.update(separated_on="2027")), "separated_on", "future"),
    ("future month", mutate(C, lambda o: o.update(separated_on="2026-12")), "separated_on", "future"),
    ("future day", mutate(C, lambda o: o["claimant"].update(birth_date="2026-11-28")), "claimant.birth_date", "future"),
    ("implausible year", mutate(C, lambda o: o["claimant"].update(birth_date="1066")), "claimant.birth_date", "year"),
    (
        "duplicate ref",
        mutate(P, lambda o: o["children"].append(copy.deepcopy(o["children"][0]))),
        "children[1].ref",
        "ref",
    ),
    (
        "lower-case country",
        mutate(P, lambda o: o["claimant"].update(nationalities=["us"])),
        "claimant.nationalities[0]",
        "upper",
    ),
    (
        "unknown country",
        mutate(P, lambda o: o["last_known_place"].update(country="XX")),
        "last_known_place.country",
        "Unknown country",
    ),
    (
        "pseudo country",
        mutate(P, lambda o: o["claimant"].update(nationalities=["EU"])),
        "claimant.nationalities[0]",
        "Unknown country",
    ),
    ("bad language", mutate(C, lambda o: o.update(languages=["jpn"])), "languages[0]", "language"),
    ("unknown language", mutate(C, lambda o: o.update(languages=["qq"])), "languages[0]", "language"),
    (
        "blank family name",
        mutate(P, lambda o: o["claimant"]["names"][0].update(family="   ")),
        "claimant.names[0].family",
        "empty",
    ),
    (
        "name of only a kind",
        mutate(C, lambda o: o["sought_parent"]["names"].append({"kind": "former"})),
        "sought_parent.names[1]",
        "family, given or full",
    ),
    (
        "bad kind",
        mutate(C, lambda o: o["sought_parent"]["names"][0].update(kind="alias")),
        "sought_parent.names[0].kind",
        "reading",
    ),
    ("bad sex", mutate(C, lambda o: o["claimant"].update(sex="female")), "claimant.sex", "F, M, X"),
    ("names not a list", mutate(C, lambda o: o["claimant"].update(names="Yuki")), "claimant.names", "list"),
    ("claimant without a name", mutate(C, lambda o: o["claimant"].update(names=[])), "claimant.names", "name"),
    (
        "string too long",
        mutate(P, lambda o: o["last_known_place"].update(city="x" * 201)),
        "last_known_place.city",
        "200",
    ),
    (
        "too many children",
        mutate(P, lambda o: o.update(children=[{"ref": str(i), "names": [{"full": "A"}]} for i in range(21)])),
        "children",
        "20",
    ),
    ("too many names", mutate(C, lambda o: o["claimant"].update(names=[{"full": "A"}] * 21)), "claimant.names", "20"),
    (
        "control character",
        mutate(C, lambda o: o["claimant"]["names"][0].update(given="ゆ\x07き")),
        "claimant.names[0].given",
        "control",
    ),
    (
        "number instead of text",
        mutate(C, lambda o: o["claimant"]["names"][0].update(given=5)),
        "claimant.names[0].given",
        "text",
    ),
]


@pytest.mark.parametrize(("case", "obj", "field", "words"), BAD, ids=[case for case, *_ in BAD])
def test_a_bad_claim_is_refused_naming_the_field(case: str, obj: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(Invalid) as info:
        check(obj)
    assert info.value.field == field, (case, info.value.message)
    assert words.lower() in info.value.message.lower(), (case, info.value.message)


def test_the_app_form_refuses_an_id_and_does_not_need_one() -> None:
    with pytest.raises(Invalid) as info:
        check(PARENT_EXAMPLE, require_id=False)
    assert info.value.field == "id"
    body = {key: value for key, value in PARENT_EXAMPLE.items() if key != "id"}
    assert "id" not in check(body, require_id=False)


@pytest.mark.parametrize("junk", [None, [], "claim", 5])
def test_something_other_than_an_object_is_refused(junk: Any) -> None:
    with pytest.raises(Invalid, match="object"):
        check(junk)


def test_absurd_nesting_is_refused_without_recursing_forever() -> None:
    deep: Any = "x"
    for _ in range(50):
        deep = {"a": deep}
    with pytest.raises(Invalid) as info:
        check(mutate(C, lambda o: o["claimant"].update(names=[deep])))
    assert info.value.field is not None
    assert info.value.field.startswith("claimant.names[0]")


def test_partial_dates_and_today_are_accepted() -> None:
    claim = mutate(C, lambda o: o["claimant"].update(birth_date="2026-11-27"))
    assert check(claim)["claimant"]["birth_date"] == "2026-11-27"
    assert check(mutate(C, lambda o: o["claimant"].update(birth_date="2012-02-29")))["claimant"]["birth_date"]
    assert check(mutate(C, lambda o: o.update(separated_on="2026-11")))["separated_on"] == "2026-11"


def test_canonical_is_idempotent_and_orders_keys() -> None:
    shuffled = dict(reversed(list(PARENT_EXAMPLE.items())))
    once = canonical(shuffled)
    assert list(once) == list(PARENT_EXAMPLE)
    assert canonical(once) == once


def test_json_path_formats_indices() -> None:
    assert json_path(["children", 1, "names", 0, "family"]) == "children[1].names[0].family"
    assert json_path([]) == ""
