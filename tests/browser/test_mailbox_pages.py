"""The mailbox pages in Chromium: a child (Japanese, phone) and a parent (English) talk, a moderator decides.

Accounts, claims, the proposal, both approvals and both consents are made with the services on
the live server's PostgreSQL database (the same code the pages call); everything after that
happens through the pages: unlocking keys, encrypting, holding, releasing, rejecting, reporting.
"""

from __future__ import annotations

import copy
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reunite.client import protocol as p
from tests.browser.pages import login, open_conversation, set_up_totp, unlock
from tests.conftest import LiveServer
from tests.proposals.conftest import CHILD, PARENT

pytestmark = [pytest.mark.services, pytest.mark.usefixtures("fresh_limits")]

PASSWORD = "mailbox page password"
TIMEOUT = 30_000


@pytest.fixture(scope="module")
def org(org_identity: Any) -> Any:
    """The organisation key of the live server (its public half is the server's configuration)."""
    return org_identity


@dataclass
class World:
    """The people of one conversation (usernames and public ids) and its id."""

    child: str
    child_id: str
    parent: str
    parent_id: str
    mod1: str
    mod2: str
    cid: str
    parent_secrets: list[str]  # base64url of the parent's private seeds, to prove they stay in memory


def _make_world(live: LiveServer, org: Any) -> World:
    """Accounts, claims, the match, two approvals and both consents, on the live database."""
    from sqlalchemy import select

    from reunite import create_app
    from reunite.auth import services as auth_services
    from reunite.auth.models import Role
    from reunite.claims import services as claim_services
    from reunite.cli import create_account
    from reunite.extensions import db
    from reunite.mailbox.models import Conversation
    from reunite.moderation import services as mod_services
    from reunite.proposals.models import Proposal, ProposalStatus

    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=live.env["TEST_DATABASE_URL"],
        ORG_PUBLIC_KEY=p.b64e(org.pk),
        RATELIMIT_STORAGE_URI="memory://",
    )
    tag = secrets.token_hex(3)
    with app.app_context():
        child, _ = create_account(f"ゆき{tag}", Role.CHILD, PASSWORD, 2012, "ja")
        parent, _ = create_account(f"john-{tag}", Role.PARENT, PASSWORD, None, "en")
        mods = []
        for n in (1, 2):
            mod, _ = create_account(f"mod{n}-{tag}", Role.MODERATOR, PASSWORD, None, "en" if n == 1 else "ja")
            auth_services.certify_moderator(mod, org.seed, int(time.time() * 1000) + 86_400_000)
            mods.append(mod)
        db.session.commit()
        parent_data = copy.deepcopy(PARENT)
        child_data = copy.deepcopy(CHILD)
        parent_data.pop("role")
        child_data.pop("role")
        pc = claim_services.create_claim(parent, {"role": "parent", **parent_data})
        cc = claim_services.create_claim(child, {"role": "child", **child_data})
        # The proposal row the matcher would write (the matcher itself is tested in tests/proposals).
        proposal = Proposal(
            public_id="pr-" + secrets.token_hex(6),
            child_claim_id=cc.id,
            parent_claim_id=pc.id,
            child_ref="1",
            score=12.0,
            explanation={"matched_forms": []},
            matched_sig=secrets.token_hex(8),
            status=ProposalStatus.PROPOSED,
        )
        db.session.add(proposal)
        db.session.commit()
        for mod in mods:  # a child is involved: two different moderators approve
            db.session.refresh(proposal)
            mod_services.decide(mod, proposal.public_id, "approve", "", proposal.state_version)
            db.session.commit()
        mod_services.answer(child, proposal.public_id, True, "ゆき", "会いたいです")
        mod_services.answer(parent, proposal.public_id, True, "John", "I never stopped looking.")
        db.session.commit()
        conv = db.session.scalars(select(Conversation).where(Conversation.proposal_id == proposal.id)).one()
        assert conv.is_premoderated
        keys = p.derive_login_keys(PASSWORD, parent.kdf_salt, parent.kdf_ops, parent.kdf_mem)
        sign_seed, box_seeds = p.parse_bundle(
            p.open_bundle(parent.bundle_nonce, parent.bundle_ct, keys.wrap_key, parent.username)
        )
        world = World(
            child=child.username,
            child_id=child.public_id,
            parent=parent.username,
            parent_id=parent.public_id,
            mod1=mods[0].username,
            mod2=mods[1].username,
            cid=conv.public_id,
            parent_secrets=[p.b64e(sign_seed), *(p.b64e(s) for s in box_seeds.values())],
        )
        db.session.remove()
        db.engine.dispose()
    return world


