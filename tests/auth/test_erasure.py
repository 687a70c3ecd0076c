"""Account erasure: what goes, what the partner keeps, staff refusal, and an interrupted erasure changing nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from reunite.audit import services as audit
from reunite.audit.models import AuditEntry
from reunite.auth import erasure, keylog
from reunite.auth.models import KeyLogEntry, User
from reunite.claims.models import Claim, ClaimRevision
from reunite.client import protocol as p
from reunite.client.api import ApiError
from reunite.extensions import db
from reunite.mailbox.models import Conversation, Member, Message, ReadPosition, Report
from reunite.moderation.models import Consent, ConsentState, Flag
from reunite.moderation.services import flag_claim
from reunite.notifications.models import Notification
from reunite.notifications.services import notify, set_email
from reunite.proposals.models import Proposal, ProposalStatus
from tests.conftest import PASSWORD, derive_auth, staff_login
from tests.mailbox.conftest import Conv, open_conversation  # noqa: F401 - fixture
from tests.moderation.conftest import family, moderator, org  # noqa: F401 - fixtures


def count(model: Any, *where: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def snapshot(user_id: int, claim_ids: list[int]) -> dict[str, Any]:
    """Row counts about one person, plus the whole-table counts an erasure touches."""
    user = db.session.get(User, user_id)
    assert user is not None
    return {
        "claims": count(Claim, Claim.owner_id == user_id),
        "revisions": count(ClaimRevision, ClaimRevision.claim_id.in_(claim_ids)),
        "flags": count(Flag),
        "notifications": count(Notification, Notification.user_id == user_id),
        "all_notifications": count(Notification),
        "read_positions": count(ReadPosition, ReadPosition.user_id == user_id),
        "messages": count(Message),
        "reports": count(Report),
        "members": count(Member),
        "keylog": count(KeyLogEntry),
        "audit": count(AuditEntry),
        "open_conversations": count(Conversation, Conversation.state == "open"),
        "proposal_states": sorted(s.value for s in db.session.scalars(select(Proposal.status))),
        "user": (user.username, user.username_key, user.email, user.auth_hash, user.bundle_ct, user.erased_at),
    }


@pytest.fixture
def talked(app: Any, open_conversation: Any, moderator: Any) -> Conv:  # noqa: F811
    """An open conversation with a message each way, read by both, one reported, a flag and an e-mail address."""
    conv: Conv = open_conversation()
    conv.parent.box.send(conv.id, "I never stopped looking for you.")
    conv.child.box.send(conv.id, "I remember the garden.")
    for person in (conv.child, conv.parent):
        assert len(conv.child.box.items(conv.id)) == 2
        person.box.items(conv.id)
    roster = conv.child.box.conversation(conv.id)
    parents_message = next(i for i in conv.child.box.items(conv.id) if i["sender_id"] == conv.parent.id)
    conv.child.box.report(conv.id, conv.child.box.open(roster, parents_message), "this frightened me")
    parent = db.session.get(User, conv.parent.made.user.id)
    assert parent is not None
    set_email(parent, "john@example.org")
    notify(parent, "proposal_decided", "/matches")
    claim = db.session.scalars(select(Claim).where(Claim.owner_id == parent.id)).one()
    flag_claim(conv.mod.made.user, claim.public_id, "court order pending")
    db.session.commit()
    return conv


def parent_claim_ids(conv: Conv) -> list[int]:
    return list(db.session.scalars(select(Claim.id).where(Claim.owner_id == conv.parent.made.user.id)))


def test_erasure_removes_the_person_and_the_partner_keeps_a_closed_verifiable_conversation(talked: Conv) -> None:
    conv = talked
    parent_id, child_id = conv.parent.made.user.id, conv.child.made.user.id
    username = conv.parent.made.user.username
    claim_ids = parent_claim_ids(conv)
    before_parent = snapshot(parent_id, claim_ids)
    before_child = snapshot(child_id, [])
    assert before_parent["claims"] == 1
    assert before_parent["revisions"] == 1
    assert before_parent["flags"] == 1
    assert before_parent["notifications"] >= 1
    assert before_parent["read_positions"] == 1

    answer = conv.parent.client.delete_account(PASSWORD)
    assert answer["erased"] is True
    assert answer["id"] == conv.parent.id
    db.session.expire_all()

    after_parent = snapshot(parent_id, claim_ids)
    assert after_parent["claims"] == 0
    assert after_parent["revisions"] == 0
    assert after_parent["flags"] == 0
    assert after_parent["notifications"] == 0
    assert after_parent["read_positions"] == 0
    # The partner's record: every message and the report stay, the roster keeps its three members.
    assert after_parent["messages"] == before_parent["messages"] == 2
    assert after_parent["reports"] == before_parent["reports"] == 1
    assert after_parent["members"] == before_parent["members"] == 3
    assert after_parent["keylog"] == before_parent["keylog"] + 1
    assert after_parent["audit"] == before_parent["audit"] + 1
    assert after_parent["open_conversations"] == 0
    assert after_parent["proposal_states"] == ["closed"]

    user = db.session.get(User, parent_id)
    assert user is not None
    assert user.is_erased
    assert (user.username, user.email, user.auth_hash, user.recovery_hash) == ("", None, "", "")
    assert user.bundle_ct == b""
    assert user.recovery_ct == b""
    assert user.kdf_salt == bytes(16)
    assert user.username_key.startswith("erased:")
    assert username not in user.username_key
    assert user.totp_sealed is None
    assert user.birth_year is None
    assert count(Consent, Consent.user_id == parent_id, Consent.shared_name != "") == 0
    assert count(Consent, Consent.user_id == parent_id, Consent.state == ConsentState.WITHDRAWN) == 1
    proposal = db.session.scalars(select(Proposal)).one()
    assert proposal.parent_claim_id is None
    assert proposal.child_claim_id is not None
    assert proposal.explanation == {}
    assert proposal.status == ProposalStatus.CLOSED

    # The child keeps the conversation, closed, and every message still verifies in their client.
    after_child = snapshot(child_id, [])
    assert after_child["claims"] == before_child["claims"] == 1
    assert after_child["read_positions"] == 1
    assert after_child["notifications"] == before_child["notifications"] + 2  # match closed, member left
    kinds = set(db.session.scalars(select(Notification.kind).where(Notification.user_id == child_id)))
    assert {"member_left", "conversation_closed"} <= kinds
    roster = conv.child.box.conversation(conv.id)
    assert roster["state"] == "closed"
    assert roster["close_reason"] == "account_erased"
    texts = sorted(conv.child.box.open(roster, item).message.text for item in conv.child.box.items(conv.id))  # type: ignore[union-attr]
    assert texts == ["I never stopped looking for you.", "I remember the garden."]
    page = conv.child.client.http.client.get(f"/conversations/{conv.id}")  # type: ignore[attr-defined]
    assert "deleted their account" in page.get_data(as_text=True)
    match_page = conv.child.client.http.client.get(f"/matches/{proposal.public_id}")  # type: ignore[attr-defined]
    assert match_page.status_code == 200
    assert "John" not in match_page.get_data(as_text=True)  # the name the parent had shared is gone
    # The moderators' notice links to the review page: it says what happened (not a 404), keeps the
    # decisions on record and offers nothing to decide.
    review = conv.mod.client.http.client.get(f"/moderator/proposals/{proposal.public_id}")  # type: ignore[attr-defined]
    assert review.status_code == 200
    review_html = review.get_data(as_text=True)
    assert "One of the two people deleted their account" in review_html
    assert "Decisions so far" in review_html
    assert "Approve</button>" not in review_html

    # The audit log says that an account was erased, with the opaque id and nothing more.
    entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert entry is not None
    assert (entry.action, entry.target_type, entry.target_id) == ("account.erased", "account", conv.parent.id)
    assert (entry.actor_id, entry.actor_username, entry.reason, entry.details) == (None, None, "", {})
    assert audit.verify().is_ok
    # The key log grew by a "retired" entry for the same public keys and still verifies.
    last = db.session.scalars(select(KeyLogEntry).order_by(KeyLogEntry.seq.desc())).first()
    assert last is not None
    assert (last.event, last.user_public_id) == ("retired", conv.parent.id)
    assert last.identity_pk == user.identity_pk
    assert keylog.verify().is_ok

    # The session ended, the old name logs into nothing, and the name is free again.
    with pytest.raises(ApiError) as err:
        conv.parent.client.whoami()
    assert err.value.status == 401


def test_the_username_is_released_and_the_tombstone_cannot_log_in(talked: Conv, make_user: Any, api: Any) -> None:
    username = talked.parent.made.user.username
    auth_key, _ = derive_auth(api, username, PASSWORD)
    talked.parent.client.delete_account(PASSWORD)
    refused = api.post("/api/v1/auth/login", {"username": username, "auth_key": p.b64e(auth_key)})
    assert refused.status_code == 401
    again = make_user("parent", username=username)
    assert again.user.public_id != talked.parent.id
    # The old conversation still names the departed member with the name the enc_certs sign.
    roster = talked.child.box.conversation(talked.id)["roster"]
    departed = next(r for r in roster if r["user_id"] == talked.parent.id)
    assert departed["username"] == username


def test_wrong_password_missing_confirmation_and_csrf_change_nothing(talked: Conv, app: Any) -> None:
    claim_ids = parent_claim_ids(talked)
    before = snapshot(talked.parent.made.user.id, claim_ids)
    client = talked.parent.client
    with pytest.raises(ApiError) as err:
        client.delete_account("not the password")
    assert err.value.status == 401
    with pytest.raises(ApiError) as err:
        client.post("/api/v1/account/delete", {"auth_key": p.b64e(bytes(32))})
    assert (err.value.status, err.value.field) == (400, "confirm")
    with pytest.raises(ApiError) as err:
        client.post("/api/v1/account/delete", {"auth_key": "not base64!", "confirm": True})
    assert (err.value.status, err.value.field) == (400, "auth_key")
    raw = talked.parent.client.http.client  # type: ignore[attr-defined]
    no_token = raw.post("/api/v1/account/delete", json={"auth_key": p.b64e(bytes(32)), "confirm": True})
    assert no_token.status_code == 400
    db.session.expire_all()
    assert snapshot(talked.parent.made.user.id, claim_ids) == before
    assert client.whoami()["id"] == talked.parent.id


def test_an_interrupted_erasure_leaves_everything_as_it_was(
    talked: Conv, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit append (the last step) fails: the rollback must undo every earlier step."""
    parent_id = talked.parent.made.user.id
    claim_ids = parent_claim_ids(talked)
    before = snapshot(parent_id, claim_ids)
    before_child = snapshot(talked.child.made.user.id, [])
    auth_key, _ = derive_auth(api, talked.parent.made.user.username, PASSWORD)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(audit, "record", broken)
    user = db.session.get(User, parent_id)
    assert user is not None
    with pytest.raises(OSError, match="disk full"):
        erasure.erase_account(user, auth_key)
    db.session.rollback()
    db.session.expire_all()
    assert snapshot(parent_id, claim_ids) == before
    assert snapshot(talked.child.made.user.id, []) == before_child
    assert talked.child.box.conversation(talked.id)["state"] == "open"
    assert talked.parent.client.whoami()["id"] == talked.parent.id


