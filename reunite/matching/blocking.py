"""Blocking keys: short strings shared by a child claim and the right child of a parent claim.

Keys combine a surname (of the child or either parent, because a child's surname often
changes to the Japanese parent's), the child's given name, birth year, full birth date,
the sought parent's given name and the given name of the parent the child lives with.
Names enter as canonical romaji, kanji as dictionary readings, and foreign names also as
phonetic skeletons (``~jn`` for ジョン and John), so the keys intersect across scripts.
The child side widens the birth year by ±1 and adds the day/month-swapped date; the
parent side stores exact values, so a stored key set is small and the lookup side
carries the tolerance.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from reunite.matching.compare import ChildSide, ParentSide, PartialDate, PlaceFeatures, Token

#: Only the most likely dictionary readings of a kanji token become stored keys.
BLOCKING_READINGS = 3
#: A claim that looks others up (a new child claim among parent claims, or a new parent
#: claim among child claims) uses more readings: a lookup costs a few more posting lists,
#: not a bigger index, and a kanji given name's right reading is often not among its three
#: likeliest (剛平 is Takehei, its ninth). Ten instead of three found 0.1-0.25 % more of the
#: true links of child claims without a birth date for 2-3 % more candidates (measured before
#: readings were ranked by the sum of part ranks, when 七花's Nanaka came fourth).
LOOKUP_READINGS = 10
#: Surnames have several usual readings too (河野: Kōno or Kawano; 中島: Nakajima or
#: Nakashima). A lookup uses ``LOOKUP_READINGS`` readings of a kanji surname like any
#: name; stored parent claims keep only the first, so the index does not grow (on the dev set
#: without birth dates this recovers 0.3 % of the true links that were never compared;
#: storing three too recovers another 0.07 % for 38 % more postings).
STORED_SURNAME_READINGS = 1


@lru_cache(maxsize=65536)
def token_keys(tokens: tuple[Token, ...], readings: int = BLOCKING_READINGS) -> frozenset[str]:
    """Blocking forms of name tokens: canonical romaji, kanji readings, phonetic skeletons.

    Cached: tokens are interned, and the same name tuples recur across claims.
    """
    out: set[str] = set()
    for t in tokens:
        if t.key:
            out.add(t.key)
            # Japanese has one sound for l and r: Leo is レオ (reo), Lisa is リサ (risa).
            out.add(t.key.replace("l", "r"))
        out.update(t.alts[:readings])
        # Every variant skeleton: Thomas is "sms" or "tms" depending on how its "th" sounds,
        # and トーマス only has the second.
        out.update("~" + k for k in t.phon if len(k) >= 2)
        # A skeleton of one consonant is keyed with its vowel: Lily/リリー "r~i", Noah/ノア "n~o".
        out.update("~" + k for k in t.short)
    return frozenset(out)


def _date_keys(d: PartialDate | None, widen: bool) -> set[str]:
    dates: set[str] = set()
    if d is None:
        return dates
    dates.update(f"{y}" for y in ((d.year - 1, d.year, d.year + 1) if widen else (d.year,)))
    if d.month is not None and d.day is not None:
        dates.add(f"{d.year}{d.month:02d}{d.day:02d}")
        if widen and d.day <= 12 and d.day != d.month:
            dates.add(f"{d.year}{d.day:02d}{d.month:02d}")
    return dates


def prefix_keys(tokens: Iterable[Token]) -> set[str]:
    """Four-letter prefixes of long romaji tokens, so a typo late in a name still blocks."""
    return {t.prefix for t in tokens if t.prefix}


def _keys(
    surnames: frozenset[str],
    givens: frozenset[str],
    dates: set[str],
    parent_givens: frozenset[str],
    cities: set[str],
    surname_prefixes: set[str],
    given_prefixes: set[str],
    other_givens: frozenset[str],
) -> set[str]:
    ordered = sorted(surnames)
    fuzzy_surnames = surnames | surname_prefixes
    keys = [f"n{s}|{g}" for s in fuzzy_surnames for g in givens]
    keys += [f"n{s}|{g}" for s in surnames for g in given_prefixes]
    keys += [f"q{s}|{p}" for s in ordered for p in parent_givens]
    keys += [f"w{s}|{t}" for i, s in enumerate(ordered) for t in ordered[i + 1 :]]
    keys += [f"p{p}|{g}" for g in givens for p in parent_givens]
    keys += [f"d{d}" for d in dates if len(d) > 4]
    years = [d for d in dates if len(d) == 4]
    keys += [f"s{s}|{y}" for s in fuzzy_surnames for y in years]
    keys += [f"y{g}|{y}" for g in givens for y in years]
    keys += [f"t{s}|{g}|{y}" for s in ordered for g in givens for y in years]
    keys += [f"c{c}|{x}" for c in cities for x in givens | surnames]
    # The parent the child lives with is named by both sides, by given name at least, and a
    # given name survives the surname changes that defeat the keys above (Southworth written
    # サウスワース, a kanji surname read another way): pair it with the child's and with the
    # sought parent's given names.
    keys += [f"o{o}|{g}" for o in other_givens for g in givens]
    keys += [f"m{p}|{o}" for p in parent_givens for o in other_givens]
    return set(keys)


def _cities(place: PlaceFeatures | None) -> set[str]:
    return set() if place is None else {t.key or t.text for t in place.city}


def parent_side_keys(ps: ParentSide, lookup: bool = False) -> set[str]:
    """Blocking keys of one child inside a parent claim, as stored or (``lookup``) to look up."""
    readings = LOOKUP_READINGS if lookup else BLOCKING_READINGS
    family = ps.child.family + ps.claimant.family + ps.other.family
    surnames = token_keys(family, LOOKUP_READINGS if lookup else STORED_SURNAME_READINGS)
    dates = _date_keys(ps.child.birth, widen=False)
    return _keys(
        surnames,
        token_keys(ps.child.given, readings),
        dates,
        token_keys(ps.claimant.given, readings),
        _cities(ps.child.birth_place),
        prefix_keys(family),
        prefix_keys(ps.child.given),
        token_keys(ps.other.given, readings),
    )


def child_side_keys(cs: ChildSide, lookup: bool = False) -> set[str]:
    """Blocking keys of a child claim, as stored or (``lookup``) to look up."""
    readings = LOOKUP_READINGS if lookup else BLOCKING_READINGS
    family = cs.child.family + cs.sought.family + cs.other.family
    dates = _date_keys(cs.child.birth, widen=True)
    return _keys(
        token_keys(family, readings),
        token_keys(cs.child.given, readings),
        dates,
        token_keys(cs.sought.given, readings),
        _cities(cs.child.birth_place),
        prefix_keys(family),
        prefix_keys(cs.child.given),
        token_keys(cs.other.given, readings),
    )
