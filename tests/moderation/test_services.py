"""Every decision path, the two-moderator rule, flags, consent, disclosure and withdrawal."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from reunite.errors import Conflict, Forbidden, Invalid, NotFound
from reunite.extensions import db
from reunite.mailbox.models import Conversation, ConversationState, Member
from reunite.moderation import services
from reunite.moderation.models import Consent, ConsentState
from reunite.proposals.models import ProposalStatus


def _decide(mod: Any, fam: Any, action: str, reason: str = "", to: str = "") -> services.Outcome:
    db.session.refresh(fam.proposal)
    outcome = services.decide(mod.user, fam.proposal.public_id, action, reason, fam.proposal.state_version, to)
    db.session.commit()
    db.session.refresh(fam.proposal)
    return outcome


def test_adult_needs_one_approval_then_both_consent_and_the_conversation_opens(family: Any, moderator: Any) -> None:
    fam = family(child_birth="2001-03-04")
    mod = moderator()
    assert fam.proposal.involves_minor is False
    outcome = _decide(mod, fam, "approve")
    assert outcome.status == ProposalStatus.APPROVED
    assert len(outcome.notifications) == 2
    consents = db.session.scalars(select(Consent).where(Consent.proposal_id == fam.proposal.id)).all()
    assert {c.side for c in consents} == {"child", "parent"}

    services.answer(fam.child.user, fam.proposal.public_id, True, "ゆき", "会いたいです")
    db.session.commit()
    assert db.session.scalars(select(Conversation)).first() is None
    services.answer(fam.parent.user, fam.proposal.public_id, True, "John", "I never stopped looking.")
    db.session.commit()
    conv = db.session.scalars(select(Conversation)).one()
    assert conv.state == ConversationState.OPEN
    assert conv.is_premoderated is False
    roles = sorted(m.role for m in db.session.scalars(select(Member).where(Member.conversation_id == conv.id)))
    assert roles == ["child", "moderator", "parent"]


def test_minor_needs_a_second_different_moderator(family: Any, moderator: Any) -> None:
    fam = family(child_birth="2012-03-04")
    first, second = moderator(), moderator()
    assert fam.proposal.involves_minor is True
    assert _decide(first, fam, "approve").status == ProposalStatus.HALF_APPROVED
    with pytest.raises(Forbidden):
        _decide(first, fam, "approve")
    db.session.rollback()
    assert _decide(second, fam, "approve").status == ProposalStatus.APPROVED
    services.answer(fam.child.user, fam.proposal.public_id, True, "ゆき", "")
    services.answer(fam.parent.user, fam.proposal.public_id, True, "John", "")
    db.session.commit()
    conv = db.session.scalars(select(Conversation)).one()
    assert conv.is_premoderated is True
    mods = db.session.scalars(select(Member).where(Member.conversation_id == conv.id, Member.role == "moderator")).all()
    assert {m.user_id for m in mods} == {first.user.id, second.user.id}


def test_a_stale_decision_loses_and_nothing_is_recorded_twice(family: Any, moderator: Any) -> None:
    fam = family(child_birth="2001-01-01")
    a, b = moderator(), moderator()
    seen = fam.proposal.state_version
    services.decide(a.user, fam.proposal.public_id, "reject", "not the same family", seen)
    db.session.commit()
    with pytest.raises(Conflict):
        services.decide(b.user, fam.proposal.public_id, "approve", "", seen)
    db.session.rollback()
    db.session.refresh(fam.proposal)
    assert fam.proposal.status == ProposalStatus.REJECTED
    assert len(services.decisions_for(fam.proposal)) == 1


def test_reject_and_info_request_need_text(family: Any, moderator: Any) -> None:
    fam = family()
    mod = moderator()
    with pytest.raises(Invalid) as err:
        _decide(mod, fam, "reject", "  ")
    assert err.value.field == "reason"
    db.session.rollback()
    with pytest.raises(Invalid) as err:
        _decide(mod, fam, "request_info", "When did you last see him?", "nobody")
    assert err.value.field == "addressed_to"
    db.session.rollback()
    outcome = _decide(mod, fam, "request_info", "Do you remember the name of your school?", "child")
    assert outcome.status == ProposalStatus.INFO_REQUESTED
    assert len(outcome.notifications) == 1
    # The proposal waits, and can still be decided afterwards.
    assert _decide(mod, fam, "reject", "The answer rules it out.").status == ProposalStatus.REJECTED


def test_flag_blocks_approval_until_an_admin_clears_it(family: Any, moderator: Any, make_user: Any) -> None:
    fam = family(child_birth="2001-01-01")
    mod = moderator()
    admin = make_user("admin")
    flag = services.flag_claim(mod.user, fam.parent_claim.public_id, "protection order reported")
    db.session.commit()
    with pytest.raises(Invalid):
        _decide(mod, fam, "approve")
    db.session.rollback()
    with pytest.raises(Forbidden):
        services.clear_flag(mod.user, flag.public_id, "checked")
    services.clear_flag(admin.user, flag.public_id, "order expired, checked with the court")
    db.session.commit()
    assert _decide(mod, fam, "approve").status == ProposalStatus.APPROVED


def test_flags_are_never_shown_to_the_people(family: Any, moderator: Any, login: Any, api: Any) -> None:
    fam = family(child_birth="2001-01-01")
    mod = moderator()
    services.flag_claim(mod.user, fam.child_claim.public_id, "SECRET-FLAG-REASON")
    db.session.commit()
    assert login(fam.parent.user.username).status_code == 200
    for path in ("/claims", f"/claims/{fam.parent_claim.public_id}", "/matches", "/account"):
        assert "SECRET-FLAG-REASON" not in api.get(path).get_data(as_text=True)


def test_uncertified_moderator_cannot_approve(family: Any, make_user: Any, org: bytes) -> None:
    fam = family(child_birth="2001-01-01")
    plain = make_user("moderator")
    with pytest.raises(Invalid):
        _decide(plain, fam, "approve")


def test_decline_closes_and_shares_nothing(family: Any, moderator: Any) -> None:
    fam = family(child_birth="2001-01-01")
    _decide(moderator(), fam, "approve")
    services.answer(fam.child.user, fam.proposal.public_id, False, "", "")
    db.session.commit()
    db.session.refresh(fam.proposal)
    assert fam.proposal.status == ProposalStatus.CLOSED
    n = services.notice(fam.parent.user, fam.proposal.public_id)
    assert n.other_shared is None
    with pytest.raises(Conflict):
        services.answer(fam.parent.user, fam.proposal.public_id, True, "John", "")


def test_withdrawal_closes_the_conversation_for_both_and_tells_the_moderator(family: Any, moderator: Any) -> None:
    fam = family(child_birth="2001-01-01")
    mod = moderator()
    _decide(mod, fam, "approve")
    services.answer(fam.child.user, fam.proposal.public_id, True, "Yuki", "")
    services.answer(fam.parent.user, fam.proposal.public_id, True, "John", "")
    db.session.commit()
    outcome = services.withdraw(fam.child.user, fam.proposal.public_id)
    db.session.commit()
    conv = db.session.scalars(select(Conversation)).one()
    assert conv.state == ConversationState.CLOSED
    assert len(outcome.notifications) == 2  # the moderator and the parent
    from reunite.notifications.models import Notification

    kinds = {(n.user_id, n.kind) for n in db.session.scalars(select(Notification))}
    assert (mod.user.id, "withdrawn") in kinds
    assert (fam.parent.user.id, "conversation_closed") in kinds


def test_only_the_two_people_see_a_notice(family: Any, moderator: Any, make_user: Any) -> None:
    fam = family(child_birth="2001-01-01")
    _decide(moderator(), fam, "approve")
    stranger = make_user("parent")
    with pytest.raises(NotFound):
        services.notice(stranger.user, fam.proposal.public_id)
    assert services.my_matches(stranger.user) == []
    assert len(services.my_matches(fam.child.user)) == 1
    consent = db.session.scalars(select(Consent).where(Consent.user_id == fam.child.user.id)).one()
    assert consent.state == ConsentState.PENDING


def test_queue_order_and_filters(family: Any, moderator: Any) -> None:
    minor = family(child_birth="2012-03-04")
    adult = family(child_birth="2001-05-06")
    waiting = services.queue(services.QueueFilter())
    assert {p.id for p in waiting} == {minor.proposal.id, adult.proposal.id}
    assert [p.id for p in services.queue(services.QueueFilter(minor=True))] == [minor.proposal.id]
    assert services.queue(services.QueueFilter(min_score=10_000)) == []
    _decide(moderator(), adult, "reject", "no")
    assert [p.id for p in services.queue(services.QueueFilter(status="rejected"))] == [adult.proposal.id]
    board = services.dashboard()
    assert board.counts["rejected"] == 1
    assert board.counts["proposed"] == 1
    assert sum(w["proposed"] for w in board.weeks) == 2
    assert sum(w["rejected"] for w in board.weeks) == 1
