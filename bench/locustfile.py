"""Locust scenario for the whole service: people registering and filing claims, moderators deciding, pairs talking.

Run through ``bench/load.py``, which starts the stack, writes the set-up file this scenario reads
(``BENCH_LOAD_SETUP``: moderators with their TOTP secrets, conversations with envelopes encrypted in
advance, child claims to file) and reads back what the server acknowledged (``BENCH_LOAD_OUT``) to
check the database afterwards. User classes:

- ``Registrant``: a new child account per iteration, made with the real client-side derivation
  (``reunite.client.account``: Argon2id with the server's KDF parameters, key generation, sealed
  bundles), then one claim filed through the JSON API; the matching worker picks it up.
- ``Moderator``: logs in (client-side derivation), passes TOTP, and decides proposals from the queue
  through the HTML forms (approve, or reject with a reason), as the moderator pages do.
- ``Pair``: one person of an open conversation; sends the envelopes encrypted before the clock (a
  failed send is retried later with the same bytes) and fetches the conversation's new messages.
- ``BareUser``: the reference, a bare Flask app with endpoints of the same shape (``bench/bare_wsgi.py``).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import sys
from pathlib import Path
from typing import Any

import pyotp
from locust import HttpUser, between, events, task

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from reunite.client import account  # noqa: E402
from reunite.client import protocol as p  # noqa: E402


def _setup() -> dict[str, Any]:
    path = os.environ.get("BENCH_LOAD_SETUP")
    if not path:
        return {"password": "", "moderators": [], "pairs": [], "children": [], "bare_body": {}}
    with open(path, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


SETUP = _setup()
PASSWORD: str = SETUP["password"]
# What the server acknowledged, for the count check afterwards.
RESULTS: dict[str, Any] = {
    "claims": [],
    "registered": 0,
    "messages": {},
    "replays": 0,
    "decisions": 0,
    "decisions_refused": [],
}
_pair_ids = itertools.count()
_moderator_ids = itertools.count()
_child_ids = itertools.count()
_INPUT = re.compile(r'<input[^>]*name="(csrf_token|seen_version)"[^>]*value="([^"]*)"')
_PROPOSAL_LINK = re.compile(r'href="/moderator/proposals/([^"/?]+)"')
_ALERT = re.compile(r'<p class="error" role="alert">([^<]*)</p>')


@events.quitting.add_listener
def _write_results(environment: Any, **_kw: Any) -> None:
    path = os.environ.get("BENCH_LOAD_OUT")
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(RESULTS, fh)


class _Api(HttpUser):
    """JSON calls with the CSRF header and the password-derived login of the real client."""

    abstract = True
    csrf: str = ""

    def fresh_session(self) -> None:
        """Forget cookies and fetch a new CSRF token."""
        self.client.cookies.clear()
        self.csrf = self.client.get("/api/v1/csrf", name="GET /api/v1/csrf").json()["csrf_token"]

    def post_json(self, path: str, body: dict[str, Any], name: str) -> Any:
        """POST JSON with the CSRF header."""
        return self.client.post(path, json=body, headers={"X-CSRFToken": self.csrf}, name=name)

    def login(self, username: str, password: str) -> dict[str, Any]:
        """Prelogin, derive (Argon2id in this process), log in and open the key bundle."""
        self.fresh_session()
        pre = self.post_json("/api/v1/auth/prelogin", {"username": username}, "POST /api/v1/auth/prelogin").json()
        derived = p.derive_login_keys(password, p.b64d(pre["salt"]), int(pre["ops"]), int(pre["mem"]))
        resp = self.post_json(
            "/api/v1/auth/login",
            {"username": username, "auth_key": p.b64e(derived.auth_key)},
            "POST /api/v1/auth/login",
        )
        data: dict[str, Any] = resp.json()
        self.csrf = data["csrf_token"]
        bundle = data["bundle"]
        p.open_bundle(p.b64d(bundle["nonce"]), p.b64d(bundle["ciphertext"]), derived.wrap_key, username)
        return data


class Registrant(_Api):
    """A new child account per iteration (client-side derivation and keys), then one claim filed."""

    weight = 1
    wait_time = between(0.5, 1.5)

    @task
    def register_and_file(self) -> None:
        """Register a child account and file a child claim for it."""
        children: list[dict[str, Any]] = SETUP["children"]
        if not children:
            return
        n = next(_child_ids)
        claim = children[n % len(children)]
        self.fresh_session()
        params = self.client.get("/api/v1/auth/params", name="GET /api/v1/auth/params").json()
        username = f"load-child-{os.getpid()}-{n}"
        keys = account.new_keyset()
        body: dict[str, Any] = {"username": username, "role": "child", "locale": claim.get("languages", ["en"])[0]}
        body |= account.credential_fields(username, PASSWORD, keys, int(params["ops"]), int(params["mem"]))
        body |= account.key_fields(username, keys).fields
        birth = (claim.get("claimant") or {}).get("birth_date")
        # Children give their year of birth; a claim without a birth date gets a minor's.
        body["birth_year"] = int(birth[:4]) if birth else 2012
        with self.client.post(
            "/api/v1/auth/register",
            json=body,
            headers={"X-CSRFToken": self.csrf},
            name="POST /api/v1/auth/register",
            catch_response=True,
        ) as resp:
            if resp.status_code != 201:
                resp.failure(f"register {resp.status_code}: {resp.text[:200]}")
                return
            self.csrf = resp.json()["csrf_token"]
            RESULTS["registered"] += 1
        with self.client.post(
            "/api/v1/claims",
            json=claim,
            headers={"X-CSRFToken": self.csrf},
            name="POST /api/v1/claims",
            catch_response=True,
        ) as resp:
            if resp.status_code != 201:
                resp.failure(f"claim {resp.status_code}: {resp.text[:200]}")
                return
            RESULTS["claims"].append(resp.json()["id"])


class Moderator(_Api):
    """A certified moderator with TOTP, deciding proposals from the queue through the HTML forms."""

    fixed_count = len(SETUP["moderators"])
    wait_time = between(0.5, 1.0)

    def on_start(self) -> None:
        """Log in and pass TOTP."""
        me = SETUP["moderators"][next(_moderator_ids) % len(SETUP["moderators"])]
        self.login(me["username"], PASSWORD)
        code = pyotp.TOTP(me["totp_secret"]).now()
        self.post_json("/api/v1/auth/totp", {"code": code}, "POST /api/v1/auth/totp")
        self.approved: set[str] = set()

    @task
    def decide(self) -> None:
        """Open the queue, review one proposal and decide on it."""
        page = self.client.get("/moderator/queue", name="GET /moderator/queue").text
        candidates = [pid for pid in dict.fromkeys(_PROPOSAL_LINK.findall(page)) if pid not in self.approved]
        if not candidates:
            return
        public_id = random.choice(candidates[:10])  # noqa: S311 - spreading moderators, not security
        review = self.client.get(f"/moderator/proposals/{public_id}", name="GET /moderator/proposals/[id]").text
        fields = dict(_INPUT.findall(review))
        if "seen_version" not in fields or "csrf_token" not in fields:
            return  # decided meanwhile: no forms on the page
        action = "reject" if random.random() < 0.25 else "approve"  # noqa: S311
        form = {
            "csrf_token": fields["csrf_token"],
            "action": action,
            "seen_version": fields["seen_version"],
            "reason": "Load test: not the same family." if action == "reject" else "",
            "addressed_to": "child",
        }
        with self.client.post(
            f"/moderator/proposals/{public_id}/decide",
            data=form,
            name="POST /moderator/proposals/[id]/decide",
            allow_redirects=False,
            catch_response=True,
        ) as resp:
            if resp.status_code != 303:
                resp.failure(f"decide {resp.status_code}")
                return
        after = self.client.get(resp.headers["Location"], name="GET /moderator/proposals/[id]").text
        refused = _ALERT.search(after)
        if refused:
            # Another moderator got there first (or this one approved before): a correct answer, counted.
            RESULTS["decisions_refused"].append(refused.group(1)[:80])
        else:
            RESULTS["decisions"] += 1
            if action == "approve":
                self.approved.add(public_id)


class Pair(_Api):
    """One person of an open conversation: sends envelopes encrypted in advance and reads new messages."""

    fixed_count = len(SETUP["pairs"])
    wait_time = between(0.0, 0.2)

    def on_start(self) -> None:
        """Log in as this person of the conversation."""
        me = SETUP["pairs"][next(_pair_ids) % len(SETUP["pairs"])]
        self.cid: str = me["cid"]
        self.stock: list[dict[str, Any]] = me["bodies"]
        self.next_body = 0
        self.after = 0
        self.login(me["username"], PASSWORD)
        self.sent: list[str] = RESULTS["messages"].setdefault(f"{self.cid}/{me['username']}", [])

    @task(3)
    def send(self) -> None:
        """Send the next envelope; a refused or failed send is retried with the same bytes."""
        if self.next_body >= len(self.stock):
            self.fetch()
            return
        body = self.stock[self.next_body]
        with self.client.post(
            f"/api/v1/conversations/{self.cid}/messages",
            json=body,
            headers={"X-CSRFToken": self.csrf},
            name="POST /api/v1/conversations/[id]/messages",
            catch_response=True,
        ) as resp:
            if resp.status_code == 201:
                self.sent.append(body["msg_id"])
            elif resp.status_code == 200:
                RESULTS["replays"] += 1
            else:
                resp.failure(f"send {resp.status_code}: {resp.text[:200]}")
                return
        self.next_body += 1

    @task(1)
    def fetch(self) -> None:
        """Fetch the conversation's messages after the last one seen."""
        resp = self.client.get(
            f"/api/v1/conversations/{self.cid}/messages",
            params={"after": self.after, "limit": 200},
            name="GET /api/v1/conversations/[id]/messages",
        )
        if resp.status_code == 200:
            self.after = int(resp.json()["next_after"])


class BareUser(HttpUser):
    """The reference: the same shapes of request against a bare Flask app (no database, no checks)."""

    wait_time = between(0.0, 0.2)

    @task(3)
    def send(self) -> None:
        """POST an envelope-sized body."""
        self.client.post("/send", json=SETUP["bare_body"], name="bare POST /send")

    @task(1)
    def fetch(self) -> None:
        """GET a small page."""
        self.client.get("/fetch", params={"after": 0}, name="bare GET /fetch")
