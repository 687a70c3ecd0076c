"""Matching stored claims: an in-memory index per worker, kept in step with the database.

The engine (`reunite.matching`) is pure; this module feeds it claims from the database.
Each worker process holds a `MatchIndex` of every claim, loaded once and then refreshed
from rows changed since the last look (with a safety window for transactions that commit
out of order); the claim being matched is always re-read and re-indexed first. A child
claim is matched against children inside parent claims; a new or changed parent claim
finds the child claims it could belong to and re-matches each of them, so the decision for
a child claim (best candidate, margin) always sees every parent claim.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import hashlib
import json
import logging
import secrets
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import bindparam, select

from reunite.claims.age import child_is_minor
from reunite.claims.models import Claim, ClaimRole
from reunite.extensions import db
from reunite.matching.index import MatchIndex
from reunite.matching.index import Proposal as EngineProposal
from reunite.matching.model import ChildClaim, ClaimFormatError, ParentClaim, claim_from_dict
from reunite.matching.scoring import Model, default_model
from reunite.proposals.models import Proposal, ProposalStatus
from reunite.types import utcnow

log = logging.getLogger(__name__)
# Rows changed this long before the last refresh are read again: `updated_at` is set inside
# the saving transaction, which may commit a little after a refresh already passed that time.
# Claim transactions last well under a second. A claim missed here is still never lost: its
# own matching task re-reads it first, and every task sees all claims committed before it.
SAFETY_WINDOW = timedelta(seconds=10)

# Which parts of each claim an explanation field compares (for the "matched fields" signature).
_CHILD_PATHS: dict[str, tuple[str, ...]] = {
    "child_given": ("claimant", "names"),
    "child_family": ("claimant", "names"),
    "child_birth_date": ("claimant", "birth_date"),
    "child_sex": ("claimant", "sex"),
    "child_birth_place": ("claimant", "birth_place"),
    "sought_given": ("sought_parent", "names"),
    "sought_family": ("sought_parent", "names"),
    "sought_sex": ("sought_parent", "sex"),
    "sought_nationality": ("sought_parent", "nationalities"),
    "other_given": ("other_parent", "names"),
    "other_family": ("other_parent", "names"),
    "separated_on": ("separated_on",),
    "last_known_place": ("last_known_place",),
}
_PARENT_PATHS: dict[str, tuple[str, ...]] = {
    **{k: ("@child", v[1]) for k, v in _CHILD_PATHS.items() if k.startswith("child_")},
    "sought_given": ("claimant", "names"),
    "sought_family": ("claimant", "names"),
    "sought_sex": ("claimant", "sex"),
    "sought_nationality": ("claimant", "nationalities"),
    "other_given": ("other_parent", "names"),
    "other_family": ("other_parent", "names"),
    "separated_on": ("separated_on",),
    "last_known_place": ("last_known_place",),
}


def engine_claim(claim_id: int, data: dict[str, Any]) -> ParentClaim | ChildClaim:
    """The engine's view of a stored claim (its id is the database id, as text)."""
    return claim_from_dict({"id": str(claim_id), **data})


@functools.cache
def _with_threshold(bits: float) -> Model:
    return dataclasses.replace(default_model(), threshold=bits)


def configured_model() -> Model:
    """The shipped model, proposing from ``MATCH_THRESHOLD_BITS`` when that is set."""
    bits = current_app.config.get("MATCH_THRESHOLD_BITS") if has_app_context() else None
    if bits is None:
        return default_model()
    return _with_threshold(float(bits))


