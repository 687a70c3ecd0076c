"""Outgoing mail: parse MAIL_URL, compose the one neutral notification mail, and send it over SMTP."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _

DEFAULT_TIMEOUT_S = 20.0
TRUE_WORDS = ("1", "true", "yes", "on")


class MailConfigError(ValueError):
    """MAIL_URL is missing or malformed (the message never repeats the URL: it may hold a password)."""


class MailNotSent(OSError):
    """A temporary failure to hand a mail over, safe to log: it names the error type and SMTP code only.

    smtplib's own exceptions can carry the recipient's address; this one never does.
    """

    @classmethod
    def from_error(cls, err: Exception) -> MailNotSent:
        code = getattr(err, "smtp_code", None)
        return cls(f"{type(err).__name__}" + (f" {code}" if code else ""))


@dataclass(frozen=True)
class MailServer:
    """Where and how to hand mail over, from ``smtp://[user:pass@]host[:port][?starttls=1&timeout=S]``.

    ``smtps://`` is SMTP over TLS (port 465 by default); ``smtp://`` is plain SMTP (port 25 by
    default), upgraded with STARTTLS when ``?starttls=1``.
    """

    host: str
    port: int
    is_tls: bool = False
    is_starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S


def parse_mail_url(url: str | None) -> MailServer:
    """Read MAIL_URL.

    :raises MailConfigError: no URL, another scheme, no host, or a bad port or option.
    """
    if not url:
        raise MailConfigError("MAIL_URL is not set")
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise MailConfigError("MAIL_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise MailConfigError("MAIL_URL has no host")
    try:
        port = parts.port
    except ValueError:
        raise MailConfigError("MAIL_URL has an invalid port") from None
    query = parse_qs(parts.query)
    is_tls = parts.scheme == "smtps"
    is_starttls = query.get("starttls", ["0"])[-1].lower() in TRUE_WORDS
    if is_tls and is_starttls:
        raise MailConfigError("MAIL_URL: smtps:// is already TLS; starttls=1 is for smtp://")
    try:
        timeout_s = float(query.get("timeout", [DEFAULT_TIMEOUT_S])[-1])
    except ValueError:
        raise MailConfigError("MAIL_URL: timeout must be a number of seconds") from None
    return MailServer(
        host=parts.hostname,
        port=port or (465 if is_tls else 25),
        is_tls=is_tls,
        is_starttls=is_starttls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        timeout_s=timeout_s,
    )


def compose_attention_mail(sender: str, to: str, locale: str, url: str, settings_url: str) -> EmailMessage:
    """The neutral notification mail in the recipient's language: no names, no content, only links.

    :param url: the full address of the page that needs attention.
    :param settings_url: the full address of the page where the person can remove their address.

    Needs an app context (templates and translations).
    """
    with force_locale(locale if locale in ("en", "ja") else "en"):
        subject = _("Something on reunite needs your attention")
        body = render_template("notifications/mail/attention.html", url=url, settings_url=settings_url)
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: autoresponders must not answer
    msg.set_content(body.strip() + "\n")
    msg["Content-Language"] = locale  # after set_content, which drops every Content-* header
    return msg


def send(server: MailServer, msg: EmailMessage) -> None:
    """Hand one message to the SMTP server.

    :raises smtplib.SMTPException: the server refused or broke the conversation.
    :raises OSError: the server cannot be reached (refused, timeout, TLS failure).
    """
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if server.is_tls:
        smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout_s, context=context)
    else:
        smtp = smtplib.SMTP(server.host, server.port, timeout=server.timeout_s)
    with smtp:
        if server.is_starttls:
            smtp.starttls(context=context)
        if server.username:
            smtp.login(server.username, server.password or "")
        smtp.send_message(msg)


def is_permanent(err: Exception) -> bool:
    """Whether retrying cannot help: the server answered with a 5xx code for this message."""
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _msg in err.recipients.values())
    if isinstance(err, smtplib.SMTPAuthenticationError | smtplib.SMTPConnectError | smtplib.SMTPHeloError):
        return False  # the server or our configuration, not this message: worth retrying
    if isinstance(err, smtplib.SMTPResponseException):
        return err.smtp_code >= 500
    return False
