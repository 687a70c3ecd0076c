"""PostgreSQL restarts during a load run: clean 503s with a retry hint, nothing half-written, recovery by itself."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select

from reunite.auth.models import Role
from reunite.claims.models import Claim, ClaimRevision
from reunite.cli import create_account
from reunite.client.api import Client
from reunite.extensions import db
from tests.conftest import PASSWORD, LiveServer, running_server
from tests.faults.conftest import PrivatePostgres, wait_until
from tests.faults.families import family

pytestmark = [pytest.mark.services, pytest.mark.slow]
POSTERS = 3


@pytest.fixture(scope="module")
def server(fault_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with running_server(fault_env, log, extra=("--worker-class", "gthread", "--threads", "4")) as live:
        yield live


@dataclass
class Tally:
    """Every answer the load got: (tag, status) per claim post, and anything that was not clean."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    posts: list[tuple[str, int]] = field(default_factory=list)
    unclean: list[str] = field(default_factory=list)

    def count(self, status: int) -> int:
        with self.lock:
            return sum(1 for _tag, got in self.posts if got == status)


def _post_claims(client: Client, name: str, stop: threading.Event, tally: Tally) -> None:
    """File parent claims, each with its own tag, until told to stop; no retries (each post is counted)."""
    token = client._token()
    number = 0
    while not stop.is_set():
        number += 1
        tag = f"Loadtown {name} {number}"
        data, _child = family(number % 8)
        data["last_known_place"] = {"city": tag, "country": "JP"}
        try:
            resp = client.http.post(
                client.base_url + "/api/v1/claims", json=data, headers={"X-CSRFToken": token}, timeout=30
            )
        except requests.RequestException as err:
            with tally.lock:
                tally.unclean.append(f"{tag}: {type(err).__name__}")
            continue
        with tally.lock:
            tally.posts.append((tag, resp.status_code))
            if resp.status_code == 503:
                body = resp.json() if resp.headers.get("Content-Type", "").startswith("application/json") else {}
                if resp.headers.get("Retry-After") != "30" or body.get("error") != "unavailable":
                    tally.unclean.append(f"{tag}: 503 without a retry hint: {resp.headers} {resp.text[:200]}")
            elif resp.status_code != 201:
                tally.unclean.append(f"{tag}: {resp.status_code} {resp.text[:200]}")
        stop.wait(0.02)


def test_a_postgres_restart_answers_503_and_recovers(
    local_app: Flask, server: LiveServer, private_pg: PrivatePostgres, tmp_path: Path
) -> None:
    names = []
    for n in range(POSTERS):
        user, _ = create_account(f"pgload-{n}", Role.PARENT, PASSWORD)
        names.append(user.username)
    db.session.commit()
    db.session.remove()
    db.engine.dispose()  # this process holds no connection across the restart
    clients = []
    for name in names:
        client = Client(server.url)
        client.login(name, PASSWORD)
        clients.append(client)

    tally, stop = Tally(), threading.Event()
    threads = [
        threading.Thread(target=_post_claims, args=(client, name, stop, tally))
        for client, name in zip(clients, names, strict=True)
    ]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: tally.count(201) >= 10, 60, "claims to be filed before the restart")
        private_pg.stop()
        wait_until(lambda: tally.count(503) >= 6, 30, "the load to meet the stopped database")
        # A page in the browser says the same, in HTML, to a signed-in person.
        page = clients[0].http.get(server.url + "/claims", headers={"Accept": "text/html"}, timeout=30)
        assert page.status_code == 503, page.text[:300]
        assert page.headers["Retry-After"] == "30"
        assert "Try again in a minute" in page.text
        before = tally.count(201)
        private_pg.start()
        wait_until(lambda: tally.count(201) >= before + 10, 60, "the service to recover without a restart")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    assert tally.unclean == []  # only 201 and 503 with its retry hint: no 500, no dropped connection
    accepted = Counter(tag for tag, status in tally.posts if status == 201)
    refused = {tag for tag, status in tally.posts if status == 503}
    assert refused, "the restart was never seen by the load"
    # Count in, count out: exactly the acknowledged claims are stored, each once, each whole.
    db.session.rollback()
    stored = Counter(
        claim.data["last_known_place"]["city"]
        for claim in db.session.scalars(select(Claim).where(Claim.owner_id.is_not(None)))
    )
    assert stored == accepted
    revisions = db.session.scalar(select(func.count()).select_from(ClaimRevision))
    assert revisions == sum(accepted.values())
    assert not refused & set(stored)
