"""Moderator and people's pages through the test client: access, forms, and no leak before consent."""

from __future__ import annotations

import re
from typing import Any

from reunite.extensions import db
from reunite.moderation import services
from tests.conftest import Api, staff_login


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_queue_and_review_pages_show_the_evidence(app: Any, api: Any, family: Any, moderator: Any) -> None:
    fam = family()
    staff_login(app, api, moderator())
    queue = api.get("/moderator/queue").get_data(as_text=True)
    assert fam.proposal.public_id in queue
    page = api.get(f"/moderator/proposals/{fam.proposal.public_id}").get_data(as_text=True)
    assert "ジョン ≈ John" in page
    # The matcher's levels in words, not its codes ("reading", "via_parent").
    assert "<small>same reading · ジョン ≈ John</small>" in page
    assert "<small>the other parent's family name · 田中 ≈ 田中</small>" in page
    assert 'class="bar-for"' in page
    assert "<svg" in page
    assert "Smith" in page
    assert "田中" in page
    with api.client.session_transaction() as sess:
        sess["lang"] = "ja"
    ja = api.get(f"/moderator/proposals/{fam.proposal.public_id}").get_data(as_text=True)
    assert '<html lang="ja">' in ja
    assert "ジョン ≈ John" in ja
    assert "<small>読みが同じ · ジョン ≈ John</small>" in ja
    assert "<td>女性</td>" in ja  # the child's sex in words, not the claim's code "F"
    assert "提案" in ja


def test_people_cannot_open_moderator_pages(api: Any, family: Any, login: Any) -> None:
    fam = family()
    assert login(fam.child.user.username).status_code == 200
    assert api.get("/moderator/queue").status_code == 403
    assert api.get(f"/moderator/proposals/{fam.proposal.public_id}").status_code == 403


def test_decision_through_the_form_and_a_stale_form_is_explained(app: Any, family: Any, moderator: Any) -> None:
    fam = family(child_birth="2001-01-01")
    first, second = Api(app.test_client()), Api(app.test_client())
    staff_login(app, first, moderator())
    staff_login(app, second, moderator())
    url = f"/moderator/proposals/{fam.proposal.public_id}"
    page_a = first.get(url).get_data(as_text=True)
    page_b = second.get(url).get_data(as_text=True)
    seen = str(fam.proposal.state_version)
    resp = first.client.post(
        url + "/decide",
        data={"csrf_token": _token(page_a), "action": "reject", "reason": "different family", "seen_version": seen},
    )
    assert resp.status_code == 303
    resp = second.client.post(
        url + "/decide",
        data={"csrf_token": _token(page_b), "action": "approve", "reason": "", "seen_version": seen},
        follow_redirects=True,
    )
    assert "Another moderator decided" in resp.get_data(as_text=True)
    db.session.refresh(fam.proposal)
    assert fam.proposal.status.value == "rejected"


def test_nothing_about_the_other_person_leaks_before_consent(
    app: Any, family: Any, moderator: Any, login: Any, api: Any
) -> None:
    fam = family(child_birth="2001-01-01")
    mod = moderator()
    services.decide(mod.user, fam.proposal.public_id, "approve", "", fam.proposal.state_version)
    db.session.commit()
    assert login(fam.child.user.username).status_code == 200
    page = api.get(f"/matches/{fam.proposal.public_id}").get_data(as_text=True)
    # The parent's claim says Smith, Seattle, Osaka, John: none of it may appear yet.
    for secret in ("Smith", "Seattle", "Osaka", "John", fam.parent.user.username):
        assert secret not in page
    # The parent accepts and shares only a chosen name and message.
    services.answer(fam.parent.user, fam.proposal.public_id, True, "Your dad", "I have looked for you for years.")
    db.session.commit()
    page = api.get(f"/matches/{fam.proposal.public_id}").get_data(as_text=True)
    assert "Your dad" in page
    assert "I have looked for you for years." in page
    for secret in ("Smith", "Seattle", "Osaka", fam.parent.user.username):
        assert secret not in page
    # The child answers through the form.
    resp = api.client.post(
        f"/matches/{fam.proposal.public_id}",
        data={"csrf_token": _token(page), "shared_name": "ゆき", "shared_message": "", "accept": "1"},
        follow_redirects=True,
    )
    assert "conversation is open" in resp.get_data(as_text=True)
    assert api.get("/conversations").status_code == 200


def test_accepting_without_a_name_keeps_what_was_typed(
    app: Any, family: Any, moderator: Any, login: Any, api: Any
) -> None:
    fam = family(child_birth="2001-01-01")
    services.decide(moderator().user, fam.proposal.public_id, "approve", "", fam.proposal.state_version)
    db.session.commit()
    assert login(fam.child.user.username).status_code == 200
    page = api.get(f"/matches/{fam.proposal.public_id}").get_data(as_text=True)
    resp = api.client.post(
        f"/matches/{fam.proposal.public_id}",
        data={"csrf_token": _token(page), "shared_name": "", "shared_message": "typed words stay", "accept": "1"},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "typed words stay" in html
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="shared_name-error"' in html
    # The error stands next to its field (on a phone the top of the page is out of sight).
    assert '<p class="error" id="shared_name-error">Write the name you want the other person to see.</p>' in html


def test_dashboard_page(app: Any, api: Any, family: Any, moderator: Any) -> None:
    family()
    staff_login(app, api, moderator())
    html = api.get("/moderator/").get_data(as_text=True)
    assert 'data-count="proposed">1<' in html
    assert "<svg" in html


def test_a_question_appears_on_the_claimants_claim_page_only(
    app: Any, family: Any, moderator: Any, login: Any, api: Any
) -> None:
    fam = family()
    services.decide(
        moderator().user,
        fam.proposal.public_id,
        "request_info",
        "Which school did you go to?",
        fam.proposal.state_version,
        "child",
    )
    db.session.commit()
    assert login(fam.child.user.username).status_code == 200
    page = api.get(f"/claims/{fam.child_claim.public_id}").get_data(as_text=True)
    assert "Which school did you go to?" in page
    api.post("/api/v1/auth/logout", {})
    assert login(fam.parent.user.username).status_code == 200
    page = api.get(f"/claims/{fam.parent_claim.public_id}").get_data(as_text=True)
    assert "Which school did you go to?" not in page
