"""IDOR: changing an id in a URL or body never reads or changes another person's claim, proposal,
notification, conversation, key bundle or report. Someone else's object answers exactly like a missing one."""

from __future__ import annotations

import copy
import re
import secrets
from typing import Any

from flask import Flask
from sqlalchemy import select

from reunite.auth.models import User
from reunite.claims.models import Claim
from reunite.client import protocol as p
from reunite.extensions import db
from reunite.mailbox.models import Conversation, Message, Report
from reunite.moderation.models import Consent
from reunite.notifications.models import Notification
from tests.security.conftest import World, sign_in


def _json(resp: Any) -> Any:
    data = resp.get_json(silent=True)
    resp.close()
    return data


# A page's CSRF token carries the second it was signed in, so two pages served across a second
# boundary differ there; it says nothing about the object asked for. It appears in the head's
# meta tag and in every form.
_CSRF_VALUE = re.compile(r'(name="csrf_token" value="|name="csrf-token" content=")[^"]*"')


def _page(resp: Any) -> str:
    return _CSRF_VALUE.sub(r'\1…"', resp.get_data(as_text=True))


def _same_as_missing(api: Any, path: str, real_id: str, fake_id: str) -> None:
    """Someone else's id and an id that does not exist get the same status and the same words."""
    theirs = api.get(path.format(real_id))
    missing = api.get(path.format(fake_id))
    assert theirs.status_code == missing.status_code == 404, (path, theirs.status_code, missing.status_code)
    if theirs.is_json:
        assert _json(theirs) == _json(missing)
    else:
        assert _page(theirs).replace(real_id, fake_id) == _page(missing)


def _claim(public_id: str) -> Claim:
    db.session.expire_all()
    return db.session.scalars(select(Claim).where(Claim.public_id == public_id)).one()


def test_someone_elses_claim_cannot_be_read_or_changed(world: World) -> None:
    before = _claim(world.child_claim)
    version, data = before.version, copy.deepcopy(before.data)
    changed = copy.deepcopy(data)
    changed["notes"] = "rewritten by someone else"
    for name in ("parent", "other_child", "other_parent"):
        api = world.clients[name]
        for path in ("/api/v1/claims/{}", "/api/v1/claims/{}/history", "/claims/{}", "/claims/{}/edit"):
            _same_as_missing(api, path, world.child_claim, "cl-" + secrets.token_hex(8))
        assert world.child_claim not in api.get("/api/v1/claims").get_data(as_text=True)
        assert world.child_claim not in api.get("/claims").get_data(as_text=True)
        put = api.client.put(
            f"/api/v1/claims/{world.child_claim}",
            json={"role": "child", **changed},
            headers={"X-CSRFToken": api.csrf()},
        )
        assert put.status_code == 404
        form = api.client.post(
            f"/claims/{world.child_claim}/edit", data={"csrf_token": api.csrf(), "notes": "rewritten by someone else"}
        )
        assert form.status_code == 404
    after = _claim(world.child_claim)
    assert (after.version, after.data) == (version, data)
    # The owner still can.
    owner = world.clients["child"]
    assert owner.get(f"/api/v1/claims/{world.child_claim}").status_code == 200


def test_someone_elses_match_cannot_be_read_answered_or_withdrawn(world: World) -> None:
    states = lambda: sorted((c.side, c.state.value) for c in db.session.scalars(select(Consent)))  # noqa: E731
    db.session.expire_all()
    before = states()
    for name in ("other_child", "other_parent"):
        api = world.clients[name]
        _same_as_missing(api, "/matches/{}", world.proposal, "pr-" + secrets.token_hex(8))
        assert world.proposal not in api.get("/matches").get_data(as_text=True)
        answer = api.client.post(
            f"/matches/{world.proposal}",
            data={"csrf_token": api.csrf(), "accept": "y", "shared_name": "Mallory", "shared_message": "hi"},
        )
        assert answer.status_code == 404
        withdraw = api.client.post(f"/matches/{world.proposal}/withdraw", data={"csrf_token": api.csrf()})
        assert withdraw.status_code == 404
    db.session.expire_all()
    assert states() == before
    conv = db.session.scalars(select(Conversation).where(Conversation.public_id == world.conv.id)).one()
    assert conv.state.value == "open"
    # The owner's own page shows what the partner shared, so the 404 above was not a broken page.
    assert "John" in world.clients["child"].get(f"/matches/{world.proposal}").get_data(as_text=True)


def test_notifications_are_only_ever_ones_own(app: Flask, world: World) -> None:
    # No route takes a notification id, so the only handles are the session's own list and "mark all read".
    for rule in app.url_map.iter_rules():
        assert not any("note" in arg or "notification" in arg for arg in rule.arguments), rule.rule
    child = db.session.get(User, world.made["child"].user.id)
    assert child is not None
    db.session.expire_all()
    child_unread = {
        n.id for n in db.session.scalars(select(Notification).where(Notification.user_id == child.id)) if not n.is_read
    }
    assert child_unread, "the world should leave the child an unread notification"
    other = world.clients["other_parent"]
    listed = _json(other.get("/api/v1/notifications"))
    assert not {n["id"] for n in listed["notifications"]} & child_unread
    assert other.client.post("/notifications/read", data={"csrf_token": other.csrf()}).status_code == 302
    db.session.expire_all()
    still = {
        n.id for n in db.session.scalars(select(Notification).where(Notification.user_id == child.id)) if not n.is_read
    }
    assert still == child_unread
    mine = _json(world.clients["child"].get("/api/v1/notifications"))
    assert {n["id"] for n in mine["notifications"] if not n["is_read"]} == child_unread


