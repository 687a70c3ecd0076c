"""Celery entry for the worker test: the testing app, with MAIL_URL taken from the environment.

TestingConfig pins MAIL_URL to None so unit tests never send mail; this worker process needs the
test's SMTP server, so it passes MAIL_URL as an override (otherwise it is worker/celery_app.py).
"""

import os

from reunite import create_app

flask_app = create_app("testing", MAIL_URL=os.environ["MAIL_URL"], PUBLIC_URL=os.environ["PUBLIC_URL"])
celery_app = flask_app.extensions["celery"]
