"""Notification rules: create, list, mark read, the e-mail address setting, and delivering one mail."""

from __future__ import annotations

import logging
import re
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update

from reunite.auth.models import User
from reunite.errors import Invalid
from reunite.extensions import db
from reunite.notifications import mail
from reunite.notifications.models import MailState, Notification
from reunite.types import utcnow

log = logging.getLogger(__name__)

SETTINGS_PATH = "/notifications/settings"
KIND_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")
# Deliberately simple: one @, a local part without spaces, a domain with a dot. The address is
# stored as given; the mail server is the real judge.
DOMAIN_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_RE = re.compile(rf"^[^@\s<>]{{1,64}}@(?=.{{1,253}}$){DOMAIN_LABEL}(?:\.{DOMAIN_LABEL})+$")
MAX_EMAIL = 254
MAX_LINK = 512
PENDING_GRACE = timedelta(minutes=1)
# Longer than a full retry chain (8 retries, backoff capped at 10 minutes): the sweep does not
# start a second chain for a mail whose first chain may still be running.
RETRY_WINDOW = timedelta(hours=1)


def check_link(link: str) -> str:
    """A path inside the site (``/...``), never another site.

    :raises Invalid: not a same-site path, too long, or with spaces or control characters.
    """
    parts = urlsplit(link)
    if (
        not link.startswith("/")
        or link.startswith("//")
        or "\\" in link
        or parts.scheme
        or parts.netloc
        or len(link) > MAX_LINK
        or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in link)
    ):
        raise Invalid(_("A notification link must be a path inside the site."), field="link")
    return link


def notify(user: User, kind: str, link: str) -> Notification:
    """Tell ``user`` that something at ``link`` needs their attention; adds and flushes.

    The caller commits, then calls :func:`reunite.notifications.tasks.enqueue_mail` with the
    notification's id when ``mail_state`` is ``pending`` (the person gave an address).

    :param kind: a short machine word such as ``"proposal.decided"`` (never content).
    :param link: a path inside the site, e.g. ``/claims/cl-123``.
    :raises Invalid: a bad kind or link (a bug in the caller).
    """
    if not KIND_RE.match(kind):
        raise Invalid(_("A notification kind is a short lower-case word."), field="kind")
    check_link(link)
    note = Notification(
        user_id=user.id,
        kind=kind,
        link=link,
        created_at=utcnow(),
        mail_state=MailState.PENDING if user.email else MailState.NONE,
        mail_attempts=0,
    )
    db.session.add(note)
    db.session.flush()
    return note


def list_own(user: User, limit: int = 200) -> list[Notification]:
    """The person's notifications, newest first."""
    rows = db.session.scalars(
        select(Notification)
        .where(Notification.user_id == user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    return list(rows)


def unread_count(user: User) -> int:
    """How many of the person's notifications are unread."""
    query = select(func.count()).select_from(Notification)
    query = query.where(Notification.user_id == user.id, Notification.read_at.is_(None))
    return int(db.session.scalar(query) or 0)


def mark_all_read(user: User) -> int:
    """Mark every unread notification of the person as read; returns how many changed."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def set_email(user: User, raw: str | None) -> str | None:
    """Set (or, when empty, clear) the person's address for notification mail; stored as given.

    :raises Invalid: not a plausible address (field ``email``).
    """
    value = (raw or "").strip()
    if not value:
        user.email = None
        return None
    if len(value) > MAX_EMAIL or not EMAIL_RE.match(value):
        raise Invalid(_("This does not look like an e-mail address."), field="email")
    user.email = value
    return value


@dataclass(frozen=True)
class Delivery:
    """What one send attempt did; ``retry_error`` is set when the task should try again later."""

    state: MailState
    retry_error: mail.MailNotSent | None = None


def deliver(notification_id: int, *, is_last_attempt: bool) -> Delivery:
    """Send the notification's mail if it is still pending; the caller commits (this holds a row lock).

    Idempotent: a mail already sent, failed or without an address is left alone. The row is
    locked while sending, so two workers cannot send the same mail.
    """
    note = db.session.scalars(
        select(Notification)
        .where(Notification.id == notification_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if note is None or note.mail_state != MailState.PENDING:
        return Delivery(note.mail_state if note is not None else MailState.NONE)
    user = db.session.get(User, note.user_id)
    if user is None or not user.email:
        note.mail_state = MailState.NONE  # the address was removed after the notification was made
        return Delivery(note.mail_state)
    config = current_app.config
    note.mail_attempts += 1
    note.mail_attempted_at = utcnow()
    try:
        server = mail.parse_mail_url(config.get("MAIL_URL"))
        base = str(config.get("PUBLIC_URL") or "").rstrip("/")
        msg = mail.compose_attention_mail(
            str(config["MAIL_FROM"]), user.email, user.locale, base + note.link, base + SETTINGS_PATH
        )
        mail.send(server, msg)
    except mail.MailConfigError as err:
        # Not this mail's fault: it stays pending, and the sweep tries again once mail is configured.
        log.error("notification mail %s not sent: %s", note.id, err)
        return Delivery(note.mail_state)
    except (smtplib.SMTPException, OSError) as err:
        if mail.is_permanent(err):
            log.warning("notification mail %s refused for good (%s)", note.id, type(err).__name__)
            note.mail_state = MailState.FAILED
            return Delivery(note.mail_state)
        log.warning(
            "notification mail %s not sent (%s), attempt %d%s",
            note.id,
            type(err).__name__,
            note.mail_attempts,
            ", giving up" if is_last_attempt else ", will retry",
        )
        return _failed_attempt(note, err, is_last_attempt)
    note.mail_state = MailState.SENT
    return Delivery(note.mail_state)


def _failed_attempt(note: Notification, err: Exception, is_last_attempt: bool) -> Delivery:
    if is_last_attempt:
        note.mail_state = MailState.FAILED
        return Delivery(note.mail_state)
    return Delivery(note.mail_state, retry_error=mail.MailNotSent.from_error(err))


def pending_mail_ids(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Pending mails older than a minute whose retries are not still running (the sweep's work)."""
    now = now or utcnow()
    query = (
        select(Notification.id)
        .where(
            Notification.mail_state == MailState.PENDING,
            Notification.created_at < now - PENDING_GRACE,
            or_(Notification.mail_attempted_at.is_(None), Notification.mail_attempted_at < now - RETRY_WINDOW),
        )
        .order_by(Notification.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))
