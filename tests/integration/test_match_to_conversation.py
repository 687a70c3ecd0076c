"""The whole path from two claims to an open conversation: HTTP, a real worker on Redis, PostgreSQL, SMTP.

A parent and a child (a minor) register and file claims through the JSON API; the worker
proposes the link; two certified moderators with TOTP approve through the review page; both
people are told by mail (which names nobody) and on their page; both accept; the conversation
opens with the child, the parent and both moderators on its roster.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest

from reunite.client import protocol as p
from reunite.client.api import Client
from tests.conftest import ROOT, running_server, running_worker, service_env
from tests.notifications.conftest import body_of, start_smtp

pytestmark = [pytest.mark.services, pytest.mark.usefixtures("fresh_limits")]
BROKER = "redis://127.0.0.1:6379/12"

PARENT_CLAIM = {
    "role": "parent",
    "claimant": {"names": [{"family": "Smith", "given": "John"}], "sex": "M", "nationalities": ["US"]},
    "other_parent": {
        "names": [{"family": "田中", "given": "愛子"}, {"family": "Tanaka", "given": "Aiko", "kind": "reading"}]
    },
    "children": [
        {
            "ref": "1",
            "names": [{"family": "Smith", "given": "Emma Yuki"}],
            "sex": "F",
            "birth_date": "2012-03-04",
            "birth_place": {"city": "Seattle", "country": "US"},
        },
        {"ref": "2", "names": [{"family": "Smith", "given": "Ken"}], "sex": "M", "birth_date": "2014-08-09"},
    ],
    "separated_on": "2016-07",
    "last_known_place": {"city": "Osaka", "country": "JP"},
    "languages": ["en"],
}
CHILD_CLAIM = {
    "role": "child",
    "claimant": {"names": [{"family": "田中", "given": "ゆき"}], "sex": "F", "birth_date": "2012-03-04"},
    "sought_parent": {"names": [{"given": "ジョン"}], "sex": "M"},
    "other_parent": {"names": [{"family": "田中", "given": "愛子"}]},
    "separated_on": "2016",
    "languages": ["ja"],
}


@pytest.fixture
def stack(pg_migrated: str, redis_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    smtp = start_smtp()
    org = p.new_identity()
    org_file = tmp_path / "org.key"
    org_file.write_text(p.b64e(org.seed))
    from tests.conftest import free_port

    port = free_port()
    env = service_env(
        pg_migrated,
        TEST_BROKER_URL=BROKER,
        TEST_MAIL_URL=smtp.url,
        TEST_RATELIMIT_STORAGE_URI=redis_url,
        ORG_PUBLIC_KEY=p.b64e(org.pk),
        PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    try:
        with (
            running_worker(env, tmp_path / "worker.log") as wlog,
            running_server(env, tmp_path / "web.log", port) as web,
        ):
            yield {"web": web, "env": env, "smtp": smtp, "org_file": org_file, "worker_log": wlog}
    finally:
        smtp.controller.stop()


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    flask = Path(sys.executable).parent / "flask"
    out = subprocess.run([str(flask), "reunite", *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert found
    return found.group(1)


def _person(url: str, name: str, role: str, email: str, **kw: Any) -> Client:
    client = Client(url)
    client.register(name, f"{name} password", role, **kw)
    page = client.http.get(url + "/notifications/settings").text
    resp = client.http.post(
        url + "/notifications/settings", data={"csrf_token": _token(page), "email": email, "save": "1"}
    )
    assert resp.status_code == 200, resp.text[-500:]
    assert email in client.http.get(url + "/notifications/settings").text
    return client


def _moderator(stack: dict[str, Any], name: str) -> Client:
    env, url = stack["env"], stack["web"].url
    _cli(
        env, "create-user", "--username", name, "--role", "moderator", "--password-stdin", stdin="moderator password\n"
    )
    _cli(env, "certify-moderator", name, "--org-key", str(stack["org_file"]), "--days", "30")
    mod = Client(url)
    mod.login(name, "moderator password")
    page = mod.http.get(url + "/totp/setup").text
    secret = page.split('<code class="wrap totp-key">')[1].split("<")[0]
    resp = mod.http.post(
        url + "/totp/setup", data={"csrf_token": _token(page), "code": pyotp.TOTP(secret).now()}, allow_redirects=False
    )
    assert resp.status_code == 302
    return mod


def _wait(predicate: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError("timed out")


def test_from_two_claims_to_an_open_conversation(stack: dict[str, Any]) -> None:
    url = stack["web"].url
    smtp = stack["smtp"]
    parent = _person(url, "journey-john", "parent", "john@example.org")
    child = _person(url, "journey-yuki", "child", "yuki@example.org", birth_year=2012, locale="ja")
    # Other tests store the same example family in this database: give this one its own birth date.
    import copy
    import secrets

    birth = f"2012-{secrets.randbelow(12) + 1:02d}-{secrets.randbelow(28) + 1:02d}"
    parent_data, child_data = copy.deepcopy(PARENT_CLAIM), copy.deepcopy(CHILD_CLAIM)
    parent_data["children"][0]["birth_date"] = child_data["claimant"]["birth_date"] = birth
    parent_claim_id = parent.post("/api/v1/claims", parent_data)["id"]
    child_claim_id = child.post("/api/v1/claims", child_data)["id"]

    first, second = _moderator(stack, "journey-mod1"), _moderator(stack, "journey-mod2")
    # Other tests share this database: pick the proposal made for this child's claim.
    import psycopg

    db_url = stack["env"]["TEST_DATABASE_URL"]

    def proposal_id() -> str | None:
        with psycopg.connect(db_url) as conn:
            row = conn.execute(
                "SELECT p.public_id FROM proposal p JOIN claim c ON c.id = p.child_claim_id"
                " JOIN claim pc ON pc.id = p.parent_claim_id WHERE c.public_id = %s AND pc.public_id = %s",
                (child_claim_id, parent_claim_id),
            ).fetchone()
        return row[0] if row else None

    pid = _wait(proposal_id)
    assert pid in first.http.get(url + "/moderator/queue").text
    review = first.http.get(f"{url}/moderator/proposals/{pid}").text
    assert "ジョン ≈ John" in review
    for mod in (first, second):
        page = mod.http.get(f"{url}/moderator/proposals/{pid}").text
        seen = re.search(r'name="seen_version" type="hidden" value="(\d+)"', page)
        assert seen
        resp = mod.http.post(
            f"{url}/moderator/proposals/{pid}/decide",
            data={"csrf_token": _token(page), "action": "approve", "reason": "", "seen_version": seen.group(1)},
        )
        assert resp.status_code in (200, 303)
    assert (
        "Approved" in second.http.get(f"{url}/moderator/proposals/{pid}").text
        or "承認" in second.http.get(f"{url}/moderator/proposals/{pid}").text
    )

    try:
        mails = smtp.inbox.wait_for(2, timeout=60)
    except AssertionError:
        with psycopg.connect(db_url) as conn:
            rows = conn.execute(
                'SELECT n.kind, n.mail_state, u.username, u.email FROM notification n JOIN "user" u ON u.id = n.user_id'
                " WHERE u.username LIKE 'journey-%%'"
            ).fetchall()
        raise AssertionError(f"mails missing; notifications: {rows}") from None
    assert sorted(m["To"] for m in mails) == ["john@example.org", "yuki@example.org"]
    for m in mails:
        body = body_of(m)
        assert f"/matches/{pid}" in body
        for secret in ("Smith", "John", "ゆき", "田中", "journey-", "Seattle", "Osaka"):
            assert secret not in body
            assert secret not in str(m["Subject"])

    for person, shared in ((child, "ゆき"), (parent, "Dad")):
        notes = person.get("/api/v1/notifications")
        assert any(n["link"] == f"/matches/{pid}" for n in notes["notifications"])
        page = person.http.get(f"{url}/matches/{pid}").text
        resp = person.http.post(
            f"{url}/matches/{pid}",
            data={"csrf_token": _token(page), "shared_name": shared, "shared_message": "", "accept": "1"},
        )
        assert resp.status_code == 200
    inbox = child.http.get(url + "/conversations").text
    cid = re.search(r"/conversations/(cv-[0-9a-f]+)", inbox)
    assert cid
    roster = child.get(f"/api/v1/conversations/{cid.group(1)}")["roster"]
    assert sorted(m["role"] for m in roster) == ["child", "moderator", "moderator", "parent"]
    smtp.inbox.wait_for(4, timeout=60)  # both are told by mail that the conversation is open
    assert "reunite.claims.match_claim[" in stack["worker_log"].read_text()
