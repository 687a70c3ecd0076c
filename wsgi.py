"""WSGI entry point: `gunicorn wsgi:app`."""

from reunite import create_app

app = create_app()
