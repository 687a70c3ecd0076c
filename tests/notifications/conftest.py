"""Notification fixtures: a real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import email
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from tests.conftest import free_port


class Inbox:
    """An aiosmtpd handler that stores every envelope; ``refuse`` is an SMTP reply to give to RCPT instead."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.refuse: str | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:  # noqa: N802
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(e.content, policy=default_policy) for e in self.envelopes]  # type: ignore[misc]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.envelopes) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} mails, got {len(self.envelopes)}")
            time.sleep(0.1)
        return self.messages()


@dataclass
class SmtpServer:
    """A running aiosmtpd on 127.0.0.1."""

    port: int
    inbox: Inbox
    controller: Controller = field(repr=False)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=5"


def start_smtp(port: int | None = None) -> SmtpServer:
    """Start an SMTP server on ``port`` (a free one by default); stop it with ``.controller.stop()``."""
    inbox = Inbox()
    port = port or free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return SmtpServer(port, inbox, controller)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on a free loopback port, for one test."""
    server = start_smtp()
    try:
        yield server
    finally:
        server.controller.stop()


@pytest.fixture
def mail_app(app: Flask, smtp: SmtpServer) -> Flask:
    """The test app sending its mail to ``smtp``."""
    app.config.update(MAIL_URL=smtp.url, MAIL_FROM="reunite@example.org", PUBLIC_URL="https://reunite.example")
    return app


def body_of(msg: EmailMessage) -> str:
    """The plain-text body of a received mail."""
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())
