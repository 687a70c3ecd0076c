"""Audit log: every moderator and admin action, hash-chained and append-only, and its admin page."""

from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")

from reunite.audit import routes  # noqa: E402,F401  (routes attach to bp)
