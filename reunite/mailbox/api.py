"""JSON API of the mailbox (docs/mailbox-api.md): rosters, envelopes, moderation, reports, export."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user

from reunite import openapi as oa
from reunite.auth.access import current, login_required
from reunite.client import protocol as p
from reunite.client.verify import TOP_LEVEL as EVIDENCE_FIELDS
from reunite.errors import Invalid
from reunite.extensions import db, limiter
from reunite.jsonapi import get_str, json_body, req_b64, req_int, req_obj, req_str
from reunite.mailbox import bp, services

ENVELOPE_FIELDS = {"header", "c", "kc", "nonce", "body", "wrapped", "sig"}

# OpenAPI declarations (reunite/openapi.py); docs/mailbox-api.md explains the fields.
_ID = oa.string()
_HASH = oa.b64(32)
_SIG = oa.b64(p.SIG_BYTES)
_ENVELOPE = oa.component(
    "Envelope",
    oa.obj(
        {
            "header": oa.b64(max_size=services.MAX_HEADER),
            "c": _HASH,
            "kc": _HASH,
            "nonce": oa.b64(p.NONCE_BYTES),
            "body": oa.b64(max_size=services.MAX_BODY),
            "wrapped": oa.array(oa.b64(max_size=256), max_items=services.MAX_ROSTER) | {"minItems": 1},
            "sig": _SIG,
        },
        sorted(ENVELOPE_FIELDS),
    ),
)
_MESSAGE_ITEM = oa.component(
    "MessageItem",
    oa.obj(
        {
            "conversation_id": _ID,
            "index": oa.integer(1),
            "kind": {"const": "message"},
            "msg_id": oa.b64(p.MSG_ID_BYTES),
            "sender_id": _ID,
            "seq": oa.integer(1),
            "state": oa.string(enum=["held", "delivered", "rejected"]),
            "reason": oa.string(services.MAX_REASON),
            "received_ms": oa.integer(0),
            "envelope": _ENVELOPE,
            "entry_hash": _HASH,
            "receipt": _SIG,
        },
        ["index", "kind", "msg_id", "sender_id", "seq", "state", "received_ms", "envelope", "entry_hash", "receipt"],
    ),
)
_ACTION_ITEM = oa.component(
    "ModActionItem",
    oa.obj(
        {
            "index": oa.integer(1),
            "kind": {"const": "modaction"},
            "msg_id": oa.b64(p.MSG_ID_BYTES),
            "action": oa.string(enum=["release", "reject"]),
            "reason": oa.string(services.MAX_REASON),
            "moderator_id": _ID,
            "ms": oa.integer(0),
            "sig": _SIG,
            "entry_hash": _HASH,
            "receipt": _SIG,
        },
        ["index", "kind", "msg_id", "action", "reason", "moderator_id", "ms", "sig", "entry_hash", "receipt"],
    ),
)
_WITHHELD_ITEM = oa.obj(
    {"index": oa.integer(1), "kind": {"const": "withheld"}, "entry_hash": _HASH, "receipt": _SIG},
    ["index", "kind", "entry_hash", "receipt"],
)
_KEY_HISTORY = oa.array(
    oa.obj(
        {"identity_pk": _HASH, "enc_pk": _HASH, "epoch": oa.integer(1), "enc_cert": _SIG, "ms": oa.integer(0)},
        ["identity_pk", "enc_pk", "epoch", "ms"],
    )
)
_ROSTER_MEMBER = oa.component(
    "RosterMember",
    oa.obj(
        {
            "user_id": _ID,
            "role": oa.string(),
            "username": oa.string(),
            "identity_pk": _HASH,
            "enc_pk": _HASH,
            "epoch": oa.integer(1),
            "enc_cert": _SIG,
            "modcert": oa.obj({"sig": _SIG, "expires_ms": oa.integer()}, ["sig", "expires_ms"]),
            "keys_changed_at": oa.nullable(oa.TIMESTAMP),
            "key_history": _KEY_HISTORY,
        },
        ["user_id", "role", "username", "identity_pk", "enc_pk", "epoch", "enc_cert", "keys_changed_at"],
    ),
)
_STATES = ["open", "paused", "closed"]
_CONVERSATION = oa.component(
    "Conversation",
    oa.obj(
        {
            "id": _ID,
            "state": oa.string(enum=_STATES),
            "premoderated": {"type": "boolean"},
            "keys_changed_pending": {"type": "boolean"},
            "key_changes": oa.array(
                oa.obj(
                    {
                        "user_id": _ID,
                        "epoch": oa.integer(1),
                        "changed_at": oa.TIMESTAMP,
                        "confirmed": {"type": "boolean"},
                    },
                    ["user_id", "epoch", "changed_at", "confirmed"],
                )
            ),
            "roster": oa.array(_ROSTER_MEMBER),
            "my_last_seq": oa.integer(0),
            "close_reason": oa.nullable(oa.string(services.MAX_REASON)),
        },
        ["id", "state", "premoderated", "keys_changed_pending", "key_changes", "roster", "my_last_seq", "close_reason"],
    ),
)
_PAGE = oa.obj(
    {
        "items": oa.array({"oneOf": [_MESSAGE_ITEM, _ACTION_ITEM]}),
        "next_after": oa.integer(0),
        "more": {"type": "boolean"},
    },
    ["items", "next_after", "more"],
)
_ACCEPTED = oa.obj(
    {
        "index": oa.integer(1),
        "entry_hash": _HASH,
        "receipt": _SIG,
        "received_ms": oa.integer(0),
        "state": oa.string(enum=["held", "delivered", "rejected"]),
    },
    ["index", "entry_hash", "receipt", "received_ms", "state"],
)
_REPORTED = oa.obj({"id": _ID, "created_at": oa.TIMESTAMP}, ["id", "created_at"])


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
@oa.api_doc(
    responses={200: oa.obj({"server_sign_pk": _HASH, "org_pk": oa.nullable(_HASH)}, ["server_sign_pk", "org_pk"])}
)
@login_required
def server_keys() -> ResponseReturnValue:
    """The server's receipt key and the organisation key."""
    return jsonify(services.server_keys())


