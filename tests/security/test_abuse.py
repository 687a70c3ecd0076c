"""Abuse: brute force and floods throttled, huge or deep JSON refused before parsing, session
fixation and replay, CSRF on every write, open redirects, and the headers and cookies of real responses.

What tests/auth already covers is not repeated here: prelogin per address, failed logins per account
across addresses, invalid-registration floods per address, one oversized and one deep body on
prelogin, a missing CSRF token on one JSON and one form route, a planted session key, and the
headers of /login.
"""

from __future__ import annotations

import secrets
from http.cookies import SimpleCookie
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from reunite.auth.models import User
from reunite.claims.models import Claim
from reunite.client import account
from reunite.client import protocol as p
from reunite.extensions import db
from tests.conftest import PASSWORD, Api, derive_auth, staff_login


def _from(app: Flask, address: str) -> Api:
    api = Api(app.test_client())
    api.client.environ_base["REMOTE_ADDR"] = address
    return api


def _users() -> int:
    return int(db.session.scalar(select(func.count(User.id))) or 0)


# --- brute force and floods ---------------------------------------------------------------------


def test_failed_logins_are_throttled_per_address_across_accounts(app: Flask, make_user: Any) -> None:
    people = [make_user("parent") for _ in range(3)]
    attacker = _from(app, "10.1.0.1")
    statuses = [
        attacker.post(
            "/api/v1/auth/login", {"username": people[i % 3].user.username, "auth_key": p.b64e(bytes(32))}
        ).status_code
        for i in range(12)
    ]
    assert statuses[:10] == [401] * 10  # no account reached its own limit (4 tries each)
    assert statuses[10:] == [429, 429]
    # The right password from that address is throttled too; from another address it works.
    key, _ = derive_auth(_from(app, "10.1.0.2"), people[0].user.username, PASSWORD)
    body = {"username": people[0].user.username, "auth_key": p.b64e(key)}
    assert attacker.post("/api/v1/auth/login", body).status_code == 429
    assert _from(app, "10.1.0.3").post("/api/v1/auth/login", body).status_code == 200


@pytest.mark.parametrize("known", [True, False])
def test_prelogin_is_throttled_per_account_across_addresses(app: Flask, make_user: Any, known: bool) -> None:
    name = make_user("parent").user.username if known else "nobody-" + secrets.token_hex(3)
    statuses = [
        _from(app, f"10.2.{i // 200}.{i % 200 + 1}").post("/api/v1/auth/prelogin", {"username": name}).status_code
        for i in range(32)
    ]
    # Known and unknown names are throttled alike, so the limit tells nothing about who exists.
    assert statuses[:30] == [200] * 30
    assert statuses[30:] == [429, 429]
    # The same name in another case or width is the same account.
    assert _from(app, "10.2.9.1").post("/api/v1/auth/prelogin", {"username": name.upper()}).status_code == 429
    other = make_user("parent").user.username
    assert _from(app, "10.2.9.2").post("/api/v1/auth/prelogin", {"username": other}).status_code == 200


def _registration(name: str) -> dict[str, Any]:
    keys = account.new_keyset()
    body: dict[str, Any] = {"username": name, "role": "parent", "locale": "en"}
    body |= account.credential_fields(name, PASSWORD, keys, 1, 8 * 1024 * 1024)
    body |= account.key_fields(name, keys).fields
    return body


def test_a_flood_of_valid_registrations_makes_at_most_the_limit_of_accounts(app: Flask) -> None:
    before = _users()
    flood = _from(app, "10.3.0.1")
    statuses = []
    for i in range(12):
        statuses.append(flood.post("/api/v1/auth/register", _registration(f"flood-{i}")).status_code)
    assert statuses == [201] * 10 + [429, 429]
    assert _users() == before + 10
    assert _from(app, "10.3.0.2").post("/api/v1/auth/register", _registration("not-a-flood")).status_code == 201


# --- huge and deep bodies -------------------------------------------------------------------------


@pytest.fixture
def parent_api(app: Flask, make_user: Any) -> Api:
    """A logged-in parent on their own client."""
    api = _from(app, "10.4.0.1")
    made = make_user("parent")
    key, _ = derive_auth(api, made.user.username, PASSWORD)
    assert api.post("/api/v1/auth/login", {"username": made.user.username, "auth_key": p.b64e(key)}).status_code == 200
    return api


