"""The server's acceptance checks one by one, moderation, reports, states and key changes, through the real
Python client over Flask's test client."""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

import pytest
from sqlalchemy import select

from reunite.auth import services as auth_services
from reunite.auth.models import Role, User
from reunite.client import protocol as p
from reunite.client.api import ApiError, RosterError, check_roster
from reunite.extensions import db
from reunite.mailbox.models import Conversation, Message, MessageState
from tests.mailbox.conftest import SENT_AT, Conv, Person, act_as


def members_of(conv: dict[str, Any]) -> list[p.RosterMember]:
    return [p.RosterMember(r["user_id"], p.b64d(r["enc_pk"]), r["epoch"]) for r in conv["roster"]]


def craft(
    sender: Person,
    conv: dict[str, Any],
    text: str,
    *,
    seq: int | None = None,
    conv_id: str | None = None,
    members: list[p.RosterMember] | None = None,
    body_key: bytes | None = None,
    kc_key: bytes | None = None,
    wrap_keys: dict[str, bytes] | None = None,
) -> tuple[bytes, int, p.Envelope, bytes, bytes]:
    """Build a signed envelope step by step, with optional deviations; returns (msg_id, seq, env, kf, m)."""
    seq = seq if seq is not None else conv["my_last_seq"] + 1
    members = sorted(members if members is not None else members_of(conv), key=lambda r: r.user_id.encode())
    identity = sender.session.keys.identity
    msg_id = secrets.token_bytes(16)
    m = p.pad_plaintext(text, SENT_AT)
    header = p.build_header(conv_id or conv["id"], msg_id, sender.id, seq, identity.pk, members)
    kf = secrets.token_bytes(32)
    c = p.franking_commitment(kf, header, m)
    key = body_key or secrets.token_bytes(32)
    kc = p.key_commitment(kc_key or key)
    nonce = secrets.token_bytes(24)
    body = p.seal_body(key, nonce, header, c, kc, kf, m)
    wrapped = tuple(p.wrap_key_for((wrap_keys or {}).get(r.user_id, key), r.enc_pk) for r in members)
    sig = p.sign_detached(identity.seed, p.sig_message(header, c, kc, nonce, body, wrapped))
    return msg_id, seq, p.Envelope(header, c, kc, nonce, body, wrapped, sig), kf, m


def refused(person: Person, cid: str, msg_id: bytes, seq: int, env: p.Envelope) -> ApiError:
    with pytest.raises(ApiError) as err:
        person.box.post_envelope(cid, msg_id, seq, env)
    return err.value


def stored_count() -> int:
    return len(db.session.scalars(select(Message)).all())


# --- accepting -----------------------------------------------------------------------------------


def test_a_message_reaches_the_other_person_with_a_receipt_and_unread_count(open_conversation: Any) -> None:
    conv: Conv = open_conversation()
    sent, answer = conv.parent.box.send(conv.id, "I never stopped looking for you.")
    assert answer["index"] == 1
    assert answer["state"] == "delivered"
    server_pk, _ = conv.parent.box.server_keys()
    assert p.verify_detached(server_pk, p.receipt_message(p.b64d(answer["entry_hash"]), 1), p.b64d(answer["receipt"]))
    assert [c["unread"] for c in conv.child.box.conversations()] == [1]
    roster = conv.child.box.conversation(conv.id)
    [item] = conv.child.box.items(conv.id)
    opened = conv.child.box.open(roster, item)
    assert opened.message is not None
    assert opened.message.text == "I never stopped looking for you."
    assert [c["unread"] for c in conv.child.box.conversations()] == [0]
    # the moderator on the roster reads it too
    assert conv.mod.box.open(conv.mod.box.conversation(conv.id), item).message is not None
    assert conv.parent.box.conversation(conv.id)["my_last_seq"] == 1