@bp.get("/api/v1/conversations")
@oa.api_doc(
    responses={
        200: oa.array(
            oa.obj(
                {
                    "id": _ID,
                    "state": oa.string(enum=_STATES),
                    "premoderated": {"type": "boolean"},
                    "keys_changed_pending": {"type": "boolean"},
                    "unread": oa.integer(0),
                    "held": oa.integer(0),
                    "role": oa.string(),
                    "created_at": oa.TIMESTAMP,
                },
                ["id", "state", "premoderated", "keys_changed_pending", "unread", "held", "role", "created_at"],
            )
        )
    }
)
@login_required
def conversations() -> ResponseReturnValue:
    """The person's conversations with unread and held counts."""
    return jsonify(services.conversation_list(current()))


@bp.get("/api/v1/conversations/<public_id>")
@oa.api_doc(responses={200: _CONVERSATION})
@login_required
def conversation_json(public_id: str) -> ResponseReturnValue:
    """The roster with each member's keys and certificates, for clients to check before sending."""
    return jsonify(services.conversation_json(current(), public_id))


@bp.get("/api/v1/conversations/<public_id>/messages")
@oa.api_doc(query={"after": oa.integer(0, 2**62), "limit": oa.integer(1, services.PAGE_MAX)}, responses={200: _PAGE})
@login_required
def messages(public_id: str) -> ResponseReturnValue:
    """A page of the conversation's chain as this member may see it."""
    after = _int_arg("after", 0, 0, 2**62)
    limit = _int_arg("limit", services.PAGE_DEFAULT, 1, services.PAGE_MAX)
    page = services.messages(current(), public_id, after, limit)
    db.session.commit()
    return jsonify(page)


