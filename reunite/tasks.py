"""Celery wiring in Flask's own pattern: tasks run inside the app context; JSON only."""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask


def broker_transport_options(visibility_timeout_s: float) -> dict[str, float]:
    """Redis transport options: when an unacknowledged task is handed to another worker.

    A task a worker took and never acknowledged (the worker was killed) goes back to the queue
    once it is ``visibility_timeout_s`` old. Workers look for such tasks about every tenth of that
    time (kombu's default cadence of 100 s for the default hour), so a short timeout also means
    a prompt redelivery.

    A scan holds a lock in Redis for its few milliseconds. A worker killed inside a scan leaves
    the lock until it expires, and no worker redelivers anything meanwhile; kombu's default
    expiry is 300 s. The lock now expires after one scan period, but not sooner than 5 s.
    """
    scan_every = max(1.0, min(100.0, visibility_timeout_s / 10))
    interval = min(10.0, scan_every)
    return {
        "visibility_timeout": visibility_timeout_s,
        "unacked_restore_interval": interval,
        "unacked_restore_throttle": max(1, round(scan_every / interval)),
        "unacked_mutex_expire": max(5, round(scan_every)),
    }


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app bound to `app`; with no broker configured, tasks run in-process."""

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    broker = app.config.get("CELERY_BROKER_URL")
    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.conf.update(
        broker_url=broker or "memory://",
        result_backend=app.config.get("CELERY_RESULT_BACKEND"),
        task_ignore_result=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_always_eager=not broker,
        task_default_queue=app.config.get("CELERY_QUEUE", "reunite"),
        task_eager_propagates=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=broker_transport_options(float(app.config.get("BROKER_VISIBILITY_TIMEOUT_S", 3600))),
        broker_connection_retry_on_startup=True,
        timezone="UTC",
        enable_utc=True,
        beat_schedule={
            "sweep-unmatched-claims": {
                "task": "reunite.proposals.sweep_unmatched",
                "schedule": float(app.config.get("SWEEP_INTERVAL_S", 300)),
            },
            "send-pending-mail": {
                "task": "reunite.notifications.send_pending_mail",
                "schedule": float(app.config.get("MAIL_SWEEP_INTERVAL_S", 60)),
            },
        },
    )
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
