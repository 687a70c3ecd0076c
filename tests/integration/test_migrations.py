"""`flask db upgrade` builds the schema on empty SQLite and PostgreSQL, and matches the models exactly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from reunite import _normalise_db_url, create_app
from reunite.extensions import db

ROOT = Path(__file__).resolve().parent.parent.parent


def _flask(env_url: str, *args: str) -> None:
    env = dict(os.environ, REUNITE_CONFIG="testing", TEST_DATABASE_URL=env_url, FLASK_APP="wsgi:app")
    flask = Path(sys.executable).parent / "flask"
    result = subprocess.run([str(flask), "db", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def _diff(url: str) -> list[object]:
    create_app("testing")  # imports every model onto db.metadata
    engine = create_engine(_normalise_db_url(url))
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, db.metadata))
    finally:
        engine.dispose()


def test_sqlite_upgrade_matches_models_and_downgrades(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    _flask(url, "upgrade")
    assert _diff(url) == []
    _flask(url, "downgrade", "base")
    _flask(url, "upgrade")


@pytest.mark.services
def test_postgresql_upgrade_matches_models(pg_url: str) -> None:
    import psycopg

    # A database of its own: the live-server tests use pg_url's.
    name = pg_url.rsplit("/", 1)[1] + "_mig"
    admin = pg_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_url.rsplit("/", 1)[0] + "/" + name
    try:
        _flask(url, "upgrade")
        assert _diff(url) == []
        _flask(url, "downgrade", "base")
        _flask(url, "upgrade")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