@bp.post("/api/v1/conversations/<public_id>/messages")
@oa.api_doc(
    rate_limited=True,
    errors=[409],
    body=oa.obj(
        {"msg_id": oa.b64(p.MSG_ID_BYTES), "seq": oa.integer(1, 2**32 - 1), "envelope": _ENVELOPE},
        ["msg_id", "seq", "envelope"],
    ),
    responses={200: _ACCEPTED, 201: _ACCEPTED},
)
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
@oa.api_doc(
    errors=[409],
    body=oa.obj(
        {
            "action": oa.string(16, enum=["release", "reject"]),
            "reason": oa.nullable(oa.string(services.MAX_REASON)),
            "sig": _SIG,
        },
        ["action", "sig"],
    ),
    responses={200: _ACTION_ITEM},
)
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
@oa.api_doc(
    errors=[409],
    body=oa.obj(
        {"m": oa.b64(max_size=services.MAX_M), "kf": _HASH, "note": oa.nullable(oa.string(services.MAX_NOTE))},
        ["m", "kf"],
    ),
    responses={200: _REPORTED, 201: _REPORTED},
)
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
@oa.api_doc(
    errors=[409],
    body=oa.obj(
        {
            "state": oa.nullable(oa.string(16, enum=_STATES)),
            "premoderated": {"type": ["boolean", "null"]},
            "confirm_keys": {"type": "boolean"},
            "reason": oa.nullable(oa.string(services.MAX_REASON)),
        }
    ),
    responses={200: _CONVERSATION},
)
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
@oa.api_doc(
    responses={
        200: oa.obj(
            {
                "format": oa.string(),
                "conversation": oa.obj(
                    {
                        "id": _ID,
                        "state": oa.string(enum=_STATES),
                        "premoderated": {"type": "boolean"},
                        "created_at": oa.TIMESTAMP,
                    },
                    ["id", "state", "premoderated", "created_at"],
                ),
                "exported_by": _ID,
                "exported_ms": oa.integer(0),
                "server_sign_pk": _HASH,
                "org_pk": oa.nullable(_HASH),
                "roster": oa.array(_ROSTER_MEMBER),
                "entries": oa.array({"oneOf": [_MESSAGE_ITEM, _ACTION_ITEM, _WITHHELD_ITEM]}),
                "manifest": oa.array(oa.obj({"part": oa.string(), "sha256": _HASH}, ["part", "sha256"])),
                "export_sig": _SIG,
            },
            # Every part the verifier reads; "plaintexts" is added by the person's client, not the server.
            sorted(EVIDENCE_FIELDS - {"plaintexts"}),
        )
    }
)
@login_required
def export(public_id: str) -> ResponseReturnValue:
    """The signed evidence bundle without plaintexts (the client adds them)."""
    return jsonify(services.export(current(), public_id))


@bp.get("/api/v1/moderator/held")
@oa.api_doc(responses={200: oa.obj({"items": oa.array(_MESSAGE_ITEM)}, ["items"])})
@login_required
def held() -> ResponseReturnValue:
    """Held messages across the moderator's conversations."""
    return jsonify(services.held_for_moderator(current()))


@bp.get("/api/v1/moderator/reports")
@oa.api_doc(
    responses={
        200: oa.obj(
            {
                "items": oa.array(
                    oa.obj(
                        {
                            "id": _ID,
                            "conversation_id": _ID,
                            "msg_id": oa.b64(p.MSG_ID_BYTES),
                            "index": oa.integer(1),
                            "sender_id": _ID,
                            "reporter_id": _ID,
                            "text": oa.nullable({"type": "string"}),
                            "sent_at": oa.nullable({"type": ["string", "integer"]}),
                            "note": oa.string(services.MAX_NOTE),
                            "m": oa.b64(max_size=services.MAX_M),
                            "kf": _HASH,
                            "created_at": oa.TIMESTAMP,
                            "received_ms": oa.integer(0),
                            "envelope": _ENVELOPE,
                        },
                        ["id", "conversation_id", "msg_id", "index", "sender_id", "reporter_id", "m", "kf", "envelope"],
                    )
                )
            },
            ["items"],
        )
    }
)
@login_required
def reports() -> ResponseReturnValue:
    """Reports with their verified plaintext."""
    return jsonify(services.reports_for_moderator(current()))
