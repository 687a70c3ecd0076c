"""Builders for mailbox tests: a conversation opened by the real moderation flow, and people acting
through the real Python client (reunite.client.api) over Flask's test client."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from reunite.auth import services as auth_services
from reunite.auth.models import User
from reunite.client.api import Client, Mailbox, Session
from reunite.extensions import db
from reunite.moderation import services as moderation
from tests.conftest import Made
from tests.moderation.conftest import family, moderator, org  # noqa: F401 - fixtures used by this package

SENT_AT = "2026-11-27T10:00:00Z"


class _Response:
    """What reunite.client.api.Client reads from a `requests` response, taken from a Flask one."""

    def __init__(self, resp: Any) -> None:
        self.status_code = resp.status_code
        self._resp = resp
        self.text = resp.get_data(as_text=True)

    def json(self) -> Any:
        data = self._resp.get_json(silent=True)
        if data is None:
            raise ValueError("not JSON")
        return data


class TestClientHttp:
    """A `requests.Session` stand-in that sends the Python client's requests through Flask's test client."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, url: str, params: dict[str, Any] | None = None, timeout: float | None = None) -> _Response:
        return _Response(self.client.get(url, query_string=params))

    def post(
        self, url: str, json: Any = None, headers: dict[str, str] | None = None, timeout: float | None = None
    ) -> _Response:
        return _Response(self.client.post(url, json=json, headers=headers))


@dataclass
class Person:
    """Someone on the roster, logged in through the real client code."""

    made: Made
    client: Client
    session: Session
    box: Mailbox

    @property
    def id(self) -> str:
        return self.made.user.public_id


def act_as(app: Flask, made: Made) -> Person:
    """Log in with the real derivation (and TOTP for staff) on a fresh test client."""
    client = Client("")
    client.http = TestClientHttp(app.test_client())  # type: ignore[assignment]
    session = client.login(made.user.username, made.password)
    user = db.session.get(User, made.user.id)
    assert user is not None
    if user.is_staff:
        secret = auth_services.begin_totp(user) if not user.has_totp else auth_services.totp_secret(user)
        user.totp_confirmed_at = user.totp_confirmed_at or user.created_at
        user.totp_last_step = None
        db.session.commit()
        assert secret is not None
        client.totp(pyotp.TOTP(secret).now())
    return Person(made, client, session, Mailbox(client, session))


@dataclass
class Conv:
    """An open conversation and everyone on its roster."""

    id: str
    child: Person
    parent: Person
    moderators: list[Person]

    @property
    def mod(self) -> Person:
        return self.moderators[0]


@pytest.fixture
def open_conversation(app: Flask, family: Any, moderator: Any) -> Any:  # noqa: F811
    """open_conversation(minor=False): approve (twice for a minor), both accept, everyone logged in."""

    def _make(minor: bool = False) -> Conv:
        fam = family(child_birth="2012-03-04" if minor else "2001-03-04")
        mods = [moderator() for _ in range(2 if minor else 1)]
        for mod in mods:
            db.session.refresh(fam.proposal)
            moderation.decide(mod.user, fam.proposal.public_id, "approve", "", fam.proposal.state_version)
            db.session.commit()
        moderation.answer(fam.child.user, fam.proposal.public_id, True, "Yuki", "")
        moderation.answer(fam.parent.user, fam.proposal.public_id, True, "John", "")
        db.session.commit()
        from sqlalchemy import select

        from reunite.mailbox.models import Conversation

        conv = db.session.scalars(select(Conversation).where(Conversation.proposal_id == fam.proposal.id)).one()
        return Conv(
            id=conv.public_id,
            child=act_as(app, fam.child),
            parent=act_as(app, fam.parent),
            moderators=[act_as(app, m) for m in mods],
        )

    return _make


def now_ms() -> int:
    return int(time.time() * 1000)
