"""Celery wiring in Flask's own pattern: tasks run inside the app context; JSON only."""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask


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
        broker_transport_options={"visibility_timeout": 3600},
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
