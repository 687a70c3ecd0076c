"""The audit log page for administrators: filter, page through, newest first."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from reunite.audit import bp, services
from reunite.audit.forms import AuditFilterForm
from reunite.auth.access import staff_required
from reunite.auth.models import Role


@bp.get("/")
@staff_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    """Audit entries matching the filters in the query string, 50 per page."""
    form = AuditFilterForm(formdata=request.args)
    form.action.choices = [("", _("Any action"))] + [(a, a) for a in services.known_actions()]
    if not form.validate():
        return render_template("audit/index.html", form=form, result=None, query={}), 400
    flt = services.AuditFilter(
        action=form.action.data or "",
        actor=(form.actor.data or "").strip(),
        target_id=(form.target_id.data or "").strip(),
        date_from=form.date_from.data,
        date_to=form.date_to.data,
    )
    page = request.args.get("page", 1, type=int) or 1
    result = services.search(flt, page)
    query = {key: value for key, value in request.args.items() if key != "page" and value}
    return render_template("audit/index.html", form=form, result=result, query=query)
