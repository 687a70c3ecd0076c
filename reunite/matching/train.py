"""Train the model parameters (m/u, TF tables, threshold, margin, undated offset) on labelled dev data.

``python -m reunite.matching.train --claims dev.jsonl --truth dev.csv --out params.json``

m comes from the true links, u from random non-linked pairs (for the child's sex, birth
date and birthplace: from non-linked blocked candidates whose child names agree), TF
tables from the parent claims. The threshold, margin and undated offset are then chosen on
the same dev set to maximise the mean F1 of two runs, with and without the children's birth
dates, subject to a false-alarm ceiling for each (by default the targets: 0.2 % and 1.5 %);
the margin is the gap below the best candidate within which others are kept, the undated
offset how much less a child claim without a birth date needs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Collection, Sequence

from reunite.matching.compare import ChildSide, ParentSide, child_side, parent_sides
from reunite.matching.evaluate import read_truth, without_birth_date
from reunite.matching.index import MatchIndex
from reunite.matching.model import ChildClaim, ParentClaim, read_claims
from reunite.matching.scoring import Model, condition_on_namesakes, fit, sample_random_pairs, tf_tables

Scored = list[tuple[float, str, str]]
#: Thresholds tried (bits) and the offsets tried for child claims without a birth date.
THRESHOLDS = tuple(t / 2 for t in range(0, 81))
MARGINS = (2.0, 4.0, 6.0, 8.0, 12.0, 20.0)
UNDATED_OFFSETS = tuple(x / 2 for x in range(0, 11))


def _decisions(
    scored: dict[str, Scored],
    truth: set[tuple[str, str, str]],
    threshold: float,
    margin: float,
    undated: Collection[str] = frozenset(),
    offset: float = 0.0,
) -> tuple[float, float]:
    """F1 and false-alarm rate of a decision rule on precomputed candidate scores.

    ``undated`` child claims need ``offset`` bits less than ``threshold``.
    """
    linked = {c for c, _p, _r in truth}
    tp = fp = alarms = unlinked = 0
    for cid, cands in scored.items():
        floor = threshold - offset if cid in undated else threshold
        kept = [c for c in cands if c[0] >= floor]
        if kept:
            best = max(c[0] for c in kept)
            kept = [c for c in kept if c[0] >= best - margin]
        for _s, pid, ref in kept:
            if (cid, pid, ref) in truth:
                tp += 1
            else:
                fp += 1
        if cid not in linked:
            unlinked += 1
            alarms += bool(kept)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / len(truth)
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return f1, alarms / max(unlinked, 1)


def train(
    claims: Sequence[ParentClaim | ChildClaim],
    truth: set[tuple[str, str, str]],
    max_false_alarm: float = 0.015,
    max_false_alarm_dated: float = 0.002,
    tune_without_dob: bool = True,
) -> tuple[Model, dict[str, float]]:
    """Fit a model on labelled claims and tune its threshold, margin and undated offset.

    The decision rule maximises the mean F1 of the claims as they are and (with
    ``tune_without_dob``) of the same claims with the children's birth dates removed, with
    at most ``max_false_alarm_dated`` false alarms on the first and ``max_false_alarm`` on
    the second.
    """
    parents = [c for c in claims if isinstance(c, ParentClaim)]
    children = [c for c in claims if isinstance(c, ChildClaim)]
    psides = [ps for p in parents for ps in parent_sides(p)]
    by_key = {(ps.claim_id, ps.child_ref): ps for ps in psides}
    csides = {c.id: child_side(c) for c in children}
    true_pairs = [(csides[c], by_key[(p, r)]) for c, p, r in truth]
    links = {(c, p, r) for c, p, r in truth}

    def is_link(cs: ChildSide, ps: ParentSide) -> bool:
        return (cs.claim_id, ps.claim_id, ps.child_ref) in links

    random_pairs = sample_random_pairs(list(csides.values()), psides, 100_000, is_link)
    model = fit(true_pairs, random_pairs, tf_tables(psides))
    index = MatchIndex(model)
    for p in parents:
        index.add(p)
    # Blocking does not depend on the weights, so the index yields the non-linked candidates
    # from which the name-conditioned u are estimated.
    namesakes = ((cs, ps) for cs in csides.values() for ps in index.candidate_sides(cs) if not is_link(cs, ps))
    model = index.model = condition_on_namesakes(model, namesakes)
    runs: list[tuple[dict[str, Scored], set[str]]] = []
    variants = [children, [without_birth_date(c) for c in children]] if tune_without_dob else [children]
    lowest = THRESHOLDS[0] - max(UNDATED_OFFSETS)
    for variant in variants:
        scored: dict[str, Scored] = {}
        undated: set[str] = set()
        for c in variant:
            cs = child_side(c)
            if cs.child.birth is None:
                undated.add(c.id)
            # Candidates below every threshold tried can never be kept: leave them out.
            cands = index.scored_candidates(cs)
            scored[c.id] = [(s, ps.claim_id, ps.child_ref) for s, _cs, ps in cands if s >= lowest]
        runs.append((scored, undated))
    ceilings = [max_false_alarm_dated, max_false_alarm][: len(runs)]
    best: tuple[float, float, float, float] = (-1.0, 0.0, 0.0, 0.0)
    report: dict[str, float] = {}
    for threshold in THRESHOLDS:
        for margin in MARGINS:
            for offset in UNDATED_OFFSETS:
                results = [_decisions(r, links, threshold, margin, u, offset) for r, u in runs]
                if any(fa > ceiling for (_f1, fa), ceiling in zip(results, ceilings, strict=True)):
                    continue
                mean_f1 = sum(r[0] for r in results) / len(results)
                if mean_f1 > best[0]:
                    best = (mean_f1, threshold, margin, offset)
                    report = {
                        "threshold": threshold,
                        "margin": margin,
                        "undated_offset": offset,
                        "f1_with_dob": round(results[0][0], 5),
                        "fa_with_dob": round(results[0][1], 5),
                        "f1_without_dob": round(results[-1][0], 5),
                        "fa_without_dob": round(results[-1][1], 5),
                    }
    model.threshold, model.margin, model.undated_offset = best[1], best[2], best[3]
    return model, report


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--claims", required=True)
    ap.add_argument("--truth", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-false-alarm", type=float, default=0.015, help="false-alarm ceiling without birth dates")
    ap.add_argument("--max-false-alarm-dated", type=float, default=0.002, help="false-alarm ceiling with birth dates")
    args = ap.parse_args(argv)
    model, report = train(
        read_claims(args.claims), read_truth(args.truth), args.max_false_alarm, args.max_false_alarm_dated
    )
    model.save(args.out)
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
