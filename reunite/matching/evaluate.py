"""Evaluate the matching engine on labelled claims and print one JSON object of metrics.

``python -m reunite.matching.evaluate --claims FILE.jsonl --truth FILE.csv``

Every child claim is matched against an index of all parent claims with the same code the
service uses. Precision and recall are over the proposed links (score ≥ threshold, within
the margin of the best); ``top1``/``top5`` are over child claims that have a true link and
count the true link among the first 1/5 *proposals*; ``false_alarm_rate`` is the share of
child claims without a true link that receive any proposal. ``pairs_completeness`` is the
share of true links that blocking puts among the candidates (measured outside the timing).
``seconds`` is the wall time of building the index and matching every child claim; the
matching runs in ``--jobs`` processes (default: the available CPUs) that share the index
built once, so the result is the same whatever the number.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import gc
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reunite.matching.index import MatchIndex, Proposal
from reunite.matching.model import ChildClaim, ClaimFormatError, ParentClaim, Person, read_claims
from reunite.matching.scoring import Model, default_model

Link = tuple[str, str, str]


def read_truth(path: str | Path) -> set[Link]:
    """Read ``child_claim,parent_claim,child_ref`` rows."""
    with open(path, encoding="utf-8", newline="") as fh:
        return {(r["child_claim"], r["parent_claim"], r["child_ref"]) for r in csv.DictReader(fh)}


def without_birth_date(claim: ChildClaim) -> ChildClaim:
    """The same child claim with the child's birth date removed."""
    person: Person = dataclasses.replace(claim.claimant, birth_date=None)
    return dataclasses.replace(claim, claimant=person)


def metrics(proposals: dict[str, list[Proposal]], children: Sequence[ChildClaim], truth: set[Link]) -> dict[str, float]:
    """Precision, recall, F1, top-1/top-5 and false-alarm rate of a set of proposals."""
    linked = {c for c, _p, _r in truth}
    proposed = {(p.child_claim_id, p.parent_claim_id, p.child_ref) for ps in proposals.values() for p in ps}
    tp = len(proposed & truth)
    precision = tp / len(proposed) if proposed else 1.0
    recall = tp / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    truth_by_child: dict[str, set[tuple[str, str]]] = {}
    for c, p, r in truth:
        truth_by_child.setdefault(c, set()).add((p, r))
    top1 = top5 = 0
    unlinked = false_alarms = 0
    for claim in children:
        ranked = [(p.parent_claim_id, p.child_ref) for p in proposals.get(claim.id, [])]
        if claim.id in linked:
            want = truth_by_child[claim.id]
            top1 += bool(ranked[:1] and ranked[0] in want)
            top5 += any(x in want for x in ranked[:5])
        else:
            unlinked += 1
            false_alarms += bool(ranked)
    n_linked = len(linked) or 1
    return {
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "f1": round(f1, 5),
        "top1": round(top1 / n_linked, 5),
        "top5": round(top5 / n_linked, 5),
        "false_alarm_rate": round(false_alarms / unlinked, 5) if unlinked else 0.0,
    }


_FORKED: tuple[MatchIndex, float | None] | None = None


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _match_chunk(chunk: list[ChildClaim]) -> tuple[dict[str, list[Proposal]], int]:
    """Worker: match a chunk of child claims against the index inherited by fork."""
    assert _FORKED is not None  # noqa: S101 - set before the pool forks; type narrowing only  # nosec B101
    index, threshold = _FORKED
    before = index.pairs_scored
    return {c.id: index.match(c, threshold) for c in chunk}, index.pairs_scored - before


def default_jobs() -> int:
    """Processes for matching: the CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def match_all(
    index: MatchIndex, children: Sequence[ChildClaim], threshold: float | None, jobs: int
) -> tuple[dict[str, list[Proposal]], int]:
    """Match every child claim; with ``jobs`` > 1, in forked processes sharing the index."""
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        before = index.pairs_scored
        return {c.id: index.match(c, threshold) for c in children}, index.pairs_scored - before
    global _FORKED
    _FORKED = (index, threshold)
    chunks = [list(children[i::jobs]) for i in range(jobs)]
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            parts = pool.map(_match_chunk, chunks)
    finally:
        _FORKED = None
    proposals: dict[str, list[Proposal]] = {}
    for part, _n in parts:
        proposals.update(part)
    return proposals, sum(n for _p, n in parts)


def evaluate(
    claims: Sequence[ParentClaim | ChildClaim],
    truth: set[Link],
    model: Model,
    threshold: float | None = None,
    jobs: int = 1,
) -> dict[str, Any]:
    """Index the parent claims, match every child claim, and return the metrics.

    :param jobs: processes for matching (the index is built once and shared by fork).
    """
    parents = [c for c in claims if isinstance(c, ParentClaim)]
    children = [c for c in claims if isinstance(c, ChildClaim)]
    # A batch run allocates millions of small objects and frees almost none: the cyclic
    # garbage collector would rescan them again and again (a third of the run time), so it
    # is paused for the timed part, with the claims already read moved out of its sight.
    gc.collect()
    gc.freeze()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        cpu_start = _cpu()
        index = MatchIndex(model)
        for p in parents:
            index.add(p)
        proposals, pairs_scored = match_all(index, children, threshold, jobs)
        seconds = time.perf_counter() - start
        cpu_seconds = _cpu() - cpu_start
    finally:
        if gc_was_enabled:
            gc.enable()
        gc.unfreeze()
    result: dict[str, Any] = metrics(proposals, children, truth)
    result["pairs_scored"] = pairs_scored
    result["seconds"] = round(seconds, 3)
    # CPU time (this process and its finished workers): comparable on a shared, busy machine.
    result["cpu_seconds"] = round(cpu_seconds, 3)
    by_id = {c.id: c for c in children}
    found = 0
    for child_id, parent_id, ref in truth:
        found += (parent_id, ref) in set(index.candidates(by_id[child_id]))
    result["pairs_completeness"] = round(found / len(truth), 5) if truth else 1.0
    result["parent_claims"] = len(parents)
    result["child_claims"] = len(children)
    result["true_links"] = len(truth)
    return result


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--claims", required=True, help="claims-v1 JSON Lines file")
    ap.add_argument("--truth", required=True, help="CSV child_claim,parent_claim,child_ref")
    ap.add_argument("--params", help="model parameters JSON (default: the shipped params.json)")
    ap.add_argument("--threshold", type=float, help="score threshold in bits (default: the model's)")
    ap.add_argument("--drop-child-dob", action="store_true", help="remove every child claim's birth date")
    ap.add_argument("--no-readings", action="store_true", help="do not use kanji dictionary/name readings")
    ap.add_argument(
        "--jobs",
        type=int,
        default=default_jobs(),
        help="processes for matching, sharing the index built once (default: the available CPUs)",
    )
    args = ap.parse_args(argv)
    model = Model.load(args.params) if args.params else default_model()
    if args.no_readings:
        model = dataclasses.replace(model, use_readings=False)
    try:
        claims = read_claims(args.claims)
    except ClaimFormatError as exc:
        sys.exit(f"error: {exc}")
    if args.drop_child_dob:
        claims = [without_birth_date(c) if isinstance(c, ChildClaim) else c for c in claims]
    result = evaluate(claims, read_truth(args.truth), model, args.threshold, args.jobs)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
