"""Periodic work for the matcher: the sweep that finds claims never matched."""

from __future__ import annotations

import logging

from celery import shared_task

from reunite.claims.services import unmatched_claim_ids

log = logging.getLogger(__name__)


@shared_task(name="reunite.proposals.sweep_unmatched", ignore_result=True)
def sweep_unmatched(limit: int = 1000) -> int:
    """Queue matching for claims whose current version was never matched (broker down when saved)."""
    from reunite.claims.tasks import match_claim

    ids = unmatched_claim_ids(limit)
    for claim_id in ids:
        match_claim.delay(claim_id)
    if ids:
        log.info("sweep queued %d unmatched claims", len(ids))
    return len(ids)
