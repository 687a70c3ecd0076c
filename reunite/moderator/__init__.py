"""Moderator area (TOTP required): home now; the proposal queue arrives with the moderation feature."""

from flask import Blueprint

bp = Blueprint("moderator", __name__, url_prefix="/moderator")

from reunite.moderator import routes  # noqa: E402,F401
