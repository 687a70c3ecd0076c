"""Claims: what children and parents say about a separated family (claims-v1), with history."""

from flask import Blueprint

bp = Blueprint("claims", __name__)

from reunite.claims import api, routes  # noqa: E402,F401  (routes attach to bp)
