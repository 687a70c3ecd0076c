"""Notification pages and JSON: own only, unread highlighted, mark all read, the e-mail setting."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from reunite.auth.models import User
from reunite.extensions import db
from reunite.notifications import services
from reunite.notifications.models import Notification
from tests.conftest import staff_login


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]* value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]* name="csrf_token"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


def test_pages_need_a_login(client: Any) -> None:
    for path in ("/notifications", "/notifications/settings"):
        resp = client.get(path)
        assert resp.status_code == 302
        assert "/login" in resp.headers["Location"]
    assert client.get("/api/v1/notifications").status_code == 401


def test_list_highlights_unread_and_marks_all_read(make_user: Any, login: Any, api: Any) -> None:
    me = make_user("parent")
    other = make_user("child")
    services.notify(me.user, "a", "/claims/cl-old")
    services.notify(me.user, "b", "/claims/cl-new")
    services.notify(other.user, "c", "/claims/cl-theirs")
    db.session.commit()
    assert login(me.user.username).status_code == 200
    html = api.get("/notifications").get_data(as_text=True)
    assert html.index("/claims/cl-new") < html.index("/claims/cl-old")
    assert "/claims/cl-theirs" not in html
    assert html.count('class="card unread"') == 2
    assert "2 unread" in html
    # Without the CSRF token nothing changes.
    assert api.client.post("/notifications/read").status_code == 400
    assert services.unread_count(me.user) == 2
    resp = api.client.post("/notifications/read", data={"csrf_token": _token(html)})
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/notifications")
    db.session.expire_all()
    assert services.unread_count(me.user) == 0
    assert services.unread_count(other.user) == 1
    html = api.get("/notifications").get_data(as_text=True)
    assert 'class="card unread"' not in html
    assert "Mark all read" not in html


def test_json_lists_only_ones_own(make_user: Any, login: Any, api: Any) -> None:
    me = make_user("parent")
    other = make_user("child")
    mine = services.notify(me.user, "proposal.decided", "/claims/cl-1")
    services.notify(other.user, "proposal.decided", "/claims/cl-2")
    db.session.commit()
    login(me.user.username)
    body = api.get("/api/v1/notifications").get_json()
    assert body["unread"] == 1
    assert [n["id"] for n in body["notifications"]] == [mine.id]
    item = body["notifications"][0]
    assert item["link"] == "/claims/cl-1"
    assert item["kind"] == "proposal.decided"
    assert item["is_read"] is False
    assert item["read_at"] is None
    assert "mail_state" not in item


def test_set_and_clear_the_address(make_user: Any, login: Any, api: Any) -> None:
    me = make_user("parent")
    login(me.user.username)
    page = api.get("/notifications/settings")
    assert page.status_code == 200
    token = _token(page.get_data(as_text=True))
    resp = api.client.post("/notifications/settings", data={"csrf_token": token, "email": "nope"})
    assert resp.status_code == 400
    assert "This does not look like an e-mail address." in resp.get_data(as_text=True)
    assert db.session.get(User, me.user.id).email is None  # type: ignore[union-attr]
    resp = api.client.post("/notifications/settings", data={"csrf_token": token, "email": "Me.Myself@Example.org"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, me.user.id).email == "Me.Myself@Example.org"  # type: ignore[union-attr]
    html = api.get("/notifications/settings").get_data(as_text=True)
    assert "Address saved." in html
    assert "Me.Myself@Example.org" in html
    # New notifications now pend a mail.
    note = services.notify(db.session.get(User, me.user.id), "k", "/x")  # type: ignore[arg-type]
    assert note.mail_state.value == "pending"
    db.session.rollback()
    resp = api.client.post(
        "/notifications/settings", data={"csrf_token": token, "email": "Me.Myself@Example.org", "remove": "1"}
    )
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, me.user.id).email is None  # type: ignore[union-attr]


def test_the_address_is_shown_to_nobody_else(app: Any, make_user: Any, api: Any) -> None:
    person = make_user("parent")
    person.user.email = "secret.person@example.org"
    db.session.commit()
    staff_login(app, api, make_user("admin"))
    for path in ("/admin/users", "/admin/audit/", "/notifications", "/notifications/settings"):
        html = api.get(path).get_data(as_text=True)
        assert "secret.person@example.org" not in html
    assert "secret.person" not in repr(db.session.scalars(select(User)).all())


def test_pages_in_japanese(make_user: Any, login: Any, api: Any) -> None:
    me = make_user("child", locale="ja")
    services.notify(me.user, "k", "/x")
    db.session.commit()
    login(me.user.username)
    html = api.get("/notifications").get_data(as_text=True)
    assert "お知らせ" in html
    assert "すべて既読にする" in html
    assert "通知用のメールアドレス" in api.get("/notifications/settings").get_data(as_text=True)
    assert db.session.scalars(select(Notification)).first() is not None
