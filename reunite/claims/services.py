"""Claim rules: who files what, edits with history, import and export of claims-v1.

Services take plain values, ``add``/``flush`` and never commit: the caller commits once and
then calls :func:`reunite.claims.tasks.enqueue_match` for every id in a changed result.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, or_, select, text

from reunite.auth.models import Role, User
from reunite.claims.models import Claim, ClaimRevision, ClaimRole
from reunite.claims.validation import validate_claim
from reunite.errors import Forbidden, Invalid, NotFound
from reunite.extensions import db
from reunite.types import utcnow

ACCOUNT_CLAIM_ROLE = {Role.PARENT: ClaimRole.PARENT, Role.CHILD: ClaimRole.CHILD}


@dataclass(frozen=True)
class ImportResult:
    """What importing one line did: "created", "updated" or "unchanged"."""

    outcome: str
    claim_id: int
    public_id: str

    @property
    def is_changed(self) -> bool:
        """Whether the claim is new or has a new version (and so needs matching)."""
        return self.outcome != "unchanged"


def _new_public_id() -> str:
    return "cl-" + secrets.token_hex(8)


def claim_role_for(owner: User) -> ClaimRole:
    """The kind of claim an account files.

    :raises Forbidden: moderators and administrators file no claims.
    """
    role = ACCOUNT_CLAIM_ROLE.get(owner.role)
    if role is None:
        raise Forbidden(_("Moderators and administrators do not file claims."))
    return role


def _check_role(expected: ClaimRole, data: Mapping[str, Any]) -> None:
    given = data.get("role") if isinstance(data, Mapping) else None
    if isinstance(given, str) and given in (ClaimRole.PARENT.value, ClaimRole.CHILD.value) and given != expected:
        if expected == ClaimRole.PARENT:
            raise Forbidden(_("A parent account files parent claims."), field="role")
        raise Forbidden(_("A child account files child claims."), field="role")


def _add_revision(claim: Claim, author: User | None) -> None:
    db.session.add(
        ClaimRevision(claim=claim, version=claim.version, data=claim.data, author_id=author.id if author else None)
    )


def create_claim(owner: User, data: Mapping[str, Any]) -> Claim:
    """File a new claim for ``owner`` (version 1, with its first revision).

    :param data: a claims-v1 object without ``id``; its ``role`` must match the account.
    :raises Forbidden: staff accounts, or a role that is not the account's.
    :raises Invalid: the content breaks claims-v1 (``field`` names the place).
    """
    role = claim_role_for(owner)
    _check_role(role, data)
    clean = validate_claim(data, require_id=False)
    claim = Claim(public_id=_new_public_id(), owner_id=owner.id, role=role, data=clean, version=1)
    db.session.add(claim)
    _add_revision(claim, owner)
    db.session.flush()
    return claim


def get_own_claim(owner: User, public_id: str) -> Claim:
    """One of the owner's claims.

    :raises NotFound: no such claim, or it belongs to someone else (the answer is the same).
    """
    claim = db.session.scalars(
        select(Claim).where(Claim.public_id == public_id, Claim.owner_id == owner.id)
    ).one_or_none()
    if claim is None:
        raise NotFound(_("No such claim."))
    return claim


def list_own_claims(owner: User) -> list[Claim]:
    """The owner's claims, newest first."""
    return list(
        db.session.scalars(select(Claim).where(Claim.owner_id == owner.id).order_by(Claim.created_at.desc(), Claim.id))
    )


def erase_own_claims(owner: User) -> list[int]:
    """Account erasure: delete the owner's claims with their whole revision history.

    Call only after every proposal on these claims was detached from them
    (:func:`reunite.moderation.services.close_for_erasure`). Flushes; the caller commits.

    :returns: the ids of the deleted claims (for the matcher to drop them from its index).
    """
    ids = list(db.session.scalars(select(Claim.id).where(Claim.owner_id == owner.id)))
    if ids:
        db.session.execute(delete(ClaimRevision).where(ClaimRevision.claim_id.in_(ids)))
        db.session.execute(delete(Claim).where(Claim.id.in_(ids)))
        db.session.flush()
    return ids


