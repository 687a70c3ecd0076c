"""Data protection pages and JSON API: delete one's own account, download one's personal data."""

from __future__ import annotations

import json

from flask import Response, current_app, jsonify, render_template, session
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import logout_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import func, select

from reunite import openapi as oa
from reunite.auth import bp, erasure
from reunite.auth.access import current, login_required
from reunite.errors import Invalid
from reunite.extensions import db, limiter
from reunite.jsonapi import json_body, req_b64

KEY = 32
_LIST = oa.array({"type": "object"})
_EXPORT = oa.obj(
    {
        "format": oa.string(64, enum=[erasure.EXPORT_FORMAT]),
        "exported_at": oa.TIMESTAMP,
        "account": {"type": "object"},
        "claims": _LIST,
        "matches": _LIST,
        "notifications": _LIST,
        "conversations": _LIST,
        "key_log": _LIST,
        "audit": _LIST,
    },
    ["format", "exported_at", "account", "claims", "matches", "notifications", "conversations", "key_log", "audit"],
)


def _end_session() -> None:
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang


@bp.get("/account/delete")
@login_required
def delete_page() -> ResponseReturnValue:
    """What deleting the account erases and what the partner keeps; the browser module proves the password."""
    from reunite.claims.models import Claim
    from reunite.mailbox.services import my_conversations

    user = current()
    claims = db.session.scalar(select(func.count(Claim.id)).where(Claim.owner_id == user.id)) or 0
    return render_template("auth/delete.html", user=user, claims=int(claims), conversations=len(my_conversations(user)))


@bp.post("/api/v1/account/delete")
@oa.api_doc(
    rate_limited=True,
    errors=[401, 403],
    body=oa.obj({"auth_key": oa.b64(KEY), "confirm": {"const": True}}, ["auth_key", "confirm"]),
    responses={
        200: oa.obj(
            {"erased": {"const": True}, "id": oa.string(32), "csrf_token": oa.string(512)},
            ["erased", "id", "csrf_token"],
        )
    },
)
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT"])
@login_required
def api_delete_account() -> ResponseReturnValue:
    """Erase the session's own account after a fresh password proof (``auth_key``) and ``confirm: true``.

    Answers ``{"erased": true, "id": ...}`` and ends the session.
    """
    body = json_body({"auth_key", "confirm"})
    if body.get("confirm") is not True:
        raise Invalid(_("Confirm that you want to delete your account (confirm: true)."), field="confirm")
    auth_key = req_b64(body, "auth_key", size=KEY)
    result = erasure.erase_account(current(), auth_key)
    db.session.commit()
    _end_session()
    # After the commit: the matcher drops the claims from its index, the others get their mail.
    from reunite.claims.tasks import enqueue_match
    from reunite.notifications.tasks import enqueue_mail

    for claim_id in result.claim_ids:
        enqueue_match(claim_id)
    for note_id in result.notifications:
        enqueue_mail(note_id)
    return jsonify(erased=True, id=result.public_id, csrf_token=generate_csrf())


@bp.get("/account/export")
@login_required
def export_page() -> ResponseReturnValue:
    """What the personal-data download contains, with the download link."""
    return render_template("auth/export.html")


@bp.get("/api/v1/account/export")
@oa.api_doc(responses={200: _EXPORT})
@login_required
def api_export_account() -> ResponseReturnValue:
    """Everything the service holds about the session's person, as a JSON download."""
    user = current()
    doc = erasure.export_account(user)
    name = f"reunite-personal-data-{user.public_id}.json"
    return Response(
        json.dumps(doc, ensure_ascii=False, indent=1),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
