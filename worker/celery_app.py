"""Celery worker entry: `celery -A worker.celery_app worker`."""

from reunite import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
