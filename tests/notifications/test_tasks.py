"""Notification mail through a real SMTP server on loopback: delivery, language, retries, the sweep."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from celery.exceptions import Retry
from flask import Flask, url_for
from sqlalchemy import update

from reunite.claims import services as claims
from reunite.extensions import db
from reunite.notifications import services
from reunite.notifications.models import MailState, Notification
from reunite.notifications.tasks import MAX_RETRIES, enqueue_mail, send_notification_mail, send_pending_mail
from reunite.types import utcnow
from tests.claims.conftest import PARENT_EXAMPLE, without_id
from tests.conftest import free_port
from tests.notifications.conftest import SmtpServer, body_of, start_smtp

CLAIM_WORDS = ("Smith", "John", "Emma", "Yuki", "田中", "愛子", "Tanaka", "Aiko", "Seattle", "Osaka")


def _person(make_user: Any, *, address: str = "Person@Example.org", locale: str = "en", role: str = "parent") -> Any:
    made = make_user(role, locale=locale)
    made.user.email = address
    db.session.commit()
    return made.user


def _reload(note_id: int) -> Notification:
    db.session.expire_all()
    note = db.session.get(Notification, note_id)
    assert note is not None
    return note


def _backdate(note_id: int) -> None:
    """As if the notification was made, and last tried, long ago."""
    long_ago = utcnow() - timedelta(hours=2)
    db.session.execute(
        update(Notification).where(Notification.id == note_id).values(created_at=long_ago, mail_attempted_at=long_ago)
    )
    db.session.commit()


def test_mail_arrives_with_only_the_link(mail_app: Flask, smtp: SmtpServer, make_user: Any) -> None:
    user = _person(make_user)
    claim = claims.create_claim(user, without_id(PARENT_EXAMPLE))
    note = services.notify(user, "proposal.decided", f"/claims/{claim.public_id}")
    db.session.commit()
    assert send_notification_mail.delay(note.id).get() == "sent"
    (msg,) = smtp.inbox.wait_for(1)
    envelope = smtp.inbox.envelopes[0]
    assert envelope.rcpt_tos == ["Person@Example.org"]
    assert envelope.mail_from == "reunite@example.org"
    assert msg["To"] == "Person@Example.org"
    assert msg["Subject"] == "Something on reunite needs your attention"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Content-Language"] == "en"
    body = body_of(msg)
    assert f"https://reunite.example/claims/{claim.public_id}" in body
    assert "https://reunite.example/notifications/settings" in body
    with mail_app.test_request_context():
        assert url_for("notifications.settings") == services.SETTINGS_PATH
    raw = smtp.inbox.envelopes[0].content.decode("utf-8", "replace")
    for text in (body, raw):
        assert user.username not in text
        for word in CLAIM_WORDS:
            assert word not in text
    note = _reload(note.id)
    assert (note.mail_state, note.mail_attempts) == (MailState.SENT, 1)


def test_a_sent_mail_is_not_sent_twice(mail_app: Flask, smtp: SmtpServer, make_user: Any) -> None:
    note = services.notify(_person(make_user), "k", "/x")
    db.session.commit()
    for _ in range(3):
        send_notification_mail.delay(note.id)
    enqueue_mail(note.id)
    assert len(smtp.inbox.envelopes) == 1
    assert _reload(note.id).mail_attempts == 1


def test_mail_is_in_the_recipients_language(mail_app: Flask, smtp: SmtpServer, make_user: Any) -> None:
    note = services.notify(_person(make_user, locale="ja", role="child"), "k", "/mailbox/c-1?tab=new&x=1")
    db.session.commit()
    enqueue_mail(note.id)
    (msg,) = smtp.inbox.wait_for(1)
    assert msg["Subject"] == "reunite で確認していただきたいことがあります"
    assert msg["Content-Language"] == "ja"
    body = body_of(msg)
    assert "https://reunite.example/mailbox/c-1?tab=new&x=1" in body  # not HTML-escaped
    assert "確認" in body


def test_without_an_address_nothing_is_sent(mail_app: Flask, smtp: SmtpServer, make_user: Any) -> None:
    user = _person(make_user)
    note = services.notify(user, "k", "/x")
    user.email = None  # removed after the notification was made
    db.session.commit()
    assert send_notification_mail.delay(note.id).get() == "none"
    assert smtp.inbox.envelopes == []
    assert _reload(note.id).mail_state == MailState.NONE


def test_smtp_down_retries_then_fails_after_the_last_retry(app: Flask, make_user: Any) -> None:
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}?timeout=2"  # nothing listens there
    note = services.notify(_person(make_user), "k", "/x")
    db.session.commit()
    # A retry is requested, and the notification stays pending.
    with pytest.raises(Retry) as info:
        send_notification_mail.apply(args=(note.id,), throw=True)
    assert str(info.value.exc) == "ConnectionRefusedError"  # logged by Celery: no address in it
    note = _reload(note.id)
    assert (note.mail_state, note.mail_attempts) == (MailState.PENDING, 1)
    # The whole chain (eager mode runs the retries at once, without the backoff delays).
    celery = app.extensions["celery"]
    celery.conf.task_eager_propagates = False
    try:
        result = send_notification_mail.apply(args=(note.id,))
    finally:
        celery.conf.task_eager_propagates = True
    assert result.get() == "failed"
    note = _reload(note.id)
    assert (note.mail_state, note.mail_attempts) == (MailState.FAILED, 1 + MAX_RETRIES + 1)
    assert send_notification_mail.retry_backoff is True
    assert send_notification_mail.retry_jitter is True
    assert send_notification_mail.max_retries == MAX_RETRIES


def test_smtp_down_keeps_it_pending_then_the_sweep_delivers(app: Flask, make_user: Any) -> None:
    port = free_port()
    app.config.update(MAIL_URL=f"smtp://127.0.0.1:{port}?timeout=2", PUBLIC_URL="https://reunite.example")
    note = services.notify(_person(make_user), "k", "/claims/cl-9")
    db.session.commit()
    enqueue_mail(note.id)  # no broker: tried here; the failure never reaches the caller
    note = _reload(note.id)
    assert (note.mail_state, note.mail_attempts) == (MailState.PENDING, 1)
    assert send_pending_mail() == 0  # too fresh: its retries may still be running
    _backdate(note.id)
    server = start_smtp(port)
    try:
        assert send_pending_mail() == 1
        (msg,) = server.inbox.wait_for(1)
        assert "https://reunite.example/claims/cl-9" in body_of(msg)
        assert _reload(note.id).mail_state == MailState.SENT
        assert send_pending_mail() == 0
        assert len(server.inbox.envelopes) == 1
    finally:
        server.controller.stop()


def test_a_permanent_refusal_fails_at_once(mail_app: Flask, smtp: SmtpServer, make_user: Any) -> None:
    smtp.inbox.refuse = "550 5.1.1 No such mailbox"
    note = services.notify(_person(make_user), "k", "/x")
    db.session.commit()
    assert send_notification_mail.delay(note.id).get() == "failed"
    note = _reload(note.id)
    assert (note.mail_state, note.mail_attempts) == (MailState.FAILED, 1)


def test_a_temporary_refusal_is_retried_without_the_address_in_the_error(
    mail_app: Flask, smtp: SmtpServer, make_user: Any
) -> None:
    smtp.inbox.refuse = "450 4.2.0 Try again later"
    note = services.notify(_person(make_user, address="greylisted@example.org"), "k", "/x")
    db.session.commit()
    with pytest.raises(Retry) as info:
        send_notification_mail.apply(args=(note.id,), throw=True)
    assert str(info.value.exc) == "SMTPRecipientsRefused"
    assert "greylisted" not in str(info.value)
    note = _reload(note.id)
    assert (note.mail_state, note.mail_attempts) == (MailState.PENDING, 1)
    smtp.inbox.refuse = None
    assert send_notification_mail.delay(note.id).get() == "sent"
    assert smtp.inbox.envelopes[0].rcpt_tos == ["greylisted@example.org"]


def test_without_mail_configured_it_stays_pending(app: Flask, make_user: Any) -> None:
    app.config["MAIL_URL"] = None
    note = services.notify(_person(make_user), "k", "/x")
    db.session.commit()
    enqueue_mail(note.id)
    assert _reload(note.id).mail_state == MailState.PENDING


def test_beat_runs_the_sweep(app: Flask) -> None:
    schedule = app.extensions["celery"].conf.beat_schedule
    assert any(entry["task"] == "reunite.notifications.send_pending_mail" for entry in schedule.values())
