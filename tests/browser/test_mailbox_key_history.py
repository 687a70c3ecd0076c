"""The conversation page after a child's admin reset: earlier messages stay verified for the parent
(checked against the keys the child had when they were sent), and the child sees the messages sealed
to their lost keys as "sent to your previous keys", not as failed verification."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_mailbox_pages import (
    PASSWORD,
    TIMEOUT,
    _held_decide,
    _login,
    _make_world,
    _msg,
    _open_conversation,
    _send,
    _staff_login,
    org,  # noqa: F401 - fixture
)
from tests.conftest import LiveServer

pytestmark = [pytest.mark.services, pytest.mark.usefixtures("fresh_limits")]


def _reset_child(live: LiveServer, username: str, child_id: str) -> None:
    """An administrator issues a reset code; the child finishes it (new keys, epoch 2, same password)."""
    from reunite import create_app
    from reunite.auth import services as auth_services
    from reunite.auth.models import Role
    from reunite.cli import create_account
    from reunite.client.api import Client
    from reunite.extensions import db

    app = create_app(
        "testing", SQLALCHEMY_DATABASE_URI=live.env["TEST_DATABASE_URL"], RATELIMIT_STORAGE_URI="memory://"
    )
    with app.app_context():
        admin, _ = create_account(f"admin-{secrets.token_hex(3)}", Role.ADMIN, PASSWORD, None, "en")
        code = auth_services.issue_reset(admin, child_id)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    session, _ = Client(live.url).complete_reset(username, code, PASSWORD)
    assert session.keys.epoch == 2


def test_messages_from_before_a_childs_reset_stay_verified_on_the_page(
    live_server: LiveServer,
    org: Any,  # noqa: F811
    new_page: Any,
    shots_dir: Path,
) -> None:
    url = live_server.url
    w = _make_world(live_server, org)
    mod, _ = new_page("en-GB")
    _staff_login(mod, url, w.mod1)
    child, _ = new_page("ja-JP", phone=True)
    _login(child, url, w.child)
    child.wait_for_url("**/account", timeout=TIMEOUT)
    _open_conversation(child, url, w.cid)
    parent, _ = new_page("en-GB")
    _login(parent, url, w.parent)
    parent.wait_for_url("**/account", timeout=TIMEOUT)
    _open_conversation(parent, url, w.cid)

    from_child = f"child before the reset {secrets.token_hex(2)}"
    from_parent = f"parent before the reset {secrets.token_hex(2)}"
    _send(child, from_child)
    _held_decide(mod, url, from_child, "release", "", shots_dir, "en-mod-before-reset")
    _send(parent, from_parent)
    _held_decide(mod, url, from_parent, "release", "", shots_dir, "en-mod-before-reset-parent")

    _reset_child(live_server, w.child, w.child_id)

    # The parent: both earlier messages are verified against the child's keys of that time.
    _open_conversation(parent, url, w.cid)
    for text in (from_child, from_parent):
        item = _msg(parent, text)
        item.wait_for(timeout=TIMEOUT)
        assert item.get_attribute("data-state") == "delivered"
    assert "Verified" in _msg(parent, from_child).inner_text()
    assert parent.locator("li.msg[data-state=failed]").count() == 0
    assert parent.locator("li.msg[data-state=previous-keys]").count() == 0
    parent.screenshot(path=str(shots_dir / "mailbox-en-parent-after-child-reset.png"), full_page=True)

    # The child (new keys): both were sealed to the lost key; the page says so honestly.
    child.context.clear_cookies()
    _login(child, url, w.child)
    child.wait_for_url("**/account", timeout=TIMEOUT)
    _open_conversation(child, url, w.cid)
    child.wait_for_selector("li.msg[data-state=previous-keys]", timeout=TIMEOUT)
    assert child.locator("li.msg[data-state=previous-keys]").count() == 2
    assert child.locator("li.msg[data-state=failed]").count() == 0
    assert from_child not in child.inner_text("#conversation")
    child.screenshot(path=str(shots_dir / "mailbox-ja-phone-previous-keys.png"), full_page=True)
