"""Whether the child of a claim may be under 18: it decides two-moderator approval and pre-moderation."""

from __future__ import annotations

from datetime import UTC, date, datetime

from reunite.auth.models import User
from reunite.claims.models import Claim
from reunite.extensions import db


def latest_adulthood(birth: str | None) -> date | None:
    """The latest day a person born on a (partial) date turns 18; None when the date is unknown."""
    if not birth:
        return None
    try:
        parts = [int(x) for x in birth.split("-")]
    except ValueError:
        return None
    year = parts[0] + 18
    month = parts[1] if len(parts) > 1 else 12
    day = parts[2] if len(parts) > 2 else 31
    while day > 28:
        try:
            return date(year, month, day)
        except ValueError:
            day -= 1
    return date(year, month, day)


def child_is_minor(child_claim: Claim, today: date | None = None) -> bool:
    """Whether the child may be under 18; an unknown age counts as a minor (the safe side)."""
    today = today or datetime.now(UTC).date()
    owner = db.session.get(User, child_claim.owner_id) if child_claim.owner_id else None
    if owner is not None and owner.is_minor_on(today):
        return True
    adult_on = latest_adulthood((child_claim.data.get("claimant") or {}).get("birth_date"))
    if adult_on is None:
        return owner is None or owner.birth_year is None
    return today < adult_on
