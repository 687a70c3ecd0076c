"""Shared set-up for the HTTP benchmarks: a throwaway PostgreSQL database, Redis, gunicorn and a Celery worker.

Used by ``bench/mailbox_load.py`` and ``bench/load.py``. Everything runs on loopback; each run creates and
drops its own database and uses Redis database 14 (flushed at the start). ``load_app()`` is the app the
benchmarks serve (``gunicorn 'bench._stack:load_app()'``): the testing configuration on PostgreSQL and
Redis from the environment, with rate limits raised so they are not what is measured.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PASSWORD = "bench password long enough"  # noqa: S105 - throwaway bench accounts
BIN = Path(sys.executable).parent


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of `values`; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_app() -> Any:
    """The app under load: testing configuration, limits high enough not to be measured.

    ``BENCH_KDF=production`` offers new accounts the production KDF parameters (Argon2id 64 MiB, 2 passes)
    and hashes auth keys with the production server-side cost, instead of the testing ones.
    """
    from reunite import create_app

    overrides: dict[str, Any] = {
        "MAILBOX_SEND_LIMIT": os.environ.get("BENCH_SEND_LIMIT", "100000 per minute"),
        "LOGIN_LIMIT": "100000 per minute",
        "PRELOGIN_LIMIT": "100000 per minute",
        "REGISTER_LIMIT": "100000 per minute",
    }
    if os.environ.get("BENCH_KDF") == "production":
        from config import Config

        overrides |= {
            "KDF_OPS": Config.KDF_OPS,
            "KDF_MEM": Config.KDF_MEM,
            "AUTH_HASH_TIME_COST": Config.AUTH_HASH_TIME_COST,
            "AUTH_HASH_MEMORY_KIB": Config.AUTH_HASH_MEMORY_KIB,
        }
    return create_app("testing", **overrides)


@contextlib.contextmanager
def database(prefix: str = "reunite_bench") -> Iterator[tuple[str, str]]:
    """A fresh database (name, URL), dropped when the block ends."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name, ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flush_redis(url: str = REDIS_URL) -> None:
    """Empty the benchmark's Redis database."""
    r = redis.Redis.from_url(url)
    r.flushdb()
    r.close()


def app_env(db_url: str, org_pk_b64: str, *, broker: bool = False, **extra: str) -> dict[str, str]:
    """Environment for the app's processes (server, worker, flask CLI) in the testing configuration."""
    env = dict(
        os.environ,
        REUNITE_CONFIG="testing",
        TEST_DATABASE_URL=db_url,
        FLASK_APP="wsgi:app",
        TEST_RATELIMIT_STORAGE_URI=REDIS_URL,
        ORG_PUBLIC_KEY=org_pk_b64,
        **extra,
    )
    env.pop("TEST_BROKER_URL", None)
    if broker:
        env["TEST_BROKER_URL"] = REDIS_URL
        env["CELERY_QUEUE"] = f"reunite-bench-{os.getpid()}"
    return env


def migrate(env: dict[str, str]) -> None:
    """Build the schema with ``flask db upgrade``."""
    subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)


def gunicorn(
    module: str, env: dict[str, str], workers: int, threads: int, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """Start gunicorn (gthread) serving `module` on a free port; returns the process and its URL."""
    port = free_port()
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--worker-class",
                "gthread",
                "--keep-alive",
                "30",
                "--bind",
                f"127.0.0.1:{port}",
                "--chdir",
                str(ROOT),
                module,
            ],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn {module} exited; see {log}")
        try:
            requests.get(url + "/healthz", timeout=1)
            return proc, url
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn {module} did not start")


def celery_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start one Celery worker process (concurrency 1, as `make worker`) and wait until it is ready."""
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "worker.celery_app",
                "worker",
                "--loglevel=INFO",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"bench-{secrets.token_hex(3)}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while b"ready." not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.terminate()
            raise SystemExit(f"celery worker did not start; see {log}")
        time.sleep(0.3)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a process this script started and wait for it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def setup_conversations(db_url: str, conversations: int, org_seed: bytes) -> list[dict[str, Any]]:
    """Accounts and open conversations written directly (the moderation flow is not what is measured).

    Each conversation has an adult child, a parent and the certified moderator ``bench-mod``, and is
    not pre-moderated, so messages are delivered at once.
    """
    from reunite import create_app
    from reunite.auth import services as auth_services
    from reunite.auth.models import Role
    from reunite.claims.models import Claim, ClaimRole
    from reunite.cli import create_account
    from reunite.extensions import db
    from reunite.mailbox.models import Conversation, ConversationState, Member
    from reunite.proposals.models import Proposal, ProposalStatus

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=db_url)
    out = []
    with app.app_context():
        mod, _ = create_account("bench-mod", Role.MODERATOR, PASSWORD)
        auth_services.certify_moderator(mod, org_seed, int(time.time() * 1000) + 86_400_000)
        for n in range(conversations):
            child, _ = create_account(f"bench-child-{n}", Role.CHILD, PASSWORD, 1995)
            parent, _ = create_account(f"bench-parent-{n}", Role.PARENT, PASSWORD)
            claims = []
            for role, owner in ((ClaimRole.CHILD, child), (ClaimRole.PARENT, parent)):
                # Already matched: the matching worker of a load run must not pick these up.
                claim = Claim(
                    public_id=f"cl-b{n}{role.value}",
                    role=role,
                    data={},
                    version=1,
                    matched_version=1,
                    owner_id=owner.id,
                )
                db.session.add(claim)
                claims.append(claim)
            db.session.flush()
            proposal = Proposal(
                public_id=f"pr-b{n}",
                child_claim_id=claims[0].id,
                parent_claim_id=claims[1].id,
                child_ref="1",
                score=1.0,
                explanation={},
                matched_sig="b",
                status=ProposalStatus.APPROVED,
            )
            db.session.add(proposal)
            db.session.flush()
            conv = Conversation(
                public_id=f"cv-bench{n:04d}",
                proposal_id=proposal.id,
                state=ConversationState.OPEN,
                is_premoderated=False,
            )
            db.session.add(conv)
            db.session.flush()
            for user, role_name in ((child, "child"), (parent, "parent"), (mod, "moderator")):
                db.session.add(Member(conversation_id=conv.id, user_id=user.id, role=role_name))
            out.append({"cid": conv.public_id, "people": [child.username, parent.username]})
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return out
