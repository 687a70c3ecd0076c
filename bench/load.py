"""Load test of the whole service with locust: throughput, p50/p95/p99 per request type, errors, and a count check.

    python bench/load.py [--users 24] [--duration 60] [--workers 4] [--threads 4] [--profile FILE]

Starts its own stack on loopback (a fresh PostgreSQL database, Redis database 14, gunicorn serving
``bench._stack:load_app()``, one Celery worker), seeds parent claims, certified moderators with TOTP
and open conversations, encrypts each sender's envelopes before the clock, then runs
``locust --headless`` with the user classes of ``bench/locustfile.py`` (Registrant, Moderator, Pair)
for the given time. Afterwards it waits for the worker to drain and checks the database: every
acknowledged claim stored once and matched, every accepted message stored exactly once, every
conversation chain verifies, every acknowledged decision recorded. The reference, measured in the
same run, is locust against a bare Flask app (``bench/bare_wsgi.py``) under the same gunicorn
settings. ``--profile FILE`` samples the gunicorn workers with py-spy during the load (collapsed
stacks, with a summary of the hottest functions printed at the end).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _stack as stack  # noqa: E402
from bench.mailbox_load import TEXT, Stats, count_after  # noqa: E402
from reunite.client import protocol as p  # noqa: E402
from reunite.client.api import Client, Mailbox  # noqa: E402

USER_CLASSES = ("Registrant", "Moderator", "Pair")


def seed(db_url: str, org_seed: bytes, moderators: int, parents: int, children: int) -> dict[str, Any]:
    """Parent claims (owned, already matched), certified moderators with TOTP, child claims to file."""
    from reunite import create_app
    from reunite.auth import services as auth_services
    from reunite.auth.models import Role
    from reunite.claims.models import Claim, ClaimRole
    from reunite.cli import create_account
    from reunite.extensions import db
    from reunite.matching.generate import generate

    claims, _truth = generate(parents, children, seed=7)
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=db_url)
    mods = []
    with app.app_context():
        owner, _ = create_account("load-parents", Role.PARENT, stack.PASSWORD)
        for c in claims:
            if c["role"] == "parent":
                db.session.add(
                    Claim(
                        public_id="cl-" + secrets.token_hex(8),
                        role=ClaimRole.PARENT,
                        data={k: v for k, v in c.items() if k != "id"},
                        version=1,
                        matched_version=1,
                        owner_id=owner.id,
                    )
                )
        for n in range(moderators):
            mod, _ = create_account(f"load-mod-{n}", Role.MODERATOR, stack.PASSWORD)
            auth_services.certify_moderator(mod, org_seed, int(time.time() * 1000) + 86_400_000)
            secret = auth_services.begin_totp(mod)
            mod.totp_confirmed_at = mod.created_at
            mods.append({"username": mod.username, "totp_secret": secret})
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return {
        "moderators": mods,
        "children": [{k: v for k, v in c.items() if k != "id"} for c in claims if c["role"] == "child"],
    }


def envelopes(url: str, convs: list[dict[str, Any]], per_sender: int) -> list[dict[str, Any]]:
    """Each person's envelopes, encrypted before the clock with their own keys (logged in once here)."""
    out = []
    for conv in convs:
        for name in conv["people"]:
            client = Client(url)
            box = Mailbox(client, client.login(name, stack.PASSWORD))
            roster = box.conversation(conv["cid"])
            members = [p.RosterMember(r["user_id"], p.b64d(r["enc_pk"]), r["epoch"]) for r in roster["roster"]]
            bodies = []
            for seq in range(1, per_sender + 1):
                sent = p.encrypt_message(
                    box.session.keys.sign_seed, conv["cid"], box.me, seq, members, TEXT, "2026-11-27T12:00:00Z"
                )
                bodies.append({"msg_id": p.b64e(sent.msg_id), "seq": seq, "envelope": sent.envelope.to_json()})
            out.append({"cid": conv["cid"], "username": name, "bodies": bodies})
    return out


def warm_worker(db_url: str, env: dict[str, str], log: Path) -> float:
    """Have the worker load its index before the clock: match one stored parent claim (no proposal comes of it)."""
    from reunite import create_app
    from reunite.claims.tasks import enqueue_match

    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=db_url,
        CELERY_BROKER_URL=env["TEST_BROKER_URL"],
        CELERY_QUEUE=env["CELERY_QUEUE"],
    )
    plain = db_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn:
        row = conn.execute("SELECT min(id) FROM claim WHERE role = 'parent' AND data::text <> '{}'").fetchone()
    started = time.perf_counter()
    with app.app_context():
        enqueue_match(int(row[0]) if row else 1)
    while b"succeeded" not in log.read_bytes():
        if time.perf_counter() - started > 300:
            raise SystemExit(f"the worker did not load its index in 300 s; see {log}")
        time.sleep(0.5)
    return time.perf_counter() - started


