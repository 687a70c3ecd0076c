"""Per-field comparison of a child claim with one child inside a parent claim.

Claims are first turned into *features* (name tokens with their canonical romaji,
dictionary readings and phonetic keys; parsed dates; places). Each comparison returns a
level index into the field's level list plus the forms that matched, for the explanation.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from nicknames import NickNamer
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from reunite.matching.model import ChildClaim, Name, ParentClaim, Person, Place
from reunite.matching.normalise import (
    canonical_romaji,
    casefold_text,
    nfkc,
    script_of,
    split_script_boundary,
    split_tokens,
)
from reunite.matching.phonetic import initial_vowel_keys, looks_japanese, phonetic_keys, short_name_keys
from reunite.matching.places import city_ids
from reunite.matching.readings import kanji_readings

# Name levels, strongest first. "reading" = same canonical romaji (kana vs Latin, Hepburn vs
# Kunrei...); "phonetic" = katakana rendering of a foreign name; "kanji_reading" = one of the
# usual readings of the kanji (its first ``LIKELY_READINGS``); "alt_reading" = only via a
# less likely dictionary reading of kanji, or two different kanji spellings of one reading
# (weaker); "fuzzy"/"fuzzy_weak" = close spelling (typos).
NAME_LEVELS = ("exact", "reading", "phonetic", "kanji_reading", "alt_reading", "fuzzy", "fuzzy_weak", "disagree")
# "via_parent": the child's surname is the other parent's (the parent the child lives
# with, usually the Japanese parent); "via_claimant": it is the claiming parent's.
FAMILY_LEVELS = (*NAME_LEVELS[:-1], "via_parent", "via_claimant", "disagree")
# Given names also agree through an English nickname (a child remembers "Jim" or ジム for
# James): weaker than the name itself, so its own level, after every spelling level.
GIVEN_LEVELS = (*NAME_LEVELS[:-1], "nickname", "disagree")
NICKNAME = GIVEN_LEVELS.index("nickname")
# A day off by one or two ("near": a birth registered after midnight, a misremembered day)
# is the commonest error and much rarer between strangers than the other one-character
# slips ("digit_slip": a digit of the day, month or year), so each has its own level.
DATE_LEVELS = (
    "exact",
    "year_month",
    "year_only",
    "day_month_swapped",
    "near",
    "digit_slip",
    "same_year_differ",
    "year_off_by_one",
    "disagree",
)
(
    _D_EXACT,
    _D_YEAR_MONTH,
    _D_YEAR_ONLY,
    _D_SWAPPED,
    _D_NEAR,
    _D_SLIP,
    _D_SAME_YEAR,
    _D_YEAR_OFF,
    _D_DISAGREE,
) = range(len(DATE_LEVELS))
SEX_LEVELS = ("agree", "disagree")
PLACE_LEVELS = ("city", "country", "country_city_differ", "disagree")
SEPARATION_LEVELS = ("same_month", "same_year", "year_off_by_one", "disagree")

EXACT, READING, PHONETIC, KANJI, ALT, FUZZY, FUZZY_WEAK = 0, 1, 2, 3, 4, 5, 6
#: Readings of a kanji token, in :func:`kanji_readings` order, that count as its usual ones.
LIKELY_READINGS = 2
FUZZY_THRESHOLD = 0.92
FUZZY_WEAK_THRESHOLD = 0.84
#: Readings of each side considered when two different kanji spellings are compared.
KANJI_VARIANT_READINGS = 3


@dataclass(frozen=True, slots=True, eq=False)
class Token:
    """One name token with everything needed to compare it across scripts.

    Tokens are interned by :func:`make_token`, so identity is equality and ``uid`` is a
    cheap cache key.
    """

    uid: int
    display: str
    text: str
    script: str
    key: str
    alts: tuple[str, ...]
    phon: tuple[str, ...]
    is_foreign: bool
    prefix: str = ""
    #: consonant-and-vowel keys of a name whose skeleton is one consonant (:func:`short_name_keys`)
    short: tuple[str, ...] = ()


_uids = itertools.count(1)


@lru_cache(maxsize=262144)
def make_token(display: str, use_readings: bool = True) -> Token:
    """Build (and intern) the comparison form of one token."""
    script = script_of(display)
    text = casefold_text(display)
    if script == "kanji":
        alts = kanji_readings(display) if use_readings else ()
        return Token(next(_uids), display, text, script, "", alts, (), False)
    key = canonical_romaji(display)
    if script == "kana":
        is_foreign = any(0x30A0 <= ord(c) <= 0x30FF for c in display)
    else:
        is_foreign = not looks_japanese(display)
    phon = phonetic_keys(display)
    # A four-letter prefix lets a typo late in a long romaji name still share a blocking key.
    prefix = "^" + key[:4] if len(key) >= 6 else ""
    short = short_name_keys(display)
    return Token(next(_uids), display, text, script, key, (), phon, is_foreign, prefix, short)


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A date with optional month and day."""

    year: int
    month: int | None
    day: int | None