class SyncedIndex:
    """A process's `MatchIndex` of all stored claims, refreshed from the database on demand."""

    def __init__(self, model: Model | None = None) -> None:
        self.model = model or configured_model()
        self.index = MatchIndex(self.model)
        # claim id -> (version, public id): public ids are never reused, so a recycled row id is seen as new.
        self.versions: dict[int, tuple[int, str]] = {}
        self.synced_until: datetime | None = None
        self.lock = threading.Lock()

    def put(self, claim_id: int, public_id: str, version: int, data: dict[str, Any]) -> None:
        """Index (or re-index) one claim unless this version is already in."""
        if self.versions.get(claim_id) == (version, public_id):
            return
        try:
            self.index.add(engine_claim(claim_id, data))
        except ClaimFormatError as err:  # stored claims were validated; never let one stop the matcher
            log.error("claim %s cannot be indexed: %s", claim_id, err)
            return
        self.versions[claim_id] = (version, public_id)

    def drop(self, claim_id: int) -> None:
        """Forget a claim (deleted)."""
        self.index.remove(str(claim_id))
        self.versions.pop(claim_id, None)

    def refresh(self) -> int:
        """Read claims changed since the last refresh (all of them the first time); returns how many."""
        with self.lock:
            started = utcnow()
            if self.synced_until is None:
                wanted = None
            else:
                # Cheap first: which recently changed rows are not indexed at their version yet?
                recent = db.session.execute(
                    select(Claim.id, Claim.public_id, Claim.version).where(
                        Claim.updated_at >= self.synced_until - SAFETY_WINDOW
                    )
                )
                wanted = [cid for cid, pid, version in recent if self.versions.get(cid) != (version, pid)]
                if not wanted:
                    self.synced_until = started
                    return 0
            query = select(Claim.id, Claim.public_id, Claim.version, Claim.data).order_by(Claim.id)
            if wanted is not None:
                query = query.where(Claim.id.in_(wanted))
            n = 0
            for claim_id, public_id, version, data in db.session.execute(query.execution_options(yield_per=2000)):
                self.put(claim_id, public_id, version, data)
                n += 1
            if wanted is None:
                # The index is millions of long-lived objects without cycles: keep the cyclic
                # garbage collector from walking them on every full collection (they are still
                # freed by reference counting when a claim is re-indexed).
                gc.collect()
                gc.freeze()
            self.synced_until = started
            return n


_synced: SyncedIndex | None = None


def _process_index(model: Model | None) -> SyncedIndex:
    global _synced
    if _synced is None or (model is not None and _synced.model is not model):
        _synced = SyncedIndex(model)
    return _synced


def synced_index(model: Model | None = None) -> SyncedIndex:
    """This process's index (built on first use), refreshed from the database."""
    index = _process_index(model)
    index.refresh()
    return index


def reset_index() -> None:
    """Forget this process's index (tests, and after bulk changes such as a restore)."""
    global _synced
    _synced = None


def _pick(node: Any, path: tuple[str, ...], child_ref: str) -> Any:
    for part in path:
        if node is None:
            return None
        if part == "@child":
            node = next((c for c in node.get("children", []) if c.get("ref") == child_ref), None)
        else:
            node = node.get(part)
    return node


def matched_signature(child: Claim, parent: Claim, child_ref: str, explanation: dict[str, Any]) -> str:
    """SHA-256 over both claims' content in every field that counted for the link."""
    matched = sorted({row["field"] for row in explanation.get("fields", []) if row.get("bits", 0) > 0})
    parts = [
        [
            name,
            _pick(child.data, _CHILD_PATHS.get(name, ()), ""),
            _pick(parent.data, _PARENT_PATHS.get(name, ()), child_ref),
        ]
        for name in matched
    ]
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _record(child: Claim, parent: Claim, found: EngineProposal, existing: Proposal | None) -> bool:
    """Insert or refresh one proposal (``existing``: the stored one for this pair, if any).

    Returns True when a proposal is created or reopened.
    """
    sig = matched_signature(child, parent, found.child_ref, found.explanation)
    now = utcnow()
    score = round(found.score, 3)
    if existing is None:
        db.session.add(
            Proposal(
                public_id="pr-" + secrets.token_hex(8),
                child_claim_id=child.id,
                parent_claim_id=parent.id,
                child_ref=found.child_ref,
                score=score,
                explanation=found.explanation,
                matched_sig=sig,
                status=ProposalStatus.PROPOSED,
                involves_minor=child_is_minor(child),
                created_at=now,
                updated_at=now,
            )
        )
        return True
    if existing.status == ProposalStatus.REJECTED:
        if existing.matched_sig == sig:
            return False  # a moderator said no, and nothing that matched has changed
        existing.status = ProposalStatus.PROPOSED
        existing.state_version += 1
        reopened = True
    elif existing.status != ProposalStatus.PROPOSED:
        return False  # under review or decided: the matcher does not touch it
    else:
        reopened = False
    if reopened or existing.score != score or existing.matched_sig != sig:
        existing.score = score
        existing.explanation = found.explanation
        existing.matched_sig = sig
        existing.involves_minor = child_is_minor(child)
        existing.updated_at = now
    return reopened


