"""Operator commands: `flask reunite ...` (accounts, key log, organisation key, demo data)."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import click
from flask import Flask, current_app
from sqlalchemy import func, select

from reunite.audit import services as audit
from reunite.auth import keylog, services
from reunite.auth.models import Role, User
from reunite.client import account
from reunite.client import protocol as p
from reunite.errors import ReuniteError
from reunite.extensions import db

DEMO_ACCOUNTS = (
    ("john", Role.PARENT, "demo-parent-pass", None),
    ("yuki", Role.CHILD, "demo-child-pass", 2012),
    ("mod-aiko", Role.MODERATOR, "demo-moderator-pass", None),
    ("mod-ben", Role.MODERATOR, "demo-moderator-pass", None),
    ("admin", Role.ADMIN, "demo-admin-pass", None),
)


def _registration(
    username: str, role: Role, password: str, birth_year: int | None, locale: str
) -> tuple[services.Registration, bytes]:
    """Do the client's work locally: derive, generate keys, seal. The password goes nowhere else."""
    ops, mem = current_app.config["KDF_OPS"], current_app.config["KDF_MEM"]
    keys = account.new_keyset()
    creds = account.credential_fields(username, password, keys, ops, mem)
    new = account.key_fields(username, keys)
    f = new.fields
    reg = services.Registration(
        username=username,
        role=role,
        credentials=services.Credentials(
            salt=p.b64d(creds["salt"]),
            ops=ops,
            mem=mem,
            auth_key=p.b64d(creds["auth_key"]),
            bundle=services.SealedBundle(p.b64d(creds["bundle"]["nonce"]), p.b64d(creds["bundle"]["ciphertext"])),
        ),
        keys=services.KeyMaterial(
            identity_pk=p.b64d(f["identity_pk"]),
            enc_pk=p.b64d(f["enc_pk"]),
            epoch=f["epoch"],
            enc_cert=p.b64d(f["enc_cert"]),
            recovery_bundle=services.SealedBundle(
                p.b64d(f["recovery_bundle"]["nonce"]), p.b64d(f["recovery_bundle"]["ciphertext"])
            ),
            recovery_auth=p.b64d(f["recovery_auth"]),
        ),
        locale=locale,
        birth_year=birth_year,
    )
    return reg, new.recovery_key


def create_account(
    username: str, role: Role, password: str, birth_year: int | None = None, locale: str = "en"
) -> tuple[User, str]:
    """Create an account as its own client would; returns the user and the formatted recovery key."""
    reg, recovery_key = _registration(username, role, password, birth_year, locale)
    user = services.register(reg, self_service=False)
    return user, p.format_recovery_key(recovery_key)


def _write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")


def _read_org_seed(path: Path) -> bytes:
    try:
        seed = p.b64d(path.read_text().strip())
    except (OSError, ValueError) as err:
        raise click.ClickException(f"cannot read the organisation key from {path}: {err}") from err
    if len(seed) != 32:
        raise click.ClickException(f"{path} does not hold a 32-byte organisation key")
    return seed