@dataclass(frozen=True, slots=True)
class PlaceFeatures:
    """A place reduced to comparable city tokens, a region and a country code."""

    city: tuple[Token, ...]
    country: str | None
    region: str | None = None


@dataclass(frozen=True, slots=True)
class PersonFeatures:
    """A person reduced to comparable parts."""

    family: tuple[Token, ...]
    given: tuple[Token, ...]
    sex: str | None
    birth: PartialDate | None
    birth_place: PlaceFeatures | None
    nationalities: frozenset[str]


EMPTY_PERSON = PersonFeatures((), (), None, None, None, frozenset())


@lru_cache(maxsize=65536)
def parse_date(value: str | None) -> PartialDate | None:
    """Parse ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``."""
    if not value:
        return None
    parts = [int(p) for p in value.split("-")]
    return PartialDate(parts[0], parts[1] if len(parts) > 1 else None, parts[2] if len(parts) > 2 else None)


def _tokens(texts: list[str], use_readings: bool) -> tuple[Token, ...]:
    seen: dict[str, Token] = {}
    for t in texts:
        tok = make_token(t, use_readings)
        seen.setdefault(tok.text, tok)
    return tuple(seen.values())


@lru_cache(maxsize=131072)
def name_tokens(names: tuple[Name, ...], use_readings: bool = True) -> tuple[tuple[Token, ...], tuple[Token, ...]]:
    """Return (family tokens, given tokens) over all name forms of a person.

    A ``full`` name whose split is unknown contributes its tokens to both sides, except an
    unspaced Japanese name that changes from kanji to kana (``田中ゆき``), which is split.
    """
    family: list[str] = []
    given: list[str] = []
    for n in names:
        if n.family:
            family.extend(split_tokens(n.family))
        if n.given:
            given.extend(split_tokens(n.given))
        if n.full:
            toks = split_tokens(n.full)
            if len(toks) == 1:
                parts = split_script_boundary(toks[0])
                if len(parts) == 2:
                    family.append(parts[0])
                    given.append(parts[1])
                    continue
            family.extend(toks)
            given.extend(toks)
    return _tokens(family, use_readings), _tokens(given, use_readings)


def place_features(place: Place | None, use_readings: bool = True) -> PlaceFeatures | None:
    """Reduce a place to city tokens and a country code."""
    if place is None or (place.city is None and place.country is None and place.region is None):
        return None
    city: tuple[Token, ...] = ()
    if place.city:
        city = (make_token(nfkc(place.city).replace(" ", ""), use_readings),)
    region = casefold_text(place.region) if place.region else None
    return PlaceFeatures(city, place.country, region)


def person_features(person: Person | None, use_readings: bool = True) -> PersonFeatures:
    """Build the comparable features of a person (empty when absent)."""
    if person is None:
        return EMPTY_PERSON
    family, given = name_tokens(person.names, use_readings)
    return PersonFeatures(
        family=family,
        given=given,
        sex=person.sex if person.sex in ("F", "M") else None,
        birth=parse_date(person.birth_date),
        birth_place=place_features(person.birth_place, use_readings),
        nationalities=frozenset(person.nationalities),
    )


@dataclass(frozen=True, slots=True)
class ChildSide:
    """Features of a child claim."""

    claim_id: str
    child: PersonFeatures
    sought: PersonFeatures
    other: PersonFeatures
    separated: PartialDate | None
    place: PlaceFeatures | None


@dataclass(frozen=True, slots=True)
class ParentSide:
    """Features of one child inside a parent claim, with the parents' features."""

    claim_id: str
    child_ref: str
    child: PersonFeatures
    claimant: PersonFeatures
    other: PersonFeatures
    separated: PartialDate | None
    place: PlaceFeatures | None
    parents_family: tuple[Token, ...] = ()


def child_side(claim: ChildClaim, use_readings: bool = True) -> ChildSide:
    """Features of a child claim."""
    return ChildSide(
        claim_id=claim.id,
        child=person_features(claim.claimant, use_readings),
        sought=person_features(claim.sought_parent, use_readings),
        other=person_features(claim.other_parent, use_readings),
        separated=parse_date(claim.separated_on),
        place=place_features(claim.last_known_place, use_readings),
    )