# Built once: the worker runs this after every claim it matches.
_MARK_MATCHED = (
    Claim.__table__.update()
    .where(Claim.__table__.c.id == bindparam("claim_id"), Claim.__table__.c.version == bindparam("seen_version"))
    .values(matched_version=bindparam("seen_version"))
)


def mark_matched(claim: Claim) -> None:
    """Record that the claim's current version has been matched (unless it was edited meanwhile)."""
    mark_versions_matched([(claim.id, claim.version)])


def mark_versions_matched(versions: list[tuple[int, int]]) -> None:
    """Record that each (claim id, version) has been matched, in one executemany.

    A claim edited since that version was read keeps waiting for the matcher.
    """
    if versions:
        db.session.execute(_MARK_MATCHED, [{"claim_id": cid, "seen_version": v} for cid, v in versions])


def match_child(child: Claim, index: SyncedIndex) -> int:
    """Propose links for one stored child claim; returns proposals created or reopened."""
    found = index.index.match(engine_claim(child.id, child.data))  # type: ignore[arg-type]
    if not found:
        return 0
    parent_ids = {int(f.parent_claim_id) for f in found}
    parents = {c.id: c for c in db.session.scalars(select(Claim).where(Claim.id.in_(parent_ids)))}
    stored = {
        (p.parent_claim_id, p.child_ref): p
        for p in db.session.scalars(
            select(Proposal).where(Proposal.child_claim_id == child.id, Proposal.parent_claim_id.in_(parent_ids))
        )
    }
    made = 0
    for f in found:
        parent = parents.get(int(f.parent_claim_id))
        if parent is not None:  # deleted since it was indexed
            made += _record(child, parent, f, stored.get((parent.id, f.child_ref)))
    return made


def match_claim(claim_id: int, model: Model | None = None) -> int:
    """Index and match one stored claim (idempotent). Returns proposals created or reopened.

    Missing claims are ignored (deleted since the task was queued). The caller commits.
    """
    claim = db.session.get(Claim, claim_id)
    index = _process_index(model)
    if claim is None:
        index.drop(claim_id)
        return 0
    # The claim itself is indexed before the refresh, which then need not read it again.
    index.put(claim.id, claim.public_id, claim.version, claim.data)
    index.refresh()
    if claim.role == ClaimRole.CHILD:
        made = match_child(claim, index)
    else:
        # A parent claim: which child claims could be one of its children? Re-match each of them
        # so their decision sees every parent claim, this one included.
        found = index.index.match_parent(engine_claim(claim.id, claim.data))  # type: ignore[arg-type]
        child_ids = sorted({int(f.child_claim_id) for f in found})
        made = 0
        for child in db.session.scalars(select(Claim).where(Claim.id.in_(child_ids))):
            made += match_child(child, index)
    mark_matched(claim)
    return made


def all_claim_ids(role: ClaimRole | None = None) -> Iterator[int]:
    """Every claim id, in id order (optionally of one role)."""
    query = select(Claim.id).order_by(Claim.id)
    if role is not None:
        query = query.where(Claim.role == role)
    yield from db.session.scalars(query)
