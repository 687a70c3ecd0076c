"""Notifications: "something needs your attention" on a page, and by e-mail to those who gave an address."""

from flask import Blueprint

bp = Blueprint("notifications", __name__)

from reunite.notifications import routes  # noqa: E402,F401  (routes attach to bp)
