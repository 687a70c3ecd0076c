"""Account pages. Secrets are handled by the browser module; these views only render and check TOTP."""

from __future__ import annotations

import segno
from flask import redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from reunite.auth import bp, services
from reunite.auth.access import current, end_session, login_required, login_required_no_totp
from reunite.auth.forms import PostForm, TotpForm
from reunite.errors import Forbidden, Invalid
from reunite.extensions import db, limiter
from reunite.security import is_local_path


def safe_next(default: str) -> str:
    """A same-site path from ?next=, or the default (no open redirects)."""
    target = request.args.get("next", "")
    if is_local_path(target):
        return target
    return default


@bp.get("/register")
def register_page() -> ResponseReturnValue:
    """Registration (children and parents); the browser module does the key work."""
    return render_template("auth/register.html")


@bp.get("/login")
def login_page() -> ResponseReturnValue:
    """Login; the browser module derives the auth key from the password."""
    return render_template("auth/login.html", next=safe_next(url_for("auth.account")))


@bp.get("/recover")
def recover_page() -> ResponseReturnValue:
    """Set a new password with the recovery key."""
    return render_template("auth/recover.html")


@bp.get("/reset")
def reset_page() -> ResponseReturnValue:
    """Complete an administrator's reset with the one-time code (new keys)."""
    return render_template("auth/reset.html")


@bp.get("/account/password")
@login_required
def password_page() -> ResponseReturnValue:
    """Change the password (the bundle is re-sealed in the browser)."""
    return render_template("auth/password.html")


@bp.get("/account")
@login_required
def account() -> ResponseReturnValue:
    """The person's own account: role, keys and their fingerprints."""
    return render_template("auth/account.html", user=current(), form=PostForm())


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the session (form with CSRF token)."""
    PostForm().validate_on_submit()
    end_session()
    return redirect(url_for("main.index"))


@bp.route("/totp/setup", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
@login_required_no_totp
def totp_setup() -> ResponseReturnValue:
    """Staff set up TOTP: QR code and secret, confirmed with a first code."""
    user = current()
    if user.has_totp:
        return redirect(url_for("auth.totp_verify", next=safe_next(url_for("moderation.index"))))
    secret = services.begin_totp(user)
    db.session.commit()
    form = TotpForm()
    error = None
    if form.validate_on_submit():
        try:
            services.confirm_totp(user, form.code.data or "")
        except Invalid as err:
            error = err.message
        else:
            db.session.commit()
            session["totp_ok"] = True
            return redirect(safe_next(url_for("moderation.index")))
    uri = services.provisioning_uri(user, secret)
    qr_svg = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    return render_template("auth/totp_setup.html", form=form, secret=secret, qr=qr_svg, error=error)


@bp.route("/totp/verify", methods=["GET", "POST"])
@limiter.limit("10 per 15 minutes", methods=["POST"])
@login_required_no_totp
def totp_verify() -> ResponseReturnValue:
    """Staff enter a TOTP code once per session before any staff page opens."""
    user = current()
    if not user.is_staff:
        raise Forbidden(_("Only moderators and administrators use TOTP."))
    if not user.has_totp:
        return redirect(url_for("auth.totp_setup", next=safe_next(url_for("moderation.index"))))
    form = TotpForm()
    error = None
    if form.validate_on_submit():
        try:
            services.verify_totp(user, form.code.data or "")
        except Invalid as err:
            error = err.message
        else:
            db.session.commit()
            session["totp_ok"] = True
            return redirect(safe_next(url_for("moderation.index")))
    return render_template("auth/totp_verify.html", form=form, error=error)
