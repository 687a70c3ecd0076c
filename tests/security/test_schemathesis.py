"""Schemathesis against gunicorn on PostgreSQL: generated requests to every operation of the served
OpenAPI document, as the parent of a real conversation and anonymously; no 5xx, and every answer's
status, content type and body as the document says.

The budget is fixed and the generation deterministic, so a CI run is reproducible: the coverage
phase's boundary cases plus at most MAX_EXAMPLES fuzzed cases per operation (about 2,500 requests).
Schemathesis runs as its CLI (its pytest plugin does not run under this pytest version), with a
configuration file written here; on failure the test prints schemathesis's own report, which
includes a curl command reproducing each failure. See docs/openapi.md.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
import requests

from reunite.client import protocol as p
from reunite.client.api import Client, Mailbox
from tests.conftest import LiveServer, flush_redis
from tests.mailbox.test_live import PASSWORD as LIVE_PASSWORD
from tests.mailbox.test_live import _open_conversation

pytestmark = [pytest.mark.services, pytest.mark.slow]

MAX_EXAMPLES = 10
USER_AGENT = "reunite-schemathesis"  # one agent for login and calls: sessions are bound to it ("strong")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


@dataclass(frozen=True)
class Run:
    """Who calls, which phases, how many fuzzed cases per operation, and which operations."""

    phases: str
    max_examples: int
    include_path_regex: str | None = None
    excluded: tuple[str, ...] = ()


RUNS = {
    # Every phase that needs no links, without logging out: a logout revokes the session's cookie
    # everywhere, which would leave the rest of the run anonymous.
    "parent": Run("examples,coverage,fuzzing", MAX_EXAMPLES, excluded=("POST /api/v1/auth/logout",)),
    # A session with a CSRF token that never logged in, logout included: most operations answer 401
    # before reading anything, and the public ones were covered as the parent.
    "anonymous": Run("fuzzing", 3),
    # A certified moderator past TOTP, on the mailbox only (held messages, reports, moderation,
    # conversation state); last, since a generated state change may close the conversation.
    "moderator": Run("fuzzing", 5, include_path_regex="^/api/v1/(conversations|moderator)"),
}


def _config(path: Path, headers: dict[str, str], ids: dict[str, str], max_examples: int) -> Path:
    """A schemathesis.toml of our own, so no file elsewhere changes the run.

    ``ids`` (claim, user, conversation, message) are real identifiers of the logged-in person: half
    the generated paths use them, so the handlers behind the 404 get exercised too.
    """
    lines = [
        "suppress-health-check = ['all']",
        "[headers]",
        *(f"{json.dumps(name)} = {json.dumps(value)}" for name, value in headers.items()),
        "[generation]",
        "mode = 'all'",
        f"max-examples = {max_examples}",
        "deterministic = true",  # derandomised: the same cases on every run, so no seed is needed
        # The session cookie and CSRF header are ours: never replaced by generated values.
        "with-security-parameters = false",
    ]
    for name, value in ids.items():
        lines += [f"[dictionaries.{name}]", f"values = [{json.dumps(value)}]"]
    # The message paths match two entries; theirs comes first and binds both of their parameters.
    bindings = {
        "message": ("^/api/v1/conversations/.*/messages/", "msg_id"),
        "conversation": ("^/api/v1/conversations/", "public_id"),
        "claim": ("^/api/v1/claims/", "public_id"),
        "user": ("^/api/v1/keys/", "public_id"),
    }
    for name in (name for name in bindings if name in ids):
        regex, parameter = bindings[name]
        lines += ["[[operations]]", f"include-path-regex = '{regex}'"]
        if name == "message":
            lines.append(
                "parameters = { 'path.public_id' = { dictionary = 'conversation', probability = 0.5 },"
                " 'path.msg_id' = { dictionary = 'message', probability = 0.5 } }"
            )
        else:
            lines.append(f"parameters = {{ 'path.{parameter}' = {{ dictionary = '{name}', probability = 0.5 }} }}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run(
    live: LiveServer, who: str, headers: dict[str, str], ids: dict[str, str], workdir: Path
) -> tuple[subprocess.CompletedProcess[str], Any]:
    run = RUNS[who]
    config = _config(workdir / "schemathesis.toml", headers, ids, run.max_examples)
    # The document as served, saved to a file: loaded from its URL, schemathesis would leave its
    # own endpoint out of the run.
    served = workdir / "openapi.json"
    served.write_bytes(requests.get(live.url + "/api/v1/openapi.json", timeout=10).content)
    report = workdir / "report.json"
    cli = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [
            str(cli),
            "--config-file",
            str(config),
            "run",
            str(served),
            "--url",
            live.url,
            "--checks",
            CHECKS,
            "--phases",
            run.phases,
            "--workers",
            "2",
            "--request-timeout",
            "30",
            "--report",
            "json",
            "--report-json-path",
            str(report),
            "--no-color",
            *(arg for name in run.excluded for arg in ("--exclude-name", name)),
            *(("--include-path-regex", run.include_path_regex) if run.include_path_regex else ()),
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
    )
    data = json.loads(report.read_text()) if report.exists() else None
    return result, data


def _operations(live: LiveServer) -> set[str]:
    doc = requests.get(live.url + "/api/v1/openapi.json", timeout=10).json()
    return {
        f"{method.upper()} {path}" for path, item in doc["paths"].items() for method in item if method != "parameters"
    }


@pytest.fixture(scope="module")
def conversation(live_server: LiveServer, pg_migrated: str, org_identity: p.Identity, redis_url: str) -> dict[str, Any]:
    """An open, moderated conversation (child under 18, two certified moderators) built straight in
    the database, with one message of the parent's, held for the moderators."""
    from reunite.proposals.services import reset_index

    flush_redis(redis_url)  # earlier tests may have used up the logins allowed from 127.0.0.1
    reset_index()  # the matcher in this process may hold another test's index
    setup = _open_conversation(pg_migrated, org_identity.seed, secrets.token_hex(3))
    client, session = _login(live_server, setup["parent"])
    box = Mailbox(client, session)
    _, answer = box.send(setup["cid"], "A message for the generated requests to find.")
    assert answer["state"] == "held"
    [item] = box.items(setup["cid"])
    setup["msg_id"] = str(item["msg_id"])
    # Staff log in once (a TOTP code is good for one login), here, for every test of the module.
    mod, mod_session = _login(live_server, setup["mods"][0], setup["totp"][0])
    setup["moderator"] = (_headers(mod), _ids(setup, mod_session))
    return setup


