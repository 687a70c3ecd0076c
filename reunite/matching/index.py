"""In-memory index of claims: blocking-key postings, candidate retrieval, ranked proposals."""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any

from reunite.matching.blocking import child_side_keys, parent_side_keys
from reunite.matching.compare import ChildSide, ParentSide, child_side, parent_sides
from reunite.matching.explain import explain
from reunite.matching.model import ChildClaim, ParentClaim
from reunite.matching.places import load_gazetteer
from reunite.matching.scoring import Model, compare_pair, default_model


@dataclass(frozen=True)
class Proposal:
    """A proposed link from a child claim to one child (``child_ref``) of a parent claim."""

    child_claim_id: str
    parent_claim_id: str
    child_ref: str
    score: float
    explanation: dict[str, Any] = field(compare=False, repr=False)


def blocking_keys(claim: ParentClaim | ChildClaim, model: Model | None = None) -> set[str]:
    """Blocking keys of a claim (for a parent claim, the union over its children).

    A child claim's keys intersect the keys of the matching child of a parent claim, so
    storing these keys and looking up the overlap finds the candidates in either direction.
    """
    use_readings = True if model is None else model.use_readings
    if isinstance(claim, ChildClaim):
        return child_side_keys(child_side(claim, use_readings))
    keys: set[str] = set()
    for ps in parent_sides(claim, use_readings):
        keys |= parent_side_keys(ps)
    return keys


def blocking_keys_by_child(parent_claim: ParentClaim, model: Model | None = None) -> dict[str, set[str]]:
    """Blocking keys of each child of a parent claim, by ``ref`` (for per-child storage)."""
    use_readings = True if model is None else model.use_readings
    return {ps.child_ref: parent_side_keys(ps) for ps in parent_sides(parent_claim, use_readings)}


def score_pair(
    child_claim: ChildClaim, parent_claim: ParentClaim, child_ref: str, model: Model | None = None
) -> tuple[float, dict[str, Any]]:
    """Score one child claim against one child of a parent claim: (bits, explanation).

    :raises KeyError: if ``child_ref`` is not a child of ``parent_claim``.
    """
    model = model or default_model()
    cs = child_side(child_claim, model.use_readings)
    for ps in parent_sides(parent_claim, model.use_readings):
        if ps.child_ref == child_ref:
            comps = compare_pair(cs, ps)
            return model.score(comps), explain(model, comps, model.threshold_for(cs))
    raise KeyError(child_ref)


#: A posting: the slot of the one record holding a key, or the slots of several. Most keys
#: are held by one record (2.1 M of 2.6 M keys for 20,000 parent claims); an int instead of
#: a one-element list makes storing the postings a fifth faster and saves a list per key.
Posting = int | list[int]


def _post(postings: dict[str, Posting], keys: set[str], slot: int) -> None:
    """Add ``slot`` to the posting of each key."""
    get = postings.get
    for key in keys:
        posting = get(key)
        if posting is None:
            postings[key] = slot
        elif isinstance(posting, int):
            postings[key] = [posting, slot]
        else:
            posting.append(slot)


