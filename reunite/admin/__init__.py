"""Administration (TOTP required): accounts and resets."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from reunite.admin import routes  # noqa: E402,F401
