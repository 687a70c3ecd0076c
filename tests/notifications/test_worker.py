"""A real Celery worker process on Redis sends notification mail to a real SMTP server."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from reunite import create_app
from reunite.auth.models import Role, User
from reunite.cli import create_account
from reunite.extensions import db
from reunite.notifications import services
from reunite.notifications.models import MailState, Notification
from reunite.notifications.tasks import enqueue_mail
from tests.conftest import PASSWORD, flush_redis, running_worker, service_env
from tests.notifications.conftest import SmtpServer, body_of, start_smtp

pytestmark = pytest.mark.services
BROKER = "redis://127.0.0.1:6379/13"
PUBLIC_URL = "https://reunite.example"


@pytest.fixture(scope="module")
def broker(redis_url: str) -> str:
    return flush_redis(BROKER)


@pytest.fixture(scope="module")
def module_smtp() -> Iterator[SmtpServer]:
    server = start_smtp()
    try:
        yield server
    finally:
        server.controller.stop()


@pytest.fixture(scope="module")
def worker(
    pg_migrated: str, broker: str, module_smtp: SmtpServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """`celery worker` as its own process, with its mail going to the test's SMTP server."""
    env = service_env(pg_migrated, TEST_BROKER_URL=broker, TEST_MAIL_URL=module_smtp.url, PUBLIC_URL=PUBLIC_URL)
    with running_worker(env, tmp_path_factory.mktemp("mailworker") / "worker.log") as log:
        yield log


@pytest.fixture
def pg_app(pg_migrated: str, broker: str) -> Iterator[Flask]:
    """The app in this process, on the same PostgreSQL database and broker as the worker."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=pg_migrated, CELERY_BROKER_URL=broker)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
        app.extensions["celery"].close()


def _wait_for(predicate: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()  # see the worker's commits
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("timed out waiting for the worker")


def test_worker_sends_the_mail_queued_after_commit(pg_app: Flask, worker: Path, module_smtp: SmtpServer) -> None:
    user, _recovery = create_account(f"mailtest-{secrets.token_hex(3)}", Role.PARENT, PASSWORD)
    user.email = f"{secrets.token_hex(4)}@example.org"
    db.session.commit()
    note = services.notify(user, "proposal.decided", "/claims/cl-worker")
    db.session.commit()
    enqueue_mail(note.id)
    (msg,) = module_smtp.inbox.wait_for(1, timeout=60)
    assert module_smtp.inbox.envelopes[0].rcpt_tos == [user.email]
    body = body_of(msg)
    assert f"{PUBLIC_URL}/claims/cl-worker" in body
    assert user.username not in body
    assert user.username not in msg["Subject"]
    sent = _wait_for(lambda: db.session.get(Notification, note.id).mail_state == MailState.SENT)
    assert sent
    # Redelivery is harmless: queued again, it is not sent again.
    enqueue_mail(note.id)
    enqueue_mail(note.id)
    time.sleep(2)
    assert len(module_smtp.inbox.envelopes) == 1
    assert "reunite.notifications.send_notification_mail[" in worker.read_text()
    assert db.session.scalars(select(User).where(User.id == user.id)).one().email == user.email
