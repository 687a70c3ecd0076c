"""The admin audit page (filters, pages, access) and the admin actions that write to the log."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from reunite.audit import services as audit
from reunite.audit.models import AuditEntry
from reunite.extensions import db
from tests.conftest import staff_login


def _form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _rows(html: str) -> list[int]:
    """The sequence numbers shown in the table, in page order."""
    return [int(n) for n in re.findall(r"<tr>\s*<td>(\d+)</td>", html)]


def _ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
def admin_client(app: Any, api: Any, make_user: Any) -> Any:
    """An admin logged in with TOTP; returns the Api helper."""
    admin = make_user("admin", username="chief")
    staff_login(app, api, admin)
    api.admin = admin
    return api


def test_page_lists_entries_newest_first_with_who_what_and_why(admin_client: Any) -> None:
    admin = admin_client.admin.user
    audit.record(admin, "account.reset", "user", "pub-aaa", "lost keys", {"via": "page"})
    audit.record(None, "moderator.certify", "user", "pub-bbb", details={"expires_ms": 42})
    db.session.commit()
    resp = admin_client.get("/admin/audit/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert _rows(html) == [2, 1]
    assert "chief" in html
    assert "lost keys" in html
    assert "pub-aaa" in html
    assert "operator (command line)" in html
    assert "&#34;expires_ms&#34;: 42" in html or '"expires_ms": 42' in html


def test_filters_by_action_actor_target_and_dates(admin_client: Any, make_user: Any) -> None:
    admin = admin_client.admin.user
    other = make_user("admin", username="deputy").user
    audit.record(admin, "account.reset", "user", "pub-1")
    audit.record(other, "account.reset", "user", "pub-2")
    audit.record(other, "moderator.certify", "user", "pub-2")
    audit.record(None, "moderator.certify", "user", "pub-3")
    db.session.commit()
    for seq, day in ((1, "2026-01-10"), (2, "2026-02-10"), (3, "2026-03-10"), (4, "2026-03-11")):
        db.session.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(created_ms=_ms(day) + 3600_000))
    db.session.commit()

    def seqs(query: str) -> list[int]:
        resp = admin_client.get("/admin/audit/?" + query)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return _rows(resp.get_data(as_text=True))

    assert seqs("") == [4, 3, 2, 1]
    assert seqs("action=account.reset") == [2, 1]
    assert seqs("actor=DEPUTY") == [3, 2]
    assert seqs("target_id=pub-2") == [3, 2]
    assert seqs("date_from=2026-02-10&date_to=2026-03-10") == [3, 2]
    assert seqs("date_from=2026-03-11") == [4]
    assert seqs("action=moderator.certify&actor=deputy&target_id=pub-2") == [3]
    assert seqs("target_id=nothing-like-this") == []
    # The action filter offers the actions in the log.
    html = admin_client.get("/admin/audit/").get_data(as_text=True)
    assert '<option value="moderator.certify">' in html


def test_bad_dates_are_refused_with_a_message(admin_client: Any) -> None:
    resp = admin_client.get("/admin/audit/?date_from=2026-13-40")
    assert resp.status_code == 400
    resp = admin_client.get("/admin/audit/?date_from=2026-03-10&date_to=2026-03-01")
    assert resp.status_code == 400
    assert "The end date is before the start date." in resp.get_data(as_text=True)


def test_pages_of_fifty_keep_the_filters(admin_client: Any) -> None:
    for i in range(120):
        audit.record(None, "test.bulk" if i % 2 == 0 else "test.other", "user", f"u-{i}")
    db.session.commit()
    first = admin_client.get("/admin/audit/").get_data(as_text=True)
    assert _rows(first) == list(range(120, 70, -1))
    assert "page 1 of 3" in first
    assert 'href="/admin/audit/?page=2"' in first
    third = admin_client.get("/admin/audit/?page=3").get_data(as_text=True)
    assert _rows(third) == list(range(20, 0, -1))
    assert admin_client.get("/admin/audit/?page=9").status_code == 200
    filtered = admin_client.get("/admin/audit/?action=test.bulk").get_data(as_text=True)
    assert len(_rows(filtered)) == 50
    assert "action=test.bulk" in filtered
    assert "page=2" in filtered
    second = admin_client.get("/admin/audit/?action=test.bulk&page=2").get_data(as_text=True)
    assert _rows(second) == list(range(19, 0, -2))


def test_page_is_in_japanese(admin_client: Any) -> None:
    admin_client.admin.user.locale = "ja"
    db.session.commit()
    html = admin_client.get("/admin/audit/").get_data(as_text=True)
    assert "監査ログ" in html
    assert "操作" in html


def test_moderator_gets_403_and_anonymous_goes_to_login(app: Any, api: Any, client: Any, make_user: Any) -> None:
    resp = client.get("/admin/audit/")
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]
    staff_login(app, api, make_user("moderator"))
    assert api.get("/admin/audit/").status_code == 403


def test_admin_reset_writes_an_audit_entry(admin_client: Any, make_user: Any) -> None:
    target = make_user("child")
    page = admin_client.get("/admin/users").get_data(as_text=True)
    resp = admin_client.client.post(
        f"/admin/users/{target.user.public_id}/reset", data={"csrf_token": _form_token(page)}
    )
    assert resp.status_code == 200
    entries = db.session.scalars(select(AuditEntry)).all()
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.action, entry.target_type, entry.target_id) == ("account.reset", "user", target.user.public_id)
    assert (entry.actor_id, entry.actor_username) == (admin_client.admin.user.id, "chief")
    assert audit.verify().is_ok


def test_failed_reset_writes_nothing(admin_client: Any) -> None:
    page = admin_client.get("/admin/users").get_data(as_text=True)
    resp = admin_client.client.post("/admin/users/no-such-user/reset", data={"csrf_token": _form_token(page)})
    assert resp.status_code == 404
    assert db.session.scalars(select(AuditEntry)).all() == []


def test_certify_moderator_writes_an_operator_entry(runner: Any, tmp_path: Path, make_user: Any) -> None:
    key_file = tmp_path / "org.key"
    assert runner.invoke(args=["reunite", "org-key", "create", "--out", str(key_file)]).exit_code == 0
    mod = make_user("moderator")
    out = runner.invoke(args=["reunite", "certify-moderator", mod.user.username, "--org-key", str(key_file)])
    assert out.exit_code == 0, out.output
    entry = db.session.scalars(select(AuditEntry)).one()
    assert (entry.action, entry.target_id, entry.actor_id, entry.actor_username) == (
        "moderator.certify",
        mod.user.public_id,
        None,
        None,
    )
    assert entry.details == {"expires_ms": db.session.get(type(mod.user), mod.user.id).modcert_expires_ms}
    assert runner.invoke(args=["reunite", "audit", "verify"]).exit_code == 0
