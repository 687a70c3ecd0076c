"""Error hierarchy and the one handler that answers HTML or JSON."""

from __future__ import annotations

import contextlib
import logging

from flask import Flask, Request, g, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from reunite.extensions import db, login

log = logging.getLogger(__name__)


class ReuniteError(Exception):
    """Base of the errors a service may raise; each knows its HTTP status."""

    status = 400
    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(ReuniteError):
    """The input is malformed or breaks a rule; `field` names the offending field."""

    status = 400
    code = "invalid"


class Unauthorized(ReuniteError):
    """Credentials missing or wrong."""

    status = 401
    code = "unauthorized"


class Forbidden(ReuniteError):
    """The person is known but may not do this."""

    status = 403
    code = "forbidden"


class NotFound(ReuniteError):
    """No such thing, or not visible to this person."""

    status = 404
    code = "not_found"


class Conflict(ReuniteError):
    """The request conflicts with the current state (e.g. a name already taken)."""

    status = 409
    code = "conflict"


def wants_json(req: Request) -> bool:
    """Answer JSON for the API and for clients that ask for it."""
    if req.path.startswith("/api/") or req.path == "/healthz":
        return True
    best = req.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and req.accept_mimetypes[best] > req.accept_mimetypes["text/html"]


def _answer(status: int, code: str, message: str, field: str | None = None) -> ResponseReturnValue:
    if wants_json(request):
        body: dict[str, object] = {"error": code, "message": message}
        if field:
            body["field"] = field
        return jsonify(body), status
    return render_template("error.html", status=status, message=message, field=field), status


def register_error_handlers(app: Flask) -> None:
    """One place that turns every failure into a clear 4xx/5xx answer, never a traceback."""

    @app.errorhandler(ReuniteError)
    def _reunite(err: ReuniteError) -> ResponseReturnValue:
        db.session.rollback()
        return _answer(err.status, err.code, err.message, err.field)

    @app.errorhandler(CSRFError)
    def _csrf(err: CSRFError) -> ResponseReturnValue:
        db.session.rollback()
        return _answer(
            400, "csrf", _("The form expired or the security token is missing. Reload the page and try again.")
        )

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> ResponseReturnValue:
        db.session.rollback()
        messages = {
            404: _("This page does not exist."),
            405: _("This method is not allowed here."),
            413: _("The request is too large."),
            429: _("Too many attempts. Wait a while and try again."),
        }
        status = err.code or 500
        message = messages.get(status) or (err.description or err.name)
        response = _answer(status, err.name.lower().replace(" ", "_"), message)
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _db_down(err: OperationalError | InterfaceError) -> ResponseReturnValue:
        # The database is unreachable (restarting, or the connection broke mid-request): the
        # transaction is rolled back, so nothing half-written stays, and the pool's pre-ping
        # replaces the dead connections once it is back.
        with contextlib.suppress(OperationalError, InterfaceError):
            db.session.rollback()
        log.warning("database unavailable: %s", type(err).__name__)
        # The page must not touch the database (base.html and the language choice read
        # current_user, whose row may be expired by the rollback): answer as for a visitor.
        g._login_user = login.anonymous_user()
        resp = _answer(503, "unavailable", _("The service is briefly unavailable. Try again in a minute."))
        return resp[0], resp[1], {"Retry-After": "30"}  # type: ignore[index]