@pytest.mark.parametrize("path", ["/api/v1/claims", "/api/v1/auth/password", "/api/v1/conversations/cv-x/messages"])
def test_oversized_bodies_are_refused_on_every_kind_of_json_write(parent_api: Api, path: str) -> None:
    body = b'{"notes": "' + b"a" * (300 * 1024) + b'"}'
    resp = parent_api.client.post(
        path, data=body, content_type="application/json", headers={"X-CSRFToken": parent_api.csrf()}
    )
    assert resp.status_code == 413
    assert resp.get_json()["message"]
    assert db.session.scalar(select(func.count(Claim.id))) == 0


def test_an_oversized_form_is_refused(parent_api: Api) -> None:
    resp = parent_api.client.post("/claims/new", data={"csrf_token": parent_api.csrf(), "notes": "a" * (300 * 1024)})
    assert resp.status_code == 413
    assert db.session.scalar(select(func.count(Claim.id))) == 0


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("path", ["/api/v1/claims", "/api/v1/auth/prelogin"])
def test_deep_json_is_refused_before_it_is_parsed(app: Flask, parent_api: Api, path: str) -> None:
    limit = app.config["MAX_JSON_DEPTH"]
    # 100,000 levels in 0.6 MB would crash a recursive parser; it never gets that far (413 on size),
    # and 40,000 levels inside the size limit are refused by the bracket scan, naming the limit.
    for depth, status in ((100_000, 413), (40_000, 400), (limit + 1, 400)):
        resp = parent_api.client.post(
            path, data=_nested(depth), content_type="application/json", headers={"X-CSRFToken": parent_api.csrf()}
        )
        assert resp.status_code == status, (depth, resp.status_code)
        if status == 400:
            assert f"at most {limit} levels" in resp.get_json()["message"], depth
    # At the limit the body is parsed and judged on its fields instead.
    resp = parent_api.client.post(
        path, data=_nested(limit - 1), content_type="application/json", headers={"X-CSRFToken": parent_api.csrf()}
    )
    assert resp.status_code == 400
    assert "levels" not in resp.get_json()["message"]
    assert db.session.scalar(select(func.count(Claim.id))) == 0


# --- sessions -------------------------------------------------------------------------------------


def test_a_fixed_session_cookie_gives_the_attacker_nothing(app: Flask, make_user: Any) -> None:
    made = make_user("parent")
    attacker = _from(app, "10.5.0.1")
    attacker.csrf()
    planted = attacker.client.get_cookie("session")
    assert planted is not None
    victim = _from(app, "10.5.0.1")
    victim.client.set_cookie("session", planted.value)
    key, _ = derive_auth(victim, made.user.username, PASSWORD)
    assert (
        victim.post("/api/v1/auth/login", {"username": made.user.username, "auth_key": p.b64e(key)}).status_code == 200
    )
    after = victim.client.get_cookie("session")
    assert after is not None
    assert after.value != planted.value
    assert victim.get("/api/v1/auth/me").status_code == 200
    # The attacker's copy of the cookie they planted is still an anonymous session.
    assert attacker.get("/api/v1/auth/me").status_code == 401
    assert attacker.get("/claims").status_code == 302


def test_a_copied_session_cookie_stops_working_at_logout(app: Flask, make_user: Any) -> None:
    made = make_user("parent")
    person = _from(app, "10.5.1.1")
    key, _ = derive_auth(person, made.user.username, PASSWORD)
    assert (
        person.post("/api/v1/auth/login", {"username": made.user.username, "auth_key": p.b64e(key)}).status_code == 200
    )
    stolen = person.client.get_cookie("session")
    assert stolen is not None
    thief = _from(app, "10.5.1.1")
    thief.client.set_cookie("session", stolen.value)
    assert thief.get("/api/v1/auth/me").status_code == 200
    assert person.post("/api/v1/auth/logout", {}).status_code == 200
    assert thief.get("/api/v1/auth/me").status_code == 401
    assert thief.get("/claims").status_code == 302


def test_a_staff_sessions_totp_does_not_survive_a_new_login(app: Flask, make_user: Any) -> None:
    made = make_user("moderator")
    api = _from(app, "10.5.2.1")
    staff_login(app, api, made)
    assert api.get("/moderator/").status_code == 200
    key, _ = derive_auth(api, made.user.username, PASSWORD)
    assert api.post("/api/v1/auth/login", {"username": made.user.username, "auth_key": p.b64e(key)}).status_code == 200
    resp = api.get("/moderator/")
    assert resp.status_code == 302
    assert "/totp/verify" in resp.headers["Location"]


