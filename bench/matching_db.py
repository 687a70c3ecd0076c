"""Matching one new claim against 10k, 100k and 1M parent claims stored in PostgreSQL.

What the worker does for a new child claim: refresh its in-memory index from the database,
match, and record proposals, in one transaction. Reported per size: p50/p95 latency of that
whole task, the index build time and the process's peak memory; as the reference measured in
the same run, the same claims scored against every stored parent claim without blocking (on a
sample, extrapolated linearly). Finally the throughput of a full rematch.

    python bench/matching_db.py [--sizes 10000,100000,1000000] [--queries 300] [--no-rematch]

Needs PostgreSQL on 127.0.0.1 (user postgres); creates and drops its own database.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def families(n_parents: int, n_children: int, seed: int, tag: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from reunite.matching.generate import generate

    claims, _truth = generate(n_parents, n_children, seed)
    parents, children = [], []
    for c in claims:
        c = dict(c)
        c["id"] = f"{tag}-{c['id']}"
        (parents if c["role"] == "parent" else children).append(c)
    return parents, children


def copy_claims(conn: psycopg.Connection[Any], claims: list[dict[str, Any]]) -> None:
    """Bulk-load claims as already matched (a steady state), like an import followed by a rematch."""
    with (
        conn.cursor() as cur,
        cur.copy(
            "COPY claim (public_id, source_id, role, data, version, created_at, updated_at, matched_version) FROM STDIN"
        ) as copy,
    ):
        # Stored a while ago: the worker's refresh window only re-reads recent changes.
        now = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(time.time() - 3600))
        for c in claims:
            data = {k: v for k, v in c.items() if k != "id"}
            copy.write_row(
                ("cl-" + secrets.token_hex(8), c["id"], c["role"], json.dumps(data, ensure_ascii=False), 1, now, now, 1)
            )
    conn.commit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--brute-sample", type=int, default=30)
    ap.add_argument(
        "--no-rematch",
        dest="rematch",
        action="store_false",
        help="skip the full rematch at the end (long at 1M)",
    )
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    name = f"reunite_bench_{os.getpid()}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    env = dict(os.environ, REUNITE_CONFIG="testing", TEST_DATABASE_URL=url, FLASK_APP="wsgi:app")
    subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    os.environ["TEST_DATABASE_URL"] = url
    from reunite import create_app
    from reunite.claims.models import Claim, ClaimRole
    from reunite.claims.services import refresh_statistics
    from reunite.extensions import db
    from reunite.matching.compare import child_side, parent_sides
    from reunite.matching.model import claim_from_dict
    from reunite.matching.scoring import compare_pair, default_model
    from reunite.proposals import services

    def child_claim(q: dict[str, Any]) -> Claim:
        """A new stored child claim with a generated claim's content."""
        return Claim(
            public_id="cl-" + secrets.token_hex(8),
            role=ClaimRole.CHILD,
            data={k: v for k, v in q.items() if k != "id"},
            version=1,
        )

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    rows: list[dict[str, Any]] = []
    try:
        with app.app_context(), psycopg.connect(url) as raw:
            loaded = 0
            chunk = 50_000
            queries: list[dict[str, Any]] = []
            for size in sizes:
                t0 = time.perf_counter()
                while loaded < size:
                    n = min(chunk, size - loaded)
                    want_children = args.queries if not queries else 0
                    parents, children = families(n, max(want_children, 10), 1000 + loaded, f"b{loaded}")
                    copy_claims(raw, parents)
                    if not queries:
                        # Child claims whose families are in the first chunk: they have a true link.
                        queries = children[: args.queries]
                    loaded += n
                load_s = time.perf_counter() - t0
                # As `flask reunite import` does after a bulk load: without fresh planner statistics
                # PostgreSQL scans the whole table for the worker's "changed lately" question.
                refresh_statistics()
                db.session.commit()
                services.reset_index()
                t0 = time.perf_counter()
                index = services.synced_index()
                build_s = time.perf_counter() - t0
                model = default_model()
                latencies: list[float] = []
                linked = 0
                for q in queries:
                    claim = child_claim(q)
                    db.session.add(claim)
                    db.session.commit()
                    t = time.perf_counter()
                    made = services.match_claim(claim.id)
                    db.session.commit()
                    latencies.append((time.perf_counter() - t) * 1000)
                    linked += made > 0
                    db.session.delete(claim)  # keep the stored set at `size`
                    db.session.commit()
                # Reference: the same claims scored against every parent claim, no blocking.
                sample = [claim_from_dict(q) for q in queries[: args.brute_sample]]
                all_sides = [
                    ps
                    for c in db.session.scalars(
                        db.select(Claim.data).where(Claim.role == ClaimRole.PARENT).limit(10_000)
                    )
                    for ps in parent_sides(claim_from_dict({"id": "x", **c}))
                ]
                t = time.perf_counter()
                for s in sample:
                    cs = child_side(s)  # type: ignore[arg-type]
                    for ps in all_sides:
                        model.score(compare_pair(cs, ps))
                brute_ms = (time.perf_counter() - t) * 1000 / len(sample) * (size / min(size, 10_000))
                row = {
                    "stored_parent_claims": size,
                    "load_s": round(load_s, 1),
                    "index_build_s": round(build_s, 1),
                    "indexed_claims": len(index.versions),
                    "p50_ms": round(statistics.median(latencies), 2),
                    "p95_ms": round(pct(latencies, 0.95), 2),
                    "queries": len(latencies),
                    "queries_with_a_proposal": linked,
                    "peak_rss_mb": round(rss_mb()),
                    "reference_full_scan_ms": round(brute_ms, 1),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
            if args.rematch:
                # Full rematch throughput over what is stored (index rebuilt, every child claim re-scored).
                from click.testing import CliRunner

                db.session.add_all(child_claim(q) for q in queries)
                db.session.commit()
                t = time.perf_counter()
                out = CliRunner().invoke(app.cli, ["reunite", "rematch"], catch_exceptions=False)
                print(
                    json.dumps(
                        {"rematch_s": round(time.perf_counter() - t, 1), "output": out.output.strip().splitlines()[-1]}
                    )
                )
            db.session.remove()
            db.engine.dispose()
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print()
    print(f"{'stored':>9} {'p50 ms':>8} {'p95 ms':>8} {'full scan ms':>13} {'index s':>8} {'RSS MB':>7}")
    for r in rows:
        print(
            f"{r['stored_parent_claims']:>9} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['reference_full_scan_ms']:>13} "
            f"{r['index_build_s']:>8} {r['peak_rss_mb']:>7}"
        )


if __name__ == "__main__":
    main()
