"""Home, help, language picker, /healthz and the OpenAPI document of the JSON API."""

from __future__ import annotations

from flask import current_app, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import text

from reunite import openapi as oa
from reunite.auth.forms import PostForm
from reunite.extensions import db
from reunite.main import bp
from reunite.security import is_local_path


@bp.get("/")
def index() -> ResponseReturnValue:
    """What the service is and where to start."""
    return render_template("main/index.html")


@bp.get("/help")
def help_page() -> ResponseReturnValue:
    """The security model, stated plainly."""
    return render_template("main/help.html")


@bp.post("/language/<code>")
def language(code: str) -> ResponseReturnValue:
    """Remember the chosen language in the session (and on the account)."""
    form = PostForm()
    if form.validate_on_submit() and code in current_app.config["LANGUAGES"]:
        session["lang"] = code
        if current_user.is_authenticated:
            current_user.locale = code
            db.session.commit()
    target = request.form.get("next", "")
    if not is_local_path(target):
        target = url_for("main.index")
    return redirect(target)


def broker_status() -> str:
    """'ok', 'in-process' (no broker configured) or 'error'."""
    url = current_app.config.get("CELERY_BROKER_URL")
    if not url:
        return "in-process"
    if url.startswith(("redis://", "rediss://")):
        import redis

        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
            client.ping()
        except redis.RedisError:
            return "error"
        finally:
            client.close()
        return "ok"
    return "unknown"


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Database and broker reachability, for load balancers and operators."""
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # noqa: BLE001 - any failure means unhealthy; the kind is irrelevant here
        db.session.rollback()
        database = "error"
    broker = broker_status()
    healthy = database == "ok" and broker != "error"
    return jsonify(status="ok" if healthy else "degraded", database=database, broker=broker), (200 if healthy else 503)


@bp.get("/api/v1/openapi.json")
@oa.api_doc(
    auth="public",
    responses={
        200: {"type": "object", "required": ["openapi", "info", "paths"], "properties": {"openapi": {"type": "string"}}}
    },
)
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 document of this JSON API, generated from the views' declarations."""
    response = jsonify(oa.document(current_app))
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    response.add_etag()
    return response.make_conditional(request)
