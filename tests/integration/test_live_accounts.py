"""The whole account cycle through the Python client against gunicorn on PostgreSQL (limits on Redis)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from reunite.client import protocol as p
from reunite.client.api import ApiError, Client

ROOT = Path(__file__).resolve().parent.parent.parent
pytestmark = [pytest.mark.services, pytest.mark.usefixtures("fresh_limits")]


def _flask_cli(live: Any, *args: str, stdin: str | None = None) -> str:
    flask = Path(sys.executable).parent / "flask"
    result = subprocess.run(
        [str(flask), "reunite", *args], cwd=ROOT, env=live.env, input=stdin, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _admin_session(live: Any) -> Client:
    import psycopg
    import pyotp

    _flask_cli(
        live,
        "create-user",
        "--username",
        "live-admin",
        "--role",
        "admin",
        "--password-stdin",
        stdin="the admin password\n",
    )
    admin = Client(live.url)
    admin.login("live-admin", "the admin password")
    # Staff must pass TOTP: set it up the way the page does, then log in with a code.
    page = admin.http.get(live.url + "/totp/setup").text
    secret = page.split('<code class="wrap totp-key">')[1].split("<")[0]
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    resp = admin.http.post(
        live.url + "/totp/setup", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()}, allow_redirects=False
    )
    assert resp.status_code == 302
    url = live.env["TEST_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT totp_confirmed_at FROM \"user\" WHERE username = 'live-admin'").fetchone()[0]
    return admin


def test_register_login_change_recover_reset_cycle(live_server: Any) -> None:
    live = live_server
    alice = Client(live.url)
    session, recovery = alice.register("live-yuki", "first password", "child", birth_year=2011, locale="ja")
    assert session.user["role"] == "child"
    assert alice.whoami()["username"] == "live-yuki"
    alice.logout()
    with pytest.raises(ApiError) as wrong:
        alice.login("live-yuki", "not my password")
    assert wrong.value.status == 401

    logged = alice.login("live-yuki", "first password")
    assert logged.keys.sign_seed == session.keys.sign_seed
    alice.change_password("first password", "second password")
    with pytest.raises(ApiError):
        Client(live.url).login("live-yuki", "first password")
    assert Client(live.url).login("live-yuki", "second password").keys.box_seeds == session.keys.box_seeds

    recovered = Client(live.url).recover("live-yuki", recovery.lower().replace("-", " "), "third password")
    assert recovered.keys.sign_seed == session.keys.sign_seed
    assert Client(live.url).login("live-yuki", "third password").user["epoch"] == 1

    # Both forgotten: an admin issues a reset code; the person makes new keys at epoch 2.
    admin = _admin_session(live)
    users = admin.http.get(live.url + "/admin/users").text
    token = users.split('name="csrf_token" value="')[1].split('"')[0]
    public_id = session.user["id"]
    resp = admin.http.post(f"{live.url}/admin/users/{public_id}/reset", data={"csrf_token": token})
    assert resp.status_code == 200
    code = resp.text.split('<p class="recovery-key">')[1].split("<")[0]
    fresh, new_recovery = Client(live.url).complete_reset("live-yuki", code, "fourth password")
    assert fresh.user["epoch"] == 2
    assert fresh.keys.sign_seed != session.keys.sign_seed
    assert Client(live.url).login("live-yuki", "fourth password").keys.epoch == 2
    assert p.parse_recovery_key(new_recovery) != p.parse_recovery_key(recovery)
    out = _flask_cli(live, "keylog", "verify")
    assert "key log OK" in out


def test_cli_client_register_login_whoami(live_server: Any) -> None:
    env = dict(os.environ, REUNITE_PASSWORD="cli password 1", REUNITE_SERVER=live_server.url)
    run = [sys.executable, "-m", "reunite.client"]
    reg = subprocess.run(
        [*run, "register", "cli-ken", "--role", "parent"], env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert reg.returncode == 0, reg.stderr
    assert "Recovery key" in reg.stderr
    who = subprocess.run([*run, "whoami", "cli-ken"], env=env, capture_output=True, text=True, cwd=ROOT)
    assert who.returncode == 0
    assert '"username": "cli-ken"' in who.stdout
    bad = subprocess.run(
        [*run, "login", "cli-ken"], env=dict(env, REUNITE_PASSWORD="wrong"), capture_output=True, text=True, cwd=ROOT
    )
    assert bad.returncode == 1
    assert "Wrong username or password" in bad.stderr
    # The password never reached the server's log.
    assert b"cli password 1" not in live_server.log.read_bytes()


def test_rate_limits_are_shared_between_workers_through_redis(live_server: Any) -> None:
    http = requests.Session()
    token = http.get(live_server.url + "/api/v1/csrf").json()["csrf_token"]
    headers = {"X-CSRFToken": token, "X-Forwarded-For": "ignored"}
    codes = [
        http.post(live_server.url + "/api/v1/auth/prelogin", json={"username": f"n{i}"}, headers=headers).status_code
        for i in range(40)
    ]
    # 30 per minute across two gunicorn workers: only a shared (Redis) counter stops at 30.
    assert codes.count(200) == 30
    assert codes[-1] == 429


def test_healthz_on_postgresql(live_server: Any) -> None:
    data = requests.get(live_server.url + "/healthz", timeout=5).json()
    assert data["database"] == "ok"
