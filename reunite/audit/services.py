"""Append to the audit log under a lock, search it, and verify its hash chain."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql, sqlite

from reunite.audit.models import AuditEntry, AuditHead
from reunite.auth.models import User
from reunite.extensions import db

GENESIS = bytes(32)
DOMAIN = b"reunite-audit-v1"
PER_PAGE = 50
MAX_DETAILS_BYTES = 4096
MAX_REASON_CHARS = 2000


class AuditError(ValueError):
    """A programming error in a call to ``record`` (bad action, target or details); never user input."""


def canonical_details(details: dict[str, Any] | None) -> str:
    """The canonical JSON text of a details dict: sorted keys, no spaces, UTF-8 kept as is.

    :raises AuditError: not a dict, not JSON-serialisable (or NaN/infinity), or larger than 4 KiB.
    """
    if details is None:
        details = {}
    if not isinstance(details, dict):
        raise AuditError("details must be a dict")
    try:
        text = _canonical_json(details)
    except (TypeError, ValueError) as err:
        raise AuditError(f"details are not plain JSON: {err}") from err
    if len(text.encode()) > MAX_DETAILS_BYTES:
        raise AuditError("details are larger than 4 KiB")
    return text


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _field(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


def _text(value: str | None) -> bytes:
    # None and "" must hash differently, so a missing actor cannot pose as an empty name.
    return b"\x00" if value is None else b"\x01" + _field(value.encode())


def entry_hash(
    prev: bytes,
    seq: int,
    actor_id: int | None,
    actor_username: str | None,
    action: str,
    target_type: str,
    target_id: str,
    reason: str,
    details_json: str,
    created_ms: int,
) -> bytes:
    """SHA-256 over a length-prefixed encoding of one entry and the previous entry's hash."""
    parts = [
        _field(DOMAIN),
        _field(prev),
        _field(seq.to_bytes(8, "big")),
        _text(None if actor_id is None else str(actor_id)),
        _text(actor_username),
        _text(action),
        _text(target_type),
        _text(target_id),
        _text(reason),
        _text(details_json),
        _field(created_ms.to_bytes(8, "big", signed=True)),
    ]
    return hashlib.sha256(b"".join(parts)).digest()


def _hash_of(entry: AuditEntry, prev: bytes) -> bytes:
    return entry_hash(
        prev,
        entry.seq,
        entry.actor_id,
        entry.actor_username,
        entry.action,
        entry.target_type,
        entry.target_id,
        entry.reason,
        # No size or type checks here: a tampered row must fail the hash, not crash the check.
        _canonical_json(entry.details),
        entry.created_ms,
    )