def test_forged_signature_is_refused(open_conversation: Any) -> None:
    conv: Conv = open_conversation()
    roster = conv.parent.box.conversation(conv.id)
    msg_id, seq, env, _, _ = craft(conv.parent, roster, "hello")
    forged = dataclasses.replace(
        env,
        sig=p.sign_detached(
            p.new_identity().seed, p.sig_message(env.header, env.c, env.kc, env.nonce, env.body, env.wrapped)
        ),
    )
    err = refused(conv.parent, conv.id, msg_id, seq, forged)
    assert err.status == 400
    assert err.field == "envelope.sig"
    # a valid signature over other bytes (body changed after signing) is just as bad
    flipped = dataclasses.replace(env, body=env.body[:-1] + bytes([env.body[-1] ^ 1]))
    assert refused(conv.parent, conv.id, msg_id, seq, flipped).field == "envelope.sig"
    assert stored_count() == 0


def test_changed_header_is_refused(open_conversation: Any) -> None:
    conv: Conv = open_conversation()
    roster = conv.parent.box.conversation(conv.id)
    msg_id, seq, env, _, _ = craft(conv.parent, roster, "x", conv_id="cv-some-other")
    assert "another conversation" in refused(conv.parent, conv.id, msg_id, seq, env).message
    msg_id, seq, env, _, _ = craft(conv.parent, roster, "x")
    # the header's seq must be the request's seq
    assert refused(conv.parent, conv.id, msg_id, seq + 1, env).field == "seq"
    # a byte of the header changed after signing: the roster hash no longer names the current keys
    bad = dataclasses.replace(env, header=env.header[:-5] + bytes([env.header[-5] ^ 1]) + env.header[-4:])
    assert refused(conv.parent, conv.id, msg_id, seq, bad).status == 400
    # the header names the child as sender, but the parent is logged in
    roster_c = conv.child.box.conversation(conv.id)
    msg_id, seq, env, _, _ = craft(conv.child, roster_c, "x")
    assert refused(conv.parent, conv.id, msg_id, seq, env).message == "The message header names another sender."
    assert stored_count() == 0


def test_stale_or_wrong_roster_keys_are_refused(open_conversation: Any) -> None:
    conv: Conv = open_conversation()
    roster = conv.parent.box.conversation(conv.id)
    members = members_of(roster)
    child = next(r for r in members if r.user_id == conv.child.id)
    other = [
        dataclasses.replace(child, enc_pk=p.box_keypair_from_seed(p.new_box_seed())[0]) if r is child else r
        for r in members
    ]
    msg_id, seq, env, _, _ = craft(conv.parent, roster, "x", members=other)
    assert "other keys" in refused(conv.parent, conv.id, msg_id, seq, env).message
    older = [dataclasses.replace(r, epoch=r.epoch + 1) if r is child else r for r in members]
    msg_id, seq, env, _, _ = craft(conv.parent, roster, "x", members=older)
    assert refused(conv.parent, conv.id, msg_id, seq, env).field == "envelope.header"


def test_a_message_leaving_out_the_moderator_is_refused(open_conversation: Any) -> None:
    conv: Conv = open_conversation()
    roster = conv.parent.box.conversation(conv.id)
    without = [r for r in members_of(roster) if r.user_id != conv.mod.id]
    msg_id, seq, env, _, _ = craft(conv.parent, roster, "just between us", members=without)
    err = refused(conv.parent, conv.id, msg_id, seq, env)
    assert err.status == 400
    assert "other members" in err.message
    assert stored_count() == 0


