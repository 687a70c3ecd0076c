"""Claim JSON API and pages through the test client."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import func, select

from reunite.claims import matching_hook
from reunite.claims.models import Claim, ClaimRevision
from reunite.extensions import db
from tests.conftest import staff_login


def count(model: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def put(api: Any, path: str, body: Any) -> Any:
    return api.client.put(path, json=body, headers={"X-CSRFToken": api.csrf()})


@pytest.fixture
def matched(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The claim ids the matching hook was called with (no broker in testing: in-process)."""
    calls: list[int] = []
    monkeypatch.setattr(matching_hook, "match_claim", calls.append)
    return calls


# --- JSON API ---------------------------------------------------------------------------------


def test_file_read_list_edit_and_history(api: Any, login: Any, make_user: Any, parent_data: Any, matched: Any) -> None:
    assert login(make_user("parent").user.username).status_code == 200
    resp = api.post("/api/v1/claims", parent_data)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    public_id = body["id"]
    assert resp.headers["Location"].endswith(f"/api/v1/claims/{public_id}")
    assert (body["role"], body["version"], body["data"]) == ("parent", 1, parent_data)
    claim_id = db.session.scalars(select(Claim.id).where(Claim.public_id == public_id)).one()
    assert matched == [claim_id]

    assert api.get(f"/api/v1/claims/{public_id}").get_json() == body
    assert [c["id"] for c in api.get("/api/v1/claims").get_json()["claims"]] == [public_id]

    changed = copy.deepcopy(parent_data)
    changed["languages"] = ["en", "ja"]
    resp = put(api, f"/api/v1/claims/{public_id}", changed)
    assert resp.status_code == 200, resp.get_json()
    assert (resp.get_json()["version"], resp.get_json()["changed"]) == (2, True)
    assert matched == [claim_id, claim_id]

    resp = put(api, f"/api/v1/claims/{public_id}", changed)
    assert (resp.get_json()["version"], resp.get_json()["changed"]) == (2, False)
    assert matched == [claim_id, claim_id]  # nothing changed, nothing to match

    history = api.get(f"/api/v1/claims/{public_id}/history").get_json()
    assert [(r["version"], r["data"]["languages"]) for r in history["revisions"]] == [(1, ["en"]), (2, ["en", "ja"])]


def test_another_persons_claim_answers_404_like_a_missing_one(
    api: Any, login: Any, make_user: Any, make_claim: Any, parent_data: Any
) -> None:
    claim = make_claim(make_user("parent").user)
    assert login(make_user("parent").user.username).status_code == 200
    missing = api.get("/api/v1/claims/cl-0000000000000000")
    assert missing.status_code == 404
    for resp in (
        api.get(f"/api/v1/claims/{claim.public_id}"),
        api.get(f"/api/v1/claims/{claim.public_id}/history"),
        put(api, f"/api/v1/claims/{claim.public_id}", parent_data),
    ):
        assert resp.status_code == 404
        assert resp.get_json() == missing.get_json()
    assert api.get("/api/v1/claims").get_json() == {"claims": []}
    db.session.expire_all()
    assert db.session.get(Claim, claim.id).version == 1


def test_a_child_account_filing_a_parent_claim_gets_403(api: Any, login: Any, make_user: Any, parent_data: Any) -> None:
    assert login(make_user("child").user.username).status_code == 200
    resp = api.post("/api/v1/claims", parent_data)
    assert resp.status_code == 403
    assert resp.get_json()["field"] == "role"
    assert count(Claim) == 0


def test_a_moderator_files_no_claims(app: Any, api: Any, make_user: Any, parent_data: Any) -> None:
    staff_login(app, api, make_user("moderator"))
    assert api.post("/api/v1/claims", parent_data).status_code == 403
    assert api.client.get("/claims/new").status_code == 403
    assert count(Claim) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(id="p-1"), "id"),
        (lambda d: d.update(favourite_colour="red"), "favourite_colour"),
        (lambda d: d["children"][0].update(birth_date="2012-02-30"), "children[0].birth_date"),
        (lambda d: d["other_parent"]["names"][0].update(family=""), "other_parent.names[0].family"),
        (lambda d: d.pop("claimant"), "claimant"),
    ],
)
def test_bad_json_names_the_field(
    api: Any, login: Any, make_user: Any, parent_data: Any, change: Any, field: str
) -> None:
    assert login(make_user("parent").user.username).status_code == 200
    change(parent_data)
    resp = api.post("/api/v1/claims", parent_data)
    assert resp.status_code == 400
    assert resp.get_json()["field"] == field
    assert resp.get_json()["message"]
    assert count(Claim) == 0