def parent_sides(claim: ParentClaim, use_readings: bool = True) -> list[ParentSide]:
    """Features of every child inside a parent claim."""
    claimant = person_features(claim.claimant, use_readings)
    other = person_features(claim.other_parent, use_readings)
    separated = parse_date(claim.separated_on)
    place = place_features(claim.last_known_place, use_readings)
    return [
        ParentSide(
            claim.id,
            c.ref,
            person_features(c.person, use_readings),
            claimant,
            other,
            separated,
            place,
            other.family + claimant.family,
        )
        for c in claim.children
    ]


@dataclass(frozen=True, slots=True)
class NameMatch:
    """Best agreement between two token sets: level, the matched forms and the TF key.

    ``tf_key`` is the key of the term-frequency tables: ``"r:"`` plus the canonical romaji
    of the agreeing value, which identifies the value whatever the script, or for a
    phonetic agreement ``"p:"`` plus the shared skeleton.
    """

    level: int
    left: str
    right: str
    tf_key: str


#: Token-pair comparisons by ``(a.uid << 32) | b.uid``, emptied when it holds ``PAIR_CACHE_LIMIT``.
_PAIR_CACHE: dict[int, NameMatch | None] = {}
PAIR_CACHE_LIMIT = 4_000_000


def reading_key(t: Token) -> str:
    """The canonical romaji that stands for a token in TF tables (kanji: first reading)."""
    if t.key:
        return t.key
    return t.alts[0] if t.alts else t.text


def shared_skeleton(a: Token, b: Token) -> str:
    """The commonest-looking (shortest) phonetic skeleton two tokens share."""
    return min(set(a.phon).intersection(b.phon), key=lambda k: (len(k), k))


@lru_cache(maxsize=262144)
def surname_forms(t: Token) -> frozenset[str]:
    """Keys under which a surname token is the same surname as another token.

    Its canonical romaji (a kanji surname: any of its readings), and for a foreign-looking
    token its phonetic skeletons too: the child's 藤岸 and the sought parent's ふじぎし, or
    スミス and Smith, are one surname written twice. (Two different surnames that one claim
    writes so that one reads as the other would lose one agreement: the cautious side.)
    """
    forms = {"r:" + k for k in (t.alts or (t.key or t.text,))}
    if t.is_foreign:
        forms.update("p:" + k for k in t.phon)
    return frozenset(forms)


def _token_level_uncached(a: Token, b: Token) -> NameMatch | None:
    if a.text == b.text:
        return NameMatch(EXACT, a.display, b.display, "r:" + reading_key(a))
    if a.key and a.key == b.key:
        return NameMatch(READING, a.display, b.display, "r:" + a.key)
    # Phonetic agreement only across scripts or between foreign-looking spellings, and
    # only when one side is visibly foreign (katakana, or Latin that is not romaji).
    # Two Latin spellings must also look alike: the skeleton alone makes Schmidt ≈ Smith and
    # Kato ≈ Carter, different names that a Japanese rendering would not confuse.
    if (
        (a.is_foreign or b.is_foreign)
        and a.phon
        and b.phon
        and not set(a.phon).isdisjoint(b.phon)
        and (
            a.script != "latin" or b.script != "latin" or JaroWinkler.similarity(a.text, b.text) >= FUZZY_WEAK_THRESHOLD
        )
    ):
        # Agreement on a skeleton is only as rare as the skeleton: Northshaw and Newworth
        # share "ns" with every Nash and Nance, so the TF key is the skeleton, not a value.
        return NameMatch(PHONETIC, a.display, b.display, "p:" + shared_skeleton(a, b))
    a_read = a.alts or (a.key,)
    b_read = b.alts or (b.key,)
    if a.alts or b.alts:
        if a.alts and b.alts:
            # Two different kanji spellings: only readings likely for both count (any of
            # the combinatorial readings would make 健一 ≈ 雄一 through "takehajime").
            common = set(a.alts[:KANJI_VARIANT_READINGS]).intersection(b.alts[:KANJI_VARIANT_READINGS])
        else:
            common = set(a_read).intersection(b_read)
        if common:
            # The reading the claimant wrote (or pykakasi's first choice) names the value.
            value = b.key if b.key in common else (a.key if a.key in common else min(common))
            kanji = a if a.alts else b
            level = KANJI if not (a.alts and b.alts) and value in kanji.alts[:LIKELY_READINGS] else ALT
            return NameMatch(level, a.display, b.display, "r:" + value)
    if a.script == "kanji" or b.script == "kanji":
        return None  # a typo in kanji is a different character; dictionary readings decided
    ka, kb = a.key, b.key
    if len(ka) >= 3 and len(kb) >= 3:
        sim = JaroWinkler.similarity(ka, kb)
        if a.script == "latin" and b.script == "latin":
            sim = max(sim, JaroWinkler.similarity(a.text, b.text))
        if sim >= FUZZY_THRESHOLD:
            return NameMatch(FUZZY, a.display, b.display, "")
        if sim >= FUZZY_WEAK_THRESHOLD:
            return NameMatch(FUZZY_WEAK, a.display, b.display, "")
    return None


