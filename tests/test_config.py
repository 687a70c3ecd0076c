"""Configuration: production refuses to start without its secrets; development makes its own."""

from __future__ import annotations

import pytest

from config import ProductionConfig
from reunite import _normalise_db_url, create_app

SECRETS = ("SECRET_KEY", "PRELOGIN_SECRET", "SERVER_SIGNING_SEED", "SERVER_FRANK_KEY", "DATABASE_URL")


def test_production_refuses_to_start_without_its_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")
    for name in SECRETS[:-1]:
        monkeypatch.setenv(name, "x" * 40)
    with pytest.raises(RuntimeError, match="DATABASE_URL"):
        ProductionConfig()


def test_production_starts_with_its_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRETS:
        monkeypatch.setenv(name, "a-long-secret-value-for-the-test")
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    app = create_app("production")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SECRET_KEY"] == "a-long-secret-value-for-the-test"


def test_postgres_urls_use_psycopg3() -> None:
    assert _normalise_db_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert _normalise_db_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert _normalise_db_url("sqlite:///x") == "sqlite:///x"


def test_a_numeric_setting_is_read_or_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    import config

    monkeypatch.delenv("MATCH_THRESHOLD_BITS", raising=False)
    assert config._env_float("MATCH_THRESHOLD_BITS") is None
    monkeypatch.setenv("MATCH_THRESHOLD_BITS", "17.5")
    assert config._env_float("MATCH_THRESHOLD_BITS") == 17.5
    monkeypatch.setenv("MATCH_THRESHOLD_BITS", "seventeen")
    with pytest.raises(SystemExit, match="MATCH_THRESHOLD_BITS must be a number"):
        config._env_float("MATCH_THRESHOLD_BITS")
