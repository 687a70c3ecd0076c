"""Admin pages: list accounts, issue a reset code."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from reunite.admin import bp
from reunite.audit import services as audit
from reunite.auth import services
from reunite.auth.access import current, staff_required
from reunite.auth.forms import PostForm
from reunite.auth.models import Role, User
from reunite.extensions import db


@bp.get("/users")
@staff_required(Role.ADMIN)
def users() -> ResponseReturnValue:
    """All accounts (no claim content here)."""
    rows = db.session.scalars(select(User).order_by(User.created_at.desc()).limit(500)).all()
    return render_template("admin/users.html", users=rows, form=PostForm())


@bp.post("/users/<public_id>/reset")
@staff_required(Role.ADMIN)
def reset(public_id: str) -> ResponseReturnValue:
    """Issue a one-time reset code (shown once) for an account that lost password and recovery key."""
    form = PostForm()
    if not form.validate_on_submit():
        return render_template("admin/users.html", users=[], form=form), 400
    code = services.issue_reset(current(), public_id)
    audit.record(current(), "account.reset", "user", public_id)
    db.session.commit()
    target = db.session.scalars(select(User).where(User.public_id == public_id)).one()
    return render_template("admin/reset_code.html", target=target, code=code)
