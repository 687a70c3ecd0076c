"""Operator commands: create-user, organisation key, moderator certification, demo data."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from reunite.auth import services
from reunite.auth.models import Role, User
from reunite.client import protocol as p
from reunite.extensions import db


def test_create_user_makes_a_moderator_whose_keys_open_with_the_password(runner: Any) -> None:
    out = runner.invoke(
        args=["reunite", "create-user", "--username", "mod-kei", "--role", "moderator", "--password-stdin"],
        input="a long moderator password\n",
    )
    assert out.exit_code == 0, out.output
    assert "recovery key" in out.output
    user = services.find_user("mod-kei")
    assert user is not None
    assert user.role == Role.MODERATOR
    derived = p.derive_login_keys("a long moderator password", user.kdf_salt, user.kdf_ops, user.kdf_mem)
    assert services.authenticate("mod-kei", derived.auth_key).id == user.id
    plain = p.open_bundle(user.bundle_nonce, user.bundle_ct, derived.wrap_key, "mod-kei")
    sign_seed, _ = p.parse_bundle(plain)
    assert p.new_identity(sign_seed).pk == user.identity_pk
    # The password is not stored anywhere in the row.
    for column in User.__table__.columns:
        value = getattr(user, column.key)
        assert b"a long moderator password" not in (value if isinstance(value, bytes) else str(value).encode())


def test_create_user_refuses_a_short_password_and_a_taken_name(runner: Any) -> None:
    out = runner.invoke(
        args=["reunite", "create-user", "--username", "x1x", "--role", "admin", "--password-stdin"], input="short\n"
    )
    assert out.exit_code != 0
    assert "10 characters" in out.output
    args = ["reunite", "create-user", "--username", "dup", "--role", "admin", "--password-stdin"]
    assert runner.invoke(args=args, input="long enough password\n").exit_code == 0
    out = runner.invoke(args=args, input="long enough password\n")
    assert out.exit_code != 0
    assert "taken" in out.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_org_key_and_moderator_certificate(runner: Any, tmp_path: Path, make_user: Any) -> None:
    key_file = tmp_path / "org.key"
    out = runner.invoke(args=["reunite", "org-key", "create", "--out", str(key_file)])
    assert out.exit_code == 0, out.output
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    org_pk = p.b64d(out.output.split("ORG_PUBLIC_KEY=")[1].strip())
    # Refuses to overwrite an existing key.
    assert runner.invoke(args=["reunite", "org-key", "create", "--out", str(key_file)]).exit_code != 0
    mod = make_user("moderator")
    out = runner.invoke(
        args=["reunite", "certify-moderator", mod.user.username, "--org-key", str(key_file), "--days", "30"]
    )
    assert out.exit_code == 0, out.output
    user = db.session.get(User, mod.user.id)
    assert user is not None
    assert user.modcert_sig is not None
    assert user.modcert_expires_ms is not None
    now = int(time.time() * 1000)
    assert p.verify_modcert(org_pk, user.public_id, user.identity_pk, user.modcert_expires_ms, user.modcert_sig, now)
    assert not p.verify_modcert(
        org_pk, user.public_id, user.identity_pk, user.modcert_expires_ms, user.modcert_sig, user.modcert_expires_ms + 1
    )
    parent = make_user("parent")
    out = runner.invoke(args=["reunite", "certify-moderator", parent.user.username, "--org-key", str(key_file)])
    assert out.exit_code != 0


def test_seed_demo_creates_the_readme_accounts_once(runner: Any, app: Any, tmp_path: Path) -> None:
    app.instance_path = str(tmp_path)
    out = runner.invoke(args=["reunite", "seed-demo"])
    assert out.exit_code == 0, out.output
    names = set(db.session.scalars(select(User.username)))
    assert names == {"john", "yuki", "mod-aiko", "mod-ben", "admin"}
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for line in out.output.splitlines():
        _, _, pair = line.partition(": ")
        user, _, password = pair.partition(" / ")
        assert f"`{user}`" in readme
        assert f"`{password}`" in readme
    out = runner.invoke(args=["reunite", "seed-demo"])
    assert "not created" in out.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 5