class MatchIndex:
    """Parent and child claims indexed by blocking key.

    ``match`` looks a child claim up among the indexed parent claims, ``match_parent``
    looks a parent claim up among the indexed child claims.
    """

    def __init__(
        self,
        model: Model | None = None,
        max_posting_share: float = 0.01,
        min_posting_cap: int = 500,
        max_posting_cap: int = 5000,
        small_posting: int = 300,
    ) -> None:
        self.model = model or default_model()
        # Places compare through the city gazetteer: build it with the index, not in the first
        # lookup (0.4 s), and before a process that matches in forked workers forks.
        load_gazetteer()
        self.max_posting_share = max_posting_share
        self.min_posting_cap = min_posting_cap
        self.max_posting_cap = max_posting_cap
        self.small_posting = small_posting
        self._parents: list[ParentSide | None] = []
        self._parent_slots: dict[str, list[int]] = {}
        self._parent_postings: dict[str, Posting] = {}
        self._children: list[ChildSide | None] = []
        self._child_slots: dict[str, int] = {}
        self._child_postings: dict[str, Posting] = {}
        self.pairs_scored = 0

    def __len__(self) -> int:
        return len(self._parent_slots) + len(self._child_slots)

    def add(self, claim: ParentClaim | ChildClaim) -> None:
        """Index a claim (replacing an indexed claim with the same id)."""
        self.remove(claim.id)
        if isinstance(claim, ParentClaim):
            for ps in parent_sides(claim, self.model.use_readings):
                self.add_parent_side(ps)
        else:
            cs = child_side(claim, self.model.use_readings)
            slot = len(self._children)
            self._children.append(cs)
            self._child_slots[claim.id] = slot
            _post(self._child_postings, child_side_keys(cs), slot)

    def add_parent_side(self, ps: ParentSide, keys: set[str] | None = None) -> int:
        """Store one featurised child of a parent claim under its keys; return its slot.

        :meth:`add` is the way to index a claim; this is for callers that already hold the
        side and its keys (the speed benchmark stores copies of sides under new claim ids).
        """
        slot = len(self._parents)
        self._parents.append(ps)
        self._parent_slots.setdefault(ps.claim_id, []).append(slot)
        _post(self._parent_postings, parent_side_keys(ps) if keys is None else keys, slot)
        return slot

    def remove(self, claim_id: str) -> None:
        """Forget a claim; postings are skipped lazily. Unknown ids are ignored."""
        for slot in self._parent_slots.pop(claim_id, []):
            self._parents[slot] = None
        child_slot = self._child_slots.pop(claim_id, None)
        if child_slot is not None:
            self._children[child_slot] = None

    def _candidate_slots(self, keys: set[str], postings: dict[str, Posting], size: int) -> list[int]:
        """Slots sharing keys, ranked by the sum over key types of the rarest shared key.

        Keys of one type are strongly correlated (the same surname in several spellings),
        so only the best key of each type counts. Keys are read rarest first; a key held
        by more than ``small_posting`` records is read only while fewer than
        ``max_candidates`` candidates have been found, and keys held by more than
        ``max_posting_share`` of the records (bounded to ``min_posting_cap`` ..
        ``max_posting_cap``) are never read. This keeps lookups fast in large indexes.
        """
        log_n = math.log(max(size, 2))
        cap = min(self.max_posting_cap, max(self.min_posting_cap, int(size * self.max_posting_share)))
        limit = self.model.max_candidates
        found: list[tuple[int, str, list[int] | tuple[int]]] = []
        # Most looked-up keys are held by no one (about 9 in 10): intersecting with the
        # index's keys in C first leaves only the keys worth fetching.
        for key in postings.keys() & keys:
            held = postings[key]
            if isinstance(held, int):
                found.append((1, key, (held,)))
            elif len(held) <= cap:
                found.append((len(held), key, held))
        found.sort()
        per_type: dict[str, dict[int, float]] = {}
        seen: set[int] = set()
        for length, key, posting in found:
            if length > self.small_posting and len(seen) >= limit:
                break
            weight = log_n - math.log(length)
            best = per_type.setdefault(key[0], {})
            get = best.get
            for slot in posting:
                if get(slot, -1.0) < weight:
                    best[slot] = weight
            seen.update(posting)
        total: dict[int, float] = {}
        for best in per_type.values():
            tget = total.get
            for slot, weight in best.items():
                total[slot] = tget(slot, 0.0) + weight
        if len(total) <= limit:
            return list(total)
        return heapq.nlargest(limit, total, key=total.__getitem__)

    def candidates(self, child_claim: ChildClaim) -> list[tuple[str, str]]:
        """(parent claim id, child ref) pairs sharing blocking keys with a child claim."""
        cs = child_side(child_claim, self.model.use_readings)
        return [(ps.claim_id, ps.child_ref) for ps in self.candidate_sides(cs)]

    def candidate_sides(self, cs: ChildSide) -> list[ParentSide]:
        """The blocked candidates of a featurised child claim."""
        slots = self._candidate_slots(child_side_keys(cs, lookup=True), self._parent_postings, len(self._parents))
        return [ps for ps in (self._parents[slot] for slot in slots) if ps is not None]

    def _decide(self, scored: list[tuple[float, ChildSide, ParentSide]], threshold: float | None) -> list[Proposal]:
        """Candidates at or above their threshold and within the margin of the best, best first."""
        threshold_for = self.model.threshold_for
        scored = [s for s in scored if s[0] >= threshold_for(s[1], threshold)]
        if not scored:
            return []
        scored.sort(key=lambda s: -s[0])
        best = scored[0][0]
        out: list[Proposal] = []
        for score, cs, ps in scored:
            if score < best - self.model.margin:
                break
            comps = compare_pair(cs, ps)
            why = explain(self.model, comps, threshold_for(cs, threshold))
            out.append(Proposal(cs.claim_id, ps.claim_id, ps.child_ref, round(score, 3), why))
        return out

    def match(self, child_claim: ChildClaim, threshold: float | None = None) -> list[Proposal]:
        """Proposals for a child claim among indexed parent claims, best first."""
        cs = child_side(child_claim, self.model.use_readings)
        return self.match_features(cs, threshold)

    def match_features(self, cs: ChildSide, threshold: float | None = None) -> list[Proposal]:
        """Like :meth:`match` for an already featurised child claim."""
        return self._decide(self.scored_candidates(cs), threshold)

    def scored_candidates(self, cs: ChildSide) -> list[tuple[float, ChildSide, ParentSide]]:
        """Every blocked candidate of a featurised child claim with its score (unsorted)."""
        model = self.model
        scored = [(model.score(compare_pair(cs, ps)), cs, ps) for ps in self.candidate_sides(cs)]
        self.pairs_scored += len(scored)
        return scored

    def match_parent(self, parent_claim: ParentClaim, threshold: float | None = None) -> list[Proposal]:
        """Proposals for every child of a parent claim among indexed child claims, best first.

        Decisions are made per child of the parent claim (best candidate and margin),
        then all proposals are returned sorted by score.
        """
        model = self.model
        out: list[Proposal] = []
        for ps in parent_sides(parent_claim, model.use_readings):
            scored: list[tuple[float, ChildSide, ParentSide]] = []
            for slot in self._candidate_slots(
                parent_side_keys(ps, lookup=True), self._child_postings, len(self._children)
            ):
                cs = self._children[slot]
                if cs is not None:
                    scored.append((model.score(compare_pair(cs, ps)), cs, ps))
            self.pairs_scored += len(scored)
            out.extend(self._decide(scored, threshold))
        out.sort(key=lambda p: -p.score)
        return out
