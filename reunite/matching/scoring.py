"""Fellegi–Sunter scoring: per-field levels, m/u weights in bits, term-frequency adjustment.

The m and u probabilities are estimated from *labelled* development data (``fit``): m from
the true links, u from random child/parent pairs (the child's sex, birth date and birthplace
from non-linked pairs whose child names agree, :func:`condition_on_namesakes`). When names
agree (exactly, by reading, phonetically or through a dictionary reading) the weight gets a
term-frequency adjustment ``log2(u_exact / tf(value))``, so 佐藤 = 佐藤 counts for less
than 東海林 = 東海林; values are keyed by canonical romaji whatever the script. A phonetic
agreement (スミス ≈ Smith) is adjusted by how common its consonant skeleton is, not the
value, because every name with that skeleton would have agreed. A value agreed only
through a dictionary reading and absent from the tables gets no adjustment (such a value
is usually an unlikely reading, not a rare name). A pair's
score is the sum of the fields' log2 likelihood ratios; missing fields contribute nothing.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from reunite.matching.compare import (
    ALT,
    DATE_LEVELS,
    FAMILY_LEVELS,
    FUZZY,
    GIVEN_LEVELS,
    NAME_LEVELS,
    PLACE_LEVELS,
    READING,
    SEPARATION_LEVELS,
    SEX_LEVELS,
    ChildSide,
    NameMatch,
    ParentSide,
    Token,
    compare_dates,
    compare_names,
    compare_nicknames,
    compare_places,
    compare_separation,
    reading_key,
    surname_forms,
)

PARAMS_VERSION = 1


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A compared field: its levels and which TF table (if any) adjusts it."""

    name: str
    levels: tuple[str, ...]
    tf_table: str | None = None


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("child_given", GIVEN_LEVELS, "child_given"),
    FieldSpec("child_family", FAMILY_LEVELS, "family"),
    FieldSpec("child_birth_date", DATE_LEVELS),
    FieldSpec("child_sex", SEX_LEVELS),
    FieldSpec("child_birth_place", PLACE_LEVELS),
    FieldSpec("sought_given", GIVEN_LEVELS, "parent_given"),
    FieldSpec("sought_family", NAME_LEVELS, "family"),
    FieldSpec("sought_sex", SEX_LEVELS),
    FieldSpec("sought_nationality", SEX_LEVELS),
    FieldSpec("other_given", GIVEN_LEVELS, "parent_given"),
    FieldSpec("other_family", NAME_LEVELS, "family"),
    FieldSpec("separated_on", SEPARATION_LEVELS),
    FieldSpec("last_known_place", PLACE_LEVELS),
)
FIELD_INDEX = {f.name: i for i, f in enumerate(FIELDS)}


Detail = NameMatch | str | None
#: One field comparison: (field index, level index, TF key or "", matched forms).
Comparison = tuple[int, int, str, Detail]


def detail_text(detail: Detail) -> str:
    """Human-readable form of a comparison's detail (``"ジョン ≈ John"``)."""
    if detail is None:
        return ""
    if isinstance(detail, str):
        return detail
    return f"{detail.left} ≈ {detail.right}"


_FUZZY = NAME_LEVELS.index("fuzzy_weak")
_VIA_PARENT = FAMILY_LEVELS.index("via_parent")
_VIA_CLAIMANT = FAMILY_LEVELS.index("via_claimant")
_FAMILY_DISAGREE = len(FAMILY_LEVELS) - 1
_NAME_DISAGREE = len(NAME_LEVELS) - 1
_GIVEN_DISAGREE = len(GIVEN_LEVELS) - 1


def _given(out: list[Comparison], i: int, left: tuple[Token, ...], right: tuple[Token, ...]) -> None:
    """Compare given names: a nickname counts when the spellings agree at most loosely."""
    if not left or not right:
        return
    m = compare_names(left, right)
    if m is None or m.level >= FUZZY:
        m = compare_nicknames(left, right) or m
    if m is None:
        out.append((i, _GIVEN_DISAGREE, "", None))
        return
    out.append((i, m.level, m.tf_key if m.level <= ALT else "", m))


def _left_forms(m: NameMatch, left: tuple[Token, ...]) -> frozenset[str]:
    """The surname forms of the child claim's token that made an agreement."""
    for t in left:
        if t.display == m.left:
            return surname_forms(t)
    return frozenset()


def _count_once(used: set[str], m: NameMatch, forms: frozenset[str]) -> None:
    """Remember a surname agreement: its value and the forms of the child claim's token."""
    used.add(m.tf_key)
    used.update(forms)


