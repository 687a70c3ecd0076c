"""Notification pages and JSON: my notifications, mark all read, and the e-mail setting."""

from __future__ import annotations

from typing import Any

from flask import flash, jsonify, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from reunite import openapi as oa
from reunite.auth.access import current, login_required
from reunite.auth.forms import PostForm
from reunite.errors import Invalid
from reunite.extensions import db
from reunite.notifications import bp, services
from reunite.notifications.forms import EmailSettingsForm
from reunite.notifications.models import Notification


def notification_json(note: Notification) -> dict[str, Any]:
    """What the owner sees of a notification (the mail state is internal)."""
    return {
        "id": note.id,
        "kind": note.kind,
        "link": note.link,
        "created_at": note.created_at.isoformat(),
        "read_at": note.read_at.isoformat() if note.read_at else None,
        "is_read": note.is_read,
    }


@bp.get("/notifications")
@login_required
def index() -> ResponseReturnValue:
    """The person's notifications, newest first, unread ones highlighted."""
    user = current()
    rows = services.list_own(user)
    return render_template(
        "notifications/index.html",
        notifications=rows,
        unread=sum(1 for note in rows if not note.is_read),
        has_email=bool(user.email),
        form=PostForm(),
    )


@bp.post("/notifications/read")
@login_required
def mark_all_read() -> ResponseReturnValue:
    """Mark all of the person's notifications read (form with CSRF token)."""
    if PostForm().validate_on_submit():
        services.mark_all_read(current())
        db.session.commit()
    return redirect(url_for("notifications.index"))


@bp.route("/notifications/settings", methods=["GET", "POST"])
@login_required
def settings() -> ResponseReturnValue:
    """Set or clear the address for notification mail; it is shown only to its owner."""
    user = current()
    form = EmailSettingsForm(data={"email": user.email or ""})
    if form.validate_on_submit():
        try:
            value = services.set_email(user, None if form.remove.data else form.email.data)
        except Invalid as err:
            db.session.rollback()
            form.email.errors = [*form.email.errors, err.message]
        else:
            db.session.commit()
            flash(_("Address saved.") if value else _("Address removed."), "notice")
            return redirect(url_for("notifications.settings"))
    status = 400 if form.is_submitted() else 200
    return render_template("notifications/settings.html", form=form, email=user.email), status


@bp.get("/api/v1/notifications")
@oa.api_doc(
    responses={
        200: oa.obj(
            {
                "notifications": oa.array(
                    oa.obj(
                        {
                            "id": oa.integer(1),
                            "kind": oa.string(),
                            "link": oa.nullable(oa.string(2048)),
                            "created_at": oa.TIMESTAMP,
                            "read_at": oa.nullable(oa.TIMESTAMP),
                            "is_read": {"type": "boolean"},
                        },
                        ["id", "kind", "link", "created_at", "read_at", "is_read"],
                    )
                ),
                "unread": oa.integer(0),
            },
            ["notifications", "unread"],
        )
    }
)
@login_required
def api_list() -> ResponseReturnValue:
    """The person's own notifications, newest first, and how many are unread."""
    user = current()
    return jsonify(
        notifications=[notification_json(n) for n in services.list_own(user)], unread=services.unread_count(user)
    )