def test_an_uncertified_moderator_blocks_sending_and_cannot_moderate(open_conversation: Any, app: Any) -> None:
    conv: Conv = open_conversation(minor=True)
    sent, answer = conv.child.box.send(conv.id, "held for now")
    assert answer["state"] == "held"
    mod = db.session.get(User, conv.moderators[1].made.user.id)
    assert mod is not None
    mod.modcert_expires_ms = 1_000  # expired long ago (and no longer what was signed)
    db.session.commit()
    roster = conv.child.box.conversation(conv.id)
    with pytest.raises(RosterError):
        check_roster(roster, conv.child.box.server_keys()[1])
    msg_id, seq, env, _, _ = craft(conv.child, roster, "still there?")
    err = refused(conv.child, conv.id, msg_id, seq, env)
    assert err.status == 409
    assert "no valid certificate" in err.message
    item = conv.moderators[1].box.items(conv.id)[0]
    with pytest.raises(ApiError) as denied:
        conv.moderators[1].box.moderate(conv.id, item, "release", "")
    assert denied.value.status == 403


def test_same_msg_id_same_bytes_returns_the_first_receipt_other_bytes_conflict(open_conversation: Any) -> None:
    conv: Conv = open_conversation()
    roster = conv.parent.box.conversation(conv.id)
    msg_id, seq, env, _, _ = craft(conv.parent, roster, "once")
    first = conv.parent.box.post_envelope(conv.id, msg_id, seq, env)
    again = conv.parent.box.post_envelope(conv.id, msg_id, seq, env)
    assert again == first
    _, _, other, _, _ = craft(conv.parent, roster, "twice", seq=seq)
    other = dataclasses.replace(other, header=env.header)  # same msg_id, other bytes
    err = refused(conv.parent, conv.id, msg_id, seq, other)
    assert err.status == 409
    assert err.field == "msg_id"
    assert stored_count() == 1


def test_seq_must_grow(open_conversation: Any) -> None:
    conv: Conv = open_conversation()
    conv.parent.box.send(conv.id, "one")
    conv.parent.box.send(conv.id, "two")
    roster = conv.parent.box.conversation(conv.id)
    for seq in (1, 2):
        msg_id, seq, env, _, _ = craft(conv.parent, roster, "replayed order", seq=seq)
        err = refused(conv.parent, conv.id, msg_id, seq, env)
        assert err.status == 400
        assert err.field == "seq"
    msg_id, seq, env, _, _ = craft(conv.parent, roster, "gap is fine", seq=7)
    assert conv.parent.box.post_envelope(conv.id, msg_id, seq, env)["index"] == 3