def test_a_staff_password_alone_cannot_change_the_password(app: Flask, make_user: Any) -> None:
    made = make_user("moderator")
    staff_login(app, _from(app, "10.5.3.1"), made)  # TOTP is set up
    salt_before = bytes(made.user.kdf_salt)
    thief = _from(app, "10.5.3.2")
    key, _ = derive_auth(thief, made.user.username, PASSWORD)
    login = thief.post("/api/v1/auth/login", {"username": made.user.username, "auth_key": p.b64e(key)})
    assert login.status_code == 200
    keys = account.open_login_bundle(
        made.user.username,
        PASSWORD,
        made.user.kdf_salt,
        made.user.kdf_ops,
        made.user.kdf_mem,
        login.get_json()["bundle"],
    )
    change = {"old_auth_key": p.b64e(key)} | account.credential_fields(
        made.user.username, "the thief's", keys, 1, 8 << 20
    )
    resp = thief.post("/api/v1/auth/password", change)
    assert resp.status_code == 403
    assert "TOTP" in resp.get_json()["message"]
    assert thief.get("/account/password").status_code == 302
    db.session.expire_all()
    user = db.session.get(User, made.user.id)
    assert user is not None
    assert user.kdf_salt == salt_before  # unchanged: the owner's password still works


# --- CSRF -------------------------------------------------------------------------------------------


def _writes(app: Flask) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        path = rule.rule.replace("<path:filename>", "x").replace("<code>", "en")
        path = path.replace("<public_id>", "x-1").replace("<msg_id>", "AAAA").replace("<flag_id>", "f-1")
        path = path.replace("<claim_id>", "c-1")
        for method in sorted((rule.methods or set()) - {"GET", "HEAD", "OPTIONS"}):
            out.append((method, path))
    return out


def test_every_write_needs_this_sessions_csrf_token(app: Flask, parent_api: Api) -> None:
    writes = _writes(app)
    assert len(writes) > 25
    elsewhere = _from(app, "10.6.0.1").csrf()  # a valid token, but of another session
    for method, path in writes:
        for headers, form in (({}, {}), ({"X-CSRFToken": elsewhere}, {"csrf_token": elsewhere})):
            if path.startswith("/api/"):
                resp = parent_api.client.open(path, method=method, json={}, headers=headers)
                assert resp.status_code == 400, (method, path, headers, resp.status_code)
                assert resp.get_json()["error"] == "csrf", (method, path)
            else:
                resp = parent_api.client.open(path, method=method, data=form)
                assert resp.status_code == 400, (method, path, form, resp.status_code)
                assert "security token" in resp.get_data(as_text=True), (method, path)
    # Still logged in: a refused logout did not log the person out.
    assert parent_api.get("/api/v1/auth/me").status_code == 200


def test_over_https_writes_need_a_same_origin_referer_and_the_pages_let_browsers_send_it(app: Flask) -> None:
    app.config["SESSION_COOKIE_SECURE"] = True
    api = _from(app, "10.6.1.1")
    https = {"base_url": "https://localhost"}
    page = api.client.get("/login", **https)
    # A browser sends a Referer to the same origin only if the policy allows it; "no-referrer" would
    # make every form and JSON write below fail over HTTPS.
    assert page.headers["Referrer-Policy"] in ("same-origin", "strict-origin", "strict-origin-when-cross-origin")
    token = api.client.get("/api/v1/csrf", **https).get_json()["csrf_token"]
    body = {"username": "someone"}
    for referer, status in (("https://localhost/login", 200), (None, 400), ("https://evil.example/", 400)):
        headers = {"X-CSRFToken": token} | ({"Referer": referer} if referer else {})
        resp = api.client.post("/api/v1/auth/prelogin", json=body, headers=headers, **https)
        assert resp.status_code == status, (referer, resp.get_json())


# --- open redirects ---------------------------------------------------------------------------------


EVIL_TARGETS = ["//evil.example/x", "/\\evil.example/x", "/\\/evil.example", "/\t/evil.example", "https://evil.example"]


@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_no_redirect_leaves_the_site(app: Flask, make_user: Any, target: str) -> None:
    api = _from(app, "10.7.0.1")
    resp = api.client.post("/language/en", data={"csrf_token": api.csrf(), "next": target})
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"
    page = api.client.get("/login", query_string={"next": target}).get_data(as_text=True)
    assert 'data-next="/account"' in page  # the default, not the target
    staff_login(app, api, make_user("moderator"))
    resp = api.client.get("/totp/setup", query_string={"next": target})
    assert resp.status_code == 302
    assert "evil.example" not in resp.headers["Location"]
    assert resp.headers["Location"].startswith("/totp/verify")


# --- headers and cookies ------------------------------------------------------------------------------


