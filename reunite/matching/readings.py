"""Likely readings of kanji names, from pykakasi's dictionary, as canonical romaji keys.

A kanji name has several possible readings (陽菜 is usually *Hina*, pykakasi's first
choice is *Haruna*). Besides pykakasi's own conversion, every segmentation of the name
into dictionary entries is read with every reading the dictionary lists (so 晃輝 gives
*kōki* from こう+き, 唯 gives *yui*), up to ``MAX_READINGS``. A match through one of these
readings is weaker evidence than a match on the same kanji or on a reading the claimant
wrote down: the scorer gives the first two readings their own level (``kanji_reading``) and
the rest a weaker one (``alt_reading``).
"""

from __future__ import annotations

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
    for word, readings in (table or {}).items():
        if text.startswith(word, start):
            plain = [yomi for yomi, cond in readings if cond is None]
            bucket = merged.setdefault(len(word), [])
            bucket.extend(y for y in plain if y not in bucket)
    return sorted(((n, r) for n, r in merged.items() if r), key=lambda e: -e[0])


def _segment_readings(text: str, start: int, budget: int) -> list[str]:
    if start >= len(text):
        return [""]
    ch = text[start]
    if char_script(ch) != "kanji":
        return [ch + rest for rest in _segment_readings(text, start + 1, budget)]
    out: list[str] = []
    for length, readings in _entries(text, start):
        tails = _segment_readings(text, start + length, budget)
        for yomi in readings:
            for tail in tails:
                out.append(yomi + tail)
                if len(out) >= budget:
                    return out
    return out


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
    for kana in _segment_readings(text, 0, 4 * MAX_READINGS):
        key = canonical_romaji(kana)
        if key:
            variants[key] = None
        if len(variants) >= MAX_READINGS:
            break
    return tuple(variants)
