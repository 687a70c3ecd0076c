"""Background work for claims: ask the matching worker to look at a new or changed claim."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import MaxRetriesExceededError
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from reunite.claims import matching_hook

log = logging.getLogger(__name__)


@shared_task(
    name="reunite.claims.match_claim",
    ignore_result=True,
    # Database trouble (a restart, or two workers proposing the same pair at once) is retried;
    # the task is idempotent, so a retry or a redelivery after a lost worker is harmless.
    autoretry_for=(OperationalError, IntegrityError, DBAPIError),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=10,
)
def match_claim(claim_id: int) -> None:
    """Match one claim (by id, re-read inside the hook; idempotent, so redelivery is safe)."""
    matching_hook.match_claim(claim_id)


def enqueue_match(claim_id: int) -> None:
    """Queue matching for a claim. Call only AFTER the transaction that saved it has committed.

    A worker could otherwise pick the task up before the row is visible. When the broker is
    unreachable the claim stays saved; the periodic sweep finds it because its
    ``matched_version`` differs from its ``version``.
    """
    try:
        match_claim.apply_async(
            (claim_id,),
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
        )
    except (BrokerError, OSError) as err:
        log.warning(
            "could not queue matching for claim %s (%s); the sweep will pick it up", claim_id, type(err).__name__
        )
    except (SQLAlchemyError, MaxRetriesExceededError) as err:
        # Only in-process (no broker): the claim is saved; matching is retried by the next
        # `flask reunite rematch` or sweep, and the person's request must not fail for it.
        log.error("matching claim %s in-process failed (%s)", claim_id, type(err).__name__)
