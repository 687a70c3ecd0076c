"""Public pages: home, help (security model), language choice and health."""

from flask import Blueprint

bp = Blueprint("main", __name__)

from reunite.main import routes  # noqa: E402,F401
