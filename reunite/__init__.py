"""reunite: helps children and parents separated by parental abduction find each other and talk safely."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importing the package must stay cheap: the matching engine and the client use it
    from flask import Flask

    from config import Config

ROOT = Path(__file__).resolve().parent.parent


def _normalise_db_url(url: str) -> str:
    # psycopg 3 is the installed driver; accept the common postgres:// spellings.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_app(config: str | Config | None = None, **overrides: Any) -> Flask:
    """Build the application: configuration, extensions, blueprints, CLI and Celery.

    :param config: a name ("development", "testing", "production") or a Config instance;
        defaults to $REUNITE_CONFIG, else "development".
    :param overrides: configuration values that win over the class (tests use this).
    """
    from flask import Flask

    from config import CONFIGS, INSTANCE_DIR

    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder="static",
        instance_path=str(INSTANCE_DIR),
    )
    if config is None or isinstance(config, str):
        name = config or os.environ.get("REUNITE_CONFIG", "development")
        config = CONFIGS[name]()
    app.config.from_object(config)
    app.config.update(overrides)
    app.config["SQLALCHEMY_DATABASE_URI"] = _normalise_db_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        INSTANCE_DIR.mkdir(exist_ok=True)
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {}

    from reunite.extensions import babel, csrf, db, limiter, login, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login.init_app(app)
    login.login_view = "auth.login_page"
    login.session_protection = app.config.get("SESSION_PROTECTION", "strong")
    babel.init_app(app, locale_selector=_select_locale)

    from reunite.auth.models import User

    @login.user_loader
    def _load_user(ident: str) -> User | None:
        public_id, _, nonce = ident.partition(":")
        from sqlalchemy import select

        user = db.session.scalars(select(User).where(User.public_id == public_id)).first()
        if user is None or user.session_nonce != nonce:
            return None
        return user

    from reunite.admin import bp as admin_bp
    from reunite.auth import bp as auth_bp
    from reunite.claims import bp as claims_bp
    from reunite.main import bp as main_bp
    from reunite.moderation import bp as moderation_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(moderation_bp)
    from reunite.mailbox import bp as mailbox_bp

    app.register_blueprint(mailbox_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(claims_bp)
    from reunite.audit import bp as audit_bp
    from reunite.notifications import bp as notifications_bp

    app.register_blueprint(audit_bp)
    app.register_blueprint(notifications_bp)

    from reunite.errors import register_error_handlers
    from reunite.security import register_security
    from reunite.tasks import celery_init_app

    register_error_handlers(app)
    register_security(app)
    celery_init_app(app)
    # Importing the task modules registers their tasks with Celery.
    import reunite.claims.tasks  # noqa: F401
    import reunite.notifications.tasks  # noqa: F401
    import reunite.proposals.tasks  # noqa: F401
    from reunite.cli import register_cli

    register_cli(app)
    _register_template_helpers(app)
    return app


def _select_locale() -> str | None:
    from flask import has_request_context, request, session
    from flask_login import current_user

    if not has_request_context():
        return None  # CLI and tasks: the default locale
    languages = ("en", "ja")
    chosen = session.get("lang")
    if chosen in languages:
        return str(chosen)
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return str(current_user.locale)
    return request.accept_languages.best_match(languages) or "en"


def _register_template_helpers(app: Flask) -> None:
    manifest_path = Path(app.static_folder or "") / "dist" / "manifest.json"
    cache: dict[str, Any] = {}

    def asset(entry: str) -> dict[str, str]:
        """URL and Subresource Integrity of a built browser module."""
        if not cache or app.debug:
            try:
                cache.update(json.loads(manifest_path.read_text()))
            except FileNotFoundError as err:
                raise RuntimeError("the browser bundle is not built: run `make assets`") from err
        item = cache[entry]
        from flask import url_for

        return {"url": url_for("static", filename="dist/" + item["file"]), "integrity": item["integrity"]}

    from datetime import UTC, datetime

    from flask_babel import get_locale

    from reunite.client.protocol import b64e

    app.jinja_env.filters["b64"] = b64e
    app.jinja_env.filters["isodate"] = lambda seconds: datetime.fromtimestamp(seconds, UTC).date().isoformat()

    @app.context_processor
    def _helpers() -> dict[str, Any]:
        from reunite.auth.forms import PostForm

        return {
            "asset": asset,
            "current_locale": str(get_locale()),
            "post_form": PostForm,
            "today": datetime.now(UTC).date(),
            "now": datetime.now(UTC),
        }
