"""Background mail for notifications: send one (with retries), queue one after commit, and the sweep."""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from celery import shared_task
from celery.exceptions import Retry
from celery.utils.time import get_exponential_backoff_interval
from flask import current_app
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

    A temporary SMTP or network failure is retried with exponential backoff (see
    :func:`retry_countdown`; the decorator's backoff covers only errors escaping ``deliver``);
    the attempt after the last retry marks the mail failed.
    """
    outcome = services.deliver(notification_id, is_last_attempt=self.request.retries >= MAX_RETRIES)
    db.session.commit()
    if outcome.retry_error is not None:
        raise self.retry(exc=outcome.retry_error, countdown=retry_countdown(self.request.retries))
    return outcome.state.value


def retry_countdown(retries: int) -> int:
    """Seconds before the next attempt: exponential from MAIL_RETRY_BACKOFF_S, capped at MAIL_RETRY_BACKOFF_MAX_S.

    Full jitter (a random wait up to that bound) spreads the retries of many mails after an
    outage of the mail server.
    """
    config = current_app.config
    return int(
        get_exponential_backoff_interval(
            factor=max(1, int(config.get("MAIL_RETRY_BACKOFF_S", 1))),
            retries=retries,
            maximum=max(1, int(config.get("MAIL_RETRY_BACKOFF_MAX_S", 600))),
            full_jitter=True,
        )
    )


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