def bare_body(org: p.Identity) -> dict[str, Any]:
    """An envelope-sized body for the bare reference."""
    members = [p.RosterMember(f"u{i}", p.box_keypair_from_seed(bytes([i]) * 32)[0], 1) for i in range(3)]
    env = p.encrypt_message(org.seed, "cv", "u", 1, members, TEXT, "2026-11-27T12:00:00Z").envelope
    return {"msg_id": p.b64e(bytes(16)), "seq": 1, "envelope": env.to_json()}


def run_locust(
    url: str, classes: tuple[str, ...], users: int, rate: float, duration: float, prefix: Path, env: dict[str, str]
) -> int:
    """Run locust headless for `duration` seconds; its statistics land in ``<prefix>_stats.csv``."""
    cmd = [
        str(stack.BIN / "locust"),
        "-f",
        str(ROOT / "bench" / "locustfile.py"),
        "--headless",
        "--only-summary",
        "-u",
        str(users),
        "-r",
        str(rate),
        "-t",
        f"{int(duration)}s",
        "--stop-timeout",
        "10",
        "--host",
        url,
        "--csv",
        str(prefix),
        "--loglevel",
        "WARNING",
        *classes,
    ]
    with (prefix.parent / f"{prefix.name}.log").open("wb") as log:
        return subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=False).returncode


