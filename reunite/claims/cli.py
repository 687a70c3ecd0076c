"""Operator commands for claims: `flask reunite import FILE.jsonl` and `flask reunite export FILE.jsonl`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

import click
from tqdm import tqdm

from reunite.claims import services
from reunite.claims.tasks import enqueue_match
from reunite.errors import Invalid
from reunite.extensions import db

COMMIT_EVERY = 500


def _report(line_no: int, err: Invalid) -> str:
    where = f"{err.field}: " if err.field else ""
    return f"line {line_no}: {where}{err.message}"


def _commit_and_enqueue(pending: list[int]) -> None:
    db.session.commit()
    for claim_id in pending:
        enqueue_match(claim_id)
    pending.clear()


def import_file(fh: TextIO, total: int | None = None) -> tuple[dict[str, int], list[str]]:
    """Import a claims-v1 JSON Lines stream; returns the counts and one message per failed line.

    Each line runs in its own SAVEPOINT: a bad line leaves nothing behind, the others import.
    Blank lines are skipped. An id seen earlier in the same file is refused.
    """
    counts = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
    problems: list[str] = []
    seen: dict[str, int] = {}
    pending: list[int] = []
    bar = tqdm(total=total, unit="B", unit_scale=True, file=sys.stderr, disable=None, desc="import")
    for line_no, raw in enumerate(fh, start=1):
        bar.update(len(raw.encode("utf-8")))
        if not raw.strip():
            continue
        try:
            try:
                obj: Any = json.loads(raw)
            except (json.JSONDecodeError, RecursionError) as err:
                raise Invalid(f"not valid JSON ({getattr(err, 'msg', 'nested too deeply')})") from err
            ident = obj.get("id") if isinstance(obj, dict) else None
            if isinstance(ident, str) and ident in seen:
                raise Invalid(f"the id {ident!r} was already used on line {seen[ident]}", field="id")
            result = services.import_line(line_no, obj)
        except Invalid as err:
            counts["failed"] += 1
            problems.append(_report(line_no, err))
            tqdm.write(problems[-1], file=sys.stderr)
            continue
        if isinstance(ident, str):
            seen[ident] = line_no
        counts[result.outcome] += 1
        if result.is_changed:
            pending.append(result.claim_id)
        if len(pending) >= COMMIT_EVERY:
            _commit_and_enqueue(pending)
    _commit_and_enqueue(pending)
    services.refresh_statistics()
    db.session.commit()
    bar.close()
    return counts, problems


def register_claims_cli(group: click.Group) -> None:
    """Attach the claim commands to the `reunite` command group."""

    @group.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_command(file: Path) -> None:
        """Import claims from a claims-v1 JSON Lines FILE (keyed by id; re-importing changes nothing).

        A bad line is reported with its number and field and skipped; the exit code is then 1.
        """
        with file.open(encoding="utf-8") as fh:
            counts, problems = import_file(fh, total=file.stat().st_size)
        imported = counts["created"] + counts["updated"]
        click.echo(
            f"imported {imported}, unchanged {counts['unchanged']}, failed {counts['failed']}"
            f" ({counts['created']} new, {counts['updated']} updated)"
        )
        if problems:
            sys.exit(1)

    @group.command("export")
    @click.argument("file", type=click.Path(dir_okay=False, writable=True, allow_dash=True))
    def export_command(file: str) -> None:
        """Write every claim to FILE as claims-v1 JSON Lines ('-' for standard output)."""
        count = 0
        with click.open_file(file, "w", encoding="utf-8", atomic=file != "-") as out:
            for obj in services.export_all():
                out.write(json.dumps(obj, ensure_ascii=False) + "\n")
                count += 1
        click.echo(f"exported {count} claims", err=True)
