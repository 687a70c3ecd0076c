"""`flask reunite mailbox verify`: recompute every conversation's chain and receipts from the command line."""

from __future__ import annotations

import sys

import click

from reunite.mailbox import services


def register_mailbox_cli(group: click.Group) -> None:
    """Attach the `mailbox` commands to the `reunite` group."""

    @group.group("mailbox")
    def mailbox_group() -> None:
        """The moderated end-to-end mailbox."""

    @mailbox_group.command("verify")
    def mailbox_verify() -> None:
        """Recompute each conversation's chain, rf and receipts; name the first bad entry and exit 1."""
        result = services.verify_chains()
        for problem in result.problems:
            click.echo(f"mailbox chain BROKEN: {problem}", err=True)
        if not result.is_ok:
            sys.exit(1)
        click.echo(f"mailbox OK: {result.conversations} conversations, {result.entries} chain entries verified")