def _head_for_update() -> AuditHead:
    """Lock the head row, creating it first if this is the very first append (race-free)."""
    query = select(AuditHead).where(AuditHead.id == 1).with_for_update().execution_options(populate_existing=True)
    head = db.session.scalars(query).first()
    if head is not None:
        return head
    dialect = db.session.get_bind().dialect.name
    values = {"id": 1, "size": 0, "head": GENESIS}
    if dialect == "postgresql":
        db.session.execute(postgresql.insert(AuditHead).values(**values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        db.session.execute(sqlite.insert(AuditHead).values(**values).on_conflict_do_nothing())
    else:
        db.session.add(AuditHead(**values))
        db.session.flush()
    return db.session.scalars(query).one()


def _check_text(name: str, value: str, limit: int) -> None:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise AuditError(f"{name} must be a non-empty string of at most {limit} characters")


def record(
    actor: User | None,
    action: str,
    target_type: str,
    target_id: str,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one staff action to the audit log and flush; the caller commits with its own work.

    Appends are serialised by locking the head row, so the lock is held until the caller's
    commit: commit soon after recording.

    :param actor: the moderator or admin; None for an operator command on the server.
    :param action: what was done, e.g. ``"account.reset"`` or ``"proposal.approve"``.
    :param target_type: the kind of thing acted on, e.g. ``"user"`` or ``"proposal"``.
    :param target_id: its public id (never a database id, never a name).
    :param reason: the staff member's reason, as typed.
    :param details: a small JSON object (at most 4 KiB); no secrets, no claim content.
    :raises AuditError: an argument breaks the rules above (a bug in the caller).
    """
    _check_text("action", action, 64)
    _check_text("target_type", target_type, 32)
    _check_text("target_id", target_id, 64)
    if not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS:
        raise AuditError(f"reason must be a string of at most {MAX_REASON_CHARS} characters")
    details_json = canonical_details(details)
    head = _head_for_update()
    seq = head.size + 1
    created_ms = int(time.time() * 1000)
    actor_id = actor.id if actor is not None else None
    actor_username = actor.username if actor is not None else None
    digest = entry_hash(
        head.head, seq, actor_id, actor_username, action, target_type, target_id, reason, details_json, created_ms
    )
    entry = AuditEntry(
        seq=seq,
        actor_id=actor_id,
        actor_username=actor_username,
        action=action,
        target_type=target_type,
        target_id=target_id,
        reason=reason,
        # Stored as parsed from the canonical text, so reading it back gives the same text.
        details=json.loads(details_json),
        created_ms=created_ms,
        entry_hash=digest,
    )
    head.size = seq
    head.head = digest
    db.session.add(entry)
    db.session.flush()
    return entry


@dataclass(frozen=True)
class Verification:
    """The result of checking the audit log: ``first_bad_seq`` and ``message`` are set when broken."""

    is_ok: bool
    entries: int
    first_bad_seq: int | None = None
    message: str = ""


def verify(batch: int = 1000) -> Verification:
    """Recompute the chain from genesis and compare every stored hash, the sequence and the head row."""
    prev = GENESIS
    count = 0
    last_seq = 0
    while True:
        rows = db.session.scalars(
            select(AuditEntry).where(AuditEntry.seq > last_seq).order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not rows:
            break
        for entry in rows:
            count += 1
            if entry.seq != count:
                return Verification(
                    False, count - 1, count, f"entry {count} is missing (the next entry is {entry.seq})"
                )
            expected = _hash_of(entry, prev)
            if expected != entry.entry_hash:
                return Verification(False, count - 1, entry.seq, f"entry {entry.seq} does not match its hash")
            prev = expected
            last_seq = entry.seq
    head = db.session.get(AuditHead, 1)
    size, head_hash = (head.size, head.head) if head is not None else (0, GENESIS)
    if size > count:
        message = f"entry {count + 1} is missing: the head says {size} entries but the chain ends at {count}"
        return Verification(False, count, count + 1, message)
    if size < count:
        message = f"entry {size + 1} is not in the head: the head says {size} entries but the chain has {count}"
        return Verification(False, count, size + 1, message)
    if head_hash != prev:
        return Verification(False, count, count, f"the head does not match entry {count}")
    return Verification(True, count, None, f"audit log OK: {count} entries verified")


@dataclass(frozen=True)
class AuditFilter:
    """What the admin page filters on; empty values filter nothing. Dates are UTC days, inclusive."""

    action: str = ""
    actor: str = ""
    target_id: str = ""
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class AuditPage:
    """One page of entries, newest first."""

    entries: list[AuditEntry]
    page: int
    pages: int
    total: int

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _day_ms(day: date) -> int:
    return int(datetime.combine(day, dtime.min, tzinfo=UTC).timestamp() * 1000)


def _filtered(query: Select[Any], flt: AuditFilter) -> Select[Any]:
    if flt.action:
        query = query.where(AuditEntry.action == flt.action)
    if flt.actor:
        query = query.where(func.lower(AuditEntry.actor_username) == flt.actor.lower())
    if flt.target_id:
        query = query.where(AuditEntry.target_id == flt.target_id)
    if flt.date_from is not None:
        query = query.where(AuditEntry.created_ms >= _day_ms(flt.date_from))
    if flt.date_to is not None:
        query = query.where(AuditEntry.created_ms < _day_ms(flt.date_to + timedelta(days=1)))
    return query


def search(flt: AuditFilter, page: int = 1, per_page: int = PER_PAGE) -> AuditPage:
    """Entries matching the filter, newest first, one page at a time (a page past the end is empty)."""
    total = db.session.scalar(_filtered(select(func.count()).select_from(AuditEntry), flt)) or 0
    pages = max(1, math.ceil(total / per_page))
    page = max(1, page)
    rows = db.session.scalars(
        _filtered(select(AuditEntry), flt).order_by(AuditEntry.seq.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return AuditPage(list(rows), page, pages, total)


def known_actions() -> Iterable[str]:
    """Every action string present in the log, for the filter's choices."""
    return db.session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)).all()
