"""Moderation and consent: the proposal queue, decisions, safeguarding flags, consent and withdrawal."""

from flask import Blueprint

bp = Blueprint("moderation", __name__)

from reunite.moderation import routes  # noqa: E402,F401
