"""Data protection: erasing one's own account, and exporting everything the service holds about a person.

Erasure runs in the caller's single transaction (services add and flush; the route commits
once), so a failure anywhere leaves everything as it was. What goes and what stays:

- **Erased**: the person's claims and their revision history (and safeguarding flags on them),
  the consent details they shared, their notifications and e-mail address, their read
  positions, the sealed key bundle and its recovery copy, the password and recovery hashes,
  TOTP and reset state, birth year and month, and the username (which is released: anyone
  may register it again; the tombstone cannot be found or logged into by any name).
- **Kept, and why**: the account row as a tombstone (public id, role, public keys, times),
  because the conversation rosters and the key log refer to it. Conversations the person was
  in are closed but stay with the partner and the moderators as they were: messages, chain,
  receipts and every sealed copy of each message key (the sender's signature covers all the
  copies, so removing the person's copy would make every message fail verification for the
  others; that copy opens only with the person's private key, whose sealed copies are
  erased). The person's username stays in those conversations' records only, because each
  enc_cert signs it. The public key log is append-only and hash-chained: its entries stay and
  a "retired" entry is appended. Reports of abuse and moderators' decisions stay with the
  moderators (safeguarding evidence). The audit log gets one entry, "account.erased", with
  the account's opaque public id and nothing else.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, or_, select

from reunite.auth import keylog
from reunite.auth.models import KeyLogEntry, User
from reunite.auth.services import _verify_hash
from reunite.client import protocol as p
from reunite.errors import Forbidden, NotFound, Unauthorized
from reunite.extensions import db
from reunite.types import utcnow

EXPORT_FORMAT = "reunite-personal-data-v1"


@dataclass
class Erased:
    """What an erasure did, for the caller to finish after the commit."""

    public_id: str
    claim_ids: list[int] = field(default_factory=list)
    conversations: int = 0
    notifications: list[int] = field(default_factory=list)


def check_password_proof(user: User, auth_key: bytes) -> None:
    """A fresh proof of the password: the auth key the client derived from it (never the password).

    :raises Unauthorized: the key does not match.
    """
    if not _verify_hash(user.auth_hash, auth_key):
        raise Unauthorized(_("The password is wrong."))


def erase_account(user: User, auth_key: bytes) -> Erased:
    """Erase the person's own account in the caller's transaction (see the module docstring).

    :raises Forbidden: moderators and administrators cannot erase their own account.
    :raises NotFound: the account is already erased.
    :raises Unauthorized: the password proof is wrong (nothing changed).
    """
    if user.is_erased:
        raise NotFound(_("No such account."))
    if user.is_staff:
        raise Forbidden(
            _(
                "Moderator and administrator accounts cannot be deleted here: ask an administrator, "
                "so that the conversations you moderate get another moderator first."
            )
        )
    check_password_proof(user, auth_key)
    # Late imports: these feature modules import reunite.auth.models, whose package imports this.
    from reunite.audit.services import record
    from reunite.claims.models import Claim
    from reunite.claims.services import erase_own_claims
    from reunite.mailbox.services import leave_for_erasure, my_conversations
    from reunite.moderation.models import Flag
    from reunite.moderation.services import close_for_erasure
    from reunite.notifications.models import Notification

    result = Erased(public_id=user.public_id)
    claim_ids = list(db.session.scalars(select(Claim.id).where(Claim.owner_id == user.id)))
    result.notifications += close_for_erasure(user, claim_ids)
    if claim_ids:
        db.session.execute(delete(Flag).where(Flag.claim_id.in_(claim_ids)))
    result.claim_ids = erase_own_claims(user)
    result.notifications += leave_for_erasure(user)
    result.conversations = len(my_conversations(user))
    db.session.execute(delete(Notification).where(Notification.user_id == user.id))
    # The key log is append-only: its entries stay, and this one marks the keys as retired.
    keylog.append(user, "retired")
    _tombstone(user)
    record(None, "account.erased", "account", user.public_id)
    db.session.flush()
    return result


def _tombstone(user: User) -> None:
    """Blank every personal or secret field of the account row; keep public id, role and public keys."""
    user.username = ""
    # Unique and unreachable: no login name normalises to it (128 random bits), so the name is free again.
    user.username_key = "erased:" + secrets.token_hex(16)
    user.email = None
    user.locale = "en"
    user.birth_year = None
    user.birth_month = None
    user.kdf_salt = bytes(16)
    user.kdf_ops = 0
    user.kdf_mem = 0
    user.auth_hash = ""
    user.recovery_hash = ""
    user.bundle_nonce = bytes(24)
    user.bundle_ct = b""
    user.recovery_nonce = bytes(24)
    user.recovery_ct = b""
    user.totp_sealed = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    user.reset_hash = None
    user.reset_expires_at = None
    user.modcert_sig = None
    user.modcert_expires_ms = None
    # Every session of the account ends: the session cookie names the old nonce.
    user.session_nonce = secrets.token_hex(8)
    user.erased_at = utcnow()


# --- export ---------------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _account(user: User) -> dict[str, Any]:
    return {
        "id": user.public_id,
        "username": user.username,
        "role": user.role.value,
        "locale": user.locale,
        "birth_year": user.birth_year,
        "birth_month": user.birth_month,
        "email": user.email,
        "created_at": _iso(user.created_at),
        "keys_changed_at": _iso(user.keys_changed_at),
        "keys": {
            "identity_pk": p.b64e(user.identity_pk),
            "enc_pk": p.b64e(user.enc_pk),
            "epoch": user.enc_epoch,
            "enc_cert": p.b64e(user.enc_cert),
        },
        "kdf": {"salt": p.b64e(user.kdf_salt), "ops": user.kdf_ops, "mem": user.kdf_mem},
        "totp_set_up": user.has_totp,
        "moderator_certificate_expires_ms": user.modcert_expires_ms,
        # Held but not written into a file that may be stored carelessly: with the sealed bundle,
        # anyone holding the file could try passwords offline. Each is described instead.
        "held_not_included": [
            "auth_key_hash: an argon2id hash of the key your device derives from your password",
            "recovery_auth_hash: an argon2id hash of the key derived from your recovery key",
            "key_bundle: your private keys, sealed under your password (your device downloads it at login)",
            "recovery_bundle: your private keys, sealed under your recovery key",
            "totp_secret: sealed at rest (staff only)",
        ],
    }


def _claims(user: User) -> list[dict[str, Any]]:
    from reunite.claims.models import ClaimRevision
    from reunite.claims.services import export_claim, list_own_claims

    out = []
    for claim in list_own_claims(user):
        revisions = db.session.scalars(
            select(ClaimRevision).where(ClaimRevision.claim_id == claim.id).order_by(ClaimRevision.version)
        )
        out.append(
            {
                "claims_v1": export_claim(claim),
                "public_id": claim.public_id,
                "version": claim.version,
                "created_at": _iso(claim.created_at),
                "updated_at": _iso(claim.updated_at),
                "history": [
                    {
                        "version": r.version,
                        "created_at": _iso(r.created_at),
                        "claims_v1": {"id": claim.interchange_id, **r.data},
                    }
                    for r in revisions
                ],
            }
        )
    return out


def _matches(user: User, claim_ids: list[int]) -> list[dict[str, Any]]:
    """Proposals on the person's claims: what the person may see, never the other claim."""
    from reunite.moderation.models import Consent, ConsentState, Decision
    from reunite.proposals.models import Proposal

    if not claim_ids:
        return []
    out = []
    proposals = db.session.scalars(
        select(Proposal)
        .where(or_(Proposal.child_claim_id.in_(claim_ids), Proposal.parent_claim_id.in_(claim_ids)))
        .order_by(Proposal.id)
    )
    for proposal in proposals:
        side = "child" if proposal.child_claim_id in claim_ids else "parent"
        consents = list(db.session.scalars(select(Consent).where(Consent.proposal_id == proposal.id)))
        mine = next((c for c in consents if c.user_id == user.id), None)
        other = next((c for c in consents if c.user_id != user.id), None)
        item: dict[str, Any] = {
            "id": proposal.public_id,
            "side": side,
            "status": proposal.status.value,
            "created_at": _iso(proposal.created_at),
            "decided_at": _iso(proposal.decided_at),
            "score": proposal.score,
            # Which fields counted and how much; the details quote the other claim, so they stay out.
            "explanation": [
                {"field": r.get("field"), "level": r.get("level"), "bits": r.get("bits")}
                for r in proposal.explanation.get("fields", [])
            ],
            "questions_to_me": [
                {"asked_at": _iso(d.created_at), "question": d.reason}
                for d in db.session.scalars(
                    select(Decision).where(Decision.proposal_id == proposal.id, Decision.addressed_to == side)
                )
            ],
        }
        if mine is not None:
            item["my_answer"] = {
                "state": mine.state.value,
                "shared_name": mine.shared_name,
                "shared_message": mine.shared_message,
                "decided_at": _iso(mine.decided_at),
            }
        if other is not None and (other.state == ConsentState.ACCEPTED or other.shared_name):
            # Exactly what the match page showed: the other person's chosen name and message.
            item["shown_to_me"] = {"shared_name": other.shared_name, "shared_message": other.shared_message}
        out.append(item)
    return out