def test_sizes_are_limited(open_conversation: Any) -> None:
    conv: Conv = open_conversation()
    with pytest.raises(ValueError, match="longer than 16000"):
        conv.parent.box.send(conv.id, "x" * 16001)
    roster = conv.parent.box.conversation(conv.id)
    msg_id, seq, env, _, _ = craft(conv.parent, roster, "ok")
    big = dataclasses.replace(env, body=env.body + bytes(200_000 // 256 * 256))
    err = refused(conv.parent, conv.id, msg_id, seq, big)
    assert err.status in (400, 413)
    short = dataclasses.replace(env, wrapped=env.wrapped[:-1])
    assert refused(conv.parent, conv.id, msg_id, seq, short).status == 400
    assert stored_count() == 0


def test_a_key_swapped_under_the_envelope_fails_key_commitment_for_that_reader(open_conversation: Any) -> None:
    conv: Conv = open_conversation()
    roster = conv.parent.box.conversation(conv.id)
    k_real, k_other = secrets.token_bytes(32), secrets.token_bytes(32)
    msg_id, seq, env, _, _ = craft(conv.parent, roster, "hello", body_key=k_real, wrap_keys={conv.child.id: k_other})
    # The server cannot see the keys: it accepts, and the child's client refuses to show it.
    conv.parent.box.post_envelope(conv.id, msg_id, seq, env)
    item = conv.child.box.items(conv.id)[0]
    opened = conv.child.box.open(conv.child.box.conversation(conv.id), item)
    assert opened.message is None
    assert opened.problem == "key commitment does not match"
    # Tampering with kc after signing is caught by the server (the signature covers it).
    _, _, env2, _, _ = craft(conv.parent, roster, "x")
    bad = dataclasses.replace(env2, kc=p.key_commitment(k_other))
    assert refused(conv.parent, conv.id, secrets.token_bytes(16), seq + 1, bad).status == 400


def test_a_sender_cannot_show_the_moderator_one_text_and_the_child_another(open_conversation: Any) -> None:
    """Different K wrapped per member: at most one reader can open it, so no two readers see different texts."""
    conv: Conv = open_conversation()
    roster = conv.parent.box.conversation(conv.id)
    k_mod, k_child = secrets.token_bytes(32), secrets.token_bytes(32)
    attempts = [
        # body and kc under the moderator's key, another key for the child
        {"body_key": k_mod, "kc_key": k_mod, "wrap_keys": {conv.mod.id: k_mod, conv.child.id: k_child}},
        # kc names the child's key, the body is under the moderator's key
        {"body_key": k_mod, "kc_key": k_child, "wrap_keys": {conv.mod.id: k_mod, conv.child.id: k_child}},
    ]
    for n, attempt in enumerate(attempts):
        msg_id, seq, env, _, _ = craft(conv.parent, roster, "the moderator's text", seq=n + 1, **attempt)
        conv.parent.box.post_envelope(conv.id, msg_id, seq, env)
        item = conv.child.box.items(conv.id)[n]
        child = conv.child.box.open(conv.child.box.conversation(conv.id), item)
        mod = conv.mod.box.open(conv.mod.box.conversation(conv.id), item)
        assert child.message is None, "the child must never see a text the key commitment does not bind"
        texts = {o.message.text for o in (child, mod) if o.message is not None}
        assert len(texts) <= 1


# --- moderation ----------------------------------------------------------------------------------


def test_held_until_released_rejected_never_delivered(open_conversation: Any) -> None:
    conv: Conv = open_conversation(minor=True)
    _, first = conv.child.box.send(conv.id, "Dad, is it really you?")
    _, second = conv.parent.box.send(conv.id, "something the moderator will stop")
    assert first["state"] == second["state"] == "held"
    assert conv.parent.box.items(conv.id) == [
        i for i in conv.parent.box.items(conv.id) if i.get("sender_id") == conv.parent.id
    ]
    assert conv.child.box.conversations()[0]["held"] == 1  # only its own held message
    held = conv.mod.box.held()
    assert [h["conversation_id"] for h in held] == [conv.id, conv.id]
    mod_roster = conv.mod.box.conversation(conv.id)
    for item in held:
        assert conv.mod.box.open(mod_roster, item).message is not None
    one, two = held
    # a bad signature, or someone who is not a moderator, is refused
    with pytest.raises(ApiError) as bad:
        conv.mod.client.post(
            f"/api/v1/conversations/{conv.id}/messages/{one['msg_id']}/moderate",
            {"action": "release", "reason": "", "sig": p.b64e(bytes(64))},
        )
    assert bad.value.status == 400
    assert bad.value.field == "sig"
    with pytest.raises(ApiError) as not_mod:
        conv.parent.box.moderate(conv.id, one, "release", "")
    assert not_mod.value.status == 403
    with pytest.raises(ApiError):
        conv.mod.box.moderate(conv.id, two, "reject", "")  # a rejection needs a reason
    conv.mod.box.moderate(conv.id, one, "release", "ok")
    conv.moderators[1].box.moderate(conv.id, two, "reject", "Please do not ask for the address yet.")
    with pytest.raises(ApiError) as twice:
        conv.mod.box.moderate(conv.id, two, "release", "")
    assert twice.value.status == 409

    child_items = conv.child.box.items(conv.id)
    assert [i["kind"] for i in child_items] == ["message", "modaction"]
    assert child_items[0]["msg_id"] == one["msg_id"]
    assert child_items[0]["state"] == "delivered"
    parent_items = {i["msg_id"]: i for i in conv.parent.box.items(conv.id) if i["kind"] == "message"}
    assert parent_items[one["msg_id"]]["state"] == "delivered"
    assert parent_items[two["msg_id"]]["state"] == "rejected"
    assert parent_items[two["msg_id"]]["reason"] == "Please do not ask for the address yet."
    assert conv.mod.box.held() == []


def test_premoderation_state_and_closing(open_conversation: Any) -> None:
    conv: Conv = open_conversation()
    with pytest.raises(ApiError) as not_mod:
        conv.child.box.set_state(conv.id, state="paused")
    assert not_mod.value.status == 403
    assert conv.mod.box.set_state(conv.id, premoderated=True)["premoderated"] is True
    assert conv.parent.box.send(conv.id, "held now")[1]["state"] == "held"
    conv.mod.box.set_state(conv.id, premoderated=False)
    conv.mod.box.set_state(conv.id, state="paused", reason="checking something")
    with pytest.raises(ApiError) as paused:
        conv.parent.box.send(conv.id, "hello?")
    assert paused.value.status == 409
    assert "paused" in paused.value.message
    conv.mod.box.set_state(conv.id, state="open")
    assert conv.parent.box.send(conv.id, "back")[1]["state"] == "delivered"
    conv.mod.box.set_state(conv.id, state="closed")
    with pytest.raises(ApiError) as closed:
        conv.child.box.send(conv.id, "hello?")
    assert "closed" in closed.value.message
    with pytest.raises(ApiError):
        conv.mod.box.set_state(conv.id, state="open")


def test_premoderation_stays_on_for_a_minor(open_conversation: Any) -> None:
    conv: Conv = open_conversation(minor=True)
    with pytest.raises(ApiError) as err:
        conv.mod.box.set_state(conv.id, premoderated=False)
    assert err.value.field == "premoderated"


# --- reports -------------------------------------------------------------------------------------


def test_report_is_stored_only_when_text_and_kf_recompute(open_conversation: Any) -> None:
    conv: Conv = open_conversation()
    conv.parent.box.send(conv.id, "Tell me where you live.")
    roster = conv.child.box.conversation(conv.id)
    item = conv.child.box.items(conv.id)[0]
    opened = conv.child.box.open(roster, item)
    assert opened.message is not None
    url = f"/api/v1/conversations/{conv.id}/messages/{item['msg_id']}/report"
    other_m = p.pad_plaintext("Tell me where you work.", opened.message.sent_at)
    for m, kf in ((other_m, opened.message.kf), (opened.message.m, secrets.token_bytes(32))):
        with pytest.raises(ApiError) as err:
            conv.child.client.post(url, {"m": p.b64e(m), "kf": p.b64e(kf)})
        assert err.value.status == 400
    assert conv.mod.box.reports() == []
    with pytest.raises(ApiError) as own:
        conv.parent.client.post(url, {"m": p.b64e(opened.message.m), "kf": p.b64e(opened.message.kf)})
    assert own.value.status == 403
    answer = conv.child.box.report(conv.id, opened, "This worries me.")
    assert answer["id"].startswith("rp-")
    [rep] = conv.mod.box.reports()
    assert rep["text"] == "Tell me where you live."
    assert rep["note"] == "This worries me."
    assert p.verify_report(
        p.b64d(item["envelope"]["header"]), p.b64d(rep["m"]), p.b64d(rep["kf"]), p.b64d(item["envelope"]["c"])
    )
    with pytest.raises(ApiError):
        conv.child.box.reports()


# --- key changes ---------------------------------------------------------------------------------


def test_a_childs_reset_pauses_the_conversation_until_a_moderator_confirms(
    open_conversation: Any, make_user: Any, app: Any
) -> None:
    conv: Conv = open_conversation()
    conv.parent.box.send(conv.id, "before the reset")
    admin = make_user("admin")
    code = auth_services.issue_reset(admin.user, conv.child.id)
    db.session.commit()
    fresh = act_as(app, make_user("parent"))  # any logged-out client can finish a reset
    session, _ = fresh.client.complete_reset(conv.child.made.user.username, code, "a brand new password")
    assert session.keys.epoch == 2
    stored = db.session.scalars(select(Conversation).where(Conversation.public_id == conv.id)).one()
    db.session.refresh(stored)
    assert stored.keys_changed_pending is True
    roster = conv.parent.box.conversation(conv.id)
    assert roster["keys_changed_pending"] is True
    assert roster["key_changes"][0]["user_id"] == conv.child.id
    with pytest.raises(ApiError) as paused:
        conv.parent.box.send(conv.id, "after the reset")
    assert paused.value.status == 409
    assert "keys changed" in paused.value.message
    changed = {r["user_id"]: r["keys_changed_at"] for r in roster["roster"]}
    assert changed[conv.child.id] is not None
    assert changed[conv.parent.id] is None
    answer = conv.mod.box.set_state(conv.id, confirm_keys=True)
    assert all(r["keys_changed_at"] is None for r in answer["roster"])
    assert answer["keys_changed_pending"] is False
    assert answer["key_changes"][0]["confirmed"] is True
    assert conv.parent.box.send(conv.id, "after the reset")[1]["index"] == 2


def test_an_adult_parents_reset_only_marks_the_conversation(open_conversation: Any, make_user: Any, app: Any) -> None:
    conv: Conv = open_conversation()
    admin = make_user("admin")
    code = auth_services.issue_reset(admin.user, conv.parent.id)
    db.session.commit()
    act_as(app, make_user("parent")).client.complete_reset(conv.parent.made.user.username, code, "another password")
    roster = conv.child.box.conversation(conv.id)
    assert roster["keys_changed_pending"] is False
    assert roster["key_changes"][0]["user_id"] == conv.parent.id
    assert conv.child.box.send(conv.id, "still here")[1]["state"] == "delivered"


# --- paging, limits, visibility ------------------------------------------------------------------


def test_pages_follow_the_chain(open_conversation: Any) -> None:
    conv: Conv = open_conversation()
    for n in range(5):
        conv.parent.box.send(conv.id, f"message {n}")
    page = conv.child.client.get(f"/api/v1/conversations/{conv.id}/messages", after=0, limit=2)
    assert [i["index"] for i in page["items"]] == [1, 2]
    assert page["more"] is True
    assert page["next_after"] == 2
    page = conv.child.client.get(f"/api/v1/conversations/{conv.id}/messages", after=4, limit=2)
    assert [i["index"] for i in page["items"]] == [5]
    assert page["more"] is False
    assert len(conv.child.box.items(conv.id, page=2)) == 5
    with pytest.raises(ApiError):
        conv.child.client.get(f"/api/v1/conversations/{conv.id}/messages", limit=100000)


def test_sending_is_rate_limited_per_person(open_conversation: Any, app: Any) -> None:
    conv: Conv = open_conversation()
    app.config["MAILBOX_SEND_LIMIT"] = "3 per minute"
    for n in range(3):
        conv.parent.box.send(conv.id, f"n{n}")
    with pytest.raises(ApiError) as limited:
        conv.parent.box.send(conv.id, "one too many")
    assert limited.value.status == 429
    conv.child.box.send(conv.id, "the other person still can")


def test_strangers_see_nothing(open_conversation: Any, make_user: Any, app: Any) -> None:
    conv: Conv = open_conversation()
    conv.parent.box.send(conv.id, "private")
    stranger = act_as(app, make_user("parent"))
    for path in ("", "/messages", "/export"):
        with pytest.raises(ApiError) as err:
            stranger.client.get(f"/api/v1/conversations/{conv.id}{path}")
        assert err.value.status == 404
    assert stranger.box.conversations() == []
    mod = db.session.scalars(select(User).where(User.role == Role.MODERATOR)).first()
    assert mod is not None
    msg = db.session.scalars(select(Message)).one()
    assert msg.state == MessageState.DELIVERED
