"""The reunite app for the mailbox benchmark: the testing configuration on PostgreSQL and Redis from the
environment, with sending and login limits high enough not to be what is measured."""

import os

from reunite import create_app

app = create_app(
    "testing",
    MAILBOX_SEND_LIMIT=os.environ.get("BENCH_SEND_LIMIT", "100000 per minute"),
    LOGIN_LIMIT="1000 per minute",
    PRELOGIN_LIMIT="1000 per minute",
)
