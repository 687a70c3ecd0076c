"""Accounts: registration, login, password change, recovery, admin reset, TOTP and the key log."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from reunite.auth import api, privacy, routes  # noqa: E402,F401  (routes attach to bp)
