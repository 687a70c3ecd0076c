"""Moderation rules: the queue, decisions (two moderators for a minor), flags, consent, withdrawal.

Nothing reaches a person before a moderator approved and both people accepted. A decision
names the proposal state it was made on (`state_version`); of two decisions made at once,
exactly one changes the state and the other is told so.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from reunite.auth.models import Role, User
from reunite.claims.age import child_is_minor
from reunite.claims.models import Claim
from reunite.client import protocol as p
from reunite.errors import Conflict, Forbidden, Invalid, NotFound
from reunite.extensions import db
from reunite.mailbox.models import Conversation, ConversationState, Member
from reunite.moderation.models import Consent, ConsentState, Decision, DecisionAction, Flag
from reunite.proposals.models import Proposal, ProposalStatus
from reunite.types import utcnow

log = logging.getLogger(__name__)
WAITING = (ProposalStatus.PROPOSED, ProposalStatus.INFO_REQUESTED, ProposalStatus.HALF_APPROVED)
REASON_MAX = 2000
SHARE_NAME_MAX = 120
SHARE_MESSAGE_MAX = 1000


# --- the queue and the review ---------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilter:
    """What a moderator narrowed the queue to."""

    status: str = "waiting"  # "waiting" or a ProposalStatus value
    min_score: float | None = None
    older_than_days: int | None = None
    minor: bool | None = None
    limit: int = 100


def queue(filters: QueueFilter) -> list[Proposal]:
    """Proposals to review: oldest and strongest first."""
    query = select(Proposal)
    if filters.status == "waiting":
        query = query.where(Proposal.status.in_(WAITING))
    else:
        try:
            query = query.where(Proposal.status == ProposalStatus(filters.status))
        except ValueError as err:
            raise Invalid(_("Unknown status."), field="status") from err
    if filters.min_score is not None:
        query = query.where(Proposal.score >= filters.min_score)
    if filters.older_than_days is not None:
        query = query.where(Proposal.created_at <= utcnow() - timedelta(days=filters.older_than_days))
    if filters.minor is not None:
        query = query.where(Proposal.involves_minor.is_(filters.minor))
    query = query.order_by(func.date(Proposal.created_at), Proposal.score.desc(), Proposal.id).limit(filters.limit)
    return list(db.session.scalars(query))


def _claim(claim_id: int | None) -> Claim | None:
    """A claim by id; None when the id is None (the claim's owner erased their account) or it is gone."""
    return None if claim_id is None else db.session.get(Claim, claim_id)


def _claims_of(proposal: Proposal) -> tuple[Claim, Claim]:
    """The child claim and the parent claim of a proposal (NotFound if one was erased)."""
    child = _claim(proposal.child_claim_id)
    parent = _claim(proposal.parent_claim_id)
    if child is None or parent is None:
        raise NotFound(_("No such proposal."))
    return child, parent


def get_proposal(public_id: str) -> Proposal:
    """A proposal by public id, or NotFound."""
    proposal = db.session.scalars(select(Proposal).where(Proposal.public_id == public_id)).first()
    if proposal is None:
        raise NotFound(_("No such proposal."))
    return proposal


def active_flags(claim_ids: Sequence[int]) -> list[Flag]:
    """Uncleared safeguarding flags on these claims."""
    return list(db.session.scalars(select(Flag).where(Flag.claim_id.in_(claim_ids), Flag.cleared_at.is_(None))))


def decisions_for(proposal: Proposal) -> list[Decision]:
    """Every decision on a proposal, oldest first."""
    return list(db.session.scalars(select(Decision).where(Decision.proposal_id == proposal.id).order_by(Decision.id)))


@dataclass(frozen=True)
class Review:
    """Everything the review page shows."""

    proposal: Proposal
    child_claim: Claim
    parent_claim: Claim
    child_entry: dict[str, Any]
    flags: list[Flag]
    decisions: list[Decision]
    is_minor: bool
    bars: list[dict[str, Any]] = field(default_factory=list)


def review(proposal: Proposal) -> Review:
    """Both claims of a proposal side by side with the engine's explanation, drawn as bars."""
    child = _claim(proposal.child_claim_id)
    parent = _claim(proposal.parent_claim_id)
    if child is None or parent is None:
        raise NotFound(_("No such proposal."))
    entry = next((c for c in parent.data.get("children", []) if c.get("ref") == proposal.child_ref), {})
    rows = proposal.explanation.get("fields", [])
    biggest = max([abs(float(r.get("bits", 0))) for r in rows] + [1.0])
    bars = [
        {
            "field": r["field"],
            "level": r.get("level", ""),
            "bits": float(r.get("bits", 0)),
            "detail": r.get("detail", ""),
            "width": round(100 * abs(float(r.get("bits", 0))) / biggest),
        }
        for r in rows
    ]
    return Review(
        proposal=proposal,
        child_claim=child,
        parent_claim=parent,
        child_entry=entry,
        flags=active_flags([child.id, parent.id]),
        decisions=decisions_for(proposal),
        is_minor=child_is_minor(child),
        bars=bars,
    )


# --- decisions ------------------------------------------------------------------------------


def has_valid_certificate(moderator: User) -> bool:
    """Whether the organisation certified this moderator's current identity key and it has not expired."""
    org = current_app.config.get("ORG_PUBLIC_KEY")
    if not org or moderator.modcert_sig is None or moderator.modcert_expires_ms is None:
        return False
    try:
        org_pk = p.b64d(org)
    except ValueError:
        return False
    return p.verify_modcert(
        org_pk,
        moderator.public_id,
        moderator.identity_pk,
        moderator.modcert_expires_ms,
        moderator.modcert_sig,
        int(time.time() * 1000),
    )


def _transition(proposal: Proposal, seen_version: int, new_status: ProposalStatus) -> None:
    """Move the proposal on only if nobody moved it since the moderator looked."""
    now = utcnow()
    result = db.session.execute(
        update(Proposal)
        .where(Proposal.id == proposal.id, Proposal.state_version == seen_version)
        .values(status=new_status, state_version=seen_version + 1, updated_at=now, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        raise Conflict(
            _("Another moderator decided on this proposal a moment ago. Reload the page to see what changed.")
        )
    db.session.refresh(proposal)


def _audit(actor: User | None, action: str, target_type: str, target_id: str, reason: str = "", **details: Any) -> None:
    from reunite.audit.services import record

    record(actor, action, target_type, target_id, reason, details or None)


def _notify(user_id: int | None, kind: str, link: str) -> int | None:
    """Leave a notification for a person (mailed after commit by the caller); None for ownerless claims."""
    if user_id is None:
        return None
    from reunite.notifications.services import notify

    user = db.session.get(User, user_id)
    if user is None:
        return None
    return int(notify(user, kind, link).id)


@dataclass
class Outcome:
    """What a decision did, and which notifications to mail once it is committed."""

    status: ProposalStatus
    message: str
    notifications: list[int] = field(default_factory=list)


def decide(
    moderator: User, public_id: str, action: str, reason: str, seen_version: int, addressed_to: str = ""
) -> Outcome:
    """Approve, reject or ask for more information.

    :raises Invalid: a reason is missing, the pair is flagged, a claim has no account, ...
    :raises Forbidden: not a moderator, or the same moderator approving twice.
    :raises Conflict: another decision got there first.
    """
    if moderator.role not in (Role.MODERATOR, Role.ADMIN):
        raise Forbidden(_("Only moderators decide on proposals."))
    try:
        act = DecisionAction(action)
    except ValueError as err:
        raise Invalid(_("Choose approve, reject or ask for information."), field="action") from err
    reason = reason.strip()
    if len(reason) > REASON_MAX:
        raise Invalid(_("The reason is too long (at most %(max)s characters).", max=REASON_MAX), field="reason")
    proposal = get_proposal(public_id)
    if proposal.state_version != seen_version:
        raise Conflict(
            _("Another moderator decided on this proposal a moment ago. Reload the page to see what changed.")
        )
    if proposal.status not in WAITING:
        raise Conflict(_("This proposal has already been decided."))
    child, parent = _claims_of(proposal)
    outcome: Outcome
    if act == DecisionAction.REJECT:
        if not reason:
            raise Invalid(_("Give a reason for rejecting."), field="reason")
        _transition(proposal, seen_version, ProposalStatus.REJECTED)
        outcome = Outcome(
            ProposalStatus.REJECTED, _("Rejected. This pair will not be proposed again unless a matched field changes.")
        )
    elif act == DecisionAction.REQUEST_INFO:
        if addressed_to not in ("child", "parent"):
            raise Invalid(_("Choose whose claim the question is for."), field="addressed_to")
        if not reason:
            raise Invalid(_("Write the question for the claimant."), field="reason")
        _transition(proposal, seen_version, ProposalStatus.INFO_REQUESTED)
        owner = child.owner_id if addressed_to == "child" else parent.owner_id
        claim = child if addressed_to == "child" else parent
        outcome = Outcome(ProposalStatus.INFO_REQUESTED, _("The question was sent. The proposal waits for the answer."))
        note = _notify(owner, "info_requested", f"/claims/{claim.public_id}")
        outcome.notifications += [note] if note else []
    else:
        outcome = _approve(moderator, proposal, child, parent, seen_version, reason)
    db.session.add(
        Decision(
            proposal_id=proposal.id, moderator_id=moderator.id, action=act, reason=reason, addressed_to=addressed_to
        )
    )
    _audit(moderator, f"proposal.{act.value}", "proposal", proposal.public_id, reason, status=outcome.status.value)
    db.session.flush()
    return outcome


def _approve(moderator: User, proposal: Proposal, child: Claim, parent: Claim, seen: int, reason: str) -> Outcome:
    if active_flags([child.id, parent.id]):
        raise Invalid(_("A safeguarding flag is set on one of these claims. An administrator must clear it first."))
    if child.owner_id is None or parent.owner_id is None:
        raise Invalid(
            _("One of these claims was imported and has no account, so nobody could consent. Reject it or wait.")
        )
    if not has_valid_certificate(moderator):
        raise Invalid(_("Your moderator certificate is missing or expired, so you cannot join the conversation."))
    minor = child_is_minor(child)
    proposal.involves_minor = minor
    if minor and proposal.status != ProposalStatus.HALF_APPROVED:
        _transition(proposal, seen, ProposalStatus.HALF_APPROVED)
        return Outcome(
            ProposalStatus.HALF_APPROVED,
            _("Approved once. A child is involved, so a second moderator must approve too."),
        )
    if minor:
        first = [d for d in decisions_for(proposal) if d.action == DecisionAction.APPROVE]
        if any(d.moderator_id == moderator.id for d in first):
            raise Forbidden(_("A second, different moderator must give the second approval."))
    _transition(proposal, seen, ProposalStatus.APPROVED)
    outcome = Outcome(ProposalStatus.APPROVED, _("Approved. Both people are asked whether they want to talk."))
    for side, claim in (("child", child), ("parent", parent)):
        db.session.add(Consent(proposal_id=proposal.id, user_id=claim.owner_id, side=side))
        note = _notify(claim.owner_id, "match_found", f"/matches/{proposal.public_id}")
        outcome.notifications += [note] if note else []
    return outcome


def open_questions(claim: Claim) -> list[Decision]:
    """A moderator's questions about this claim on proposals that still wait for the answer.

    Only the question text is shown to the claimant: nothing about the other claim.
    """
    side = "child" if claim.role.value == "child" else "parent"
    column = Proposal.child_claim_id if side == "child" else Proposal.parent_claim_id
    rows = db.session.scalars(
        select(Decision)
        .join(Proposal, Proposal.id == Decision.proposal_id)
        .where(
            column == claim.id,
            Proposal.status == ProposalStatus.INFO_REQUESTED,
            Decision.action == DecisionAction.REQUEST_INFO,
            Decision.addressed_to == side,
        )
        .order_by(Decision.created_at)
    )
    return list(rows)


# --- safeguarding flags ---------------------------------------------------------------------


def flag_claim(moderator: User, claim_public_id: str, reason: str) -> Flag:
    """Raise a safeguarding flag; its proposals cannot be approved until an admin clears it."""
    if moderator.role not in (Role.MODERATOR, Role.ADMIN):
        raise Forbidden(_("Only moderators raise flags."))
    reason = reason.strip()
    if not reason:
        raise Invalid(_("Say why the claim is flagged."), field="reason")
    if len(reason) > REASON_MAX:
        raise Invalid(_("The reason is too long (at most %(max)s characters).", max=REASON_MAX), field="reason")
    claim = db.session.scalars(select(Claim).where(Claim.public_id == claim_public_id)).first()
    if claim is None:
        raise NotFound(_("No such claim."))
    flag = Flag(public_id="fl-" + secrets.token_hex(6), claim_id=claim.id, raised_by=moderator.id, reason=reason)
    db.session.add(flag)
    db.session.flush()
    _audit(moderator, "claim.flag", "claim", claim.public_id, reason)
    return flag


def clear_flag(admin: User, flag_public_id: str, reason: str) -> Flag:
    """An admin clears a flag, with a reason."""
    if admin.role != Role.ADMIN:
        raise Forbidden(_("Only administrators clear flags."))
    reason = reason.strip()
    if not reason:
        raise Invalid(_("Say why the flag is cleared."), field="reason")
    flag = db.session.scalars(select(Flag).where(Flag.public_id == flag_public_id)).first()
    if flag is None:
        raise NotFound(_("No such flag."))
    if flag.cleared_at is not None:
        raise Conflict(_("This flag was already cleared."))
    flag.cleared_by = admin.id
    flag.cleared_at = utcnow()
    flag.clear_reason = reason
    claim = db.session.get(Claim, flag.claim_id)
    _audit(admin, "claim.flag_cleared", "claim", claim.public_id if claim else "", reason, flag=flag.public_id)
    return flag


def list_flags(active_only: bool = True) -> list[Flag]:
    """Flags for the admin page."""
    query = select(Flag).order_by(Flag.created_at.desc())
    if active_only:
        query = query.where(Flag.cleared_at.is_(None))
    return list(db.session.scalars(query.limit(500)))


# --- consent --------------------------------------------------------------------------------


def my_matches(user: User) -> list[tuple[Consent, Proposal]]:
    """The person's match notices, newest first."""
    rows = db.session.execute(
        select(Consent, Proposal)
        .join(Proposal, Proposal.id == Consent.proposal_id)
        .where(Consent.user_id == user.id)
        .order_by(Consent.created_at.desc())
    ).all()
    return [(c, pr) for c, pr in rows]


@dataclass(frozen=True)
class Notice:
    """What a person may see about a possible match: their side, and the other's chosen words."""

    proposal: Proposal
    mine: Consent
    other: Consent
    conversation: Conversation | None
    is_child: bool
    is_minor: bool

    @property
    def other_shared(self) -> tuple[str, str] | None:
        """The other person's shared name and message, only once they accepted."""
        if self.other.state in (ConsentState.ACCEPTED,) or (
            self.other.state == ConsentState.WITHDRAWN and self.other.shared_name
        ):
            return self.other.shared_name, self.other.shared_message
        return None


def notice(user: User, proposal_public_id: str) -> Notice:
    """A person's view of one approved match (NotFound for anyone else)."""
    proposal = db.session.scalars(select(Proposal).where(Proposal.public_id == proposal_public_id)).first()
    consents = list(db.session.scalars(select(Consent).where(Consent.proposal_id == proposal.id))) if proposal else []
    mine = next((c for c in consents if c.user_id == user.id), None)
    other = next((c for c in consents if c.user_id != user.id), None)
    if proposal is None or mine is None or other is None:
        raise NotFound(_("No such match."))
    conv = db.session.scalars(select(Conversation).where(Conversation.proposal_id == proposal.id)).first()
    child = _claim(proposal.child_claim_id)
    return Notice(
        proposal=proposal,
        mine=mine,
        other=other,
        conversation=conv,
        is_child=mine.side == "child",
        is_minor=child_is_minor(child) if child else True,
    )


def answer(user: User, proposal_public_id: str, accept: bool, shared_name: str, shared_message: str) -> Outcome:
    """Accept (sharing a name form and a short message) or decline a match.

    When both have accepted, the conversation opens with the child, the parent and the
    approving moderator(s) as its roster.
    """
    n = notice(user, proposal_public_id)
    if n.mine.state != ConsentState.PENDING:
        raise Conflict(_("You have already answered."))
    if n.proposal.status != ProposalStatus.APPROVED:
        raise Conflict(_("This match is no longer open."))
    outcome: Outcome
    if not accept:
        n.mine.state = ConsentState.DECLINED
        n.mine.decided_at = utcnow()
        n.proposal.status = ProposalStatus.CLOSED
        outcome = Outcome(ProposalStatus.CLOSED, _("You declined. Nothing about you is shared."))
        outcome.notifications += _notify_moderators(n.proposal, "match_declined")
        return outcome
    shared_name = shared_name.strip()
    shared_message = shared_message.strip()
    if not shared_name:
        raise Invalid(_("Write the name you want the other person to see."), field="shared_name")
    if len(shared_name) > SHARE_NAME_MAX:
        raise Invalid(_("The name is too long (at most %(max)s characters).", max=SHARE_NAME_MAX), field="shared_name")
    if len(shared_message) > SHARE_MESSAGE_MAX:
        raise Invalid(
            _("The message is too long (at most %(max)s characters).", max=SHARE_MESSAGE_MAX), field="shared_message"
        )
    n.mine.state = ConsentState.ACCEPTED
    n.mine.shared_name = shared_name
    n.mine.shared_message = shared_message
    n.mine.decided_at = utcnow()
    db.session.flush()
    outcome = Outcome(n.proposal.status, _("Thank you. We will tell you when the other person has answered."))
    if n.other.state == ConsentState.ACCEPTED:
        conv = _open_conversation(n.proposal)
        outcome.message = _("You both agreed. The conversation is open.")
        for consent in (n.mine, n.other):
            note = _notify(consent.user_id, "conversation_open", f"/conversations/{conv.public_id}")
            outcome.notifications += [note] if note else []
    else:
        note = _notify(n.other.user_id, "match_waiting", f"/matches/{n.proposal.public_id}")
        outcome.notifications += [note] if note else []
    return outcome


def _approving_moderators(proposal: Proposal) -> list[int]:
    ids: list[int] = []
    for d in decisions_for(proposal):
        if d.action == DecisionAction.APPROVE and d.moderator_id not in ids:
            ids.append(d.moderator_id)
    return ids


def _notify_moderators(proposal: Proposal, kind: str) -> list[int]:
    out: list[int] = []
    for mod_id in _approving_moderators(proposal):
        note = _notify(mod_id, kind, f"/moderator/proposals/{proposal.public_id}")
        out += [note] if note else []
    return out


def _open_conversation(proposal: Proposal) -> Conversation:
    child, parent = _claims_of(proposal)
    if child.owner_id is None or parent.owner_id is None:
        raise Invalid(
            _("One of these claims was imported and has no account, so nobody could consent. Reject it or wait.")
        )
    conv = Conversation(
        public_id="cv-" + secrets.token_hex(8),
        proposal_id=proposal.id,
        state=ConversationState.OPEN,
        is_premoderated=child_is_minor(child),
    )
    db.session.add(conv)
    try:
        db.session.flush()
    except IntegrityError as err:  # the other person's acceptance opened it at the same moment
        db.session.rollback()
        raise Conflict(_("The conversation was just opened. Reload the page.")) from err
    db.session.add(Member(conversation_id=conv.id, user_id=child.owner_id, role="child"))
    db.session.add(Member(conversation_id=conv.id, user_id=parent.owner_id, role="parent"))
    for mod_id in _approving_moderators(proposal):
        db.session.add(Member(conversation_id=conv.id, user_id=mod_id, role="moderator"))
    db.session.flush()
    return conv


def withdraw(user: User, proposal_public_id: str) -> Outcome:
    """Either person withdraws: the conversation closes for both and the moderators are told."""
    n = notice(user, proposal_public_id)
    if n.mine.state == ConsentState.WITHDRAWN:
        raise Conflict(_("You have already withdrawn."))
    n.mine.state = ConsentState.WITHDRAWN
    n.mine.decided_at = utcnow()
    n.proposal.status = ProposalStatus.CLOSED
    if n.conversation is not None and n.conversation.state != ConversationState.CLOSED:
        n.conversation.state = ConversationState.CLOSED
        n.conversation.closed_at = utcnow()
        n.conversation.close_reason = "withdrawn"
    outcome = Outcome(ProposalStatus.CLOSED, _("You withdrew. The conversation is closed for both of you."))
    outcome.notifications += _notify_moderators(n.proposal, "withdrawn")
    if n.other.state in (ConsentState.ACCEPTED, ConsentState.PENDING):
        note = _notify(n.other.user_id, "conversation_closed", f"/matches/{n.proposal.public_id}")
        outcome.notifications += [note] if note else []
    return outcome


def close_for_erasure(user: User, claim_ids: Sequence[int]) -> list[int]:
    """Account erasure: close every proposal on these claims of ``user`` and detach it from them.

    The proposal rows stay (a conversation may refer to them) but lose the link to the erased
    claims, the explanation (it quotes matched name forms) and the matched-fields signature.
    The person's consent becomes withdrawn with nothing shared any more. When the proposal was
    still open, the other person and the approving moderators are told, as for a withdrawal.
    Adds and flushes; the caller commits.

    :returns: ids of the notifications to mail after the commit.
    """
    ids = set(claim_ids)
    if not ids:
        return []
    now = utcnow()
    notes: list[int] = []
    proposals = db.session.scalars(
        select(Proposal).where((Proposal.child_claim_id.in_(ids)) | (Proposal.parent_claim_id.in_(ids)))
    )
    for proposal in proposals:
        was_open = proposal.status not in (ProposalStatus.REJECTED, ProposalStatus.CLOSED)
        if was_open:
            proposal.status = ProposalStatus.CLOSED
            proposal.state_version += 1
            proposal.updated_at = now
            notes += _notify_moderators(proposal, "withdrawn")
        for consent in db.session.scalars(select(Consent).where(Consent.proposal_id == proposal.id)):
            if consent.user_id == user.id:
                if consent.state in (ConsentState.PENDING, ConsentState.ACCEPTED):
                    consent.state = ConsentState.WITHDRAWN
                    consent.decided_at = now
                consent.shared_name = ""
                consent.shared_message = ""
            elif was_open and consent.state in (ConsentState.PENDING, ConsentState.ACCEPTED):
                note = _notify(consent.user_id, "conversation_closed", f"/matches/{proposal.public_id}")
                notes += [note] if note else []
        if proposal.child_claim_id in ids:
            proposal.child_claim_id = None
        if proposal.parent_claim_id in ids:
            proposal.parent_claim_id = None
        proposal.explanation = {}
        proposal.matched_sig = ""
    db.session.flush()
    return notes


# --- dashboard ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    """Counts by state, the oldest waiting item, and weekly activity."""

    counts: dict[str, int]
    oldest_waiting_at: datetime | None
    weeks: list[dict[str, Any]]


def dashboard(weeks: int = 12) -> Dashboard:
    """Figures for the moderators' home page."""
    counts = {s.value: 0 for s in ProposalStatus}
    for status, n in db.session.execute(select(Proposal.status, func.count()).group_by(Proposal.status)):
        counts[ProposalStatus(status).value] = int(n)
    oldest = db.session.scalar(select(func.min(Proposal.created_at)).where(Proposal.status.in_(WAITING)))
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    today = datetime.now(UTC).date()
    start = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    buckets = [
        {"week": (start + timedelta(days=7 * i)).isoformat(), "proposed": 0, "approved": 0, "rejected": 0}
        for i in range(weeks)
    ]

    def bucket(moment: datetime) -> dict[str, Any] | None:
        index = (moment.date() - start).days // 7
        return buckets[index] if 0 <= index < weeks else None

    since = datetime(start.year, start.month, start.day, tzinfo=UTC)
    for (created,) in db.session.execute(select(Proposal.created_at).where(Proposal.created_at >= since)):
        b = bucket(created if created.tzinfo else created.replace(tzinfo=UTC))
        if b:
            b["proposed"] += 1
    for action, created in db.session.execute(
        select(Decision.action, Decision.created_at).where(
            Decision.created_at >= since, Decision.action.in_([DecisionAction.APPROVE, DecisionAction.REJECT])
        )
    ):
        b = bucket(created if created.tzinfo else created.replace(tzinfo=UTC))
        if b:
            b["approved" if DecisionAction(action) == DecisionAction.APPROVE else "rejected"] += 1
    return Dashboard(counts=counts, oldest_waiting_at=oldest, weeks=buckets)