def register_cli(app: Flask) -> None:
    """Attach the `reunite` command group."""

    @app.cli.group("reunite")
    def group() -> None:
        """reunite operator commands."""

    from reunite.claims.cli import register_claims_cli

    register_claims_cli(group)

    from reunite.proposals.cli import register_proposals_cli

    register_proposals_cli(group)

    from reunite.audit.cli import register_audit_cli

    register_audit_cli(group)

    from reunite.mailbox.cli import register_mailbox_cli

    register_mailbox_cli(group)

    @group.command("create-user")
    @click.option("--username", required=True)
    @click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
    @click.option("--locale", type=click.Choice(["en", "ja"]), default="en")
    @click.option("--birth-year", type=int, default=None, help="Required for children.")
    @click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
    def create_user(username: str, role: str, locale: str, birth_year: int | None, password_stdin: bool) -> None:
        """Create an account (moderators and admins are created only this way).

        The keys are made here as the person's client would make them; the password is used
        only in this process and never stored. The recovery key is printed once.
        """
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        if len(password) < 10:
            raise click.ClickException("the password must have at least 10 characters")
        try:
            user, recovery = create_account(username, Role(role), password, birth_year, locale)
        except ReuniteError as err:
            raise click.ClickException(err.message) from err
        db.session.commit()
        click.echo(f"created {user.role.value} {user.username} ({user.public_id})")
        click.echo(f"recovery key (give it to the person; it is not shown again): {recovery}")

    @group.group("keylog")
    def keylog_group() -> None:
        """The hash-chained key log."""

    @keylog_group.command("verify")
    def keylog_verify() -> None:
        """Recompute the key log chain and check every signed checkpoint."""
        result = keylog.verify()
        if result.is_ok:
            click.echo(f"key log OK: {result.entries} entries, {result.checkpoints} checkpoints verified")
            return
        click.echo(f"key log BROKEN at entry {result.first_bad_seq}: {result.problem}", err=True)
        sys.exit(1)

    @group.group("org-key")
    def org_key() -> None:
        """The organisation key that certifies moderators (kept off the server)."""

    @org_key.command("create")
    @click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True)
    def org_key_create(out: Path) -> None:
        """Write a new organisation signing key to OUT (mode 600) and print its public half."""
        identity = p.new_identity()
        try:
            _write_secret(out, p.b64e(identity.seed))
        except FileExistsError as err:
            raise click.ClickException(f"{out} exists; refusing to overwrite an organisation key") from err
        click.echo(f"organisation key written to {out}; keep it off the server.")
        click.echo(f"ORG_PUBLIC_KEY={p.b64e(identity.pk)}")

    @group.command("certify-moderator")
    @click.argument("username")
    @click.option(
        "--org-key", "org_key_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
    )
    @click.option("--days", type=click.IntRange(1, 3650), default=365)
    def certify_moderator(username: str, org_key_path: Path, days: int) -> None:
        """Sign USERNAME's identity key with the organisation key."""
        user = services.find_user(username)
        if user is None:
            raise click.ClickException(f"no account named {username}")
        expires_ms = int(time.time() * 1000) + days * 86_400_000
        try:
            services.certify_moderator(user, _read_org_seed(org_key_path), expires_ms)
        except ReuniteError as err:
            raise click.ClickException(err.message) from err
        audit.record(None, "moderator.certify", "user", user.public_id, details={"expires_ms": expires_ms})
        db.session.commit()
        click.echo(f"certified {user.username} until {time.strftime('%Y-%m-%d', time.gmtime(expires_ms / 1000))}")

    @group.command("seed-demo")
    def seed_demo() -> None:
        """On an empty database, create the demo accounts listed in the README (development only)."""
        if not current_app.config.get("ALLOW_DEMO"):
            raise click.ClickException("seed-demo runs only in the development configuration")
        if db.session.scalar(select(func.count()).select_from(User)):
            click.echo("accounts exist; demo accounts not created")
            return
        instance = Path(current_app.instance_path)
        instance.mkdir(exist_ok=True)
        org_file = instance / "org_secret.key"
        if not org_file.exists():
            identity = p.new_identity()
            _write_secret(org_file, p.b64e(identity.seed))
            (instance / "org_public.key").write_text(p.b64e(identity.pk) + "\n")
            current_app.config["ORG_PUBLIC_KEY"] = p.b64e(identity.pk)
        seed = _read_org_seed(org_file)
        for username, role, password, birth_year in DEMO_ACCOUNTS:
            user, _recovery = create_account(username, role, password, birth_year, "ja" if role == Role.CHILD else "en")
            if role in (Role.MODERATOR, Role.ADMIN):
                expires_ms = int(time.time() * 1000) + 365 * 86_400_000
                services.certify_moderator(user, seed, expires_ms)
                audit.record(None, "moderator.certify", "user", user.public_id, details={"expires_ms": expires_ms})
            click.echo(f"demo {role.value}: {username} / {password}")
        db.session.commit()