def _login(live: LiveServer, username: str, totp_secret: str | None = None) -> tuple[Client, Any]:
    """Log in through the Python client (client-side key derivation), with TOTP for staff."""
    client = Client(live.url)
    client.http.headers["User-Agent"] = USER_AGENT
    session = client.login(username, LIVE_PASSWORD)
    if totp_secret is not None:
        client.totp(pyotp.TOTP(totp_secret).now())
    return client, session


def _headers(client: Client) -> dict[str, str]:
    """The session cookie and CSRF token as plain headers: a generated login cannot change them."""
    cookie = client.http.cookies.get("session")
    assert cookie
    return {"Cookie": f"session={cookie}", "X-CSRFToken": client._token(), "User-Agent": USER_AGENT}


def _ids(conv: dict[str, Any], session: Any) -> dict[str, str]:
    return {"user": str(session.user["id"]), "conversation": conv["cid"], "message": conv["msg_id"]}


def _member(live: LiveServer, conv: dict[str, Any], who: str) -> tuple[dict[str, str], dict[str, str]]:
    """Headers of the conversation's parent or first moderator, and their real ids to put in paths."""
    if who == "moderator":
        headers, ids = conv["moderator"]
        return headers, ids
    client, session = _login(live, conv["parent"])
    [claim] = client.get("/api/v1/claims")["claims"]
    return _headers(client), {"claim": str(claim["id"])} | _ids(conv, session)


def _anonymous(live: LiveServer) -> dict[str, str]:
    """A session that never logged in, with its CSRF token, so writes reach the public views' parsers."""
    http = requests.Session()
    http.headers["User-Agent"] = USER_AGENT
    token = http.get(live.url + "/api/v1/csrf", timeout=10).json()["csrf_token"]
    cookie = http.cookies.get("session")
    assert cookie
    return {"Cookie": f"session={cookie}", "X-CSRFToken": token, "User-Agent": USER_AGENT}


def test_control_characters_in_a_reason_are_refused_not_a_500(
    live_server: LiveServer, conversation: dict[str, Any]
) -> None:
    """PostgreSQL cannot store NUL in text: a moderator's reason with one answered 500 before the
    parser refused control characters (found while probing the API beyond what schemathesis generates)."""
    headers, _ = conversation["moderator"]
    url = f"{live_server.url}/api/v1/conversations/{conversation['cid']}/state"
    for reason in ("a\x00b", "bell\x07"):
        resp = requests.post(url, json={"state": "paused", "reason": reason}, headers=headers, timeout=10)
        assert resp.status_code == 400, resp.text
        assert resp.json()["field"] == "reason"
    # Line breaks and tabs stay allowed. (This test runs before the generated requests, which may
    # close the conversation.)
    fine = requests.post(
        url, json={"premoderated": True, "reason": "two\nlines\tand a tab"}, headers=headers, timeout=10
    )
    assert fine.status_code == 200, fine.text


@pytest.mark.parametrize("who", list(RUNS))
def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(
    live_server: LiveServer, conversation: dict[str, Any], redis_url: str, tmp_path: Path, who: str
) -> None:
    flush_redis(redis_url)
    try:
        headers, ids = (_anonymous(live_server), {}) if who == "anonymous" else _member(live_server, conversation, who)
        if who != "anonymous":
            me = requests.get(live_server.url + "/api/v1/auth/me", headers=headers, timeout=10)
            assert me.status_code == 200, "the headers must carry a live session"
        result, report = _run(live_server, who, headers, ids, tmp_path)
    finally:
        flush_redis(redis_url)  # leave no generated failures counted against 127.0.0.1 for later tests
    output = result.stdout[-20000:] + result.stderr[-5000:]
    assert result.returncode == 0, output
    assert report is not None, output
    print(f"schemathesis as {who}: {report['test_cases']['generated']} cases in {report['running_time']:.0f}s")
    # Every operation of the served document was generated for, none errored or was skipped.
    run = RUNS[who]
    operations = {
        op
        for op in _operations(live_server) - set(run.excluded)
        if run.include_path_regex is None or re.match(run.include_path_regex, op.split(" ", 1)[1])
    }
    assert report["operations"]["tested"] == len(operations), report["operations"]
    assert report["operations"]["errored"] == report["operations"]["skipped"] == 0
    assert report["test_cases"]["generated"] > 2 * len(operations)
    assert report["failures"] == []
    assert report["errors"] == []
    if who != "anonymous":
        # The whole run was made in that session: it outlived the generated requests.
        me = requests.get(live_server.url + "/api/v1/auth/me", headers=headers, timeout=10)
        assert me.status_code == 200
