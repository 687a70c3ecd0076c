"""JSON API of the mailbox (docs/mailbox-api.md): rosters, envelopes, moderation, reports, export."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user

from reunite.auth.access import current, login_required
from reunite.client import protocol as p
from reunite.errors import Invalid
from reunite.extensions import db, limiter
from reunite.jsonapi import get_str, json_body, req_b64, req_int, req_obj, req_str
from reunite.mailbox import bp, services

ENVELOPE_FIELDS = {"header", "c", "kc", "nonce", "body", "wrapped", "sig"}


def _send_limit() -> str:
    return str(current_app.config.get("MAILBOX_SEND_LIMIT", "60 per minute"))


def _person_key() -> str:
    # Per person, not per address: a family behind one router shares an address.
    if current_user and current_user.is_authenticated:
        return "mailbox-send:" + str(current_user.public_id)
    return "mailbox-send-ip:" + get_remote_address()


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise Invalid(
            _("The parameter '%(name)s' must be a whole number from %(lo)s to %(hi)s.", name=name, lo=lo, hi=hi),
            field=name,
        )
    return int(raw)


def _envelope(body: dict[str, Any]) -> p.Envelope:
    raw = req_obj(body, "envelope", ENVELOPE_FIELDS)
    wrapped = raw.get("wrapped")
    if not isinstance(wrapped, list) or not 1 <= len(wrapped) <= services.MAX_ROSTER:
        raise Invalid(_("The field 'envelope.wrapped' must be a list of wrapped keys."), field="envelope.wrapped")
    try:
        return p.Envelope.from_json(raw)
    except p.ProtocolError as err:
        raise Invalid(_("The envelope is malformed: %(problem)s.", problem=str(err)), field="envelope") from err


@bp.get("/api/v1/server-keys")
@login_required
def server_keys() -> ResponseReturnValue:
    """The server's receipt key and the organisation key."""
    return jsonify(services.server_keys())


@bp.get("/api/v1/conversations")
@login_required
def conversations() -> ResponseReturnValue:
    """The person's conversations with unread and held counts."""
    return jsonify(services.conversation_list(current()))


@bp.get("/api/v1/conversations/<public_id>")
@login_required
def conversation_json(public_id: str) -> ResponseReturnValue:
    """The roster with each member's keys and certificates, for clients to check before sending."""
    return jsonify(services.conversation_json(current(), public_id))


@bp.get("/api/v1/conversations/<public_id>/messages")
@login_required
def messages(public_id: str) -> ResponseReturnValue:
    """A page of the conversation's chain as this member may see it."""
    after = _int_arg("after", 0, 0, 2**62)
    limit = _int_arg("limit", services.PAGE_DEFAULT, 1, services.PAGE_MAX)
    page = services.messages(current(), public_id, after, limit)
    db.session.commit()
    return jsonify(page)


@bp.post("/api/v1/conversations/<public_id>/messages")
@limiter.limit(_send_limit, key_func=_person_key)
@login_required
def send(public_id: str) -> ResponseReturnValue:
    """Accept an envelope: every check of the spec, then chain, receipt, held or delivered."""
    body = json_body({"msg_id", "seq", "envelope"})
    msg_id = req_b64(body, "msg_id", size=p.MSG_ID_BYTES)
    seq = req_int(body, "seq", lo=1, hi=2**32 - 1)
    envelope = _envelope(body)
    accepted = services.send(current(), public_id, msg_id, seq, envelope)
    db.session.commit()
    return jsonify(accepted.as_json()), 201 if accepted.is_new else 200


@bp.post("/api/v1/conversations/<public_id>/messages/<msg_id>/moderate")
@login_required
def moderate(public_id: str, msg_id: str) -> ResponseReturnValue:
    """A moderator releases or rejects a held message, signed."""
    body = json_body({"action", "reason", "sig"})
    item = services.moderate(
        current(),
        public_id,
        msg_id,
        req_str(body, "action", max_len=16),
        get_str(body, "reason", max_len=services.MAX_REASON, required=False) or "",
        req_b64(body, "sig", size=p.SIG_BYTES),
    )
    db.session.commit()
    return jsonify(item)


@bp.post("/api/v1/conversations/<public_id>/messages/<msg_id>/report")
@login_required
def report(public_id: str, msg_id: str) -> ResponseReturnValue:
    """A recipient reveals a message's plaintext and franking key to the moderators."""
    body = json_body({"m", "kf", "note"})
    answer = services.report(
        current(),
        public_id,
        msg_id,
        req_b64(body, "m", max_size=services.MAX_M),
        req_b64(body, "kf", size=p.KEY_BYTES),
        get_str(body, "note", max_len=services.MAX_NOTE, required=False) or "",
    )
    db.session.commit()
    return jsonify(answer), 201 if answer.pop("is_new") else 200


@bp.post("/api/v1/conversations/<public_id>/state")
@login_required
def set_state(public_id: str) -> ResponseReturnValue:
    """A moderator pauses, reopens or closes the conversation, sets pre-moderation, confirms new keys."""
    body = json_body({"state", "premoderated", "confirm_keys", "reason"})
    premoderated = body.get("premoderated")
    confirm = body.get("confirm_keys", False)
    if premoderated is not None and not isinstance(premoderated, bool):
        raise Invalid(_("The field '%(name)s' must be true or false.", name="premoderated"), field="premoderated")
    if not isinstance(confirm, bool):
        raise Invalid(_("The field '%(name)s' must be true or false.", name="confirm_keys"), field="confirm_keys")
    answer = services.set_state(
        current(),
        public_id,
        state=get_str(body, "state", max_len=16, required=False),
        premoderated=premoderated,
        confirm_keys=confirm,
        reason=get_str(body, "reason", max_len=services.MAX_REASON, required=False) or "",
    )
    db.session.commit()
    return jsonify(answer)


@bp.get("/api/v1/conversations/<public_id>/export")
@login_required
def export(public_id: str) -> ResponseReturnValue:
    """The signed evidence bundle without plaintexts (the client adds them)."""
    return jsonify(services.export(current(), public_id))


@bp.get("/api/v1/moderator/held")
@login_required
def held() -> ResponseReturnValue:
    """Held messages across the moderator's conversations."""
    return jsonify(services.held_for_moderator(current()))


@bp.get("/api/v1/moderator/reports")
@login_required
def reports() -> ResponseReturnValue:
    """Reports with their verified plaintext."""
    return jsonify(services.reports_for_moderator(current()))
