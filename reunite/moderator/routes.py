"""Moderator pages."""

from __future__ import annotations

import time

from flask import current_app, render_template
from flask.typing import ResponseReturnValue

from reunite.auth.access import current, staff_required
from reunite.client import protocol as p
from reunite.moderator import bp


@bp.get("/")
@staff_required()
def index() -> ResponseReturnValue:
    """Moderator home: certificate status (the queue comes with the moderation feature)."""
    user = current()
    cert_ok = False
    org = current_app.config.get("ORG_PUBLIC_KEY")
    if org and user.modcert_sig is not None and user.modcert_expires_ms is not None:
        cert_ok = p.verify_modcert(
            p.b64d(org),
            user.public_id,
            user.identity_pk,
            user.modcert_expires_ms,
            user.modcert_sig,
            int(time.time() * 1000),
        )
    return render_template("moderator/index.html", user=user, cert_ok=cert_ok)