def _expire_modcert(live: LiveServer, org: Any, username: str) -> None:
    """Re-certify a moderator with an expiry in the past (as if the organisation had not renewed it)."""
    from reunite import create_app
    from reunite.auth import services as auth_services
    from reunite.extensions import db

    app = create_app(
        "testing", SQLALCHEMY_DATABASE_URI=live.env["TEST_DATABASE_URL"], RATELIMIT_STORAGE_URI="memory://"
    )
    with app.app_context():
        user = auth_services.find_user(username)
        assert user is not None
        auth_services.certify_moderator(user, org.seed, int(time.time() * 1000) - 60_000)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def _login(page: Any, url: str, username: str) -> None:
    login(page, url, username, PASSWORD)


def _staff_login(page: Any, url: str, username: str) -> None:
    """Password, then TOTP set up through the page with a code computed from the shown key."""
    _login(page, url, username)
    page.wait_for_url("**/totp/setup**", timeout=TIMEOUT)
    set_up_totp(page, TIMEOUT)


def _unlock(page: Any) -> None:
    unlock(page, PASSWORD)


def _open_conversation(page: Any, url: str, cid: str) -> None:
    open_conversation(page, url, cid, PASSWORD, TIMEOUT)


def _send(page: Any, text: str) -> None:
    page.fill("#message-text", text)
    page.click("#compose button[type=submit]")
    page.wait_for_selector(f"li.msg.mine:has-text('{text}')", timeout=TIMEOUT)


def _msg(page: Any, text: str) -> Any:
    return page.locator("li.msg", has_text=text)