def _conversations(user: User) -> list[dict[str, Any]]:
    from reunite.mailbox import services as mailbox
    from reunite.mailbox.models import Member, Message, Report

    out = []
    for conv in mailbox.my_conversations(user):
        my_role = db.session.scalars(
            select(Member.role).where(Member.conversation_id == conv.id, Member.user_id == user.id)
        ).first()
        reports = db.session.execute(
            select(Report, Message.msg_id)
            .join(Message, Message.id == Report.message_id)
            .where(Report.reporter_id == user.id, Message.conversation_id == conv.id)
        ).all()
        out.append(
            {
                "id": conv.public_id,
                "my_role": my_role,
                "state": conv.state.value,
                "close_reason": conv.close_reason,
                "created_at": _iso(conv.created_at),
                "closed_at": _iso(conv.closed_at),
                "roster": [{"user_id": u.public_id, "role": m.role} for m, u in mailbox.roster(conv)],
                # Envelopes exactly as stored (ciphertext; open them with your own keys, e.g. with
                # `python -m reunite.client read`), only the entries you could see.
                "entries": mailbox.member_entries(user, conv.public_id),
                "my_reports": [
                    {
                        "id": r.public_id,
                        "msg_id": p.b64e(msg_id),
                        "note": r.note,
                        "created_at": _iso(r.created_at),
                    }
                    for r, msg_id in reports
                ],
            }
        )
    return out


