"""The seam between claims and the matcher: match one stored claim and commit (one task, one commit)."""

from __future__ import annotations

from reunite.extensions import db


def match_claim(claim_id: int) -> None:
    """Index and match one claim by id; idempotent, so a redelivered task is harmless."""
    from reunite.proposals import services

    try:
        services.match_claim(claim_id)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
