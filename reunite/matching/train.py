"""Train the model parameters (m/u, TF tables, threshold, margin) on labelled dev data.

``python -m reunite.matching.train --claims dev.jsonl --truth dev.csv --out params.json``

m comes from the true links, u from random non-linked pairs, TF tables from the parent
claims. The threshold and margin are then chosen on the same dev set to maximise the mean
F1 of two runs, with and without the children's birth dates, subject to a false-alarm
ceiling; the margin is the gap below the best candidate within which others are kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from reunite.matching.compare import ChildSide, ParentSide, child_side, parent_sides
from reunite.matching.evaluate import read_truth, without_birth_date
from reunite.matching.index import MatchIndex
from reunite.matching.model import ChildClaim, ParentClaim, read_claims
from reunite.matching.scoring import Model, fit, sample_random_pairs, tf_tables

Scored = list[tuple[float, str, str]]


def _decisions(
    scored: dict[str, Scored], truth: set[tuple[str, str, str]], threshold: float, margin: float
) -> tuple[float, float]:
    """F1 and false-alarm rate of a threshold/margin on precomputed candidate scores."""
    linked = {c for c, _p, _r in truth}
    tp = fp = alarms = unlinked = 0
    for cid, cands in scored.items():
        kept = [c for c in cands if c[0] >= threshold]
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
    max_false_alarm: float = 0.01,
    tune_without_dob: bool = True,
) -> tuple[Model, dict[str, float]]:
    """Fit a model on labelled claims and tune its threshold and margin.

    :param tune_without_dob: also tune on the same claims with children's birth dates
        removed (the threshold then maximises the mean F1 of both runs).
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
    runs: list[dict[str, Scored]] = []
    variants = [children, [without_birth_date(c) for c in children]] if tune_without_dob else [children]
    for variant in variants:
        scored: dict[str, Scored] = {}
        for c in variant:
            cands = index.scored_candidates(child_side(c))
            scored[c.id] = [(s, ps.claim_id, ps.child_ref) for s, _cs, ps in cands]
        runs.append(scored)
    best: tuple[float, float, float] = (-1.0, 0.0, 0.0)
    report: dict[str, float] = {}
    for t10 in range(0, 400, 5):
        threshold = t10 / 10
        for margin in (2.0, 4.0, 6.0, 8.0, 12.0, 20.0):
            results = [_decisions(r, links, threshold, margin) for r in runs]
            if results[0][1] > max_false_alarm / 5 or results[-1][1] > max_false_alarm:
                continue
            mean_f1 = sum(r[0] for r in results) / len(results)
            if mean_f1 > best[0]:
                best = (mean_f1, threshold, margin)
                report = {
                    "threshold": threshold,
                    "margin": margin,
                    "f1_with_dob": round(results[0][0], 5),
                    "fa_with_dob": round(results[0][1], 5),
                    "f1_without_dob": round(results[-1][0], 5),
                    "fa_without_dob": round(results[-1][1], 5),
                }
    model.threshold, model.margin = best[1], best[2]
    return model, report


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--claims", required=True)
    ap.add_argument("--truth", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-false-alarm", type=float, default=0.01)
    args = ap.parse_args(argv)
    model, report = train(read_claims(args.claims), read_truth(args.truth), args.max_false_alarm)
    model.save(args.out)
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
