"""Redis stops while claims are filed and messages sent: both are saved and answered; the sweep catches up."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from reunite.claims.models import Claim
from reunite.client import protocol as p
from reunite.client.api import Client, Mailbox
from reunite.extensions import db
from reunite.mailbox import services as mailbox_services
from reunite.mailbox.models import Conversation, Message
from reunite.proposals.models import Proposal
from tests.conftest import PASSWORD, LiveServer, running_server
from tests.faults.conftest import PrivateRedis, celery_worker, make_people, refreshed, wait_until
from tests.faults.families import family

pytestmark = [pytest.mark.services, pytest.mark.slow]
BEFORE, DURING, AFTER = range(0, 1), range(1, 5), range(5, 6)  # families filed in each phase


@pytest.fixture(scope="module")
def org() -> p.Identity:
    return p.new_identity()


@pytest.fixture(scope="module")
def server(
    fault_env: dict[str, str], org: p.Identity, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    env = dict(fault_env, ORG_PUBLIC_KEY=p.b64e(org.pk))
    with running_server(env, tmp_path_factory.mktemp("gunicorn") / "gunicorn.log") as live:
        yield live


class Filed:
    """What the clients sent and what the server acknowledged."""

    def __init__(self) -> None:
        self.claims: dict[str, tuple[int, str]] = {}  # public id -> (family, role)
        self.messages: list[str] = []  # msg ids acknowledged with a verified receipt


def _file_family(n: int, child: Client, parent: Client, filed: Filed) -> None:
    parent_data, child_data = family(n)
    for client, data in ((child, child_data), (parent, parent_data)):
        answer = client.post("/api/v1/claims", data)  # raises ApiError on anything but 2xx
        filed.claims[answer["id"]] = (n, str(data["role"]))


def _send(box: Mailbox, cid: str, filed: Filed, text: str) -> None:
    sent, _receipt = box.send(cid, text)  # raises unless the server's signed receipt verifies
    filed.messages.append(p.b64e(sent.msg_id))


def test_claims_and_messages_survive_a_redis_outage(
    local_app: Flask,
    server: LiveServer,
    fault_env: dict[str, str],
    private_redis: PrivateRedis,
    org: p.Identity,
    tmp_path: Path,
) -> None:
    people = make_people("rd", org.seed)
    child, parent = Client(server.url), Client(server.url)
    child.login(people["child"], PASSWORD)
    parent.login(people["parent"], PASSWORD)
    talk: list[Mailbox] = []
    for name in ("talk_child", "talk_parent"):
        client = Client(server.url)
        talk.append(Mailbox(client, client.login(people[name], PASSWORD)))
    cid = people["cid"]
    filed = Filed()

    worker_args = ("--beat", "--schedule", str(tmp_path / "beat-schedule"))
    with celery_worker(fault_env, tmp_path / "worker.log", *worker_args):
        for n in BEFORE:
            _file_family(n, child, parent, filed)
        _send(talk[0], cid, filed, "before the outage")

        private_redis.stop()
        for n in DURING:
            _file_family(n, child, parent, filed)
            _send(talk[n % 2], cid, filed, f"during the outage {n}")
        # Saved although nothing could be queued: none of them can have been matched yet.
        db.session.rollback()
        during = [public_id for public_id, (n, _role) in filed.claims.items() if n in DURING]
        stored = db.session.scalars(select(Claim).where(Claim.public_id.in_(during))).all()
        assert len(stored) == len(during) == 2 * len(DURING)
        assert all(claim.matched_version is None for claim in stored)

        private_redis.start()  # empty: whatever was queued before is gone too
        for n in AFTER:
            _file_family(n, child, parent, filed)
        _send(talk[1], cid, filed, "after the outage")

        wait_until(refreshed(lambda: _all_matched(filed)), 120, "the sweep to match every claim")

    _assert_counts_agree(filed, cid)


def _all_matched(filed: Filed) -> bool:
    matched = db.session.scalar(
        select(func.count())
        .select_from(Claim)
        .where(Claim.public_id.in_(filed.claims), Claim.matched_version == Claim.version)
    )
    return matched == len(filed.claims)


def _assert_counts_agree(filed: Filed, cid: str) -> None:
    db.session.rollback()
    # Claims: every acknowledged claim is stored once, and each family is proposed exactly once.
    stored = dict(db.session.execute(select(Claim.public_id, Claim.id).where(Claim.public_id.in_(filed.claims))).all())
    assert sorted(stored) == sorted(filed.claims)
    pairs: dict[int, dict[str, int]] = {}
    for public_id, (n, role) in filed.claims.items():
        pairs.setdefault(n, {})[role] = stored[public_id]
    expected = Counter({(ids["child"], ids["parent"]) for ids in pairs.values()})
    claim_ids = list(stored.values())
    rows = db.session.execute(
        select(Proposal.child_claim_id, Proposal.parent_claim_id).where(
            Proposal.child_claim_id.in_(claim_ids) | Proposal.parent_claim_id.in_(claim_ids)
        )
    ).all()
    assert Counter(tuple(row) for row in rows) == expected
    # Messages: every acknowledged message is stored exactly once, and nothing else is.
    conv = db.session.scalars(select(Conversation).where(Conversation.public_id == cid)).one()
    msg_ids: list[Any] = list(db.session.scalars(select(Message.msg_id).where(Message.conversation_id == conv.id)))
    assert Counter(p.b64e(bytes(m)) for m in msg_ids) == Counter(filed.messages)
    assert len(filed.messages) == len(BEFORE) + len(DURING) + len(AFTER)
    chains = mailbox_services.verify_chains()
    assert chains.is_ok, chains.problems[:3]
