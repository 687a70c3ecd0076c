"""`flask reunite rematch`: rebuild the index from the database and re-score every child claim."""

from __future__ import annotations

import sys
import time

import click

from reunite.claims.models import Claim, ClaimRole
from reunite.claims.services import refresh_statistics
from reunite.extensions import db
from reunite.proposals import services


def register_proposals_cli(group: click.Group) -> None:
    """Attach the matcher's commands to the `reunite` group."""

    @group.command("rematch")
    @click.option("--batch", type=click.IntRange(1, 10_000), default=500, help="Claims per transaction.")
    def rematch(batch: int) -> None:
        """Re-index every claim, then re-score every child claim (rejected pairs stay rejected)."""
        started = time.monotonic()
        refresh_statistics()  # after a bulk load the planner may not know the table yet
        db.session.commit()
        services.reset_index()
        index = services.synced_index()
        indexed = time.monotonic() - started
        children = list(services.all_claim_ids(ClaimRole.CHILD))
        made = 0
        with click.progressbar(length=len(children), label="matching", file=sys.stderr) as bar:
            for n, claim_id in enumerate(children, 1):
                child = db.session.get(Claim, claim_id)
                if child is not None:
                    made += services.match_child(child, index)
                    services.mark_matched(child)
                if n % batch == 0:
                    db.session.commit()
                bar.update(1)
        # Parent claims were matched by indexing them: each is marked at the version indexed,
        # in batches (one statement per batch, not a read and a write per claim).
        parents = [
            (cid, index.versions[cid][0]) for cid in services.all_claim_ids(ClaimRole.PARENT) if cid in index.versions
        ]
        for start in range(0, len(parents), batch):
            services.mark_versions_matched(parents[start : start + batch])
            db.session.commit()
        db.session.commit()
        seconds = time.monotonic() - started
        rate = len(children) / max(seconds - indexed, 1e-9)
        click.echo(
            f"rematched {len(index.versions)} claims ({len(children)} child claims) in {seconds:.1f}s "
            f"(index {indexed:.1f}s, {rate:.0f} child claims/s); {made} proposals created or reopened"
        )
