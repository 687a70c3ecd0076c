"""Shared fixtures: the app from TestingConfig, clients, builders, a real-derivation login, and services."""

from __future__ import annotations

import contextlib
import contextvars
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from reunite import create_app
from reunite.auth.models import Role, User
from reunite.client import protocol as p
from reunite.extensions import db

ROOT = Path(__file__).resolve().parent.parent
# Every test session gets its own Celery queue, so that two runs on one machine (sharing Redis)
# never deliver each other's tasks to the wrong worker. The app's config is imported lazily,
# after this line, and worker processes inherit the variable.
os.environ.setdefault("CELERY_QUEUE", f"reunite-test-{os.getpid()}-{secrets.token_hex(3)}")
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PASSWORD = "correct horse battery"


class IsolatedClient(FlaskClient):
    """Runs each request in its own app context, as a real server does.

    Without this, requests reuse the test's app context and share `g` (and Flask-Login's
    cached user) between requests, which hides real bugs.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def app() -> Iterator[Flask]:
    """A fresh app on an in-memory SQLite database."""
    from reunite.proposals.services import reset_index

    application = create_app("testing")
    application.test_client_class = IsolatedClient
    reset_index()  # each test has its own database, so no index may carry over
    with application.app_context():
        db.create_all()
        yield application
        db.session.remove()
        db.drop_all()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Flask's test client."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    """Flask's CLI runner."""
    return app.test_cli_runner()


class Api:
    """JSON calls through the test client with the CSRF header, as the browser module sends them."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token: str | None = None

    def csrf(self) -> str:
        if self.token is None:
            self.token = self.client.get("/api/v1/csrf").get_json()["csrf_token"]
        return self.token

    def post(self, path: str, body: Any, **kw: Any) -> Any:
        resp = self.client.post(path, json=body, headers={"X-CSRFToken": self.csrf()}, **kw)
        data = resp.get_json(silent=True) or {}
        if isinstance(data, dict) and "csrf_token" in data:
            self.token = data["csrf_token"]
        return resp

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)


@pytest.fixture
def api(client: FlaskClient) -> Api:
    """A JSON API helper bound to the test client."""
    return Api(client)


@dataclass
class Made:
    """A user made by the builder, with the secrets a test needs to act as them."""

    user: User
    password: str
    recovery_key: str


@pytest.fixture
def make_user(app: Flask) -> Any:
    """Builder: make_user(role="parent", username=None, birth_year=None) creates an account as its client would."""
    from reunite.cli import create_account

    def _make(role: str = "parent", username: str | None = None, birth_year: int | None = None, **kw: Any) -> Made:
        name = username or f"{role}-{secrets.token_hex(3)}"
        if role == "child" and birth_year is None:
            birth_year = 2012
        user, recovery = create_account(name, Role(role), PASSWORD, birth_year, kw.get("locale", "en"))
        db.session.commit()
        return Made(user, PASSWORD, recovery)

    return _make


def derive_auth(api: Api, username: str, password: str) -> tuple[bytes, dict[str, Any]]:
    """Run prelogin and the real client-side derivation; returns (auth_key, prelogin answer)."""
    pre = api.post("/api/v1/auth/prelogin", {"username": username}).get_json()
    keys = p.derive_login_keys(password, p.b64d(pre["salt"]), pre["ops"], pre["mem"])
    return keys.auth_key, pre


@pytest.fixture
def login(api: Api) -> Any:
    """login(username, password) through prelogin + real derivation; returns the response."""

    def _login(username: str, password: str = PASSWORD) -> Any:
        auth_key, _ = derive_auth(api, username, password)
        return api.post("/api/v1/auth/login", {"username": username, "auth_key": p.b64e(auth_key)})

    return _login


def staff_login(app: Flask, api: Api, made: Made) -> None:
    """Log a staff member in fully: password, TOTP setup if needed, and a TOTP code."""
    import pyotp

    from reunite.auth import services

    auth_key, _ = derive_auth(api, made.user.username, made.password)
    assert (
        api.post("/api/v1/auth/login", {"username": made.user.username, "auth_key": p.b64e(auth_key)}).status_code
        == 200
    )
    user = db.session.get(User, made.user.id)
    assert user is not None
    if not user.has_totp:
        secret = services.begin_totp(user)
        user.totp_confirmed_at = user.created_at
        db.session.commit()
    else:
        secret = services.totp_secret(user)
    user.totp_last_step = None
    db.session.commit()
    assert secret is not None
    resp = api.post("/api/v1/auth/totp", {"code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 200, resp.get_json()


# --- real services ----------------------------------------------------------------------------


def service_unavailable(what: str, err: BaseException) -> None:
    """Fail (CI) or skip (only when REUNITE_SKIP_SERVICES=1 is set explicitly)."""
    message = f"{what} is not reachable: {err}"
    if os.environ.get("REUNITE_SKIP_SERVICES") == "1":
        pytest.skip(message)
    pytest.fail(message + " (set REUNITE_SKIP_SERVICES=1 to skip service tests on a machine without it)")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session (dropped afterwards)."""
    import psycopg

    name = f"reunite_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as err:
        service_unavailable("PostgreSQL", err)
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis database number reserved for tests (flushed at start)."""
    import redis

    try:
        r = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        r.flushdb()
        r.close()
    except redis.RedisError as err:
        service_unavailable("Redis", err)
    return REDIS_URL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout}s")


@dataclass
class LiveServer:
    """A gunicorn process on PostgreSQL and Redis."""

    url: str
    env: dict[str, str]
    log: Path


def service_env(pg_url: str, **extra: str) -> dict[str, str]:
    """Environment for a server or worker process of the app in the testing configuration."""
    env = dict(os.environ)
    env.update(REUNITE_CONFIG="testing", TEST_DATABASE_URL=pg_url, FLASK_APP="wsgi:app", **extra)
    for name in ("TEST_BROKER_URL", "TEST_RATELIMIT_STORAGE_URI"):
        if name not in extra:
            env.pop(name, None)
    return env


@pytest.fixture(scope="session")
def pg_migrated(pg_url: str) -> str:
    """The session's PostgreSQL database with the schema built by `flask db upgrade`."""
    flask = Path(sys.executable).parent / "flask"
    subprocess.run([str(flask), "db", "upgrade"], cwd=ROOT, env=service_env(pg_url), check=True, capture_output=True)
    return pg_url