def test_someone_elses_conversation_cannot_be_read_or_written(world: World, moderator: Any, app: Flask) -> None:
    outsider_mod = sign_in(app, moderator(), "10.77.1.1")  # certified, TOTP passed, not on this roster
    msg = db.session.scalars(select(Message)).one()
    envelope = _json(world.clients["child"].get(f"/api/v1/conversations/{world.conv.id}/messages"))["items"][0][
        "envelope"
    ]
    fake = "cv-" + secrets.token_hex(8)
    for api in (world.clients["other_child"], world.clients["other_parent"], world.clients["admin"], outsider_mod):
        for path in (
            "/api/v1/conversations/{}",
            "/api/v1/conversations/{}/messages",
            "/api/v1/conversations/{}/export",
            "/conversations/{}",
        ):
            _same_as_missing(api, path, world.conv.id, fake)
        assert world.conv.id not in api.get("/api/v1/conversations").get_data(as_text=True)
        base = f"/api/v1/conversations/{world.conv.id}"
        writes = {
            base + "/messages": {"msg_id": p.b64e(secrets.token_bytes(16)), "seq": 7, "envelope": envelope},
            base + "/state": {"state": "closed", "reason": "not mine"},
            f"{base}/messages/{world.msg_id}/moderate": {
                "action": "reject",
                "reason": "x",
                "sig": p.b64e(bytes(64)),
            },
            f"{base}/messages/{world.msg_id}/report": {"m": p.b64e(b"\0" * 64), "kf": p.b64e(bytes(32))},
        }
        for path, body in writes.items():
            resp = api.client.post(path, json=body, headers={"X-CSRFToken": api.csrf()})
            assert resp.status_code == 404, (path, resp.status_code)
    db.session.expire_all()
    assert len(db.session.scalars(select(Message)).all()) == 1
    assert db.session.get(Message, msg.id).state.value == "delivered"  # type: ignore[union-attr]
    conv = db.session.scalars(select(Conversation).where(Conversation.public_id == world.conv.id)).one()
    assert conv.state.value == "open"
    assert len(db.session.scalars(select(Report)).all()) == 1


def test_key_bundles_are_only_the_sessions_own(world: World) -> None:
    child = db.session.get(User, world.made["child"].user.id)
    assert child is not None
    child_ct = p.b64e(child.bundle_ct)
    child_recovery_ct = p.b64e(child.recovery_ct)
    for name in ("parent", "other_child", "other_parent", "moderator", "admin"):
        api = world.clients[name]
        own = db.session.get(User, world.made[name].user.id)
        assert own is not None
        bundle = _json(api.get("/api/v1/auth/bundle"))
        assert bundle["bundle"]["ciphertext"] == p.b64e(own.bundle_ct)
        # Query strings or ids in the body cannot point the bundle route at another account.
        for variant in (
            f"/api/v1/auth/bundle?user={child.public_id}",
            f"/api/v1/auth/bundle?username={child.username}",
        ):
            assert child_ct not in api.get(variant).get_data(as_text=True)
        me = _json(api.get(f"/api/v1/auth/me?id={child.public_id}"))
        assert me["id"] == own.public_id
    # The recovery copy needs the recovery key's proof; a wrong one gets nothing.
    stranger = world.clients["other_parent"]
    resp = stranger.post("/api/v1/auth/recovery", {"username": child.username, "recovery_auth": p.b64e(bytes(32))})
    assert resp.status_code == 401
    assert child_recovery_ct not in resp.get_data(as_text=True)
    # Public keys: only one's own (and staff); the other person's id answers like a missing one.
    for name in ("parent", "other_child", "other_parent"):
        _same_as_missing(world.clients[name], "/api/v1/keys/{}", child.public_id, "u-" + secrets.token_hex(8))


def test_reports_reach_only_the_moderators_of_that_conversation(world: World, moderator: Any, app: Flask) -> None:
    outsider_mod = sign_in(app, moderator(), "10.77.1.2")
    [rep] = _json(world.clients["moderator"].get("/api/v1/moderator/reports"))["items"]
    assert rep["id"] == world.report_id
    assert rep["text"] == "A message only the roster may read."
    assert _json(outsider_mod.get("/api/v1/moderator/reports"))["items"] == []
    assert _json(world.clients["admin"].get("/api/v1/moderator/reports"))["items"] == []
    for name in ("child", "parent", "other_child", "other_parent"):
        resp = world.clients[name].get("/api/v1/moderator/reports")
        assert resp.status_code == 403
        assert "A message only the roster may read." not in resp.get_data(as_text=True)
    # Held messages likewise: the outsider moderator's queue is empty.
    assert _json(outsider_mod.get("/api/v1/moderator/held"))["items"] == []


def test_personal_data_export_holds_only_ones_own(world: World) -> None:
    child = world.made["child"].user
    doc = world.clients["other_parent"].get("/api/v1/account/export?id=" + child.public_id).get_data(as_text=True)
    assert world.made["other_parent"].user.public_id in doc
    for secret in (child.public_id, child.username, world.child_claim, world.conv.id):
        assert secret not in doc