def _key_log(user: User) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(KeyLogEntry).where(KeyLogEntry.user_public_id == user.public_id).order_by(KeyLogEntry.seq)
    )
    return [
        {
            "seq": e.seq,
            "event": e.event,
            "identity_pk": p.b64e(e.identity_pk),
            "enc_pk": p.b64e(e.enc_pk),
            "epoch": e.epoch,
            "ms": e.ms,
            "hash": p.b64e(e.entry_hash),
        }
        for e in rows
    ]


def _audit(user: User, targets: set[str]) -> list[dict[str, Any]]:
    """Audit entries about the person or their claims, matches and conversations.

    Who did it is left out (staff names are not the person's data) and so are safeguarding
    flags: they are never shown to the person they concern.
    """
    from reunite.audit.models import AuditEntry

    rows = db.session.scalars(select(AuditEntry).where(AuditEntry.target_id.in_(targets)).order_by(AuditEntry.seq))
    return [
        {
            "seq": e.seq,
            "action": e.action,
            "target_type": e.target_type,
            "target_id": e.target_id,
            "reason": e.reason,
            "created_at": _iso(e.created_at),
        }
        for e in rows
        if not e.action.startswith("flag")
    ]


def _notifications(user: User) -> list[dict[str, Any]]:
    from reunite.notifications.models import Notification

    rows = db.session.scalars(select(Notification).where(Notification.user_id == user.id).order_by(Notification.id))
    return [
        {
            "kind": n.kind,
            "link": n.link,
            "created_at": _iso(n.created_at),
            "read_at": _iso(n.read_at),
            "mail_state": n.mail_state.value,
        }
        for n in rows
    ]


def export_account(user: User) -> dict[str, Any]:
    """Everything the service holds about the person, as one JSON document for them to download.

    Never other people's secrets or claims: of a match only what the person was shown; of a
    conversation the envelopes as stored (ciphertext) that the person could see.

    :raises NotFound: the account is erased.
    """
    if user.is_erased:
        raise NotFound(_("No such account."))
    from reunite.claims.models import Claim

    claims = _claims(user)
    claim_ids = list(db.session.scalars(select(Claim.id).where(Claim.owner_id == user.id)))
    matches = _matches(user, claim_ids)
    conversations = _conversations(user)
    targets = {user.public_id} | {c["public_id"] for c in claims} | {m["id"] for m in matches}
    targets |= {c["id"] for c in conversations}
    return {
        "format": EXPORT_FORMAT,
        "exported_at": utcnow().isoformat(),
        "account": _account(user),
        "claims": claims,
        "matches": matches,
        "notifications": _notifications(user),
        "conversations": conversations,
        "key_log": _key_log(user),
        "audit": _audit(user, targets),
    }
