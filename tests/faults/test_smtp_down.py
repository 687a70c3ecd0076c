"""The SMTP server is down: notification mail is retried with backoff and delivered, once, when it returns."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import select

from reunite.auth.models import Role
from reunite.cli import create_account
from reunite.extensions import db
from reunite.notifications import services
from reunite.notifications.models import MailState, Notification
from reunite.notifications.tasks import enqueue_mail
from tests.conftest import PASSWORD, free_port
from tests.faults.conftest import CELERY_QUEUE, celery_worker, refreshed, wait_until
from tests.notifications.conftest import start_smtp

pytestmark = [pytest.mark.services, pytest.mark.slow]
MAILS = 4


def _attempts(ids: list[int]) -> list[int]:
    rows = db.session.scalars(select(Notification).where(Notification.id.in_(ids)))
    return [note.mail_attempts for note in rows]


def _drained(broker_url: str) -> bool:
    """Nothing queued and nothing taken but unacknowledged (retries wait there): no more sends can come."""
    client = redis.Redis.from_url(broker_url)
    try:
        return int(client.llen(CELERY_QUEUE)) == 0 and int(client.hlen("unacked")) == 0
    finally:
        client.close()


def test_mail_waits_for_the_smtp_server_and_is_sent_once(
    local_app: Flask, fault_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()  # nothing listens here until the server "comes back"
    env = dict(fault_env, TEST_MAIL_URL=f"smtp://127.0.0.1:{port}?timeout=5", PUBLIC_URL="https://reunite.example")
    addresses = {}
    ids = []
    for n in range(MAILS):
        user, _ = create_account(f"smtp-{n}", Role.PARENT, PASSWORD)
        user.email = f"person{n}@example.org"
        db.session.flush()
        note = services.notify(user, "proposal.decided", f"/claims/cl-smtp{n}")
        db.session.commit()
        addresses[note.id] = user.email
        ids.append(note.id)

    with celery_worker(env, tmp_path / "worker.log") as worker:
        for notification_id in ids:
            enqueue_mail(notification_id)
        # Every mail has failed at least twice: the retries run, spaced by the (short) backoff.
        wait_until(refreshed(lambda: min(_attempts(ids)) >= 2), 60, "two failed attempts per mail")
        db.session.rollback()
        assert all(note.mail_state == MailState.PENDING for note in db.session.scalars(select(Notification)))
        smtp = start_smtp(port)
        try:
            wait_until(
                refreshed(
                    lambda: all(n.mail_state == MailState.SENT for n in db.session.scalars(select(Notification)))
                ),
                90,
                "every mail to be sent once the server is back",
            )
            wait_until(lambda: _drained(env["TEST_BROKER_URL"]), 60, "the worker to finish every retry")
            received = Counter(rcpt for envelope in smtp.inbox.envelopes for rcpt in envelope.rcpt_tos)
        finally:
            smtp.controller.stop()
        log = worker.text()

    # Count in, count out: each notification's mail reached its address exactly once.
    assert received == Counter(addresses.values())
    # The retries were spaced by the configured backoff: exponential, never past MAIL_RETRY_BACKOFF_MAX_S.
    waits = [int(seconds) for seconds in re.findall(r"send_notification_mail\[[^]]+\] retry: Retry in (\d+)s", log)]
    assert len(waits) >= MAILS * 2, log[-2000:]
    assert max(waits) <= int(env["MAIL_RETRY_BACKOFF_MAX_S"])
    db.session.rollback()
    attempts = _attempts(ids)
    assert min(attempts) >= 3, attempts  # at least two failures, then the delivery
