"""Private PostgreSQL, Redis and worker processes that a fault test may stop, kill and restart.

The machine's shared PostgreSQL and Redis are never touched: the fault tests run their own
PostgreSQL cluster (initdb + pg_ctl as the ``postgres`` user, in a temporary directory, migrated
once into a template database that each module copies) and each module its own redis-server,
all on free ports; a real gunicorn and a real Celery worker are pointed at them through the
``TEST_*`` variables that ``config.TestingConfig`` reads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from flask import Flask

from reunite import create_app
from reunite.claims.models import Claim, ClaimRole
from reunite.extensions import db
from tests.conftest import ROOT, free_port, service_env, service_unavailable, start_worker

T = TypeVar("T")
CELERY_QUEUE = os.environ["CELERY_QUEUE"]  # set by tests/conftest.py for this test session


def _as_postgres(*args: str, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    """Run a PostgreSQL program as the ``postgres`` user (the server refuses to run as root)."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=90, **kw)


@dataclass
class PrivatePostgres:
    """The PostgreSQL cluster of this test package: ``stop()`` and ``start()`` it at will."""

    bindir: Path
    datadir: Path
    port: int
    log: Path
    database: str = "reunite"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.datadir.parent} -c listen_addresses=127.0.0.1 -c fsync=off"
        _as_postgres(self._pg_ctl, "-D", str(self.datadir), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        """A fast shutdown: open sessions are cut, as when an operator restarts the server."""
        _as_postgres(self._pg_ctl, "-D", str(self.datadir), "-m", "fast", "-w", "stop")

    def is_running(self) -> bool:
        return (self.datadir / "postmaster.pid").exists()

    def createdb(self, name: str, template: str | None = None) -> None:
        extra = ["-T", template] if template else []
        _as_postgres(
            str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", *extra, name
        )

    @property
    def _pg_ctl(self) -> str:
        return str(self.bindir / "pg_ctl")


@dataclass
class PrivateRedis:
    """A redis-server of this test module (no persistence): ``stop()`` and ``start()`` it on the same port."""

    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        import redis

        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        wait_until(lambda: _pings(redis, self.url()), 20, "redis-server did not answer")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None


def _pings(redis: Any, url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


def wait_until(predicate: Callable[[], T], timeout: float, what: str, every: float = 0.2) -> T:
    """Poll ``predicate`` until it returns something true; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s: {what}")
        time.sleep(every)


@pytest.fixture(scope="package")
def private_cluster() -> Iterator[PrivatePostgres]:
    """A fresh PostgreSQL cluster for the fault tests, with a migrated template database; removed afterwards."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found or not shutil.which("runuser"):
        service_unavailable("PostgreSQL (initdb)", FileNotFoundError("/usr/lib/postgresql/*/bin/initdb"))
    bindir = Path(found[-1]).parent
    top = Path(tempfile.mkdtemp(prefix="reunite-faults-pg-"))
    top.chmod(0o755)
    shutil.chown(top, "postgres", "postgres")
    pg = PrivatePostgres(bindir, top / "data", free_port(), top / "postgres.log", database="reunite_template")
    try:
        _as_postgres(str(bindir / "initdb"), "-D", str(pg.datadir), "-U", "postgres", "-A", "trust", "--no-sync")
        pg.start()
        pg.createdb(pg.database)
        # The schema is built once, by `flask db upgrade`; each module copies it (CREATE DATABASE … TEMPLATE).
        flask = Path(sys.executable).parent / "flask"
        subprocess.run(
            [str(flask), "db", "upgrade"],
            cwd=ROOT,
            env=service_env(pg.url),
            check=True,
            capture_output=True,
            timeout=180,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
        detail = getattr(err, "stderr", b"") or b""
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            if pg.is_running():
                pg.stop()
        shutil.rmtree(top, ignore_errors=True)
        service_unavailable("a private PostgreSQL cluster", RuntimeError(f"{err}: {detail.decode(errors='replace')}"))
    try:
        yield pg
    finally:
        if pg.is_running():
            with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
                _as_postgres(str(bindir / "pg_ctl"), "-D", str(pg.datadir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module")
def private_pg(private_cluster: PrivatePostgres, request: pytest.FixtureRequest) -> PrivatePostgres:
    """This module's own migrated database on the package's cluster (running again if a test left it stopped)."""
    if not private_cluster.is_running():
        private_cluster.start()
    name = "reunite_" + re.sub(r"\W", "_", request.module.__name__.rsplit(".", 1)[-1])
    private_cluster.createdb(name, template=private_cluster.database)
    return dataclasses.replace(private_cluster, database=name)


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    """A redis-server of this module on a free port."""
    if not shutil.which("redis-server"):
        service_unavailable("redis-server", FileNotFoundError("redis-server"))
    server = PrivateRedis(free_port(), tmp_path_factory.mktemp("redis") / "redis.log")
    try:
        server.start()
    except (OSError, AssertionError) as err:
        server.stop()
        service_unavailable("a private redis-server", err)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def fault_env(private_pg: PrivatePostgres, private_redis: PrivateRedis) -> dict[str, str]:
    """Environment for gunicorn and workers on this module's private database and Redis."""
    env = service_env(
        private_pg.url,
        TEST_BROKER_URL=private_redis.url(0),
        TEST_RATELIMIT_STORAGE_URI=private_redis.url(1),
        # A task whose worker died goes back to the queue after a few seconds, not an hour.
        BROKER_VISIBILITY_TIMEOUT_S="5",
        SWEEP_INTERVAL_S="2",
        MAIL_RETRY_BACKOFF_S="1",
        MAIL_RETRY_BACKOFF_MAX_S="3",
    )
    env.pop("TEST_MAIL_URL", None)
    return env


@pytest.fixture
def local_app(fault_env: dict[str, str]) -> Iterator[Flask]:
    """The app in the test process, on the private database and broker (to build data and count rows)."""
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=fault_env["TEST_DATABASE_URL"],
        CELERY_BROKER_URL=fault_env["TEST_BROKER_URL"],
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
        app.extensions["celery"].close()


@dataclass
class Worker:
    """A ``celery worker`` process group started by a test; ``kill()`` sends SIGKILL to all of it."""

    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=20)

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


TASK_LINE = re.compile(r"Task (\S+)\[([0-9a-f-]{36})\] (received|succeeded)")


def task_events(text: str, name: str) -> dict[str, set[str]]:
    """Task ids of ``name`` per event (``received``, ``succeeded``) in a worker's log."""
    events: dict[str, set[str]] = {"received": set(), "succeeded": set()}
    for task, task_id, event in TASK_LINE.findall(text):
        if task == name:
            events[event].add(task_id)
    return events


@contextlib.contextmanager
def celery_worker(env: dict[str, str], log: Path, *extra: str) -> Iterator[Worker]:
    """A real worker (concurrency 1) in its own process group, so a test can kill the whole of it."""
    worker = Worker(start_worker(env, log, *extra, own_group=True), log)
    try:
        yield worker
    finally:
        worker.stop()


def refreshed(predicate: Callable[[], T]) -> Callable[[], T]:
    """``predicate`` run on a fresh transaction, so that it sees other processes' commits."""

    def run() -> T:
        db.session.rollback()
        return predicate()

    return run


# --- people and conversations, written directly (the flows that make them are not under test) ---


def make_people(prefix: str, org_seed: bytes) -> dict[str, str]:
    """A child and a parent who file claims, and an open conversation between two adults.

    Returns usernames (``child``, ``parent``, ``talk_child``, ``talk_parent``) and the
    conversation's public id (``cid``). Every password is :data:`tests.conftest.PASSWORD`.
    """
    from reunite.auth import services as auth_services
    from reunite.auth.models import Role
    from reunite.cli import create_account
    from reunite.mailbox.models import Conversation, ConversationState, Member
    from reunite.proposals.models import Proposal, ProposalStatus
    from tests.conftest import PASSWORD

    child, _ = create_account(f"{prefix}-child", Role.CHILD, PASSWORD, 2005)
    parent, _ = create_account(f"{prefix}-parent", Role.PARENT, PASSWORD)
    mod, _ = create_account(f"{prefix}-mod", Role.MODERATOR, PASSWORD)
    auth_services.certify_moderator(mod, org_seed, int(time.time() * 1000) + 86_400_000)
    talk_child, _ = create_account(f"{prefix}-talk-child", Role.CHILD, PASSWORD, 1995)  # an adult: no holding
    talk_parent, _ = create_account(f"{prefix}-talk-parent", Role.PARENT, PASSWORD)
    claims = []
    for role, owner in ((ClaimRole.CHILD, talk_child), (ClaimRole.PARENT, talk_parent)):
        claim = Claim(public_id=f"cl-{prefix}-{role.value}", role=role, data={}, version=1, owner_id=owner.id)
        claim.matched_version = 1  # not a claim the matcher is asked about
        db.session.add(claim)
        claims.append(claim)
    db.session.flush()
    proposal = Proposal(
        public_id=f"pr-{prefix}",
        child_claim_id=claims[0].id,
        parent_claim_id=claims[1].id,
        child_ref="1",
        score=1.0,
        explanation={},
        matched_sig="faults",
        status=ProposalStatus.APPROVED,
    )
    db.session.add(proposal)
    db.session.flush()
    conv = Conversation(
        public_id=f"cv-{prefix}", proposal_id=proposal.id, state=ConversationState.OPEN, is_premoderated=False
    )
    db.session.add(conv)
    db.session.flush()
    for user, role_name in ((talk_child, "child"), (talk_parent, "parent"), (mod, "moderator")):
        db.session.add(Member(conversation_id=conv.id, user_id=user.id, role=role_name))
    db.session.commit()
    return {
        "child": child.username,
        "parent": parent.username,
        "talk_child": talk_child.username,
        "talk_parent": talk_parent.username,
        "cid": conv.public_id,
    }