def _family(out: list[Comparison], i: int, left: tuple[Token, ...], right: tuple[Token, ...], used: set[str]) -> None:
    """Compare a parent's family names; ``used`` holds the surname values already counted."""
    if not left or not right:
        return
    m = compare_names(left, right)
    if m is None:
        out.append((i, _NAME_DISAGREE, "", None))
        return
    # The same surname already counted for another role (a child usually carries a parent's
    # surname): one observation must not count twice, whether it is recognised by its value,
    # or by the child claim writing the same surname for both people (長部 read Osabe once
    # and Nagabe once; the child's 藤岸 and the sought parent's ふじぎし).
    forms = _left_forms(m, left)
    if (m.tf_key and m.tf_key in used) or not used.isdisjoint(forms):
        return
    _count_once(used, m, forms)
    out.append((i, m.level, m.tf_key if m.level <= ALT else "", m))


def compare_pair(cs: ChildSide, ps: ParentSide) -> list[Comparison]:
    """Compare every field of a child claim with one child of a parent claim."""
    out: list[Comparison] = []
    c, k = cs.child, ps.child
    used: set[str] = set()

    _given(out, 0, c.given, k.given)
    if c.family:
        m = compare_names(c.family, k.family) if k.family else None
        if m is not None and m.level <= _FUZZY:
            _count_once(used, m, _left_forms(m, c.family))
            out.append((1, m.level, m.tf_key if m.level <= ALT else "", m))
        else:
            # Which parent the surname came from matters: a child usually carries the
            # surname of the parent it lives with (the claim's other parent).
            pm = compare_names(c.family, ps.other.family) if ps.other.family else None
            level = _VIA_PARENT
            if pm is None or pm.level > ALT:
                pm = compare_names(c.family, ps.claimant.family) if ps.claimant.family else None
                level = _VIA_CLAIMANT
            if pm is not None and pm.level <= ALT:
                _count_once(used, pm, _left_forms(pm, c.family))
                out.append((1, level, pm.tf_key, pm))
            elif k.family or ps.other.family or ps.claimant.family:
                out.append((1, _FAMILY_DISAGREE, "", None))
    lvl = compare_dates(c.birth, k.birth)
    if lvl is not None:
        out.append((2, lvl, "", None))
    if c.sex is not None and k.sex is not None:
        out.append((3, 0 if c.sex == k.sex else 1, "", None))
    if c.birth_place is not None and k.birth_place is not None:
        pl = compare_places(c.birth_place, k.birth_place)
        if pl is not None:
            out.append((4, pl[0], "", pl[1]))

    s, p, o, po = cs.sought, ps.claimant, cs.other, ps.other
    _given(out, 5, s.given, p.given)
    _family(out, 6, s.family, p.family, used)
    if s.sex is not None and p.sex is not None:
        out.append((7, 0 if s.sex == p.sex else 1, "", None))
    if s.nationalities and p.nationalities:
        out.append((8, 0 if s.nationalities & p.nationalities else 1, "", None))
    _given(out, 9, o.given, po.given)
    _family(out, 10, o.family, po.family, used)
    lvl = compare_separation(cs.separated, ps.separated)
    if lvl is not None:
        out.append((11, lvl, "", None))
    if cs.place is not None and ps.place is not None:
        pl = compare_places(cs.place, ps.place)
        if pl is not None:
            out.append((12, pl[0], "", pl[1]))
    return out


