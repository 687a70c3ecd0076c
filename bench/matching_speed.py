"""Matching speed: whole-set evaluation time and per-claim latency against large indexes.

1. Evaluation of 4,200 child claims against 20,000 parent claims (the synthetic test set,
   seed 2): ``python -m reunite.matching.evaluate`` run in a fresh process (cold caches),
   once matching in one process and once in as many as there are CPUs (its default);
   wall and CPU seconds.
2. Latency of ``MatchIndex.match`` for one new child claim against 10k, 100k and 1M
   indexed parent claims (p50/p95/max over 500 child claims). The 10k and 100k indexes
   are fully generated; the 1M index holds the 100k generated claims ten times under
   new ids (building 1M distinct claims takes too long here). Duplicates make every
   posting list ten times longer than distinct data would, so the 1M figures are
   pessimistic for candidate retrieval. The DB-backed version is measured later.

Usage: ``python bench/matching_speed.py [--max 1000000]``
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reunite.matching.blocking import parent_side_keys  # noqa: E402
from reunite.matching.evaluate import default_jobs  # noqa: E402
from reunite.matching.generate import generate  # noqa: E402
from reunite.matching.generate import main as generate_main  # noqa: E402
from reunite.matching.index import MatchIndex  # noqa: E402
from reunite.matching.model import ChildClaim, ParentClaim, claim_from_dict  # noqa: E402
from reunite.matching.scoring import default_model  # noqa: E402


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def replicate(index: MatchIndex, times: int) -> None:
    """Add ``times - 1`` copies of every indexed parent side under new claim ids."""
    originals = [ps for ps in index._parents if ps is not None]  # noqa: SLF001 - bench only
    keys = [parent_side_keys(ps) for ps in originals]
    for copy in range(1, times):
        for ps, side_keys in zip(originals, keys, strict=True):
            index.add_parent_side(dataclasses.replace(ps, claim_id=f"{ps.claim_id}~{copy}"), side_keys)


def latency(index: MatchIndex, children: list[ChildClaim]) -> dict[str, float]:
    times = []
    for c in children:
        start = time.perf_counter()
        index.match(c)
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "p50_ms": 1000 * statistics.median(times),
        "p95_ms": 1000 * times[int(0.95 * len(times)) - 1],
        "max_ms": 1000 * times[-1],
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max", type=int, default=1_000_000, help="largest index size (10k, 100k, 1M)")
    args = ap.parse_args(argv)
    model = default_model()

    with tempfile.TemporaryDirectory() as tmp:
        claims_path, truth_path = Path(tmp) / "claims.jsonl", Path(tmp) / "truth.csv"
        generate_main(["--parents", "20000", "--children", "4200", "--seed", "2",
                       "--out", str(claims_path), "--truth", str(truth_path)])  # fmt: skip
        for jobs in sorted({1, default_jobs()}):
            done = subprocess.run(
                [sys.executable, "-m", "reunite.matching.evaluate", "--claims", str(claims_path),
                 "--truth", str(truth_path), "--jobs", str(jobs)],
                cwd=ROOT, capture_output=True, text=True, check=True,
            )  # fmt: skip
            result = json.loads(done.stdout)
            print(f"evaluation 4200 child x 20000 parent claims, {jobs} process(es): {result['seconds']:.2f} s wall, "
                  f"{result['cpu_seconds']:.2f} s CPU, {result['pairs_scored']} pairs scored, top-1 "
                  f"{result['top1']:.4f}, load average {os.getloadavg()[0]:.1f}")  # fmt: skip

    print(f"{'indexed claims':>14} {'build s':>8} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'RSS MB':>7}")
    index: MatchIndex | None = None
    for size in (10_000, 100_000, 1_000_000):
        if size > args.max:
            break
        start = time.perf_counter()
        if size <= 100_000:
            raw, _links = generate(size, 500, seed=size)
            claims = [claim_from_dict(c) for c in raw]
            parents = [c for c in claims if isinstance(c, ParentClaim)]
            children = [c for c in claims if isinstance(c, ChildClaim)]
            index = MatchIndex(model)
            for p in parents:
                index.add(p)
            del raw, claims, parents
        else:
            assert index is not None
            replicate(index, size // 100_000)
        gc.collect()
        build = time.perf_counter() - start
        stats = latency(index, children)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{size:>14,} {build:>8.1f} {stats['p50_ms']:>7.2f} {stats['p95_ms']:>7.2f} "
              f"{stats['max_ms']:>7.2f} {rss:>7.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
