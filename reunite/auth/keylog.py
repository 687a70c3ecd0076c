"""The hash-chained key log: append under a lock, sign checkpoints, verify the whole chain."""

from __future__ import annotations

import time
from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
from sqlalchemy import select

from reunite.auth.models import KeyLogCheckpoint, KeyLogEntry, KeyLogHead, User
from reunite.client import protocol as p
from reunite.extensions import db
from reunite.keys import server_signing_key

GENESIS = bytes(32)


def _head_for_update() -> KeyLogHead:
    head = db.session.scalars(select(KeyLogHead).where(KeyLogHead.id == 1).with_for_update()).first()
    if head is None:
        head = KeyLogHead(id=1, size=0, head=GENESIS)
        db.session.add(head)
        db.session.flush()
    return head


def append(user: User, event: str) -> KeyLogEntry:
    """Append the user's current keys as a new entry and sign a checkpoint over the new head."""
    head = _head_for_update()
    ms = int(time.time() * 1000)
    entry_hash = p.keylog_entry(head.head, user.public_id, user.identity_pk, user.enc_pk, user.enc_epoch, ms)
    entry = KeyLogEntry(
        seq=head.size + 1,
        user_public_id=user.public_id,
        event=event,
        identity_pk=user.identity_pk,
        enc_pk=user.enc_pk,
        epoch=user.enc_epoch,
        ms=ms,
        entry_hash=entry_hash,
        enc_cert=user.enc_cert,
    )
    head.size += 1
    head.head = entry_hash
    sig = server_signing_key().sign(p.checkpoint_message(head.size, entry_hash)).signature
    db.session.add(entry)
    db.session.add(KeyLogCheckpoint(size=head.size, head=entry_hash, sig=sig))
    db.session.flush()
    return entry


@dataclass(frozen=True)
class Verification:
    """The result of checking the key log."""

    is_ok: bool
    entries: int
    checkpoints: int
    problem: str | None = None
    first_bad_seq: int | None = None


def verify() -> Verification:
    """Recompute the chain from genesis, compare every stored hash, and check every checkpoint."""
    verify_key = server_signing_key().verify_key
    prev = GENESIS
    heads: dict[int, bytes] = {}
    count = 0
    for entry in db.session.scalars(select(KeyLogEntry).order_by(KeyLogEntry.seq)):
        count += 1
        if entry.seq != count:
            return Verification(False, count, 0, f"entry {count} is missing (found seq {entry.seq})", count)
        expected = p.keylog_entry(prev, entry.user_public_id, entry.identity_pk, entry.enc_pk, entry.epoch, entry.ms)
        if expected != entry.entry_hash:
            return Verification(False, count, 0, f"entry {entry.seq} does not match its hash", entry.seq)
        prev = expected
        heads[entry.seq] = expected
    head_row = db.session.get(KeyLogHead, 1)
    if head_row is not None and (head_row.size != count or head_row.head != prev):
        return Verification(False, count, 0, f"the head says size {head_row.size} but the chain has {count}", count + 1)
    checked = 0
    for cp in db.session.scalars(select(KeyLogCheckpoint).order_by(KeyLogCheckpoint.size)):
        checked += 1
        try:
            verify_key.verify(p.checkpoint_message(cp.size, cp.head), cp.sig)
        except BadSignatureError:
            return Verification(False, count, checked, f"checkpoint at size {cp.size} has a bad signature", cp.size)
        if heads.get(cp.size) != cp.head:
            return Verification(
                False, count, checked, f"checkpoint at size {cp.size} disagrees with the chain", cp.size
            )
    return Verification(True, count, checked)


def latest_checkpoint() -> KeyLogCheckpoint | None:
    """The newest signed checkpoint."""
    return db.session.scalars(select(KeyLogCheckpoint).order_by(KeyLogCheckpoint.size.desc()).limit(1)).first()