def _responses(app: Flask, make_user: Any) -> tuple[dict[str, Any], bytes]:
    """One response of every kind over HTTPS with production cookie settings: pages, JSON, errors in
    both, redirects, a static file, a login and a logout; and the auth key the login sent."""
    made = make_user("parent")
    auth_key, _ = derive_auth(_from(app, "10.8.0.9"), made.user.username, PASSWORD)
    app.config["SESSION_COOKIE_SECURE"] = True  # as in production; the client sends it back over HTTPS only
    https = {"base_url": "https://localhost"}
    referer = {"Referer": "https://localhost/login"}  # Flask-WTF checks it on HTTPS (WTF_CSRF_SSL_STRICT)
    anon = _from(app, "10.8.0.1")
    person = _from(app, "10.8.0.2")
    token = person.client.get("/api/v1/csrf", **https).get_json()["csrf_token"]
    out = {
        "page": anon.client.get("/", **https),
        "json": anon.client.get("/api/v1/csrf", **https),
        "json 401": anon.client.get("/api/v1/claims", **https),
        "redirect to login": anon.client.get("/claims", **https),
        "html 404": anon.client.get("/no/such/page", **https),
        "json 404": anon.client.get("/api/v1/no-such-thing", **https),
        "static": anon.client.get("/static/favicon.svg", **https),
        "login": person.client.post(
            "/api/v1/auth/login",
            json={"username": made.user.username, "auth_key": p.b64e(auth_key)},
            headers={"X-CSRFToken": token, **referer},
            **https,
        ),
    }
    assert out["login"].status_code == 200, out["login"].get_json()
    token = out["login"].get_json()["csrf_token"]
    out["json 400"] = person.client.post(
        "/api/v1/auth/prelogin", json={"x": 1}, headers={"X-CSRFToken": token, **referer}, **https
    )
    out["html 403"] = person.client.get("/moderator/", **https)
    out["page logged in"] = person.client.get("/claims", **https)
    out["logout"] = person.client.post("/logout", data={"csrf_token": token}, headers=referer, **https)
    expected = {"json 401": 401, "redirect to login": 302, "html 404": 404, "json 404": 404, "login": 200}
    expected |= {"json 400": 400, "html 403": 403, "page logged in": 200, "logout": 302}
    for kind, status in expected.items():
        assert out[kind].status_code == status, (kind, out[kind].status_code)
    return out, auth_key


def test_security_headers_on_every_kind_of_response(app: Flask, make_user: Any) -> None:
    responses, _ = _responses(app, make_user)
    for kind, resp in responses.items():
        h = resp.headers
        assert resp.status_code < 500, kind
        assert "default-src 'none'" in h["Content-Security-Policy"], kind
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"], kind
        assert "unsafe-inline" not in h["Content-Security-Policy"], kind
        assert h["X-Content-Type-Options"] == "nosniff", kind
        assert h["X-Frame-Options"] == "DENY", kind
        assert h["Referrer-Policy"] == "same-origin", kind  # see the HTTPS write test below
        assert h["Strict-Transport-Security"].startswith("max-age="), kind
        if kind != "static":
            assert h["Cache-Control"] == "no-store", kind
        resp.close()


def test_every_cookie_is_httponly_secure_samesite_and_holds_no_secret(app: Flask, make_user: Any) -> None:
    responses, auth_key = _responses(app, make_user)
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    seen = set()
    deleted: set[tuple[str, str]] = set()
    for kind, resp in responses.items():
        for header in resp.headers.getlist("Set-Cookie"):
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if not morsel.value and (morsel["max-age"] == "0" or "1970" in morsel["expires"]):
                    # A deletion (Flask-Login clears its unused remember cookie without flags): an
                    # expired empty value carries nothing, and the browser drops the cookie.
                    deleted.add((kind, name))
                    continue
                seen.add(kind)
                assert morsel["httponly"], (kind, name)
                assert morsel["secure"], (kind, name)
                assert morsel["samesite"] == "Lax", (kind, name)
                assert not morsel["domain"], (kind, name)  # host-only: no sibling subdomain receives it
                if name == "session" and morsel.value:
                    data = serializer.loads(morsel.value)
                    assert set(data) <= {"_user_id", "_fresh", "_id", "csrf_token", "totp_ok", "lang", "_flashes"}
                    assert p.b64e(auth_key) not in str(data)
                    assert PASSWORD not in str(data)
        resp.close()
    assert "login" in seen  # the rebuilt session
    assert seen & {"page", "json"}  # the anonymous session that carries the CSRF token
    assert ("logout", "session") in deleted
