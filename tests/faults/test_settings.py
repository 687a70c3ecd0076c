"""The settings the fault tests rely on reach Celery and Flask-Limiter (no services needed)."""

from __future__ import annotations

from reunite import create_app
from reunite.tasks import broker_transport_options


def test_the_visibility_timeout_is_configurable_and_scanned_for_in_proportion() -> None:
    # kombu's defaults (an hour, scanned every 10 s × 10) stay the defaults.
    assert broker_transport_options(3600) == {
        "visibility_timeout": 3600,
        "unacked_restore_interval": 10.0,
        "unacked_restore_throttle": 10,
        "unacked_mutex_expire": 100,
    }
    assert broker_transport_options(5) == {
        "visibility_timeout": 5,
        "unacked_restore_interval": 1.0,
        "unacked_restore_throttle": 1,
        "unacked_mutex_expire": 5,
    }
    app = create_app("testing", BROKER_VISIBILITY_TIMEOUT_S=7)
    assert app.extensions["celery"].conf.broker_transport_options["visibility_timeout"] == 7


def test_the_rate_limiter_falls_back_to_memory_when_its_storage_is_down() -> None:
    app = create_app("testing")
    assert app.config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] is True
    assert app.config["RATELIMIT_SWALLOW_ERRORS"] is True
