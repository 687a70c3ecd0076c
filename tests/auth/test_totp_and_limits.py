"""TOTP enforcement for staff pages, and rate limits on the login family."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest

from reunite.auth import services
from reunite.auth.models import User
from reunite.client import protocol as p
from reunite.extensions import db
from tests.conftest import staff_login


def _form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in the form"
    return match.group(1)


@pytest.mark.parametrize("role", ["moderator", "admin"])
def test_staff_pages_wait_for_totp_setup_then_a_code(role: str, api: Any, login: Any, make_user: Any) -> None:
    made = make_user(role)
    assert login(made.user.username).status_code == 200
    target = "/moderator/" if role == "moderator" else "/admin/users"
    resp = api.get(target)
    assert resp.status_code == 302
    assert "/totp/setup" in resp.headers["Location"]
    assert api.get(f"/api/v1/keys/{made.user.public_id}").status_code == 403

    page = api.get("/totp/setup")
    html = page.get_data(as_text=True)
    assert 'src="data:image/svg+xml' in html  # the QR code
    secret = re.search(r'<code class="wrap totp-key">([A-Z2-7]+)</code>', html)
    assert secret
    token = _form_token(html)
    bad = api.client.post("/totp/setup", data={"csrf_token": token, "code": "000000"})
    assert bad.status_code == 200
    assert "not right" in bad.get_data(as_text=True)
    setup_code = pyotp.TOTP(secret.group(1)).now()
    ok = api.client.post("/totp/setup", data={"csrf_token": token, "code": setup_code})
    assert ok.status_code == 302
    assert api.get(target).status_code == 200

    # A new session must pass TOTP again, and a code cannot be replayed.
    api.post("/api/v1/auth/logout", {})
    assert login(made.user.username).status_code == 200
    resp = api.get(target)
    assert resp.status_code == 302
    assert "/totp/verify" in resp.headers["Location"]
    user = db.session.get(User, made.user.id)
    db.session.refresh(user)
    # The very code used at setup (a fresh code could belong to the next 30-second step by now).
    replay = api.post("/api/v1/auth/totp", {"code": setup_code})
    assert replay.status_code == 400  # the step was used at setup
    user.totp_last_step = None
    db.session.commit()
    assert api.post("/api/v1/auth/totp", {"code": pyotp.TOTP(secret.group(1)).now()}).status_code == 200
    assert api.get(target).status_code == 200


def test_parents_and_children_cannot_open_staff_pages(api: Any, login: Any, make_user: Any) -> None:
    made = make_user("parent")
    assert login(made.user.username).status_code == 200
    assert api.get("/moderator/").status_code == 403
    assert api.get("/admin/users").status_code == 403
    assert api.get("/totp/setup").status_code == 403


def test_moderator_cannot_open_admin_pages(app: Any, api: Any, make_user: Any) -> None:
    staff_login(app, api, make_user("moderator"))
    assert api.get("/moderator/").status_code == 200
    assert api.get("/admin/users").status_code == 403


def test_admin_reset_through_the_pages_and_the_api(app: Any, api: Any, make_user: Any) -> None:
    from tests.conftest import Api

    admin = make_user("admin")
    target = make_user("child")
    staff_login(app, api, admin)
    page = api.get("/admin/users").get_data(as_text=True)
    assert target.user.username in page
    resp = api.client.post(f"/admin/users/{target.user.public_id}/reset", data={"csrf_token": _form_token(page)})
    assert resp.status_code == 200
    code = re.search(r'<p class="recovery-key">([A-Z2-7-]+)</p>', resp.get_data(as_text=True))
    assert code
    # The person completes the reset with new keys at epoch 2.
    from reunite.client import account

    person = Api(app.test_client())
    info = person.post("/api/v1/auth/reset/info", {"username": target.user.username, "reset_code": code.group(1)})
    assert info.get_json() == {"epoch": 2}
    keys = account.new_keyset(epoch=2)
    body = {"username": target.user.username, "reset_code": code.group(1)}
    body |= account.credential_fields(target.user.username, "brand new password", keys, 1, 8 << 20)
    body |= account.key_fields(target.user.username, keys).fields
    assert person.post("/api/v1/auth/reset", body).status_code == 200
    db.session.expire_all()
    user = db.session.get(User, target.user.id)
    assert user is not None
    assert user.enc_epoch == 2
    assert user.identity_pk == keys.identity.pk
    # The code works once.
    again = Api(app.test_client()).post(
        "/api/v1/auth/reset/info", {"username": target.user.username, "reset_code": code.group(1)}
    )
    assert again.status_code == 401
    from reunite.auth import keylog

    assert keylog.verify().is_ok
    assert keylog.verify().entries == 3


def test_prelogin_is_rate_limited_per_address(app: Any, api: Any) -> None:
    statuses = [api.post("/api/v1/auth/prelogin", {"username": f"u{i}"}).status_code for i in range(35)]
    assert statuses[:30] == [200] * 30
    assert statuses[-1] == 429


def test_failed_logins_are_throttled_per_account_across_addresses(app: Any, make_user: Any) -> None:
    from tests.conftest import Api

    made = make_user("parent")
    wrong = p.b64e(bytes(32))
    statuses = []
    for i in range(12):
        a = Api(app.test_client())
        env = {"REMOTE_ADDR": f"10.0.0.{i + 1}"}
        a.token = a.client.get("/api/v1/csrf", environ_base=env).get_json()["csrf_token"]
        resp = a.client.post(
            "/api/v1/auth/login",
            json={"username": made.user.username, "auth_key": wrong},
            headers={"X-CSRFToken": a.token},
            environ_base=env,
        )
        statuses.append(resp.status_code)
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    # Another account from the same addresses is unaffected.
    other = make_user("parent")
    a = Api(app.test_client())
    derived = p.derive_login_keys(other.password, other.user.kdf_salt, other.user.kdf_ops, other.user.kdf_mem)
    assert (
        a.post(
            "/api/v1/auth/login", {"username": other.user.username, "auth_key": p.b64e(derived.auth_key)}
        ).status_code
        == 200
    )


def test_registration_flood_is_throttled(api: Any) -> None:
    statuses = [api.post("/api/v1/auth/register", {"username": f"flood{i}"}).status_code for i in range(12)]
    assert statuses[:10] == [400] * 10
    assert statuses[10:] == [429, 429]


def test_totp_secret_is_sealed_at_rest(app: Any, make_user: Any) -> None:
    made = make_user("moderator")
    user = db.session.get(User, made.user.id)
    secret = services.begin_totp(user)
    db.session.commit()
    assert user.totp_sealed is not None
    assert secret.encode() not in user.totp_sealed