def cpu_seconds(db_name: str, trees: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each process tree and by this database's PostgreSQL backends.

    On a machine shared with other work, CPU time per request moves much less than throughput does.
    """
    import psutil

    def used(proc: psutil.Process) -> float:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            return 0.0
        return float(times.user + times.system)

    out: dict[str, float] = {}
    for label, pid in trees.items():
        try:
            root = psutil.Process(pid)
            out[label] = sum(used(proc) for proc in [root, *root.children(recursive=True)])
        except psutil.Error:
            out[label] = 0.0
    out["PostgreSQL"] = sum(
        used(proc) for proc in psutil.process_iter(["cmdline"]) if db_name in " ".join(proc.info.get("cmdline") or [])
    )
    return out


def read_stats(prefix: Path) -> list[dict[str, str]]:
    """Locust's per-request-type statistics rows (the last one is "Aggregated")."""
    with Path(f"{prefix}_stats.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def read_failures(prefix: Path) -> list[dict[str, str]]:
    """Locust's failures (method, name, error, occurrences)."""
    path = Path(f"{prefix}_failures.csv")
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def print_stats(title: str, rows: list[dict[str, str]]) -> None:
    """A table: requests/s, p50/p95/p99 ms and failures per request type."""
    print(title)
    table = [("request", "count", "req/s", "p50 ms", "p95 ms", "p99 ms", "failures")]
    for r in rows:
        table.append(
            (
                r["Name"] if r["Name"] != "Aggregated" else "all requests",
                r["Request Count"],
                f"{float(r['Requests/s']):.1f}",
                r["50%"],
                r["95%"],
                r["99%"],
                r["Failure Count"],
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))  # noqa: B905


def drain(db_url: str, timeout: float) -> tuple[int, float]:
    """Wait until the worker has matched every claim; returns (claims still unmatched, seconds waited)."""
    started = time.monotonic()
    plain = db_url.replace("postgresql+psycopg://", "postgresql://")
    while True:
        with psycopg.connect(plain) as conn:
            row = conn.execute(
                "SELECT count(*) FROM claim WHERE matched_version IS NULL OR matched_version <> version"
            ).fetchone()
        left = int(row[0]) if row else 0
        waited = time.monotonic() - started
        if left == 0 or waited > timeout:
            return left, waited
        time.sleep(1)


def count_claims_and_decisions(db_url: str, results: dict[str, Any]) -> dict[str, Any]:
    """Compare filed claims and decisions in the database with what locust was acknowledged."""
    plain = db_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn:
        filed = conn.execute(
            'SELECT c.public_id, c.version, c.matched_version FROM claim c JOIN "user" u ON u.id = c.owner_id '
            "WHERE u.username LIKE 'load-child-%'"
        ).fetchall()
        decisions = conn.execute("SELECT count(*) FROM decision").fetchone()
        statuses = dict(conn.execute("SELECT status, count(*) FROM proposal GROUP BY status").fetchall())
        accounts = conn.execute("SELECT count(*) FROM \"user\" WHERE username LIKE 'load-child-%'").fetchone()
    stored = Counter(pid for pid, _v, _m in filed)
    acked = set(results["claims"])
    return {
        "accounts_registered": results["registered"],
        "accounts_stored": int(accounts[0]) if accounts else 0,
        "claims_acknowledged": len(acked),
        "claims_stored": len(filed),
        "claims_lost": len(acked - set(stored)),
        "claims_duplicated": sum(n - 1 for n in stored.values()),
        "claims_stored_without_ack": len(set(stored) - acked),
        "claims_unmatched": sum(1 for _pid, v, m in filed if m != v),
        "decisions_acknowledged": results["decisions"],
        "decisions_stored": int(decisions[0]) if decisions else 0,
        "decisions_refused_as_conflicts": len(results["decisions_refused"]),
        "proposals": statuses,
    }


def summarise_profile(path: Path, top: int = 15) -> None:
    """Print the functions with the most samples (own and inclusive) from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        n = int(count_text)
        frames = stack_text.split(";")
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    print(f"py-spy: {total} samples of the gunicorn workers ({path})")
    print("  hottest own time:")
    for frame, n in own.most_common(top):
        print(f"    {n / total:6.1%}  {frame[:150]}")
    print("  hottest inclusive time (reunite code):")
    shown = 0
    for frame, n in inclusive.most_common():
        if "reunite/" in frame or "bench/" in frame:
            print(f"    {n / total:6.1%}  {frame[:150]}")
            shown += 1
            if shown >= top:
                break


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=24, help="locust users (moderators and pairs are fixed counts)")
    parser.add_argument("--spawn-rate", type=float, default=8.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--conversations", type=int, default=8, help="open conversations (two Pair users each)")
    parser.add_argument("--moderators", type=int, default=2)
    parser.add_argument("--parents", type=int, default=2000, help="parent claims stored before the run")
    parser.add_argument("--per-sender", type=int, default=600, help="envelopes encrypted in advance per sender")
    parser.add_argument("--kdf", choices=("testing", "production"), default="testing")
    parser.add_argument("--no-reference", action="store_true", help="skip the bare Flask reference run")
    parser.add_argument("--profile", type=Path, help="py-spy collapsed stacks of the gunicorn workers to this file")
    args = parser.parse_args()

    fixed = 2 * args.conversations + args.moderators
    if args.users <= fixed:
        raise SystemExit(f"--users must be more than the {fixed} fixed users (pairs and moderators)")
    logdir = Path(tempfile.mkdtemp(prefix="reunite_load_"))
    procs: list[subprocess.Popen[bytes]] = []
    with stack.database("reunite_load") as (db_name, db_url):
        try:
            stack.flush_redis()
            org = p.new_identity()
            extra = {"BENCH_KDF": args.kdf} if args.kdf == "production" else {}
            env = stack.app_env(db_url, p.b64e(org.pk), broker=True, **extra)
            stack.migrate(env)
            convs = stack.setup_conversations(db_url, args.conversations, org.seed)
            seeded = seed(db_url, org.seed, args.moderators, args.parents, children=args.parents)
            worker = stack.celery_worker(env, logdir / "worker.log")
            procs.append(worker)
            warm_s = warm_worker(db_url, env, logdir / "worker.log")
            server, url = stack.gunicorn(
                "bench._stack:load_app()", env, args.workers, args.threads, logdir / "gunicorn.log"
            )
            procs.append(server)
            kdf = Client(url).get("/api/v1/auth/params")
            t0 = time.perf_counter()
            pairs = envelopes(url, convs, args.per_sender)
            encrypt_s = time.perf_counter() - t0
            setup_file = logdir / "setup.json"
            out_file = logdir / "results.json"
            setup_file.write_text(
                json.dumps(
                    {
                        "password": stack.PASSWORD,
                        "moderators": seeded["moderators"],
                        "pairs": pairs,
                        "children": seeded["children"],
                        "bare_body": bare_body(org),
                    }
                ),
                encoding="utf-8",
            )
            setup_file.chmod(0o600)
            locust_env = dict(env, BENCH_LOAD_SETUP=str(setup_file), BENCH_LOAD_OUT=str(out_file))
            registrants = args.users - fixed
            print(
                f"set-up: {args.parents} parent claims stored, {len(seeded['children'])} child claims to file, "
                f"{args.moderators} moderators (TOTP, certified), {args.conversations} conversations; "
                f"{len(pairs) * args.per_sender} envelopes encrypted in {encrypt_s:.1f} s before the clock; "
                f"worker index loaded in {warm_s:.1f} s"
            )
            print(
                f"load: locust {args.users} users ({registrants} Registrant, {args.moderators} Moderator, "
                f"{len(pairs)} Pair), {args.duration:.0f} s; gunicorn gthread {args.workers} workers x "
                f"{args.threads} threads; 1 Celery worker; {os.cpu_count()} CPUs shared by locust, gunicorn, "
                f"the worker, PostgreSQL and Redis"
            )
            print(
                f"KDF offered to new accounts ({args.kdf}): Argon2id ops={kdf['ops']} mem={kdf['mem'] // 1024 // 1024} "
                "MiB, derived in the locust process"
            )
            profiler = None
            if args.profile:
                profiler = subprocess.Popen(
                    [
                        str(stack.BIN / "py-spy"),
                        "record",
                        "--pid",
                        str(server.pid),
                        "--subprocesses",
                        "--format",
                        "raw",
                        "--duration",
                        str(max(5, int(args.duration) - 10)),
                        "--rate",
                        "50",
                        "--output",
                        str(args.profile),
                    ],
                    stdout=(logdir / "py-spy.log").open("wb"),
                    stderr=subprocess.STDOUT,
                )
            prefix = logdir / "app"
            trees = {"gunicorn": server.pid, "worker": worker.pid}
            cpu_before = cpu_seconds(db_name, trees)
            children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            rc = run_locust(url, USER_CLASSES, args.users, args.spawn_rate, args.duration, prefix, locust_env)
            children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu_after = cpu_seconds(db_name, trees)
            cpu_used = {k: cpu_after[k] - cpu_before.get(k, 0.0) for k in cpu_after}
            # locust has exited and been waited for, so it is in this process's children's usage.
            cpu_used["locust"] = (children_after.ru_utime + children_after.ru_stime) - (
                children_before.ru_utime + children_before.ru_stime
            )
            if profiler is not None:
                profiler.wait(timeout=60)
            stack.stop(server)
            left, waited = drain(db_url, timeout=180)
            stack.stop(worker)
            if not out_file.exists():
                raise SystemExit(f"locust wrote no results (exit {rc}); see {prefix}.log")
            results = json.loads(out_file.read_text(encoding="utf-8"))
            rows = read_stats(prefix)
            failures = read_failures(prefix)

            ref_rows: list[dict[str, str]] = []
            if not args.no_reference:
                bare, burl = stack.gunicorn("bench.bare_wsgi:app", env, args.workers, args.threads, logdir / "bare.log")
                procs.append(bare)
                ref_prefix = logdir / "bare"
                run_locust(burl, ("BareUser",), args.users, args.spawn_rate, args.duration, ref_prefix, locust_env)
                stack.stop(bare)
                ref_rows = read_stats(ref_prefix)

            stats = Stats()
            for key, ids in results["messages"].items():
                stats.accepted.setdefault(key.split("/", 1)[0], set()).update(ids)
            stats.replays = results["replays"]
            messages = count_after(db_url, stats)
            messages.pop("missed_by_readers", None)
            messages.pop("seen_twice_by_readers", None)
            claims = count_claims_and_decisions(db_url, results)

            print_stats("reunite (Registrant, Moderator, Pair):", rows)
            if ref_rows:
                print_stats("reference, bare Flask under the same gunicorn settings (BareUser):", ref_rows)
                app_total = next(r for r in rows if r["Name"] == "Aggregated")
                bare_total = next(r for r in ref_rows if r["Name"] == "Aggregated")
                print(
                    f"reunite served {float(app_total['Requests/s']) / float(bare_total['Requests/s']):.1%} "
                    "of the bare Flask request rate"
                )
            served = int(next(r for r in rows if r["Name"] == "Aggregated")["Request Count"])
            print(
                f"CPU per request, ms ({served} requests): "
                + ", ".join(f"{k} {1000 * v / max(served, 1):.1f}" for k, v in cpu_used.items())
                + f"; the stack's share of the machine's CPU during the run: "
                f"{sum(cpu_used.values()) / (args.duration * (os.cpu_count() or 1)):.0%}"
            )
            errors = sum(int(f["Occurrences"]) for f in failures)
            print(f"errors: {errors}")
            for f in failures:
                print(f"  {f['Occurrences']} x {f['Name']}: {f['Error'][:160]}")
            print(f"worker drained in {waited:.0f} s after the load; claims still unmatched: {left}")
            print("messages: " + ", ".join(f"{k}={v}" for k, v in messages.items()))
            print("claims and decisions: " + ", ".join(f"{k}={v}" for k, v in claims.items()))
            ok = (
                errors == 0
                and left == 0
                and claims["claims_lost"] == 0
                and claims["claims_duplicated"] == 0
                and claims["claims_unmatched"] == 0
                and claims["decisions_acknowledged"] == claims["decisions_stored"]
                and messages["lost"] == 0
                and messages["duplicated"] == 0
                and messages["stored_without_receipt"] == 0
                and messages["chains_ok"]
            )
            if args.profile:
                summarise_profile(args.profile)
            print(
                "RESULT: "
                + (
                    "zero errors; every claim stored once and matched; every message stored exactly once; "
                    "every chain verifies; every decision recorded"
                    if ok
                    else f"PROBLEM (see the counts above; logs in {logdir})"
                )
            )
            return 0 if ok else 1
        finally:
            for proc in procs:
                stack.stop(proc)


if __name__ == "__main__":
    raise SystemExit(main())