def _fits_phone(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def _held_decide(
    page: Any, url: str, text: str, action: str, reason: str, shots: Path, tag: str, verified: str = "Verified"
) -> None:
    page.goto(f"{url}/moderator/held")
    _unlock(page)
    page.wait_for_selector("#moderate[data-ready=true]", timeout=TIMEOUT)
    item = page.locator("li.held-item", has_text=text)
    item.wait_for(timeout=TIMEOUT)
    assert item.get_attribute("data-verified") == "true"
    assert verified in item.inner_text()
    if page.viewport_size["width"] <= 390:
        _fits_phone(page)
    page.screenshot(path=str(shots / f"mailbox-{tag}-held.png"), full_page=True)
    if reason:
        item.locator("textarea").fill(reason)
    item.locator(f"button[value={action}]").click()
    page.wait_for_selector(f"li.held-item[data-done={action}]", timeout=TIMEOUT)
    page.screenshot(path=str(shots / f"mailbox-{tag}-{action}-done.png"), full_page=True)


def test_child_and_parent_talk_through_a_moderator(
    live_server: LiveServer, org: Any, new_page: Any, shots_dir: Path
) -> None:
    url = live_server.url
    w = _make_world(live_server, org)

    mod, _ = new_page("en-GB")
    _staff_login(mod, url, w.mod1)

    child, _ = new_page("ja-JP", phone=True)
    _login(child, url, w.child)
    child.wait_for_url("**/account", timeout=TIMEOUT)
    child.goto(f"{url}/conversations")
    child.wait_for_selector("#inbox")
    child.screenshot(path=str(shots_dir / "mailbox-ja-phone-inbox.png"), full_page=True)
    child.goto(f"{url}/conversations/{w.cid}")
    child.wait_for_selector("[data-unlock][data-ready=true]")
    assert child.get_attribute("html", "lang") == "ja"
    child.screenshot(path=str(shots_dir / "mailbox-ja-phone-unlock.png"), full_page=True)
    _unlock(child)
    child.wait_for_selector("#conversation[data-ready=true]", timeout=TIMEOUT)
    assert child.locator("[data-roster-problems]").count() == 0

    parent, _ = new_page("en-GB")
    _login(parent, url, w.parent)
    parent.wait_for_url("**/account", timeout=TIMEOUT)
    _open_conversation(parent, url, w.cid)

    # Both sides compute the same 60-digit safety number for the pair.
    child_sn = child.get_attribute(f"[data-safety-for='{w.parent_id}']", "data-digits")
    parent_sn = parent.get_attribute(f"[data-safety-for='{w.child_id}']", "data-digits")
    assert child_sn
    assert re.fullmatch(r"\d{60}", child_sn)
    assert child_sn == parent_sn
    shown = child.inner_text(f"[data-safety-for='{w.parent_id}']").split()
    assert len(shown) == 12
    assert "".join(shown) == child_sn

    # The child's first message is held: the child sees "held", the parent sees nothing yet.
    first = "お父さん、こんにちは。ゆきです。"
    _send(child, first)
    child.wait_for_selector("li.msg.mine[data-state=held]", timeout=TIMEOUT)
    assert "モデレーター" in _msg(child, first).inner_text()
    _fits_phone(child)
    child.screenshot(path=str(shots_dir / "mailbox-ja-phone-held.png"), full_page=True)
    parent.reload()
    _unlock(parent)
    parent.wait_for_selector("#conversation[data-ready=true]", timeout=TIMEOUT)
    assert _msg(parent, first).count() == 0
    parent.screenshot(path=str(shots_dir / "mailbox-en-parent-waiting.png"), full_page=True)

    # The moderator reads it (decrypted in their browser) and releases it.
    _held_decide(mod, url, first, "release", "", shots_dir, "en-mod-first")
    _msg(parent, first).wait_for(timeout=TIMEOUT)  # polling picks it up
    assert _msg(parent, first).get_attribute("data-state") == "delivered"
    assert "Verified" in _msg(parent, first).inner_text()
    child.wait_for_selector("li.msg.mine[data-state=delivered]", timeout=TIMEOUT)

    # The parent answers; held too (the conversation is pre-moderated), then released.
    reply = "Yuki! I am so happy to hear from you."
    _send(parent, reply)
    parent.wait_for_selector("li.msg.mine[data-state=held]", timeout=TIMEOUT)
    parent.screenshot(path=str(shots_dir / "mailbox-en-parent-reply-held.png"), full_page=True)
    # A second moderator, in Japanese on a phone, releases it.
    mod_ja, _ = new_page("ja-JP", phone=True)
    _staff_login(mod_ja, url, w.mod2)
    _held_decide(mod_ja, url, reply, "release", "問題ありません。", shots_dir, "ja-phone-mod2-reply", "検証済み")
    _msg(child, reply).wait_for(timeout=TIMEOUT)
    assert _msg(child, reply).get_attribute("data-state") == "delivered"
    child.screenshot(path=str(shots_dir / "mailbox-ja-phone-reply.png"), full_page=True)

    # A rejected message never reaches the parent; the child sees "not delivered" and the reason.
    bad = "わたしの住所は大阪市…"
    _send(child, bad)
    mod.goto(f"{url}/conversations")
    counts = mod.wait_for_selector(f"[data-counts-for='{w.cid}'] .badge.held", timeout=TIMEOUT)
    assert "1 waiting for a moderator" in counts.inner_text()
    mod.screenshot(path=str(shots_dir / "mailbox-en-mod-inbox.png"), full_page=True)
    _held_decide(mod, url, bad, "reject", "Please do not share your address yet.", shots_dir, "en-mod-reject")
    child.wait_for_selector("li.msg.mine[data-state=rejected]", timeout=TIMEOUT)
    rejected = _msg(child, bad).inner_text()
    assert "Please do not share your address yet." in rejected
    assert "配信されませんでした" in rejected
    _fits_phone(child)
    child.screenshot(path=str(shots_dir / "mailbox-ja-phone-rejected.png"), full_page=True)
    parent.reload()
    _unlock(parent)
    parent.wait_for_selector("#conversation[data-ready=true]", timeout=TIMEOUT)
    assert _msg(parent, bad).count() == 0
    assert _msg(parent, first).count() == 1

    # The parent reports the child's first message: the dialog explains first, then it is sent.
    _msg(parent, first).locator("button.report").click()
    dialog = parent.locator("#report-dialog")
    dialog.wait_for(state="visible")
    assert "exactly this one message" in dialog.inner_text()
    assert first in dialog.inner_text()
    parent.screenshot(path=str(shots_dir / "mailbox-en-parent-report-dialog.png"), full_page=True)
    parent.fill("#report-note", "Testing the report button.")
    parent.click("[data-report-confirm]")
    parent.wait_for_selector("li.msg[data-reported=true]", timeout=TIMEOUT)
    parent.screenshot(path=str(shots_dir / "mailbox-en-parent-reported.png"), full_page=True)

    mod.goto(f"{url}/moderator/reports")
    _unlock(mod)
    mod.wait_for_selector("#moderate[data-ready=true]", timeout=TIMEOUT)
    report = mod.locator("section.report-item", has_text=first)
    report.wait_for(timeout=TIMEOUT)
    assert report.get_attribute("data-verified") == "true"
    assert "Testing the report button." in report.inner_text()
    mod.screenshot(path=str(shots_dir / "mailbox-en-mod-reports.png"), full_page=True)

    # The moderator pauses the conversation from the report: nobody can send until it reopens.
    report.locator("[data-control=pause]").click()
    mod.wait_for_selector(f"[data-controls-for='{w.cid}'] [data-control=resume]:not([hidden])", timeout=TIMEOUT)

    # The child's open page notices on its next poll; after a reload it says so too.
    child.wait_for_selector("#compose[data-blocked=true]", timeout=TIMEOUT)
    assert child.is_visible("[data-paused=paused]")

    # The child's phone view of the whole thread, and the roster.
    child.reload()
    _unlock(child)
    child.wait_for_selector("#conversation[data-ready=true]", timeout=TIMEOUT)
    _fits_phone(child)
    assert child.get_attribute("#compose", "data-blocked") == "true"
    assert child.is_visible("[data-server-state=paused]")
    child.screenshot(path=str(shots_dir / "mailbox-ja-phone-thread-paused.png"), full_page=True)


def test_wrong_password_and_key_change_warning(
    live_server: LiveServer, org: Any, new_page: Any, shots_dir: Path
) -> None:
    url = live_server.url
    w = _make_world(live_server, org)
    parent, _ = new_page("en-GB")
    _login(parent, url, w.parent)
    parent.wait_for_url("**/account", timeout=TIMEOUT)
    parent.goto(f"{url}/conversations/{w.cid}")
    parent.wait_for_selector("[data-unlock][data-ready=true]")
    parent.fill("#unlock-password", "not my password at all")
    parent.click("[data-unlock] button[type=submit]")
    error = parent.wait_for_selector("[data-unlock] [data-error]:not([hidden])", timeout=TIMEOUT)
    assert "did not open your keys" in error.inner_text()
    _unlock(parent)
    parent.wait_for_selector("#conversation[data-ready=true]", timeout=TIMEOUT)
    assert parent.get_attribute("#compose", "data-blocked") == "false"

    # Pretend this browser pinned another key for the child: the page warns and pauses sending.
    other_key = p.b64e(bytes(32))
    parent.evaluate(
        "([cid, uid, pk]) => localStorage.setItem(`rn-pin-v1:${cid}:${uid}`, pk)", [w.cid, w.child_id, other_key]
    )
    parent.reload()
    _unlock(parent)
    parent.wait_for_selector("#conversation[data-ready=true]", timeout=TIMEOUT)
    warning = parent.wait_for_selector(f"[data-key-changed='{w.child_id}']")
    assert "has changed" in warning.inner_text()
    assert parent.get_attribute("#compose", "data-blocked") == "true"
    assert parent.is_disabled("#message-text")
    parent.screenshot(path=str(shots_dir / "mailbox-en-parent-key-changed.png"), full_page=True)
    # The private keys are in this tab's memory only: not in any storage, pins are public keys.
    stored = parent.evaluate("JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    for secret in w.parent_secrets:
        assert secret not in stored
    assert parent.evaluate("indexedDB.databases().then((dbs) => dbs.length)") == 0
    pins = parent.evaluate("Object.keys(localStorage).filter((k) => k.startsWith('rn-pin-v1:'))")
    assert len(pins) == 3  # the child and both moderators
    parent.click(f"[data-key-changed='{w.child_id}'] button")
    assert parent.get_attribute("#compose", "data-blocked") == "false"


def test_sending_is_refused_when_a_moderator_certificate_expired(
    live_server: LiveServer, org: Any, new_page: Any, shots_dir: Path
) -> None:
    url = live_server.url
    w = _make_world(live_server, org)
    _expire_modcert(live_server, org, w.mod2)
    child, _ = new_page("ja-JP", phone=True)
    _login(child, url, w.child)
    child.wait_for_url("**/account", timeout=TIMEOUT)
    _open_conversation(child, url, w.cid)
    problems = child.wait_for_selector("[data-roster-problems]")
    assert w.mod2 in problems.inner_text()
    assert child.get_attribute("#compose", "data-blocked") == "true"
    assert child.is_disabled("#compose button[type=submit]")
    _fits_phone(child)
    child.screenshot(path=str(shots_dir / "mailbox-ja-phone-roster-refused.png"), full_page=True)
    # The moderator pages are for staff only.
    for path in ("/moderator/held", "/moderator/reports"):
        assert child.request.get(url + path, max_redirects=0).status == 403
