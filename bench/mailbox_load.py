"""Load on the mailbox over HTTP: messages per second accepted and fetched, p50/p99 latency, against a
bare Flask app under the same gunicorn settings, and a count afterwards (nothing lost, nothing twice).

    python bench/mailbox_load.py [--conversations 8] [--duration 20] [--workers 4] [--threads 4]

Each conversation has a parent and a child (adults, so messages are delivered at once) and a
certified moderator. Every sender thread has its own logged-in session and a stock of envelopes
encrypted before the clock starts, so the client does no cryptography while measured; one reader
per person polls its conversation meanwhile. A send that fails on the network is retried with
the same bytes (the server answers the first receipt again). Loopback only; needs PostgreSQL and
Redis on 127.0.0.1; creates and drops its own database and uses Redis database 14.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._stack import ADMIN_URL, PASSWORD, app_env, flush_redis, gunicorn, migrate, pct  # noqa: E402
from bench._stack import setup_conversations as setup_database  # noqa: E402
from reunite.client import protocol as p  # noqa: E402
from reunite.client.api import Client, Mailbox  # noqa: E402

TEXT = "Bench message with some ordinary length, about two hundred characters: " + "会いたい " * 20


# --- load ---------------------------------------------------------------------------------------


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    send_ms: list[float] = field(default_factory=list)
    fetch_ms: list[float] = field(default_factory=list)
    accepted: dict[str, set[str]] = field(default_factory=dict)  # cid -> msg_ids acknowledged with 201
    replays: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    fetched: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (cid, reader) -> msg_ids in order

    def error(self, what: str) -> None:
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1


def sender(
    box: Mailbox, cid: str, stock: list[tuple[bytes, int, p.Envelope]], stop: threading.Event, stats: Stats
) -> None:
    http, token = box.client.http, box.client._token()
    url = f"{box.client.base_url}/api/v1/conversations/{cid}/messages"
    for msg_id, seq, env in stock:
        if stop.is_set():
            return
        body = {"msg_id": p.b64e(msg_id), "seq": seq, "envelope": env.to_json()}
        for _attempt in range(5):
            started = time.perf_counter()
            try:
                resp = http.post(url, json=body, headers={"X-CSRFToken": token}, timeout=30)
            except requests.RequestException:
                stats.error("network (retried with the same bytes)")
                continue
            elapsed = (time.perf_counter() - started) * 1000
            if resp.status_code in (200, 201):
                with stats.lock:
                    stats.send_ms.append(elapsed)
                    if resp.status_code == 201:
                        stats.accepted.setdefault(cid, set()).add(p.b64e(msg_id))
                    else:
                        stats.replays += 1
                break
            stats.error(f"send {resp.status_code}")
            if resp.status_code != 429:
                break
            time.sleep(0.05)


def reader(box: Mailbox, cid: str, stop: threading.Event, drained: threading.Event, stats: Stats) -> None:
    http = box.client.http
    url = f"{box.client.base_url}/api/v1/conversations/{cid}/messages"
    after = 0
    seen: list[str] = []
    while True:
        started = time.perf_counter()
        try:
            resp = http.get(url, params={"after": after, "limit": 200}, timeout=30)
        except requests.RequestException:
            stats.error("fetch network")
            continue
        elapsed = (time.perf_counter() - started) * 1000
        if resp.status_code != 200:
            stats.error(f"fetch {resp.status_code}")
            time.sleep(0.05)
            continue
        page = resp.json()
        with stats.lock:
            stats.fetch_ms.append(elapsed)
        seen += [i["msg_id"] for i in page["items"] if i["kind"] == "message"]
        after = page["next_after"]
        if not page["items"]:
            if drained.is_set():
                break
            time.sleep(0.25)  # an idle reader polls four times a second
    with stats.lock:
        stats.fetched[(cid, box.me)] = seen


def run_mailbox(url: str, convs: list[dict[str, Any]], duration: float, per_sender: int) -> tuple[Stats, float]:
    stats = Stats()
    boxes: list[tuple[str, Mailbox]] = []
    for conv in convs:
        for name in conv["people"]:
            client = Client(url)
            boxes.append((conv["cid"], Mailbox(client, client.login(name, PASSWORD))))
    stocks = []
    for cid, box in boxes:
        roster = box.conversation(cid)
        members = [p.RosterMember(r["user_id"], p.b64d(r["enc_pk"]), r["epoch"]) for r in roster["roster"]]
        stock = []
        for seq in range(1, per_sender + 1):
            sent = p.encrypt_message(
                box.session.keys.sign_seed, cid, box.me, seq, members, TEXT, "2026-11-27T12:00:00Z"
            )
            stock.append((sent.msg_id, seq, sent.envelope))
        stocks.append(stock)
    readers = [Mailbox(*_relogin(url, box)) for _cid, box in boxes]
    stop, drained = threading.Event(), threading.Event()
    senders = [
        threading.Thread(target=sender, args=(box, cid, stock, stop, stats))
        for (cid, box), stock in zip(boxes, stocks, strict=True)
    ]
    polls = [
        threading.Thread(target=reader, args=(rbox, cid, stop, drained, stats))
        for (cid, _b), rbox in zip(boxes, readers, strict=True)
    ]
    started = time.perf_counter()
    for t in senders + polls:
        t.start()
    time.sleep(duration)
    stop.set()
    for t in senders:
        t.join()
    elapsed = time.perf_counter() - started
    drained.set()
    for t in polls:
        t.join()
    return stats, elapsed


def _relogin(url: str, box: Mailbox) -> tuple[Client, Any]:
    client = Client(url)
    return client, client.login(box.session.user["username"], PASSWORD)


def run_bare(
    url: str, threads: int, duration: float, body: dict[str, Any]
) -> tuple[list[float], list[float], int, int, float]:
    send_ms: list[float] = []
    fetch_ms: list[float] = []
    lock = threading.Lock()
    stop = threading.Event()

    def loop(path: str, out: list[float], post: bool) -> None:
        http = requests.Session()
        while not stop.is_set():
            started = time.perf_counter()
            resp = (
                http.post(url + path, json=body, timeout=30)
                if post
                else http.get(url + path, params={"after": 0}, timeout=30)
            )
            if resp.status_code < 300:
                with lock:
                    out.append((time.perf_counter() - started) * 1000)

    workers = [threading.Thread(target=loop, args=("/send", send_ms, True)) for _ in range(threads)]
    workers += [threading.Thread(target=loop, args=("/fetch", fetch_ms, False)) for _ in range(threads)]
    started = time.perf_counter()
    for t in workers:
        t.start()
    time.sleep(duration)
    stop.set()
    for t in workers:
        t.join()
    elapsed = time.perf_counter() - started
    return send_ms, fetch_ms, len(send_ms), len(fetch_ms), elapsed


def count_after(db_url: str, stats: Stats) -> dict[str, Any]:
    """Compare the database with what was acknowledged and what readers saw."""
    from reunite import create_app
    from reunite.extensions import db
    from reunite.mailbox import services

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=db_url)
    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        rows = conn.execute(
            "SELECT c.public_id, m.msg_id FROM message m JOIN conversation c ON c.id = m.conversation_id"
        ).fetchall()
    stored: dict[str, list[str]] = {}
    for cid, msg_id in rows:
        stored.setdefault(cid, []).append(p.b64e(bytes(msg_id)))
    acknowledged = sum(len(v) for v in stats.accepted.values())
    lost = sum(len(stats.accepted.get(cid, set()) - set(ids)) for cid, ids in stored.items())
    lost += sum(len(ids) for cid, ids in stats.accepted.items() if cid not in stored)
    duplicated = sum(len(ids) - len(set(ids)) for ids in stored.values())
    unacknowledged = sum(len(set(ids) - stats.accepted.get(cid, set())) for cid, ids in stored.items())
    reader_missing = reader_dupes = 0
    for (cid, _reader), seen in stats.fetched.items():
        reader_dupes += len(seen) - len(set(seen))
        reader_missing += len(set(stored.get(cid, [])) - set(seen))
    with app.app_context():
        chains = services.verify_chains()
        db.engine.dispose()
    return {
        "stored": len(rows),
        "acknowledged": acknowledged,
        "lost": lost,
        "duplicated": duplicated,
        "stored_without_receipt": unacknowledged,
        "missed_by_readers": reader_missing,
        "seen_twice_by_readers": reader_dupes,
        "chains_ok": chains.is_ok,
        "chain_problems": chains.problems[:3],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--per-sender", type=int, default=3000, help="envelopes encrypted in advance per sender")
    args = parser.parse_args()

    name = f"reunite_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    procs: list[subprocess.Popen[bytes]] = []
    logdir = Path(tempfile.gettempdir()) / name
    logdir.mkdir(parents=True, exist_ok=True)
    try:
        flush_redis()
        org = p.new_identity()
        env = app_env(db_url, p.b64e(org.pk))
        migrate(env)
        convs = setup_database(db_url, args.conversations, org.seed)
        people = 2 * len(convs)
        print(
            f"set-up: {len(convs)} conversations, {people} sender threads + {people} reader threads; "
            f"gunicorn gthread {args.workers} workers x {args.threads} threads; "
            f"{os.cpu_count()} CPUs; {args.duration:.0f} s per run"
        )

        proc, url = gunicorn("bench.mailbox_wsgi:app", env, args.workers, args.threads, logdir / "mailbox.log")
        procs.append(proc)
        stats, elapsed = run_mailbox(url, convs, args.duration, args.per_sender)
        proc.terminate()
        proc.wait(timeout=15)

        body = {
            "msg_id": p.b64e(bytes(16)),
            "seq": 1,
            "envelope": p.encrypt_message(
                org.seed,
                "cv",
                "u",
                1,
                [p.RosterMember(f"u{i}", p.box_keypair_from_seed(bytes([i]) * 32)[0], 1) for i in range(3)],
                TEXT,
                "2026-11-27T12:00:00Z",
            ).envelope.to_json(),
        }
        bproc, burl = gunicorn("bench.bare_wsgi:app", env, args.workers, args.threads, logdir / "bare.log")
        procs.append(bproc)
        b_send, b_fetch, b_sends, b_fetches, b_elapsed = run_bare(burl, people, args.duration, body)
        bproc.terminate()
        bproc.wait(timeout=15)

        counts = count_after(db_url, stats)
        fetched = sum(len(v) for v in stats.fetched.values())
        m_send_rate = len(stats.send_ms) / elapsed
        m_fetch_rate = len(stats.fetch_ms) / elapsed
        rows: list[tuple[str, str, str, str, str]] = [
            ("", "requests/s", "p50 ms", "p99 ms", "vs bare Flask"),
            (
                "mailbox POST message (accepted)",
                f"{m_send_rate:8.1f}",
                f"{pct(stats.send_ms, 0.5):7.1f}",
                f"{pct(stats.send_ms, 0.99):7.1f}",
                f"{m_send_rate / (b_sends / b_elapsed):6.1%}",
            ),
            (
                "mailbox GET messages (pages)",
                f"{m_fetch_rate:8.1f}",
                f"{pct(stats.fetch_ms, 0.5):7.1f}",
                f"{pct(stats.fetch_ms, 0.99):7.1f}",
                f"{m_fetch_rate / (b_fetches / b_elapsed):6.1%}",
            ),
            (
                "bare Flask POST (same body)",
                f"{b_sends / b_elapsed:8.1f}",
                f"{pct(b_send, 0.5):7.1f}",
                f"{pct(b_send, 0.99):7.1f}",
                "",
            ),
            (
                "bare Flask GET",
                f"{b_fetches / b_elapsed:8.1f}",
                f"{pct(b_fetch, 0.5):7.1f}",
                f"{pct(b_fetch, 0.99):7.1f}",
                "",
            ),
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for row in rows:
            print(
                "  ".join(
                    cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
                )
            )
        print(
            f"messages fetched by readers: {fetched} ({fetched / elapsed:.1f}/s incl. drain); "
            f"replays answered with the first receipt: {stats.replays}"
        )
        print(f"errors: {stats.errors or 'none'}")
        print("count after the run: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
        ok = (
            counts["lost"] == 0
            and counts["duplicated"] == 0
            and counts["missed_by_readers"] == 0
            and counts["chains_ok"]
        )
        print("RESULT: " + ("zero lost, zero duplicated, every chain verifies" if ok else "PROBLEM (see counts)"))
        return 0 if ok else 1
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    raise SystemExit(main())