@lru_cache(maxsize=1)
def _nicknamer() -> NickNamer:
    return NickNamer()


@lru_cache(maxsize=65536)
def nickname_names(text: str) -> frozenset[str]:
    """Names directly related to a Latin given name as its nickname or its full form.

    From the hand-curated English nicknames dataset (``nicknames`` package): for *James*,
    Jim, Jimmy, Jamie…; for *Jim*, James. Only direct relations: through a shared nickname
    (Bill) William and Robert would agree.
    """
    name = casefold_text(text)
    nn = _nicknamer()
    related = set(nn.nicknames_of(name)) | set(nn.canonicals_of(name))
    related.discard(name)
    return frozenset(related)


@lru_cache(maxsize=65536)
def nickname_keys(text: str) -> frozenset[str]:
    """Phonetic keys of :func:`nickname_names` (to compare katakana renderings: ジム, トニー).

    The name's own keys are left out (they agree phonetically already). A nickname of one
    consonant (Joe, Bob) is keyed with its vowel (:func:`short_name_keys`), one of an
    initial vowel and one consonant (Ed, Wen) with its first letter (:func:`initial_vowel_keys`).
    """
    own = set(phonetic_keys(text))
    keys = {
        k
        for r in nickname_names(text)
        for k in phonetic_keys(r)
        if len(k) >= 2 and k not in own and not (len(k) == 2 and k[0] == "a")
    }
    keys.update(k for r in nickname_names(text) for k in short_name_keys(r))
    keys.update(k for r in nickname_names(text) for k in initial_vowel_keys(r))
    return frozenset(keys)


def _katakana_keys(t: Token) -> frozenset[str]:
    """The keys a katakana token meets nickname keys with."""
    return frozenset((*t.phon, *t.short, *initial_vowel_keys(t.display)))


TokenSets = tuple[tuple[Token, ...], tuple[Token, ...]]
NameComparer = Callable[[tuple[Token, ...], tuple[Token, ...]], NameMatch | None]


def _memoised(limit: int) -> Callable[[NameComparer], NameComparer]:
    """Cache a comparison of two token sets by the pair (emptied when it holds ``limit``)."""

    def wrap(compare: NameComparer) -> NameComparer:
        cache: dict[TokenSets, NameMatch | None] = {}

        @functools.wraps(compare)
        def cached(left: tuple[Token, ...], right: tuple[Token, ...]) -> NameMatch | None:
            key = (left, right)
            try:
                return cache[key]
            except KeyError:
                pass
            result = compare(left, right)
            if len(cache) > limit:
                cache.clear()
            cache[key] = result
            return result

        return cached

    return wrap


@_memoised(2_000_000)
def compare_nicknames(left: tuple[Token, ...], right: tuple[Token, ...]) -> NameMatch | None:
    """A nickname agreement between two given-name token sets (``Jim``/ジム ≈ James), or ``None``.

    One side must be Latin (the dataset is in Latin letters) and one side visibly foreign;
    the other side is compared by its phonetic keys, so katakana renderings count too.
    """
    for a in left:
        for b in right:
            if not (a.is_foreign or b.is_foreign):
                continue
            if a.script == "latin" and b.script == "latin":
                # Two Latin spellings: the names themselves must be related, not their sounds.
                related = b.text in nickname_names(a.text) or a.text in nickname_names(b.text)
            elif a.script == "latin" and b.script == "kana" and b.is_foreign:  # katakana
                related = not nickname_keys(a.text).isdisjoint(_katakana_keys(b))
            elif b.script == "latin" and a.script == "kana" and a.is_foreign:
                related = not nickname_keys(b.text).isdisjoint(_katakana_keys(a))
            else:
                related = False
            if related:
                return NameMatch(NICKNAME, a.display, b.display, "")
    return None


