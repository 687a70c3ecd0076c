"""City names across languages: the GeoNames gazetteer behind birthplace comparison."""

import pytest

from reunite.matching.compare import PLACE_LEVELS, compare_places, place_features
from reunite.matching.model import Place
from reunite.matching.places import city_ids, fold_place


@pytest.mark.parametrize(
    ("japanese", "latin"),
    [
        ("ロサンゼルス", "Los Angeles"),  # no spelling rule connects these
        ("ミュンヘン", "Munich"),
        ("ウィーン", "Vienna"),
        ("静岡市", "Shizuoka"),
        ("ソウル", "Seoul"),
    ],
)
def test_exonyms_name_the_same_city(japanese: str, latin: str) -> None:
    assert not city_ids(japanese).isdisjoint(city_ids(latin))
    level, detail = compare_places(place_features(Place(city=japanese)), place_features(Place(city=latin)))
    assert PLACE_LEVELS[level] == "city"
    assert "≈" in detail


def test_different_cities_stay_different() -> None:
    assert city_ids("ロサンゼルス").isdisjoint(city_ids("Seattle"))
    level, detail = compare_places(
        place_features(Place(city="ロサンゼルス", country="US")), place_features(Place(city="Chicago", country="US"))
    )
    assert PLACE_LEVELS[level] == "country_city_differ"
    assert "≠" in detail


def test_an_ambiguous_name_means_every_city_it_may_mean() -> None:
    auckland_or_oakland = city_ids("オークランド")
    assert not auckland_or_oakland.isdisjoint(city_ids("Auckland"))
    assert not auckland_or_oakland.isdisjoint(city_ids("Oakland"))
    assert city_ids("Auckland").isdisjoint(city_ids("Oakland"))


def test_names_fold_like_names_and_unknown_ones_resolve_to_nothing() -> None:
    assert fold_place("ＬＯＳ　ＡＮＧＥＬＥＳ") == fold_place("Los Angeles") == fold_place("LosAngeles") == "losangeles"
    assert fold_place("München") == "munchen"
    assert fold_place("ロサンゼルス") == "ろさんぜるす"
    assert city_ids("Nowhereville") == frozenset()
    assert city_ids("") == frozenset()