def test_staff_cannot_erase_themselves(talked: Conv) -> None:
    mod = talked.mod
    with pytest.raises(ApiError) as err:
        mod.client.delete_account(PASSWORD)
    assert err.value.status == 403
    assert "ask an administrator" in err.value.message
    page = mod.client.http.client.get("/account/delete")  # type: ignore[attr-defined]
    assert page.status_code == 200
    assert "data-staff-refusal" in page.get_data(as_text=True)
    db.session.expire_all()
    user = db.session.get(User, mod.made.user.id)
    assert user is not None
    assert not user.is_erased
    assert user.username == mod.made.user.username


def test_an_account_without_claims_or_conversations_is_erased_too(make_user: Any, login: Any, api: Any) -> None:
    made = make_user("child")
    assert login(made.user.username).status_code == 200
    auth_key, _ = derive_auth(api, made.user.username, PASSWORD)
    resp = api.post("/api/v1/account/delete", {"auth_key": p.b64e(auth_key), "confirm": True})
    assert resp.status_code == 200, resp.get_json()
    assert api.get("/api/v1/auth/me").status_code == 401
    db.session.expire_all()
    user = db.session.get(User, made.user.id)
    assert user is not None
    assert user.is_erased


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_delete_page_warns_in_both_languages(make_user: Any, login: Any, client: Any, lang: str) -> None:
    made = make_user("parent", locale=lang)
    assert login(made.user.username).status_code == 200
    client.set_cookie("lang", lang)
    html = client.get("/account/delete", headers={"Accept-Language": lang}).get_data(as_text=True)
    assert 'data-flow="erase"' in html
    if lang == "ja":
        assert "アカウントを削除" in html
    else:
        assert "This cannot be undone." in html
        assert "What stays, and why" in html


def test_admins_see_a_tombstone_and_cannot_reset_it(talked: Conv, app: Any, api: Any, make_user: Any) -> None:
    talked.parent.client.delete_account(PASSWORD)
    admin = make_user("admin")
    staff_login(app, api, admin)
    html = api.get("/admin/users").get_data(as_text=True)
    assert f"Deleted account {talked.parent.id}" in html
    assert f"/admin/users/{talked.parent.id}/reset" not in html
    resp = api.client.post(f"/admin/users/{talked.parent.id}/reset", headers={"X-CSRFToken": api.csrf()})
    assert resp.status_code == 404


def test_wrong_password_proofs_are_rate_limited(make_user: Any, login: Any, api: Any) -> None:
    """The session is bound to its address (session protection), so the per-address login limit applies."""
    made = make_user("parent")
    assert login(made.user.username).status_code == 200
    body = {"auth_key": p.b64e(bytes(32)), "confirm": True}
    statuses = [api.post("/api/v1/account/delete", body).status_code for _ in range(12)]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    db.session.expire_all()
    user = db.session.get(User, made.user.id)
    assert user is not None
    assert not user.is_erased
