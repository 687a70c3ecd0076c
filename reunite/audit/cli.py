"""`flask reunite audit verify`: check the audit log's hash chain from the command line."""

from __future__ import annotations

import sys

import click

from reunite.audit import services


def register_audit_cli(group: click.Group) -> None:
    """Attach the `audit` commands to the `reunite` group."""

    @group.group("audit")
    def audit_group() -> None:
        """The hash-chained audit log of staff actions."""

    @audit_group.command("verify")
    def audit_verify() -> None:
        """Recompute the audit chain; name the first bad entry and exit 1 when a row was changed or deleted."""
        result = services.verify()
        if result.is_ok:
            click.echo(result.message)
            return
        click.echo(f"audit log BROKEN at entry {result.first_bad_seq}: {result.message}", err=True)
        sys.exit(1)
