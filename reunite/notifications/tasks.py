"""Background mail for notifications: send one (with retries), queue one after commit, and the sweep."""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from celery import shared_task
from celery.exceptions import Retry
from kombu.exceptions import OperationalError as BrokerError

from reunite.extensions import db
from reunite.notifications import services

log = logging.getLogger(__name__)

MAX_RETRIES = 8


@shared_task(
    bind=True,
    name="reunite.notifications.send_notification_mail",
    ignore_result=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def send_notification_mail(self: Any, notification_id: int) -> str:
    """Send one notification's mail (re-read by id; a sent mail is never sent twice).

    A temporary SMTP or network failure is raised so Celery retries with exponential backoff;
    the attempt after the last retry marks the mail failed.
    """
    outcome = services.deliver(notification_id, is_last_attempt=self.request.retries >= MAX_RETRIES)
    db.session.commit()
    if outcome.retry_error is not None:
        raise outcome.retry_error
    return outcome.state.value


def enqueue_mail(notification_id: int) -> None:
    """Queue the mail for a notification. Call only AFTER the transaction that made it has committed.

    When the broker is unreachable the notification stays pending and the periodic sweep
    queues it later. Without a broker (development) the mail is sent in this process; a
    failure then leaves it pending too, and never breaks the caller's request.
    """
    try:
        send_notification_mail.apply_async(
            (notification_id,),
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
        )
    except (BrokerError, OSError, smtplib.SMTPException, Retry) as err:
        # Retry: without a broker the task ran here and asked to be retried later.
        log.warning(
            "mail for notification %s not sent now (%s); it stays pending for the sweep",
            notification_id,
            type(err).__name__,
        )


@shared_task(name="reunite.notifications.send_pending_mail", ignore_result=True)
def send_pending_mail(limit: int = 500) -> int:
    """Queue the mails still pending a minute after their notification (broker down, worker lost)."""
    ids = services.pending_mail_ids(limit=limit)
    for notification_id in ids:
        send_notification_mail.delay(notification_id)
    if ids:
        log.info("mail sweep queued %d pending notifications", len(ids))
    return len(ids)
