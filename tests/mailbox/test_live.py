"""A whole moderated exchange against gunicorn on PostgreSQL (limits on Redis): a child's and a parent's
Python clients and two moderators, held messages, release and rejection, a report, an export that
verifies offline, the chain check, and no plaintext in the database or the server's log."""

from __future__ import annotations

import copy
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy import select

from reunite import create_app
from reunite.auth import services as auth_services
from reunite.auth.models import Role
from reunite.cli import create_account
from reunite.client import protocol as p
from reunite.client.api import Client, Mailbox
from reunite.extensions import db
from tests.conftest import ROOT, LiveServer, running_server, service_env
from tests.proposals.conftest import CHILD, PARENT

pytestmark = [pytest.mark.services, pytest.mark.slow]
PASSWORD = "a long live password"


@pytest.fixture(scope="module")
def org_seed() -> bytes:
    return p.new_identity().seed


@pytest.fixture(scope="module")
def limits_url(redis_url: str) -> str:
    """A Redis database of these tests' own for rate limits (logins from 127.0.0.1 are counted per address)."""
    return redis_url.rsplit("/", 1)[0] + "/13"


@pytest.fixture(autouse=True)
def _fresh_limits(limits_url: str) -> None:
    import redis

    client = redis.Redis.from_url(limits_url)
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def mailbox_server(
    pg_migrated: str, limits_url: str, org_seed: bytes, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The live_server set-up with an organisation key configured (the shared fixture has none)."""
    org_pk = p.b64e(p.new_identity(org_seed).pk)
    env = service_env(pg_migrated, TEST_RATELIMIT_STORAGE_URI=limits_url, ORG_PUBLIC_KEY=org_pk)
    log = tmp_path_factory.mktemp("live-mailbox") / "gunicorn.log"
    # Access and debug logs on: the plaintext scan reads them.
    with running_server(env, log, extra=("--access-logfile", "-", "--log-level", "debug")) as server:
        yield server


def _open_conversation(pg_url: str, org_seed: bytes, tag: str) -> dict[str, Any]:
    """Accounts, claims, matching, two approvals and both consents, written straight to PostgreSQL."""
    from reunite.claims import services as claim_services
    from reunite.mailbox.models import Conversation
    from reunite.moderation import services as moderation
    from reunite.proposals import services as matcher
    from reunite.proposals.models import Proposal

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=pg_url, ORG_PUBLIC_KEY=p.b64e(p.new_identity(org_seed).pk))
    with app.app_context():
        child, _ = create_account(f"yuki-{tag}", Role.CHILD, PASSWORD, 2012)
        parent, _ = create_account(f"john-{tag}", Role.PARENT, PASSWORD)
        mods = [create_account(f"mod{n}-{tag}", Role.MODERATOR, PASSWORD)[0] for n in (1, 2)]
        secrets_ = []
        for mod in mods:
            auth_services.certify_moderator(mod, org_seed, int(time.time() * 1000) + 86_400_000)
            secrets_.append(auth_services.begin_totp(mod))
            mod.totp_confirmed_at = mod.created_at
        db.session.commit()
        parent_data, child_data = copy.deepcopy(PARENT), copy.deepcopy(CHILD)
        parent_data.pop("role"), child_data.pop("role")
        pc = claim_services.create_claim(parent, {"role": "parent", **parent_data})
        cc = claim_services.create_claim(child, {"role": "child", **child_data})
        db.session.commit()
        matcher.match_claim(pc.id)
        matcher.match_claim(cc.id)
        db.session.commit()
        proposal = db.session.scalars(
            select(Proposal).where(Proposal.child_claim_id == cc.id, Proposal.parent_claim_id == pc.id)
        ).one()
        for mod in mods:
            db.session.refresh(proposal)
            moderation.decide(mod, proposal.public_id, "approve", "", proposal.state_version)
            db.session.commit()
        moderation.answer(child, proposal.public_id, True, "Yuki", "")
        moderation.answer(parent, proposal.public_id, True, "John", "")
        db.session.commit()
        conv = db.session.scalars(select(Conversation).where(Conversation.proposal_id == proposal.id)).one()
        out = {
            "cid": conv.public_id,
            "child": child.username,
            "parent": parent.username,
            "mods": [m.username for m in mods],
            "totp": secrets_,
        }
        db.session.remove()
        db.engine.dispose()
    return out


def _cli(live: LiveServer, pins: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, REUNITE_PASSWORD=PASSWORD, REUNITE_PINS=str(pins))
    return subprocess.run(
        [sys.executable, "-m", "reunite.client", "--server", live.url, *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _all_cells(pg_url: str) -> list[tuple[str, bytes]]:
    import psycopg

    cells = []
    with psycopg.connect(pg_url) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")]
        assert {"message", "mod_action", "message_report"} <= set(tables)
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - names from the catalogue
                for value in row:
                    if value is not None:
                        raw = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
                        cells.append((table, raw))
    return cells


def test_live_moderated_exchange_report_export_and_no_plaintext(
    mailbox_server: LiveServer, pg_migrated: str, org_seed: bytes, tmp_path: Path
) -> None:
    live = mailbox_server
    setup = _open_conversation(pg_migrated, org_seed, secrets.token_hex(3))
    cid = setup["cid"]
    pins = tmp_path / "pins.json"
    marker = f"LIVE-{secrets.token_hex(5)}"
    to_report = f"REPORTED-{secrets.token_hex(5)}"
    rejected = f"REJECTED-{secrets.token_hex(5)}"

    # the parent sends with the command-line client; the child with the library
    sent = _cli(live, pins, "send", setup["parent"], cid, f"Yuki, it is Dad. {marker}")
    assert sent.returncode == 0, sent.stderr
    _cli(live, pins, "send", setup["parent"], cid, f"{to_report} where is your school?")
    child_client = Client(live.url)
    child = Mailbox(child_client, child_client.login(setup["child"], PASSWORD))
    _, held_answer = child.send(cid, f"Is it really you? {rejected}")
    assert held_answer["state"] == "held"
    assert child.items(cid) == [i for i in child.items(cid) if i["sender_id"] == child.me]

    # the moderators open the held messages, release two and reject one, signed
    mods = []
    for name, secret in zip(setup["mods"], setup["totp"], strict=True):
        client = Client(live.url)
        session = client.login(name, PASSWORD)
        client.totp(pyotp.TOTP(secret).now())
        mods.append(Mailbox(client, session))
    held = mods[0].held()
    assert len(held) == 3
    roster = mods[0].conversation(cid)
    for n, item in enumerate(held):
        opened = mods[0].open(roster, item)
        assert opened.message is not None
        if rejected in opened.message.text:
            mods[1].moderate(cid, item, "reject", "Not yet, please.")
        else:
            mods[n % 2].moderate(cid, item, "release", "")
    assert mods[0].held() == []

    # the child reads with the command-line client: texts, safety numbers, pins
    read = _cli(live, pins, "read", setup["child"], cid)
    assert read.returncode == 0, read.stderr
    assert marker in read.stdout
    assert "safety number with parent" in read.stdout
    assert "failed verification" not in read.stdout
    parent_client = Client(live.url)
    parent = Mailbox(parent_client, parent_client.login(setup["parent"], PASSWORD))
    assert [i["sender_id"] for i in parent.items(cid) if i["kind"] == "message"].count(child.me) == 0
    mine = [i for i in child.items(cid) if i["kind"] == "message" and i["sender_id"] == child.me]
    assert [i["state"] for i in mine] == ["rejected"]
    assert mine[0]["reason"] == "Not yet, please."

    # the child reports one message; the moderators see its text
    target = next(
        i
        for i in child.items(cid)
        if i["kind"] == "message"
        and (o := child.open(child.conversation(cid), i)).message
        and to_report in o.message.text
    )
    rep = _cli(live, pins, "report", setup["child"], cid, target["msg_id"], "--note", "worried", "--yes")
    assert rep.returncode == 0, rep.stderr
    assert [r["text"] for r in mods[0].reports()] == [f"{to_report} where is your school?"]

    # export with plaintexts, verify offline, then break one byte
    bundle = tmp_path / "evidence.json"
    exp = _cli(live, pins, "export", setup["child"], cid, "--out", str(bundle))
    assert exp.returncode == 0, exp.stderr
    keys = child.server_keys()
    ok = _cli(
        live, pins, "verify-export", str(bundle), f"--server-pk={p.b64e(keys[0])}", f"--org-pk={p.b64e(keys[1] or b'')}"
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "VERIFIED" in ok.stdout
    raw = bytearray(bundle.read_bytes())
    i = raw.index(b'"sig":"') + 12
    raw[i] = ord("A") if raw[i] != ord("A") else ord("B")
    bundle.write_bytes(bytes(raw))
    bad = _cli(live, pins, "verify-export", str(bundle))
    assert bad.returncode == 1
    assert "VERIFICATION FAILED at entry" in bad.stderr

    # the operator's chain check
    flask = Path(sys.executable).parent / "flask"
    check = subprocess.run(
        [str(flask), "reunite", "mailbox", "verify"], cwd=ROOT, env=live.env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    assert "mailbox OK" in check.stdout

    # no plaintext anywhere but the report, and none in the server's log
    cells = _all_cells(pg_migrated)
    for secret_text in (marker, rejected):
        assert [t for t, raw in cells if secret_text.encode() in raw] == []
    assert {t for t, raw in cells if to_report.encode() in raw} == {"message_report"}
    log = live.log.read_text(errors="replace")
    assert "POST /api/v1/conversations/" in log  # the log was captured
    for secret_text in (marker, rejected, to_report):
        assert secret_text not in log
    assert "Traceback" not in log


def test_live_concurrent_retries_store_one_message_and_the_chain_stays_whole(
    mailbox_server: LiveServer, pg_migrated: str, org_seed: bytes
) -> None:
    """Eight copies of one send at once (a client retrying): one row, one receipt for all; then two people
    sending at once still leave a gap-free chain."""
    from concurrent.futures import ThreadPoolExecutor

    import psycopg

    live = mailbox_server
    setup = _open_conversation(pg_migrated, org_seed, secrets.token_hex(3))
    cid = setup["cid"]
    boxes = []
    for name in (setup["parent"], setup["child"]):
        client = Client(live.url)
        boxes.append(Mailbox(client, client.login(name, PASSWORD)))
    parent = boxes[0]
    roster = parent.conversation(cid)
    members = [p.RosterMember(r["user_id"], p.b64d(r["enc_pk"]), r["epoch"]) for r in roster["roster"]]
    sent = p.encrypt_message(parent.session.keys.sign_seed, cid, parent.me, 1, members, "once only", "2026-11-27")
    body = {"msg_id": p.b64e(sent.msg_id), "seq": 1, "envelope": sent.envelope.to_json()}
    token = parent.client._token()
    url = f"{live.url}/api/v1/conversations/{cid}/messages"

    def post(_n: int) -> tuple[int, dict[str, Any]]:
        resp = parent.client.http.post(url, json=body, headers={"X-CSRFToken": token}, timeout=30)
        return resp.status_code, resp.json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(8)))
    assert sorted(status for status, _ in answers) == [200] * 7 + [201]
    assert len({a["receipt"] for _s, a in answers}) == 1

    def burst(box: Mailbox) -> list[int]:
        return [int(box.send(cid, f"burst {n}")[1]["index"]) for n in range(10)]

    with ThreadPoolExecutor(2) as pool:
        indices = sorted(i for part in pool.map(burst, boxes) for i in part)
    assert indices == list(range(2, 22))
    with psycopg.connect(pg_migrated) as conn:
        count = conn.execute(
            "SELECT count(*) FROM message m JOIN conversation c ON c.id = m.conversation_id WHERE c.public_id = %s",
            (cid,),
        ).fetchone()
    assert count is not None
    assert count[0] == 21
    flask = Path(sys.executable).parent / "flask"
    check = subprocess.run(
        [str(flask), "reunite", "mailbox", "verify"], cwd=ROOT, env=live.env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