@contextlib.contextmanager
def running_server(
    env: dict[str, str], log: Path, port: int | None = None, extra: tuple[str, ...] = ()
) -> Iterator[LiveServer]:
    """gunicorn (two workers, plus `extra` arguments) with the given environment, until the block ends."""
    bindir = Path(sys.executable).parent
    port = port or free_port()
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [str(bindir / "gunicorn"), "--workers", "2", *extra, "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz", proc)
        yield LiveServer(url=url, env=env, log=log)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def start_worker(env: dict[str, str], log: Path, *extra: str, own_group: bool = False) -> subprocess.Popen[bytes]:
    """Start `celery -A worker.celery_app worker` (concurrency 1) writing to ``log``; return once it is ready.

    :param own_group: start it in a process group of its own, so that a test can kill all of it.
    :raises RuntimeError: it exited or was not ready within a minute (its log's end says why).
    """
    celery = Path(sys.executable).parent / "celery"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [
                str(celery),
                "-A",
                "worker.celery_app",
                "worker",
                "--loglevel=INFO",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"test-{secrets.token_hex(3)}@%h",
                *extra,
            ],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=own_group,
        )
    deadline = time.monotonic() + 90
    while b"ready." not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait(timeout=10)
            raise RuntimeError("worker did not start:\n" + log.read_text(errors="replace")[-3000:])
        time.sleep(0.2)
    return proc


@contextlib.contextmanager
def running_worker(env: dict[str, str], log: Path, *extra: str) -> Iterator[Path]:
    """A real Celery worker as its own process, until the block ends; yields its log."""
    proc = start_worker(env, log, *extra)
    try:
        yield log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def org_identity() -> p.Identity:
    """The organisation key of the live servers (its public half is their ORG_PUBLIC_KEY)."""
    return p.new_identity()


@pytest.fixture(scope="session")
def live_server(
    pg_migrated: str, redis_url: str, org_identity: p.Identity, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """gunicorn serving the app on a fresh PostgreSQL database (migrated with `flask db upgrade`)."""
    env = service_env(pg_migrated, TEST_RATELIMIT_STORAGE_URI=redis_url, ORG_PUBLIC_KEY=p.b64e(org_identity.pk))
    with running_server(env, tmp_path_factory.mktemp("live") / "gunicorn.log") as server:
        yield server


def flush_redis(url: str) -> str:
    """Empty one Redis database (a test broker or limiter store) and return its URL."""
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture
def fresh_limits(redis_url: str) -> None:
    """Start a live-server test with empty rate-limit counters (the limiter keeps them in Redis)."""
    flush_redis(redis_url)
