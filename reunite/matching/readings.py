"""Likely readings of kanji names, from pykakasi's dictionary, as canonical romaji keys.

A kanji name has several possible readings (陽菜 is usually *Hina*, pykakasi's first
choice is *Haruna*). Besides pykakasi's own conversion, every segmentation of the name
into dictionary entries is read with the readings the dictionary lists (so 晃輝 gives
*kōki* from こう+き, 唯 gives *yui*), likeliest combinations first (by the sum of each
part's rank), up to ``MAX_READINGS``. A match through one of these
readings is weaker evidence than a match on the same kanji or on a reading the claimant
wrote down: the scorer gives the first two readings their own level (``kanji_reading``) and
the rest a weaker one (``alt_reading``).
"""

from __future__ import annotations

import itertools
import threading
from functools import lru_cache
from typing import Any

import pykakasi
from pykakasi.kanji import Kanwa

from reunite.matching.nanori import NANORI
from reunite.matching.normalise import canonical_romaji, char_script

MAX_READINGS = 16
_local = threading.local()


def _converter() -> Any:
    conv = getattr(_local, "kakasi", None)
    if conv is None:
        conv = pykakasi.kakasi()  # type: ignore[no-untyped-call]
        _local.kakasi = conv
    return conv


def _entries(text: str, start: int) -> list[tuple[int, list[str]]]:
    """Dictionary entries that match ``text`` at ``start``: (length, readings).

    Name readings (:mod:`nanori`) come before the general dictionary's for the same span.
    """
    merged: dict[int, list[str]] = {}
    for length in (3, 2, 1):
        names = NANORI.get(text[start : start + length])
        if names and start + length <= len(text):
            merged.setdefault(length, []).extend(names)
    table: dict[str, list[tuple[str, Any]]] | None = Kanwa().load(text[start])  # type: ignore[no-untyped-call]
    if table:
        # The table holds every word that starts with this character (thousands for 大):
        # look up the prefixes of the name instead of scanning it.
        for end in range(start + 1, len(text) + 1):
            readings = table.get(text[start:end])
            if readings:
                plain = [yomi for yomi, cond in readings if cond is None]
                bucket = merged.setdefault(end - start, [])
                bucket.extend(y for y in plain if y not in bucket)
    return sorted(((n, r) for n, r in merged.items() if r), key=lambda e: -e[0])


#: Readings of one dictionary entry that take part in combinations.
_READINGS_PER_ENTRY = 6
#: Segmentations of one name that are read.
_MAX_SEGMENTATIONS = 4
#: Readings combined per segmentation, about.
_COMBINATIONS = 64


def _segmentations(text: str, start: int) -> list[list[list[str]]]:
    """Ways to cut ``text[start:]`` into dictionary entries, each entry as its readings.

    Longer entries first; a character that is not kanji stands for itself.
    """
    if start >= len(text):
        return [[]]
    ch = text[start]
    if char_script(ch) != "kanji":
        return [[[ch], *rest] for rest in _segmentations(text, start + 1)]
    out: list[list[list[str]]] = []
    for length, readings in _entries(text, start):
        for rest in _segmentations(text, start + length):
            out.append([readings[:_READINGS_PER_ENTRY], *rest])
            if len(out) >= _MAX_SEGMENTATIONS:
                return out
    return out


def _ranked_readings(text: str) -> list[str]:
    """Readings of every segmentation, likeliest first: by the sum of each part's rank.

    A name is read with each character's usual readings before any character's rare one:
    剛平 is *Takehei* (剛's fourth name reading, 平's first) before *Tsuyoshibyō* (first and
    fifth), where reading the first character's readings through first would never get there.
    """
    ranked: list[tuple[int, int, str]] = []
    for order, parts in enumerate(_segmentations(text, 0)):
        # At most about _COMBINATIONS readings per segmentation: fewer readings of each part
        # the more parts there are (6 each for two, 4 for three, 2 for four or more).
        cap = max(2, int(_COMBINATIONS ** (1 / max(len(parts), 1)) + 1e-9))
        for combo in itertools.product(*(enumerate(p[:cap]) for p in parts)):
            ranked.append((sum(rank for rank, _r in combo), order, "".join(r for _rank, r in combo)))
    ranked.sort()
    return [reading for _rank, _order, reading in ranked]


@lru_cache(maxsize=65536)
def kanji_readings(text: str) -> tuple[str, ...]:
    """Return canonical romaji keys of the plausible readings of a kanji/kana token.

    pykakasi's own reading comes first.

    >>> kanji_readings("田中")[0]
    'tanaka'
    """
    parts = _converter().convert(text)
    variants: dict[str, None] = {}
    first = canonical_romaji("".join(str(p.get("hepburn", "")) for p in parts))
    if first:
        variants[first] = None
    for kana in _ranked_readings(text):
        key = canonical_romaji(kana)
        if key:
            variants[key] = None
        if len(variants) >= MAX_READINGS:
            break
    return tuple(variants)
