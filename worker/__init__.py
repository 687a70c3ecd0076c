"""The Celery worker process entry point package."""