def test_the_api_needs_a_login_and_a_csrf_token(api: Any, login: Any, make_user: Any, parent_data: Any) -> None:
    assert api.get("/api/v1/claims").status_code == 401
    assert login(make_user("parent").user.username).status_code == 200
    assert api.client.post("/api/v1/claims", json=parent_data).status_code == 400  # no X-CSRFToken
    assert count(Claim) == 0


# --- pages ------------------------------------------------------------------------------------


class FormReader(HTMLParser):
    """The values a browser would submit from the first POST form of a page (without buttons)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self._select: str | None = None
        self._first_option: str | None = None
        self._has_selected = False
        self._textarea: str | None = None
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method") == "post" and "claim-form" in a.get("class", ""):
            self._in_form = True
        if not self._in_form:
            return
        if tag == "input" and a.get("type") not in ("submit",):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.values.setdefault(a["name"], []).append(a.get("value", ""))
        elif tag == "select":
            self._select, self._first_option, self._has_selected = a["name"], None, False
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = a.get("value", "")
            if "selected" in a:
                self._has_selected = True
                self.values.setdefault(self._select, []).append(a.get("value", ""))
        elif tag == "textarea":
            self._textarea = a["name"]
            self.values[a["name"]] = [""]

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea][0] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select:
            if not self._has_selected:
                self.values.setdefault(self._select, []).append(self._first_option or "")
            self._select = None
        elif tag == "textarea" and self._textarea:
            # Browsers turn CRLF into LF and drop the first newline after <textarea>.
            text = self.values[self._textarea][0].replace("\r\n", "\n")
            self.values[self._textarea][0] = text.removeprefix("\n")
            self._textarea = None
        elif tag == "form":
            self._in_form = False


def read_form(html: str) -> dict[str, list[str]]:
    reader = FormReader()
    reader.feed(html)
    return reader.values


def parent_form(**extra: str) -> dict[str, str]:
    data = {
        "claimant-family_latin": "Smith",
        "claimant-given_latin": "John",
        "claimant-sex": "M",
        "claimant-nationality": "US",
        "other_parent-family_written": "田中",
        "other_parent-given_written": "愛子",
        "other_parent-family_kana": "タナカ",
        "other_parent-given_kana": "アイコ",
        "other_parent-family_latin": "Tanaka",
        "other_parent-given_latin": "Aiko",
        "other_parent-nationality": "JP",
        "children-0-given_written": "ゆき",
        "children-0-family_latin": "Smith",
        "children-0-given_latin": "Emma Yuki",
        "children-0-other_names": "Yuki Tanaka\n",
        "children-0-sex": "F",
        "children-0-birth_date-year": "2012",
        "children-0-birth_date-month": "3",
        "children-0-birth_date-day": "4",
        "children-0-birth_place-city": "Seattle",
        "children-0-birth_place-country": "US",
        "separated_on-year": "2016",
        "separated_on-month": "7",
        "last_known_place-city": "Osaka",
        "last_known_place-country": "JP",
        "languages": "en",
    }
    data.update(extra)
    return data


def post_form(api: Any, path: str, data: dict[str, Any], button: str = "submit") -> Any:
    return api.client.post(path, data={**data, "csrf_token": api.csrf(), button: "1"})


def test_filing_a_parent_claim_with_the_form(api: Any, login: Any, make_user: Any, matched: Any) -> None:
    assert login(make_user("parent").user.username).status_code == 200
    page = api.client.get("/claims/new").get_data(as_text=True)
    assert "Add another child" in page
    assert "A moderator checks every possible match before anyone is contacted." in page
    resp = post_form(api, "/claims/new", parent_form())
    assert resp.status_code == 302, resp.get_data(as_text=True)
    claim = db.session.scalars(select(Claim)).one()
    assert resp.headers["Location"].endswith(f"/claims/{claim.public_id}")
    assert matched == [claim.id]
    assert claim.data == {
        "role": "parent",
        "claimant": {"names": [{"family": "Smith", "given": "John"}], "sex": "M", "nationalities": ["US"]},
        "other_parent": {
            "names": [
                {"family": "田中", "given": "愛子"},
                {"family": "タナカ", "given": "アイコ", "kind": "reading"},
                {"family": "Tanaka", "given": "Aiko", "kind": "reading"},
            ],
            "nationalities": ["JP"],
        },
        "children": [
            {
                "ref": "1",
                "names": [
                    {"given": "ゆき"},
                    {"family": "Smith", "given": "Emma Yuki", "kind": "reading"},
                    {"full": "Yuki Tanaka", "kind": "former"},
                ],
                "sex": "F",
                "birth_date": "2012-03-04",
                "birth_place": {"city": "Seattle", "country": "US"},
            }
        ],
        "separated_on": "2016-07",
        "last_known_place": {"city": "Osaka", "country": "JP"},
        "languages": ["en"],
    }
    view = api.client.get(f"/claims/{claim.public_id}").get_data(as_text=True)
    assert "Emma Yuki" in view
    assert "A moderator checks every possible match before anyone is contacted." in view
    listing = api.client.get("/claims").get_data(as_text=True)
    assert f"/claims/{claim.public_id}" in listing


def test_add_another_child_rerenders_with_what_was_typed(api: Any, login: Any, make_user: Any) -> None:
    assert login(make_user("parent").user.username).status_code == 200
    resp = post_form(api, "/claims/new", parent_form(), button="add_child")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    values = read_form(html)
    assert values["children-0-given_latin"] == ["Emma Yuki"]
    assert values["other_parent-family_kana"] == ["タナカ"]
    assert values["children-0-birth_date-month"] == ["3"]
    assert "children-1-family_written" in values
    assert "Child 2" in html
    assert count(Claim) == 0

    # The second child block is filled in and the whole form saved: two children, refs 1 and 2.
    values["children-1-given_written"] = ["はると"]
    values["children-1-birth_date-year"] = ["2014"]
    resp = post_form(api, "/claims/new", values)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    children = db.session.scalars(select(Claim)).one().data["children"]
    assert [(c["ref"], c["names"][0]) for c in children] == [("1", {"given": "ゆき"}), ("2", {"given": "はると"})]


@pytest.mark.parametrize(
    ("extra", "field_id", "words"),
    [
        ({"children-0-birth_date-month": "2", "children-0-birth_date-day": "30"}, "children-0-birth_date-year", "day"),
        ({"children-0-birth_date-year": "3012"}, "children-0-birth_date-year", "future"),
        ({"children-0-birth_date-year": "12"}, "children-0-birth_date-year", "four digits"),
        ({"separated_on-year": "", "separated_on-month": "7"}, "separated_on-year", "year"),
        ({"children-0-birth_date-month": ""}, "children-0-birth_date-month", "month"),
        ({"claimant-family_latin": "x" * 201}, "claimant-family_latin", "200"),
        ({"claimant-family_latin": "", "claimant-given_latin": ""}, "claimant-family_written", "name"),
    ],
)
def test_a_bad_answer_is_shown_next_to_its_field_and_keeps_what_was_typed(
    api: Any, login: Any, make_user: Any, extra: dict[str, str], field_id: str, words: str
) -> None:
    assert login(make_user("parent").user.username).status_code == 200
    resp = post_form(api, "/claims/new", parent_form(**extra))
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    error = re.search(rf'<p class="error" id="{field_id}-error">([^<]*)</p>', html)
    assert error, html
    assert words in error.group(1).lower()
    tag = re.search(rf"<(?:input|select|textarea)[^>]*\bid=\"{field_id}\"[^>]*>", html)
    assert tag
    assert 'aria-invalid="true"' in tag.group(0)
    assert f"{field_id}-error" in tag.group(0)
    values = read_form(html)
    assert values["other_parent-given_written"] == ["愛子"]
    assert values["children-0-other_names"] == ["Yuki Tanaka\n"]
    assert count(Claim) == 0


def test_filing_a_child_claim_with_the_form(api: Any, login: Any, make_user: Any) -> None:
    assert login(make_user("child").user.username).status_code == 200
    page = api.client.get("/claims/new").get_data(as_text=True)
    assert "The parent you are looking for" in page
    assert "Add another child" not in page
    data = {
        "claimant-family_written": "田中",
        "claimant-given_written": "ゆき",
        "claimant-birth_date-year": " ２０１２",  # full-width, as a Japanese phone keyboard types it
        "claimant-birth_place-country": "US",
        "sought_parent-given_kana": "ジョン",
        "sought_parent-sex": "M",
        "other_parent-family_written": "田中",
        "separated_on-year": "2016",
        "languages": "ja",
    }
    resp = post_form(api, "/claims/new", data)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert db.session.scalars(select(Claim)).one().data == {
        "role": "child",
        "claimant": {
            "names": [{"family": "田中", "given": "ゆき"}],
            "birth_date": "2012",
            "birth_place": {"country": "US"},
        },
        "sought_parent": {"names": [{"given": "ジョン"}], "sex": "M"},
        "other_parent": {"names": [{"family": "田中"}]},
        "separated_on": "2016",
        "languages": ["ja"],
    }


def test_the_edit_form_round_trips_and_a_change_makes_a_version(
    api: Any, login: Any, make_user: Any, make_claim: Any, matched: Any
) -> None:
    made = make_user("parent")
    claim = make_claim(made.user)  # the claims-v1 example, with a kana-less Japanese name
    assert login(made.user.username).status_code == 200
    values = read_form(api.client.get(f"/claims/{claim.public_id}/edit").get_data(as_text=True))
    assert values["other_parent-family_written"] == ["田中"]
    assert values["other_parent-family_latin"] == ["Tanaka"]
    assert values["children-0-ref"] == ["1"]
    assert values["children-0-birth_date-day"] == ["4"]

    resp = post_form(api, f"/claims/{claim.public_id}/edit", values)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Claim, claim.id).version == 1  # unchanged content: no new version
    assert matched == []

    values["children-0-birth_place-city"] = ["Tacoma"]
    assert post_form(api, f"/claims/{claim.public_id}/edit", values).status_code == 302
    db.session.expire_all()
    saved = db.session.get(Claim, claim.id)
    assert saved.version == 2
    assert saved.data["children"][0]["birth_place"] == {"city": "Tacoma", "country": "US"}
    assert saved.data["children"][0]["ref"] == "1"
    assert count(ClaimRevision) == 2
    assert matched == [claim.id]
    assert "Version 2" in api.client.get(f"/claims/{claim.public_id}").get_data(as_text=True)


def test_another_persons_claim_pages_answer_404(api: Any, login: Any, make_user: Any, make_claim: Any) -> None:
    claim = make_claim(make_user("parent").user)
    assert login(make_user("parent").user.username).status_code == 200
    assert api.client.get(f"/claims/{claim.public_id}").status_code == 404
    assert api.client.get(f"/claims/{claim.public_id}/edit").status_code == 404
    assert post_form(api, f"/claims/{claim.public_id}/edit", parent_form()).status_code == 404
    db.session.expire_all()
    assert db.session.get(Claim, claim.id).version == 1


def test_pages_need_a_login(client: Any) -> None:
    resp = client.get("/claims")
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]


def test_the_japanese_pages_and_errors(api: Any, login: Any, make_user: Any, child_data: Any) -> None:
    made = make_user("child", locale="ja")
    assert login(made.user.username).status_code == 200
    ja = {"Accept-Language": "ja"}
    resp = api.client.get("/claims/new", headers=ja)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert '<html lang="ja">' in html
    assert '<option value="JP">日本</option>' in html  # country names in Japanese
    assert "あなたが探している親" in html
    assert "一致の可能性があるときは、誰かに連絡する前に必ずモデレーターが確認します。" in html
    listing = api.client.get("/claims", headers=ja).get_data(as_text=True)
    assert "<h1>自分の申告</h1>" in listing

    child_data["separated_on"] = "2016-02-30"
    resp = api.client.post("/api/v1/claims", json=child_data, headers={"X-CSRFToken": api.csrf(), **ja})
    assert resp.status_code == 400
    assert resp.get_json() == {
        "error": "invalid",
        "field": "separated_on",
        "message": "日付ではありません。その月にこの日はありません。",
    }

    form = {
        "claimant-given_written": "ゆき",
        "claimant-birth_date-year": "20x2",
        "csrf_token": api.csrf(),
        "submit": "1",
    }
    html = api.client.post("/claims/new", data=form, headers=ja).get_data(as_text=True)
    assert "年は 2012 のように4桁で書いてください。" in html
    assert 'value="20x2"' in html
