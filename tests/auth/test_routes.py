"""Account routes through the test client, with the real client-side derivation."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from reunite.auth.models import KeyLogEntry, User
from reunite.client import account
from reunite.client import protocol as p
from reunite.extensions import db
from tests.conftest import PASSWORD, derive_auth


def registration_body(username: str, role: str = "parent", password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
    keys = account.new_keyset()
    body: dict[str, Any] = {"username": username, "role": role, "locale": "en"}
    body |= account.credential_fields(username, password, keys, 1, 8 * 1024 * 1024)
    body |= account.key_fields(username, keys).fields
    body |= extra
    return body


def count(model: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_register_login_change_recover_cycle(api: Any, login: Any) -> None:
    keys = account.new_keyset()
    body: dict[str, Any] = {"username": "aiko", "role": "parent", "locale": "en"}
    body |= account.credential_fields("aiko", PASSWORD, keys, 1, 8 * 1024 * 1024)
    new = account.key_fields("aiko", keys)
    body |= new.fields
    resp = api.post("/api/v1/auth/register", body)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["user"]["username"] == "aiko"
    assert count(KeyLogEntry) == 1

    api.post("/api/v1/auth/logout", {})
    resp = login("aiko")
    assert resp.status_code == 200
    data = resp.get_json()
    # The bundle opens with the password-derived wrap key and holds the same seeds.
    pre = api.post("/api/v1/auth/prelogin", {"username": "aiko"}).get_json()
    opened = account.open_login_bundle("aiko", PASSWORD, p.b64d(pre["salt"]), pre["ops"], pre["mem"], data["bundle"])
    assert opened.sign_seed == keys.sign_seed
    assert api.get("/api/v1/auth/me").get_json()["username"] == "aiko"

    # Change password: prove the old auth key, send new salt + auth key + re-sealed bundle.
    old_key, _ = derive_auth(api, "aiko", PASSWORD)
    change = {"old_auth_key": p.b64e(old_key)} | account.credential_fields("aiko", "a new password!", keys, 1, 8 << 20)
    assert api.post("/api/v1/auth/password", change).status_code == 200
    assert login("aiko", PASSWORD).status_code == 401
    assert login("aiko", "a new password!").status_code == 200

    # Recovery with the recovery key: fetch the recovery copy, open it, set a new password.
    rauth = p.b64e(p.recovery_auth(new.recovery_key))
    copy = api.post("/api/v1/auth/recovery", {"username": "aiko", "recovery_auth": rauth}).get_json()
    rb = copy["recovery_bundle"]
    plain = p.open_bundle(p.b64d(rb["nonce"]), p.b64d(rb["ciphertext"]), new.recovery_key, "aiko", recovery=True)
    recovered = account.keyset_from_plaintext(plain)
    assert recovered.box_seeds == keys.box_seeds
    body2 = {"username": "aiko", "recovery_auth": rauth} | account.credential_fields(
        "aiko", "third password", recovered, 1, 8 << 20
    )
    assert api.post("/api/v1/auth/recover", body2).status_code == 200
    assert login("aiko", "third password").status_code == 200
    assert count(KeyLogEntry) == 1  # password changes are not key events


def test_wrong_password_and_unknown_user_get_the_same_answer(api: Any, login: Any, make_user: Any) -> None:
    made = make_user("parent")
    wrong = login(made.user.username, "not the password")
    unknown = login("nobody-here", "whatever")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()


def test_prelogin_fake_salt_is_stable_and_shaped_like_a_real_one(api: Any, make_user: Any) -> None:
    made = make_user("parent")
    real = api.post("/api/v1/auth/prelogin", {"username": made.user.username}).get_json()
    fake1 = api.post("/api/v1/auth/prelogin", {"username": "ghost"}).get_json()
    fake2 = api.post("/api/v1/auth/prelogin", {"username": "ghost"}).get_json()
    assert fake1 == fake2
    assert set(fake1) == set(real)
    assert len(p.b64d(fake1["salt"])) == 16
    assert fake1["ops"] == p.DEFAULT_OPS
    assert fake1["mem"] == p.DEFAULT_MEM


def test_forged_auth_key_is_refused(api: Any, make_user: Any) -> None:
    made = make_user("child")
    resp = api.post("/api/v1/auth/login", {"username": made.user.username, "auth_key": p.b64e(bytes(32))})
    assert resp.status_code == 401


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.pop("auth_key"), "auth_key"),
        (lambda b: b.update(username="bad\u0007name"), "username"),
        (lambda b: b.update(username="has space"), "username"),
        (lambda b: b.update(role="admin"), "role"),
        (lambda b: b.update(salt="!!notbase64"), "salt"),
        (lambda b: b.update(enc_cert=p.b64e(bytes(64))), "enc_cert"),
        (lambda b: b.update(epoch=2), "epoch"),
        (lambda b: b.update(surprise=1), "surprise"),
        (lambda b: b.update(ops=99), "ops"),
        (lambda b: b["bundle"].update(nonce="AAAA"), "bundle.nonce"),
    ],
)
def test_bad_registration_names_the_field_and_writes_nothing(api: Any, mutate: Any, field: str) -> None:
    body = registration_body("mika")
    mutate(body)
    resp = api.post("/api/v1/auth/register", body)
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["field"] == field
    assert count(User) == 0
    assert count(KeyLogEntry) == 0


def test_child_must_give_birth_year(api: Any) -> None:
    resp = api.post("/api/v1/auth/register", registration_body("kid", role="child"))
    assert resp.status_code == 400
    assert resp.get_json()["field"] == "birth_year"
    resp = api.post("/api/v1/auth/register", registration_body("kid", role="child", birth_year=2012))
    assert resp.status_code == 201


def test_duplicate_username_is_a_conflict_even_in_another_case(api: Any) -> None:
    assert api.post("/api/v1/auth/register", registration_body("Hana")).status_code == 201
    api.post("/api/v1/auth/logout", {})
    resp = api.post("/api/v1/auth/register", registration_body("hana"))
    assert resp.status_code == 409
    assert resp.get_json()["field"] == "username"
    assert count(User) == 1


@pytest.mark.parametrize(
    ("data", "ctype"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"username=x", "application/x-www-form-urlencoded"),
        (b"[" * 5000 + b"]" * 5000, "application/json"),
    ],
)
def test_malformed_json_is_a_clear_400(api: Any, data: bytes, ctype: str) -> None:
    resp = api.client.post("/api/v1/auth/prelogin", data=data, content_type=ctype, headers={"X-CSRFToken": api.csrf()})
    assert resp.status_code == 400
    assert resp.get_json()["message"]


def test_oversized_body_is_refused(api: Any) -> None:
    resp = api.client.post(
        "/api/v1/auth/prelogin",
        data=b'{"username": "' + b"a" * 400_000 + b'"}',
        content_type="application/json",
        headers={"X-CSRFToken": api.csrf()},
    )
    assert resp.status_code == 413
    assert resp.get_json()["error"]


def test_json_write_without_csrf_token_is_refused(client: Any) -> None:
    resp = client.post("/api/v1/auth/prelogin", json={"username": "x"})
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "csrf"
    resp = client.post("/api/v1/auth/prelogin", json={"username": "x"}, headers={"X-CSRFToken": "forged"})
    assert resp.status_code == 400


def test_form_post_without_csrf_token_is_refused(client: Any) -> None:
    resp = client.post("/logout", data={})
    assert resp.status_code == 400


def test_login_starts_a_new_session(api: Any, login: Any, make_user: Any) -> None:
    made = make_user("parent")
    api.csrf()
    with api.client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
    token_before = api.token
    assert login(made.user.username).status_code == 200
    with api.client.session_transaction() as sess:
        assert "planted" not in sess
    assert api.token != token_before


def test_password_change_ends_other_sessions(app: Any, make_user: Any, login: Any, api: Any) -> None:
    from tests.conftest import Api

    made = make_user("parent")
    other = Api(app.test_client())
    key, _ = derive_auth(other, made.user.username, PASSWORD)
    assert (
        other.post("/api/v1/auth/login", {"username": made.user.username, "auth_key": p.b64e(key)}).status_code == 200
    )
    assert other.get("/api/v1/auth/me").status_code == 200
    assert login(made.user.username).status_code == 200
    keys = account.open_login_bundle(
        made.user.username,
        PASSWORD,
        made.user.kdf_salt,
        made.user.kdf_ops,
        made.user.kdf_mem,
        api.get("/api/v1/auth/bundle").get_json()["bundle"],
    )
    change = {"old_auth_key": p.b64e(key)} | account.credential_fields(
        made.user.username, "newer password", keys, 1, 8 << 20
    )
    assert api.post("/api/v1/auth/password", change).status_code == 200
    assert api.get("/api/v1/auth/me").status_code == 200
    assert other.get("/api/v1/auth/me").status_code == 401


def test_security_headers_and_cookie_flags(api: Any, login: Any, make_user: Any, app: Any) -> None:
    resp = api.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert resp.headers["Cache-Control"] == "no-store"
    made = make_user("parent")
    app.config["SESSION_COOKIE_SECURE"] = True
    resp = login(made.user.username)
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" in cookie


def test_pages_use_sri_modules_and_no_inline_script(client: Any) -> None:
    for path in ("/register", "/login", "/recover", "/reset"):
        html = client.get(path).get_data(as_text=True)
        assert 'type="module"' in html
        assert 'integrity="sha384-' in html
        for chunk in html.split("<script")[1:]:
            assert "src=" in chunk.split(">")[0], f"inline script on {path}"


def test_healthz_reports_database_and_broker(client: Any) -> None:
    data = client.get("/healthz").get_json()
    assert data == {"status": "ok", "database": "ok", "broker": "in-process"}


def test_healthz_reports_a_broken_broker(app: Any, client: Any) -> None:
    app.config["CELERY_BROKER_URL"] = "redis://127.0.0.1:1/0"
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json()["broker"] == "error"


def test_key_directory_shows_own_keys_but_not_others(api: Any, login: Any, make_user: Any) -> None:
    a = make_user("parent")
    b = make_user("child")
    assert login(a.user.username).status_code == 200
    own = api.get(f"/api/v1/keys/{a.user.public_id}").get_json()
    assert p.verify_enc_cert(
        p.b64d(own["identity_pk"]), a.user.username, p.b64d(own["enc_pk"]), own["epoch"], p.b64d(own["enc_cert"])
    )
    assert api.get(f"/api/v1/keys/{b.user.public_id}").status_code == 404
