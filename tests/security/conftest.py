"""A small world for the security tests: two families, staff, an open conversation with a reported
message, a flag, and every actor logged in through the real client-side derivation on its own client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from reunite.auth.models import User
from reunite.claims.models import Claim
from reunite.client import protocol as p
from reunite.extensions import db
from reunite.mailbox.models import Conversation
from reunite.moderation import services as moderation
from reunite.proposals.models import Proposal
from tests.conftest import Api, Made, derive_auth, staff_login
from tests.mailbox.conftest import Conv, open_conversation  # noqa: F401 - fixture used by this package
from tests.moderation.conftest import family, moderator, org  # noqa: F401 - fixtures used by this package

# The actors of the matrix, in its column order. "child" and "parent" own the objects; the
# "other" child and parent are real people with their own claims who try the owners' ids.
ACTORS = ("anon", "child", "parent", "other_child", "other_parent", "mod_nototp", "moderator", "admin")


def sign_in(app: Flask, made: Made | None, address: str, *, with_totp: bool = True) -> Api:
    """A fresh client from its own address, logged in as `made`; staff also pass TOTP unless `with_totp` is off."""
    api = Api(app.test_client())
    api.client.environ_base["REMOTE_ADDR"] = address
    if made is None:
        return api
    user = db.session.get(User, made.user.id)
    assert user is not None
    if user.is_staff and with_totp:
        staff_login(app, api, made)
        return api
    auth_key, _ = derive_auth(api, made.user.username, made.password)
    resp = api.post("/api/v1/auth/login", {"username": made.user.username, "auth_key": p.b64e(auth_key)})
    assert resp.status_code == 200, resp.get_json()
    return api


@dataclass
class World:
    """Real objects owned by the child and the parent, and a logged-in client per actor."""

    conv: Conv
    other: Any  # tests.moderation.conftest.Family: the other child and parent, with their own claims
    made: dict[str, Made]
    child_claim: str
    parent_claim: str
    proposal: str
    msg_id: str
    report_id: str
    flag_id: str
    clients: dict[str, Api] = field(default_factory=dict)


@pytest.fixture
def world(app: Flask, open_conversation: Any, family: Any, moderator: Any, make_user: Any) -> World:  # noqa: F811
    """Build the world: an approved, accepted match with a conversation, a message the child reported,
    a second family with a pending proposal, a flag on the other child's claim, and eight clients."""
    conv: Conv = open_conversation()
    conv.parent.box.send(conv.id, "A message only the roster may read.")
    roster = conv.child.box.conversation(conv.id)
    [item] = conv.child.box.items(conv.id)
    opened = conv.child.box.open(roster, item)
    report = conv.child.box.report(conv.id, opened, "for the security tests")
    other = family(child_birth="2001-05-06")
    flag = moderation.flag_claim(conv.mod.made.user, other.child_claim.public_id, "checking")
    db.session.commit()
    conversation = db.session.scalars(select(Conversation).where(Conversation.public_id == conv.id)).one()
    proposal = db.session.get(Proposal, conversation.proposal_id)
    assert proposal is not None
    made = {
        "child": conv.child.made,
        "parent": conv.parent.made,
        "other_child": other.child,
        "other_parent": other.parent,
        "mod_nototp": make_user("moderator"),
        "moderator": conv.mod.made,
        "admin": make_user("admin"),
    }
    w = World(
        conv=conv,
        other=other,
        made=made,
        child_claim=_claim_public_id(proposal.child_claim_id),
        parent_claim=_claim_public_id(proposal.parent_claim_id),
        proposal=proposal.public_id,
        msg_id=item["msg_id"],
        report_id=report["id"],
        flag_id=flag.public_id,
    )
    for n, name in enumerate(ACTORS, start=1):
        w.clients[name] = sign_in(app, made.get(name), f"10.77.0.{n}", with_totp=name != "mod_nototp")
    return w


def _claim_public_id(claim_id: int) -> str:
    claim = db.session.get(Claim, claim_id)
    assert claim is not None
    return claim.public_id


def count(model: Any) -> int:
    """Rows of a model (to show that a refused write wrote nothing)."""
    return len(db.session.scalars(select(model)).all())
