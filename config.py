"""Configuration classes: development, testing and production; secrets only from the environment."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_float(name: str) -> float | None:
    """An optional number from the environment; a value that is not one stops the start."""
    value = _env(name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise SystemExit(f"{name} must be a number, not {value!r}") from None


def _dev_secret(name: str, nbytes: int = 32) -> str:
    """A development-only secret, generated once and kept under instance/ (never committed)."""
    INSTANCE_DIR.mkdir(exist_ok=True)
    path = INSTANCE_DIR / f"{name.lower()}.secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(nbytes))
        path.chmod(0o600)
    return path.read_text().strip()


class Config:
    """Settings shared by every environment."""

    SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'reunite.sqlite'}")
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, object] = {"pool_pre_ping": True}
    # Celery broker; when absent, background work runs in-process (eager).
    CELERY_BROKER_URL = _env("CELERY_BROKER_URL", _env("REDIS_URL"))
    CELERY_RESULT_BACKEND = _env("CELERY_RESULT_BACKEND")
    # The queue tasks go to and workers read; separate deployments (or test runs) sharing one Redis
    # must use different names.
    CELERY_QUEUE = _env("CELERY_QUEUE", "reunite")
    # How long Redis keeps a task that a worker took but never acknowledged (the worker died)
    # before handing it to another worker. Longer than any retry countdown (mail: at most
    # MAIL_RETRY_BACKOFF_MAX_S), or a delayed retry is delivered twice (harmless, tasks are idempotent).
    BROKER_VISIBILITY_TIMEOUT_S = float(_env("BROKER_VISIBILITY_TIMEOUT_S", "3600") or 3600)
    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", _env("REDIS_URL", "memory://"))
    RATELIMIT_HEADERS_ENABLED = True
    # When the limiter's Redis is unreachable, keep limiting in this process's memory (and go back
    # to Redis once it answers) instead of failing every request.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    # Proposals need at least this many bits of evidence; unset: the threshold trained with the
    # shipped parameters (reunite/matching/params.json). Lower finds more links with less
    # information and shows moderators more false ones (README, "Matching quality"). A child
    # claim without the child's birth date needs the trained undated offset (params.json) less.
    MATCH_THRESHOLD_BITS = _env_float("MATCH_THRESHOLD_BITS")
    SWEEP_INTERVAL_S = float(_env("SWEEP_INTERVAL_S", "300") or 300)
    MAIL_SWEEP_INTERVAL_S = float(_env("MAIL_SWEEP_INTERVAL_S", "60") or 60)
    # Notification mail retries wait about BASE * 2**attempt seconds (with jitter), at most MAX.
    MAIL_RETRY_BACKOFF_S = int(_env("MAIL_RETRY_BACKOFF_S", "1") or 1)
    MAIL_RETRY_BACKOFF_MAX_S = int(_env("MAIL_RETRY_BACKOFF_MAX_S", "600") or 600)
    MAIL_URL = _env("MAIL_URL")
    MAIL_FROM = _env("MAIL_FROM", "reunite@localhost")
    ORG_PUBLIC_KEY = _env("ORG_PUBLIC_KEY")
    PUBLIC_URL = _env("PUBLIC_URL", "http://127.0.0.1:5000")

    MAX_CONTENT_LENGTH = 256 * 1024
    MAX_JSON_DEPTH = 12
    WTF_CSRF_HEADERS = ["X-CSRFToken"]
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = True
    SESSION_PROTECTION = "strong"

    LANGUAGES = ("en", "ja")
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "reunite" / "translations")

    # Server-side argon2id over auth keys and recovery hashes (argon2-cffi's defaults).
    AUTH_HASH_TIME_COST = 3
    AUTH_HASH_MEMORY_KIB = 65536
    # KDF parameters offered to new accounts (libsodium INTERACTIVE limits).
    KDF_OPS = 2
    KDF_MEM = 64 * 1024 * 1024
    LOGIN_LIMIT = "10 per minute;50 per hour"
    PRELOGIN_LIMIT = "30 per minute"
    REGISTER_LIMIT = "10 per hour"
    RECOVER_LIMIT = "10 per hour"
    ACCOUNT_FAILURE_LIMIT = 10  # failed logins per account per window before it is throttled
    ACCOUNT_FAILURE_WINDOW_S = 15 * 60

    SECRET_KEY: str | None = None
    PRELOGIN_SECRET: str | None = None
    SERVER_SIGNING_SEED: str | None = None
    SERVER_FRANK_KEY: str | None = None


class DevelopmentConfig(Config):
    """Local `make run`: secrets generated under instance/, cookies over plain HTTP."""

    DEBUG = False
    ALLOW_DEMO = True
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False

    def __init__(self) -> None:
        self.SECRET_KEY = _env("SECRET_KEY") or _dev_secret("SECRET_KEY")
        self.PRELOGIN_SECRET = _env("PRELOGIN_SECRET") or _dev_secret("PRELOGIN_SECRET")
        self.SERVER_SIGNING_SEED = _env("SERVER_SIGNING_SEED") or _dev_secret("SERVER_SIGNING_SEED")
        self.SERVER_FRANK_KEY = _env("SERVER_FRANK_KEY") or _dev_secret("SERVER_FRANK_KEY")
        org = INSTANCE_DIR / "org_public.key"
        if self.ORG_PUBLIC_KEY is None and org.exists():
            self.ORG_PUBLIC_KEY = org.read_text().strip()


class TestingConfig(Config):
    """The test suite: fixed secrets, cheap KDF, in-memory rate limits unless a test asks otherwise."""

    TESTING = True
    ALLOW_DEMO = True
    # A live test server is pointed at PostgreSQL/Redis with these; unit tests use SQLite in memory.
    SQLALCHEMY_DATABASE_URI = _env("TEST_DATABASE_URL", "sqlite://")
    CELERY_BROKER_URL = _env("TEST_BROKER_URL")
    RATELIMIT_STORAGE_URI = _env("TEST_RATELIMIT_STORAGE_URI", "memory://")
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    SECRET_KEY = "test-secret-key"  # noqa: S105 - test only  # nosec B105
    PRELOGIN_SECRET = "test-prelogin-secret"  # noqa: S105 - test only  # nosec B105
    SERVER_SIGNING_SEED = "test-server-signing-seed"  # noqa: S105 - test only
    SERVER_FRANK_KEY = "test-server-frank-key"  # noqa: S105 - test only
    KDF_OPS = 1
    KDF_MEM = 8 * 1024 * 1024
    AUTH_HASH_TIME_COST = 1
    AUTH_HASH_MEMORY_KIB = 8192
    MAIL_URL = _env("TEST_MAIL_URL")


class ProductionConfig(Config):
    """Production: every secret must come from the environment, or the app refuses to start."""

    REQUIRED = ("SECRET_KEY", "PRELOGIN_SECRET", "SERVER_SIGNING_SEED", "SERVER_FRANK_KEY", "DATABASE_URL")

    def __init__(self) -> None:
        missing = [name for name in self.REQUIRED if not _env(name)]
        if missing:
            raise RuntimeError("production configuration is missing: " + ", ".join(missing))
        self.SECRET_KEY = _env("SECRET_KEY")
        self.PRELOGIN_SECRET = _env("PRELOGIN_SECRET")
        self.SERVER_SIGNING_SEED = _env("SERVER_SIGNING_SEED")
        self.SERVER_FRANK_KEY = _env("SERVER_FRANK_KEY")
        self.SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL")


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
