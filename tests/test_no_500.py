"""Junk at every route: nothing answers 500, whoever asks."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import staff_login

JUNK_BODIES: list[tuple[bytes, str]] = [
    (b"", "application/json"),
    (b"null", "application/json"),
    (b'{"username": 5, "auth_key": [], "code": {}}', "application/json"),
    (b'{"username": "\\u0000\\ud800", "salt": "%%%", "bundle": "x"}', "application/json"),
    # A lone surrogate in text that passes the username rules (found while fuzzing the JSON API).
    (b'{"username": "abc\\ud800"}', "application/json"),
    (b"\x00\xff" * 50, "application/octet-stream"),
    (b"code=%FF%FE&csrf_token=junk", "application/x-www-form-urlencoded"),
    (b"[" * 300, "application/json"),
]


def _concrete(rule: Any) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: "u-0000" if "id" in m.group(1) else "ja", rule.rule)


@pytest.mark.parametrize("who", ["anonymous", "parent", "moderator"])
def test_no_route_answers_500_to_junk(app: Any, api: Any, make_user: Any, login: Any, who: str) -> None:
    if who == "parent":
        assert login(make_user("parent").user.username).status_code == 200
    elif who == "moderator":
        staff_login(app, api, make_user("moderator"))
    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    assert len(rules) > 20
    for rule in rules:
        path = _concrete(rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method == "GET":
                resp = api.client.get(path + "?after=abc&next=//evil.example")
                assert resp.status_code < 500, (method, path, resp.status_code)
                continue
            for body, ctype in JUNK_BODIES:
                for headers in ({"X-CSRFToken": api.csrf()}, {}):
                    resp = api.client.open(path, method=method, data=body, content_type=ctype, headers=headers)
                    assert resp.status_code < 500, (method, path, body[:30], resp.status_code)
                    if path.startswith("/api/"):
                        assert resp.is_json, (method, path)
                        if resp.status_code >= 400:
                            assert resp.get_json()["message"], (method, path)


@pytest.mark.parametrize("who", ["parent", "moderator"])
def test_every_form_refuses_control_characters(app: Any, api: Any, make_user: Any, login: Any, who: str) -> None:
    """A NUL would reach PostgreSQL (which cannot store it) from any page form: each is refused, by name."""
    if who == "parent":
        assert login(make_user("parent").user.username).status_code == 200
    else:
        staff_login(app, api, make_user("moderator"))
    rules = [r for r in app.url_map.iter_rules() if "POST" in (r.methods or set()) and not r.rule.startswith("/api/")]
    assert len(rules) > 10
    for rule in rules:
        for text in ("a\x00b", "\x1b[31m"):
            resp = api.client.post(
                _concrete(rule), data={"csrf_token": api.csrf(), "reason": text, "note": "fine\r\nhere"}
            )
            assert resp.status_code == 400, (rule.rule, resp.status_code)
            assert "This text contains control characters." in resp.get_data(as_text=True), rule.rule
    # Newlines and tabs stay allowed: the same form without the NUL reaches the view.
    resp = api.client.post("/notifications/read", data={"csrf_token": api.csrf(), "note": "two\r\nlines\tand a tab"})
    assert resp.status_code in (302, 303), resp.status_code