_MISSING = NameMatch(-1, "", "", "")


@_memoised(2_000_000)
def compare_names(left: tuple[Token, ...], right: tuple[Token, ...]) -> NameMatch | None:
    """Return the best match between two token sets, or ``None`` when nothing agrees."""
    best: NameMatch | None = None
    cache = _PAIR_CACHE
    get = cache.get
    for a in left:
        high = a.uid << 32
        for b in right:
            # The token-pair cache is read inline: this loop runs millions of times in a batch.
            key = high | b.uid
            m = get(key, _MISSING)
            if m is _MISSING:
                m = _token_level_uncached(a, b)
                if len(cache) > PAIR_CACHE_LIMIT:
                    cache.clear()
                cache[key] = m
            if m is not None and (best is None or m.level < best.level):
                best = m
                if best.level == EXACT:
                    return best
    return best


def compare_dates(a: PartialDate | None, b: PartialDate | None) -> int | None:
    """Level index in ``DATE_LEVELS``, or ``None`` when a date is missing."""
    if a is None or b is None:
        return None
    if a.year == b.year:
        if a.month is None or b.month is None:
            return _D_YEAR_ONLY
        if a.month == b.month:
            if a.day is None or b.day is None:
                return _D_YEAR_MONTH
            if a.day == b.day:
                return _D_EXACT
            if abs(a.day - b.day) <= 2:
                return _D_NEAR
            if _one_digit(a.day, b.day) or (a.day % 10, a.day // 10) == (b.day // 10, b.day % 10):
                return _D_SLIP
            return _D_SAME_YEAR
        if a.day is not None and b.day is not None and a.day == b.month and a.month == b.day:
            return _D_SWAPPED
        if a.day is not None and a.day == b.day and _one_digit(a.month, b.month):
            return _D_SLIP
        return _D_SAME_YEAR
    if abs(a.year - b.year) == 1:
        if a.month == b.month and a.day == b.day and a.month is not None:
            return _D_SLIP
        return _D_YEAR_OFF
    if _one_digit(a.year, b.year) and a.month == b.month and a.day == b.day:
        return _D_SLIP
    if a.month is not None and b.month is not None and a.day is not None and b.day is not None:
        sa = f"{a.year:04d}{a.month:02d}{a.day:02d}"
        sb = f"{b.year:04d}{b.month:02d}{b.day:02d}"
        if DamerauLevenshtein.distance(sa, sb) <= 1:
            return _D_SLIP
    return _D_DISAGREE


def _one_digit(x: int, y: int) -> bool:
    """Whether two numbers differ in exactly one decimal digit (a typing slip)."""
    diffs = 0
    while x or y:
        diffs += (x % 10) != (y % 10)
        x //= 10
        y //= 10
    return diffs == 1


def compare_sex(a: str | None, b: str | None) -> int | None:
    """Level index in ``SEX_LEVELS``."""
    if a is None or b is None:
        return None
    return 0 if a == b else 1


def compare_places(a: PlaceFeatures | None, b: PlaceFeatures | None) -> tuple[int, str] | None:
    """Level index in ``PLACE_LEVELS`` with the matched city forms."""
    if a is None or b is None:
        return None
    if a.city and b.city:
        m = compare_names(a.city, b.city)
        if m is not None and m.level <= FUZZY:
            return 0, f"{m.left} ≈ {m.right}"
        # An exonym no spelling rule connects (ロサンゼルス, Los Angeles): the gazetteer's.
        left, right = a.city[0].display, b.city[0].display
        if not city_ids(left).isdisjoint(city_ids(right)):
            return 0, f"{left} ≈ {right}"
    if not (a.country and b.country) and a.region and b.region:
        # Without countries, the same region stands in for the same country.
        a, b = PlaceFeatures(a.city, a.region, None), PlaceFeatures(b.city, b.region, None)
    if a.country and b.country:
        if a.country != b.country:
            return 3, f"{a.country} ≠ {b.country}"
        if a.city and b.city:
            return 2, f"{a.city[0].display} ≠ {b.city[0].display}"
        return 1, a.country
    if a.city and b.city:
        return 3, f"{a.city[0].display} ≠ {b.city[0].display}"
    return None


def compare_separation(a: PartialDate | None, b: PartialDate | None) -> int | None:
    """Level index in ``SEPARATION_LEVELS``."""
    if a is None or b is None:
        return None
    if a.year == b.year:
        if a.month is not None and a.month == b.month:
            return 0
        return 1
    if abs(a.year - b.year) == 1:
        return 2
    return 3