@dataclass
class Model:
    """Fellegi–Sunter parameters plus decision defaults.

    ``threshold`` and ``margin`` are in bits: a candidate is proposed when its score is at
    least ``threshold`` and at most ``margin`` below the best candidate for the same claim.
    A child claim without the child's birth date can never show the birth-date evidence
    most links carry (about 11 bits); it needs ``undated_offset`` bits less. The offset is
    trained like the threshold: the largest F1 within the false-alarm ceilings.
    ``max_candidates`` bounds the blocked candidates scored per lookup: on the dev set, 40
    finds every true link 60 found (with and without birth dates) and scores 30 % fewer
    pairs; 30 loses 0.01 % of them.
    """

    m: list[list[float]]
    u: list[list[float]]
    tf: dict[str, dict[str, float]] = field(default_factory=dict)
    tf_floor: float = 1e-4
    threshold: float = 10.0
    margin: float = 8.0
    undated_offset: float = 0.0
    use_readings: bool = True
    max_candidates: int = 40
    weights: list[list[float]] = field(init=False, repr=False)
    _tf_by_field: list[dict[str, float] | None] = field(init=False, repr=False)
    _tf_bits: list[dict[str, float]] = field(init=False, repr=False)
    _skeleton_ref: list[float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._tf_by_field = [None if f.tf_table is None else self.tf.get(f.tf_table, {}) for f in FIELDS]
        # TF adjustments by field and value, computed once (scoring asks millions of times).
        self._tf_bits = [{} for _f in FIELDS]
        # The chance that two people of a table share a phonetic skeleton.
        self._skeleton_ref = [
            sum(v * v for k, v in (table or {}).items() if k.startswith("p:")) or self.u[i][0]
            for i, table in enumerate(self._tf_by_field)
        ]
        self.weights = [
            [math.log2(mi / ui) for mi, ui in zip(ms, us, strict=True)] for ms, us in zip(self.m, self.u, strict=True)
        ]

    def threshold_for(self, cs: ChildSide, threshold: float | None = None) -> float:
        """The threshold a child claim's candidates must reach (``threshold``: the base, default the model's)."""
        base = self.threshold if threshold is None else threshold
        return base - self.undated_offset if cs.child.birth is None else base

    def weight(self, c: Comparison) -> float:
        """Log2 likelihood ratio of one comparison, TF-adjusted where it applies."""
        field_i, level, tf_key, _detail = c
        weight = self.weights[field_i][level]
        if tf_key:
            weight += self._tf_cached(field_i, level, tf_key)
        return weight

    def _tf_cached(self, field_i: int, level: int, tf_key: str) -> float:
        """The TF adjustment of an agreement at ``level`` on ``tf_key`` (memoised)."""
        cached = self._tf_bits[field_i]
        key = tf_key if level <= READING else "~" + tf_key
        bits = cached.get(key)
        if bits is None:
            table = self._tf_by_field[field_i]
            if level > READING and table is not None and tf_key not in table:
                # A value agreed only through a dictionary reading or a phonetic skeleton
                # that no one in the population is called is no evidence of rarity.
                bits = 0.0
            else:
                bits = self._tf_adjustment(field_i, tf_key)
            cached[key] = bits
        return bits

    def _tf_adjustment(self, field_i: int, tf_key: str) -> float:
        """Bits added for agreeing on a rarer (or common) value than the average agreement.

        A value is measured against the u of exact agreement; a phonetic skeleton against
        the chance that two people share a skeleton (the sum of the squared skeleton shares).
        """
        table = self._tf_by_field[field_i]
        if table is None:
            return 0.0
        freq = table.get(tf_key, self.tf_floor)
        reference = self._skeleton_ref[field_i] if tf_key.startswith("p:") else self.u[field_i][0]
        return math.log2(reference / max(freq, self.tf_floor))

    def score(self, comparisons: Iterable[Comparison]) -> float:
        """Total score in bits."""
        total = 0.0
        weights = self.weights
        for field_i, level, tf_key, _detail in comparisons:
            total += weights[field_i][level]
            if tf_key:
                total += self._tf_cached(field_i, level, tf_key)
        return total

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form of the parameters."""
        return {
            "version": PARAMS_VERSION,
            "fields": {
                f.name: {"levels": list(f.levels), "m": self.m[i], "u": self.u[i]} for i, f in enumerate(FIELDS)
            },
            # sorted, so that retraining on the same data writes the same file
            "tf": {name: dict(sorted(table.items())) for name, table in sorted(self.tf.items())},
            "tf_floor": self.tf_floor,
            "threshold": self.threshold,
            "margin": self.margin,
            "undated_offset": self.undated_offset,
            "use_readings": self.use_readings,
            "max_candidates": self.max_candidates,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        """Load parameters written by :meth:`to_json`; :raises ValueError: on a mismatch."""
        if data.get("version") != PARAMS_VERSION:
            raise ValueError("unsupported params version")
        m: list[list[float]] = []
        u: list[list[float]] = []
        for f in FIELDS:
            entry = data["fields"][f.name]
            if tuple(entry["levels"]) != f.levels:
                raise ValueError(f"levels of {f.name} do not match this engine")
            m.append([float(x) for x in entry["m"]])
            u.append([float(x) for x in entry["u"]])
        return cls(
            m=m,
            u=u,
            tf={k: {kk: float(vv) for kk, vv in v.items()} for k, v in data["tf"].items()},
            tf_floor=float(data["tf_floor"]),
            threshold=float(data["threshold"]),
            margin=float(data["margin"]),
            undated_offset=float(data.get("undated_offset", 0.0)),
            use_readings=bool(data["use_readings"]),
            max_candidates=int(data["max_candidates"]),
        )

    def save(self, path: str | Path) -> None:
        """Write the parameters as JSON."""
        Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Model:
        """Read parameters from a JSON file."""
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


@cache
def default_model() -> Model:
    """The model shipped in ``params.json`` (trained on the synthetic development set).

    Loaded once and shared: do not mutate it (use :func:`dataclasses.replace`).
    """
    text = resources.files("reunite.matching").joinpath("params.json").read_text(encoding="utf-8")
    return Model.from_json(json.loads(text))


def tf_tables(sides: Iterable[ParentSide]) -> dict[str, dict[str, float]]:
    """Relative frequency of each name value (share of people having it) in parent claims.

    Tables: ``family`` (everyone), ``child_given`` (children), ``parent_given`` (parents).
    Keys: ``"r:"`` + canonical romaji for values, ``"p:"`` + skeleton for phonetic classes.
    """
    counts: dict[str, Counter[str]] = {t: Counter() for t in ("family", "child_given", "parent_given")}
    totals = dict.fromkeys(counts, 0)
    seen_people: set[int] = set()
    for ps in sides:
        for person, given_table in (
            (ps.child, "child_given"),
            (ps.claimant, "parent_given"),
            (ps.other, "parent_given"),
        ):
            if id(person) in seen_people:
                continue
            seen_people.add(id(person))
            for table, toks in (("family", person.family), (given_table, person.given)):
                if not toks:
                    continue
                totals[table] += 1
                counts[table].update({"r:" + reading_key(t) for t in toks})
                counts[table].update({"p:" + k for t in toks for k in t.phon})
    return {
        table: {k: round(v / max(totals[table], 1), 7) for k, v in counts[table].items() if v >= 2} for table in counts
    }


#: Fields that describe the child and go with the child's name: a namesake is nearly always
#: the same sex, and namesakes often share an age and a birthplace (name fashions, and
#: families like one another). Their u is estimated from non-linked pairs whose child names
#: already agree (the pairs the score must tell apart) rather than from random pairs, so the
#: evidence a name gives is not counted again through its companions.
NAME_CONDITIONED = ("child_sex", "child_birth_date", "child_birth_place")
_CHILD_GIVEN, _CHILD_FAMILY = FIELD_INDEX["child_given"], FIELD_INDEX["child_family"]


def names_agree(comparisons: Iterable[Comparison]) -> bool:
    """Whether a pair's child given name and surname both agree at some level."""
    levels = {field_i: level for field_i, level, _tf, _detail in comparisons}
    given = levels.get(_CHILD_GIVEN, _GIVEN_DISAGREE)
    family = levels.get(_CHILD_FAMILY, _FAMILY_DISAGREE)
    return given != _GIVEN_DISAGREE and family != _FAMILY_DISAGREE


def _estimate(comparisons: Iterable[list[Comparison]], smoothing: float) -> list[list[float]]:
    """Level frequencies of every field over pairs' comparisons (additive smoothing)."""
    counts = [[smoothing] * len(f.levels) for f in FIELDS]
    for comps in comparisons:
        for field_i, level, _tf, _detail in comps:
            counts[field_i][level] += 1
    return [[x / sum(row) for x in row] for row in counts]


def fit(
    true_pairs: Sequence[tuple[ChildSide, ParentSide]],
    random_pairs: Sequence[tuple[ChildSide, ParentSide]],
    tf: dict[str, dict[str, float]],
    smoothing: float = 0.5,
) -> Model:
    """Estimate m from true links and u from random pairs (additive smoothing)."""
    floor = min([v for t in tf.values() for v in t.values()] or [1e-4]) / 2
    return Model(
        m=_estimate((compare_pair(cs, ps) for cs, ps in true_pairs), smoothing),
        u=_estimate((compare_pair(cs, ps) for cs, ps in random_pairs), smoothing),
        tf=tf,
        tf_floor=floor,
    )


def condition_on_namesakes(
    model: Model, namesake_pairs: Iterable[tuple[ChildSide, ParentSide]], smoothing: float = 0.5
) -> Model:
    """The model with the u of the :data:`NAME_CONDITIONED` fields estimated from those of
    ``namesake_pairs`` (non-linked pairs) whose child names agree."""
    agreeing = (c for c in (compare_pair(cs, ps) for cs, ps in namesake_pairs) if names_agree(c))
    conditioned = _estimate(agreeing, smoothing)
    u = [list(row) for row in model.u]
    for name in NAME_CONDITIONED:
        u[FIELD_INDEX[name]] = conditioned[FIELD_INDEX[name]]
    return dataclasses.replace(model, u=u)


def sample_random_pairs(
    children: Sequence[ChildSide],
    parents: Sequence[ParentSide],
    n: int,
    is_link: Callable[[ChildSide, ParentSide], bool],
    seed: int = 0,
) -> list[tuple[ChildSide, ParentSide]]:
    """Draw ``n`` random non-linked pairs (the u population)."""
    rng = random.Random(seed)  # nosec B311  # seeded on purpose: reproducible EM initialisation, not a secret
    out: list[tuple[ChildSide, ParentSide]] = []
    while len(out) < n:
        cs = rng.choice(children)
        ps = rng.choice(parents)
        if not is_link(cs, ps):
            out.append((cs, ps))
    return out