def _apply_change(claim: Claim, clean: dict[str, Any], author: User | None) -> bool:
    if clean == claim.data:
        return False
    claim.version += 1
    claim.data = clean
    claim.updated_at = utcnow()
    _add_revision(claim, author)
    db.session.flush()
    return True


def update_claim(owner: User, public_id: str, data: Mapping[str, Any]) -> tuple[Claim, bool]:
    """Replace the content of one of the owner's claims, keeping the old version in the history.

    :returns: the claim and whether anything changed (identical content makes no new revision).
    :raises NotFound: not the owner's claim.
    :raises Forbidden: the role would change.
    :raises Invalid: the content breaks claims-v1.
    """
    claim = get_own_claim(owner, public_id)
    _check_role(claim.role, data)
    clean = validate_claim(data, require_id=False)
    return claim, _apply_change(claim, clean, owner)


def history(owner: User, public_id: str) -> list[ClaimRevision]:
    """Every version of one of the owner's claims, oldest first.

    :raises NotFound: not the owner's claim.
    """
    claim = get_own_claim(owner, public_id)
    return list(
        db.session.scalars(
            select(ClaimRevision).where(ClaimRevision.claim_id == claim.id).order_by(ClaimRevision.version)
        )
    )


def _find_by_interchange_id(ident: str) -> Claim | None:
    # Imported claims keep their source id; claims made here are exported under their public id.
    return db.session.scalars(
        select(Claim).where(or_(Claim.source_id == ident, (Claim.source_id.is_(None)) & (Claim.public_id == ident)))
    ).first()


def import_line(line_no: int, obj: Any) -> ImportResult:
    """Import one claims-v1 object atomically, keyed by its ``id``.

    Runs inside a SAVEPOINT, so a failure leaves nothing of this line behind while earlier
    lines stay. A new id creates an unowned claim; identical content is "unchanged"; other
    content becomes a new revision.

    :param line_no: the line number, for the caller's messages only.
    :raises Invalid: the object breaks claims-v1 or would change an existing claim's role.
    """
    clean = validate_claim(obj, require_id=True)
    ident = clean.pop("id")
    with db.session.begin_nested():
        claim = _find_by_interchange_id(ident)
        if claim is None:
            claim = Claim(
                public_id=_new_public_id(), owner_id=None, source_id=ident, role=ClaimRole(clean["role"]), data=clean
            )
            claim.version = 1
            db.session.add(claim)
            _add_revision(claim, None)
            db.session.flush()
            outcome = "created"
        elif claim.role.value != clean["role"]:
            raise Invalid(_("This claim exists with another role; a role cannot change."), field="role")
        else:
            outcome = "updated" if _apply_change(claim, clean, None) else "unchanged"
    return ImportResult(outcome=outcome, claim_id=claim.id, public_id=claim.public_id)


def unmatched_claim_ids(limit: int = 500) -> list[int]:
    """Ids of claims whose current version the matcher has not seen (for a periodic sweep), oldest first."""
    waiting = or_(Claim.matched_version.is_(None), Claim.matched_version != Claim.version)
    return list(db.session.scalars(select(Claim.id).where(waiting).order_by(Claim.id).limit(limit)))


def export_claim(claim: Claim) -> dict[str, Any]:
    """The claims-v1 object for a claim, ``id`` first."""
    return {"id": claim.interchange_id, **claim.data}


def export_all(batch: int = 500) -> Iterator[dict[str, Any]]:
    """Every claim as claims-v1, in creation order, read in batches."""
    last_id = 0
    while True:
        rows = list(db.session.scalars(select(Claim).where(Claim.id > last_id).order_by(Claim.id).limit(batch)))
        if not rows:
            return
        for claim in rows:
            yield export_claim(claim)
        last_id = rows[-1].id


def refresh_statistics() -> None:
    """Refresh the database's planner statistics for the claim table (after a bulk change).

    The matcher asks for the claims changed in the last seconds through the index on
    ``updated_at``. Right after a bulk import PostgreSQL has no statistics for the new rows and
    scans the whole table for that question instead, until autovacuum gets round to analysing it
    (measured: 240 ms per match at a million stored claims instead of about 10 ms).
    """
    db.session.execute(text("ANALYZE claim"))
