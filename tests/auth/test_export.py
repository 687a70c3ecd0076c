"""The personal-data export: everything held about the person, nothing secret, nothing of the other claim."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from reunite.claims.models import Claim
from reunite.client import protocol as p
from reunite.client.__main__ import main as client_main
from reunite.extensions import db
from reunite.notifications.services import notify
from tests.conftest import PASSWORD
from tests.mailbox.conftest import Conv, open_conversation  # noqa: F401 - fixture
from tests.moderation.conftest import family, moderator, org  # noqa: F401 - fixtures


def test_the_export_holds_the_persons_data_and_nothing_of_the_other_claim(open_conversation: Any) -> None:  # noqa: F811
    conv: Conv = open_conversation()
    conv.parent.box.send(conv.id, "I never stopped looking for you.")
    conv.child.box.send(conv.id, "I remember the garden.")
    child = conv.child.made.user
    notify(child, "proposal_decided", "/matches")
    db.session.commit()
    raw = conv.child.client.http.client.get("/api/v1/account/export")  # type: ignore[attr-defined]
    assert raw.status_code == 200
    assert raw.headers["Content-Disposition"].startswith("attachment;")
    doc = json.loads(raw.get_data(as_text=True))

    assert doc["format"] == "reunite-personal-data-v1"
    assert doc["account"]["id"] == child.public_id
    assert doc["account"]["username"] == child.username
    own_claim = db.session.scalars(select(Claim).where(Claim.owner_id == child.id)).one()
    [claim] = doc["claims"]
    assert claim["claims_v1"] == {"id": own_claim.public_id, **own_claim.data}
    assert claim["claims_v1"]["role"] == "child"
    assert len(claim["history"]) == 1
    [match] = doc["matches"]
    assert match["side"] == "child"
    assert match["status"] == "approved"
    assert match["my_answer"]["shared_name"] == "Yuki"
    assert match["shown_to_me"] == {"shared_name": "John", "shared_message": ""}
    assert all(set(row) == {"field", "level", "bits"} for row in match["explanation"])
    assert [n["kind"] for n in doc["notifications"]].count("proposal_decided") == 1
    [conversation] = doc["conversations"]
    assert conversation["id"] == conv.id
    assert conversation["my_role"] == "child"
    assert len(conversation["entries"]) == 2
    # The envelopes are the stored ciphertext, and the person's own keys still open them.
    roster = conv.child.box.conversation(conv.id)
    texts = sorted(conv.child.box.open(roster, item).message.text for item in conversation["entries"])  # type: ignore[union-attr]
    assert texts == ["I never stopped looking for you.", "I remember the garden."]
    assert [e["event"] for e in doc["key_log"]] == ["register"]

    text = json.dumps(doc, ensure_ascii=False)
    parent_claim = db.session.scalars(select(Claim).where(Claim.owner_id == conv.parent.made.user.id)).one()
    assert parent_claim.public_id not in text
    assert json.dumps(parent_claim.data["claimant"], ensure_ascii=False) not in text
    # No secrets: neither the person's hashes and sealed bundles nor anyone else's.
    assert child.auth_hash not in text
    assert child.recovery_hash not in text
    assert p.b64e(child.bundle_ct) not in text
    assert p.b64e(child.recovery_ct) not in text
    assert conv.parent.made.user.auth_hash not in text


def test_the_export_page_and_the_python_client(open_conversation: Any) -> None:  # noqa: F811
    conv: Conv = open_conversation()
    page = conv.parent.client.http.client.get("/account/export")  # type: ignore[attr-defined]
    assert page.status_code == 200
    assert "/api/v1/account/export" in page.get_data(as_text=True)
    doc = conv.parent.client.export_account()
    assert doc["account"]["id"] == conv.parent.id
    assert doc["matches"][0]["side"] == "parent"


def test_the_export_needs_a_session(client: Any) -> None:
    assert client.get("/api/v1/account/export", headers={"Accept": "application/json"}).status_code == 401
    resp = client.get("/account/export")
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]


def test_the_client_cli_exports_then_deletes_the_account(
    app: Any, make_user: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`export-account` and `delete-account` through the CLI's own code, talking to the app over Flask's test client."""
    from reunite.client import __main__ as cli
    from reunite.client.api import Client
    from tests.mailbox.conftest import TestClientHttp

    def client_over_app(base_url: str) -> Client:
        client = Client(base_url)
        client.http = TestClientHttp(app.test_client())  # type: ignore[assignment]
        return client

    made = make_user("parent")
    monkeypatch.setattr(cli, "Client", client_over_app)
    monkeypatch.setenv("REUNITE_PASSWORD", PASSWORD)
    out_file = tmp_path / "me.json"
    assert client_main(["--server", "", "export-account", made.user.username, "--out", str(out_file)]) == 0
    doc = json.loads(out_file.read_text(encoding="utf-8"))
    assert doc["account"]["username"] == made.user.username
    assert oct(out_file.stat().st_mode & 0o777) == "0o600"
    assert client_main(["--server", "", "delete-account", made.user.username, "--yes"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["erased"] is True
    # The account is gone: logging in again is refused.
    assert client_main(["--server", "", "whoami", made.user.username]) == 1
