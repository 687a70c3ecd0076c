"""JSON API for accounts: the protocol of spec/auth-and-keys.md, used by the browser module and the Python client."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request, session
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from reunite import openapi as oa
from reunite.auth import bp, keylog, services
from reunite.auth.access import current, end_session, login_required, login_required_no_totp
from reunite.auth.models import KeyLogEntry, Role, User
from reunite.client.protocol import b64e
from reunite.errors import Invalid, NotFound
from reunite.extensions import db, limiter
from reunite.jsonapi import get_int, json_body, req_b64, req_int, req_obj, req_str

SALT = 16
KEY = 32
NONCE = 24
MAX_CT = services.MAX_BUNDLE
CRED_FIELDS = {"salt", "ops", "mem", "auth_key", "bundle"}
KEY_FIELDS = {"identity_pk", "enc_pk", "epoch", "enc_cert", "recovery_bundle", "recovery_auth"}
BUNDLE_FIELDS = {"nonce", "ciphertext"}

# OpenAPI declarations (reunite/openapi.py) of what the parsers below accept and the views answer.
_USERNAME = oa.string(services.USERNAME_MAX * 4)
_BUNDLE = oa.component(
    "SealedBundle", oa.obj({"nonce": oa.b64(NONCE), "ciphertext": oa.b64(max_size=MAX_CT)}, BUNDLE_FIELDS)
)
_CRED_SCHEMA = {
    "salt": oa.b64(SALT),
    "ops": oa.integer(1, 10),
    "mem": oa.integer(8 * 1024 * 1024, 1024 * 1024 * 1024),
    "auth_key": oa.b64(KEY),
    "bundle": _BUNDLE,
}
_KEY_SCHEMA = {
    "identity_pk": oa.b64(KEY),
    "enc_pk": oa.b64(KEY),
    "epoch": oa.integer(1, 1_000_000),
    "enc_cert": oa.b64(64),
    "recovery_bundle": _BUNDLE,
    "recovery_auth": oa.b64(KEY),
}
_ACCOUNT = oa.component(
    "Account",
    oa.obj(
        {
            "id": oa.string(),
            "username": oa.string(),
            "role": oa.string(enum=[r.value for r in Role]),
            "locale": oa.string(16),
            "epoch": oa.integer(1),
            "identity_pk": oa.b64(KEY),
            "enc_pk": oa.b64(KEY),
            "totp_required": {"type": "boolean"},
            "totp_set_up": {"type": "boolean"},
            "totp_ok": {"type": "boolean"},
        },
        ["id", "username", "role", "locale", "epoch", "identity_pk", "enc_pk", "totp_required", "totp_set_up"],
    ),
)
_SESSION = oa.component(
    "NewSession",
    oa.obj({"user": _ACCOUNT, "csrf_token": oa.string(512), "bundle": _BUNDLE}, ["user", "csrf_token"]),
)
_OK = oa.obj({"ok": {"const": True}, "csrf_token": oa.string(512)}, ["ok"])


def _bundle(body: dict[str, Any], name: str) -> services.SealedBundle:
    obj = req_obj(body, name, BUNDLE_FIELDS)
    # Qualified names, so an error says "bundle.nonce" rather than "nonce".
    qualified = {f"{name}.{key}": value for key, value in obj.items()}
    nonce = req_b64(qualified, f"{name}.nonce", size=NONCE)
    ct = req_b64(qualified, f"{name}.ciphertext", max_size=MAX_CT)
    if len(ct) < 17:
        raise Invalid(_("The field '%(name)s' is too short.", name=f"{name}.ciphertext"), field=f"{name}.ciphertext")
    return services.SealedBundle(nonce, ct)


def _credentials(body: dict[str, Any]) -> services.Credentials:
    return services.Credentials(
        salt=req_b64(body, "salt", size=SALT),
        ops=req_int(body, "ops", lo=1, hi=10),
        mem=req_int(body, "mem", lo=8 * 1024 * 1024, hi=1024 * 1024 * 1024),
        auth_key=req_b64(body, "auth_key", size=KEY),
        bundle=_bundle(body, "bundle"),
    )


def _keys(body: dict[str, Any]) -> services.KeyMaterial:
    return services.KeyMaterial(
        identity_pk=req_b64(body, "identity_pk", size=KEY),
        enc_pk=req_b64(body, "enc_pk", size=KEY),
        epoch=req_int(body, "epoch", lo=1, hi=1_000_000),
        enc_cert=req_b64(body, "enc_cert", size=64),
        recovery_bundle=_bundle(body, "recovery_bundle"),
        recovery_auth=req_b64(body, "recovery_auth", size=KEY),
    )


def _bundle_json(nonce: bytes, ct: bytes) -> dict[str, str]:
    return {"nonce": b64e(nonce), "ciphertext": b64e(ct)}


def user_json(user: User) -> dict[str, Any]:
    """What an account may know about itself."""
    return {
        "id": user.public_id,
        "username": user.username,
        "role": user.role.value,
        "locale": user.locale,
        "epoch": user.enc_epoch,
        "identity_pk": b64e(user.identity_pk),
        "enc_pk": b64e(user.enc_pk),
        "totp_required": user.is_staff,
        "totp_set_up": user.has_totp,
    }


def _start_session(user: User) -> dict[str, Any]:
    # A fresh session at login: nothing from before survives (no fixation), new CSRF token.
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    login_user(user)
    session["totp_ok"] = False
    return {"user": user_json(user), "csrf_token": generate_csrf()}


def _account_key() -> str:
    try:
        body = request.get_json(silent=True) or {}
        name = body.get("username") if isinstance(body, dict) else None
        if isinstance(name, str):
            return "acct:" + services.normalise_username(name)[1]
    except Invalid:
        pass
    return "acct:?"


def _failed(response: Any) -> bool:
    return bool(response.status_code == 401)


def _cfg(name: str) -> Any:
    return lambda: current_app.config[name]


@bp.get("/api/v1/csrf")
@oa.api_doc(auth="public", responses={200: oa.obj({"csrf_token": oa.string(512)}, ["csrf_token"])})
def csrf_token() -> ResponseReturnValue:
    """A CSRF token for JSON writes (send it back as X-CSRFToken)."""
    return jsonify(csrf_token=generate_csrf())


@bp.get("/api/v1/auth/params")
@oa.api_doc(auth="public", responses={200: oa.obj({"ops": oa.integer(1), "mem": oa.integer(1)}, ["ops", "mem"])})
def kdf_params() -> ResponseReturnValue:
    """The KDF parameters a new account should use."""
    cfg = current_app.config
    return jsonify(ops=cfg["KDF_OPS"], mem=cfg["KDF_MEM"])


@bp.post("/api/v1/auth/prelogin")
@oa.api_doc(
    auth="public",
    rate_limited=True,
    body=oa.obj({"username": _USERNAME}, ["username"]),
    responses={200: oa.obj({"salt": oa.b64(SALT), "ops": oa.integer(1), "mem": oa.integer(1)}, ["salt", "ops", "mem"])},
)
@limiter.limit(_cfg("PRELOGIN_LIMIT"))
# Per account too, across addresses; generous, since every login (good or bad) starts here.
@limiter.limit("30 per 15 minutes", key_func=_account_key, per_method=True)
def prelogin() -> ResponseReturnValue:
    """Salt and KDF parameters for a username (fake but stable for unknown names)."""
    body = json_body({"username"})
    pre = services.prelogin(req_str(body, "username", max_len=services.USERNAME_MAX * 4))
    return jsonify(salt=b64e(pre.salt), ops=pre.ops, mem=pre.mem)


@bp.post("/api/v1/auth/register")
@oa.api_doc(
    auth="public",
    rate_limited=True,
    errors=[409],
    body=oa.obj(
        {
            "username": _USERNAME,
            "role": oa.string(16, enum=["child", "parent"]),
            "locale": {"type": ["string", "null"]},
            "birth_year": oa.nullable(oa.integer(1900, 2100)),
            "birth_month": oa.nullable(oa.integer(1, 12)),
        }
        | _CRED_SCHEMA
        | _KEY_SCHEMA,
        ["username", "role", *sorted(CRED_FIELDS | KEY_FIELDS)],
    ),
    responses={201: _SESSION},
)
@limiter.limit(_cfg("REGISTER_LIMIT"))
def api_register() -> ResponseReturnValue:
    """Create a child or parent account from client-made credentials and keys."""
    body = json_body({"username", "role", "locale", "birth_year", "birth_month"} | CRED_FIELDS | KEY_FIELDS)
    role_text = req_str(body, "role", max_len=16)
    if role_text not in (Role.CHILD.value, Role.PARENT.value):
        raise Invalid(_("The role must be 'child' or 'parent'."), field="role")
    reg = services.Registration(
        username=req_str(body, "username", max_len=services.USERNAME_MAX * 4),
        role=Role(role_text),
        credentials=_credentials(body),
        keys=_keys(body),
        locale=(body.get("locale") if isinstance(body.get("locale"), str) else None) or "en",
        birth_year=get_int(body, "birth_year", lo=1900, hi=2100, required=False),
        birth_month=get_int(body, "birth_month", lo=1, hi=12, required=False),
    )
    user = services.register(reg)
    db.session.commit()
    answer = _start_session(user)
    return jsonify(answer), 201


@bp.post("/api/v1/auth/login")
@oa.api_doc(
    auth="public",
    rate_limited=True,
    errors=[401],
    body=oa.obj({"username": _USERNAME, "auth_key": oa.b64(KEY)}, ["username", "auth_key"]),
    responses={200: _SESSION},
)
@limiter.limit(_cfg("LOGIN_LIMIT"))
@limiter.limit("10 per 15 minutes", key_func=_account_key, deduct_when=_failed, per_method=True)
def api_login() -> ResponseReturnValue:
    """Check the auth key; start a session and return the sealed key bundle."""
    body = json_body({"username", "auth_key"})
    username = req_str(body, "username", max_len=services.USERNAME_MAX * 4)
    auth_key = req_b64(body, "auth_key", size=KEY)
    user = services.authenticate(username, auth_key)
    db.session.commit()
    answer = _start_session(user)
    answer["bundle"] = _bundle_json(user.bundle_nonce, user.bundle_ct)
    return jsonify(answer)


@bp.post("/api/v1/auth/logout")
@oa.api_doc(auth="public", responses={200: _OK})
def api_logout() -> ResponseReturnValue:
    """End the session (and every copy of its cookie)."""
    end_session()
    return jsonify(ok=True, csrf_token=generate_csrf())


@bp.get("/api/v1/auth/me")
@oa.api_doc(auth="session_no_totp", responses={200: _ACCOUNT})
@login_required_no_totp
def me() -> ResponseReturnValue:
    """Who is logged in, and whether TOTP is still needed in this session."""
    user = current()
    data = user_json(user)
    data["totp_ok"] = bool(session.get("totp_ok"))
    return jsonify(data)


@bp.get("/api/v1/auth/bundle")
@oa.api_doc(
    auth="session_no_totp",
    responses={
        200: oa.obj(
            {"salt": oa.b64(SALT), "ops": oa.integer(1), "mem": oa.integer(1), "bundle": _BUNDLE},
            ["salt", "ops", "mem", "bundle"],
        )
    },
)
@login_required_no_totp
def own_bundle() -> ResponseReturnValue:
    """The session's own sealed bundle and KDF parameters (for a password change)."""
    user = current()
    return jsonify(
        salt=b64e(user.kdf_salt),
        ops=user.kdf_ops,
        mem=user.kdf_mem,
        bundle=_bundle_json(user.bundle_nonce, user.bundle_ct),
    )


@bp.post("/api/v1/auth/totp")
@oa.api_doc(
    auth="session_no_totp", rate_limited=True, body=oa.obj({"code": oa.string(16)}, ["code"]), responses={200: _OK}
)
@limiter.limit(_cfg("LOGIN_LIMIT"))
@login_required_no_totp
def api_totp() -> ResponseReturnValue:
    """Second factor for staff sessions."""
    body = json_body({"code"})
    services.verify_totp(current(), req_str(body, "code", max_len=16))
    db.session.commit()
    session["totp_ok"] = True
    return jsonify(ok=True)


@bp.post("/api/v1/auth/password")
@oa.api_doc(
    auth="session",
    rate_limited=True,
    body=oa.obj({"old_auth_key": oa.b64(KEY)} | _CRED_SCHEMA, ["old_auth_key", *sorted(CRED_FIELDS)]),
    responses={200: _SESSION},
)
@limiter.limit(_cfg("LOGIN_LIMIT"))
@login_required  # staff: a stolen password alone must not lock the owner out
def api_change_password() -> ResponseReturnValue:
    """Prove the old auth key; install the new salt, auth key and re-sealed bundle in one request."""
    body = json_body({"old_auth_key"} | CRED_FIELDS)
    user = current()
    services.change_password(user, req_b64(body, "old_auth_key", size=KEY), _credentials(body))
    db.session.commit()
    answer = _start_session(user)
    return jsonify(answer)


@bp.post("/api/v1/auth/recovery")
@oa.api_doc(
    auth="public",
    rate_limited=True,
    errors=[401],
    body=oa.obj({"username": _USERNAME, "recovery_auth": oa.b64(KEY)}, ["username", "recovery_auth"]),
    responses={
        200: oa.obj(
            {"username": oa.string(), "recovery_bundle": _BUNDLE, "ops": oa.integer(1), "mem": oa.integer(1)},
            ["username", "recovery_bundle", "ops", "mem"],
        )
    },
)
@limiter.limit(_cfg("RECOVER_LIMIT"))
@limiter.limit("10 per hour", key_func=_account_key, deduct_when=_failed, per_method=True)
def recovery_copy() -> ResponseReturnValue:
    """After proving the recovery key, the recovery copy of the key bundle."""
    body = json_body({"username", "recovery_auth"})
    user = services.recovery_bundle(
        req_str(body, "username", max_len=services.USERNAME_MAX * 4), req_b64(body, "recovery_auth", size=KEY)
    )
    return jsonify(
        username=user.username,
        recovery_bundle=_bundle_json(user.recovery_nonce, user.recovery_ct),
        ops=current_app.config["KDF_OPS"],
        mem=current_app.config["KDF_MEM"],
    )


@bp.post("/api/v1/auth/recover")
@oa.api_doc(
    auth="public",
    rate_limited=True,
    errors=[401],
    body=oa.obj(
        {"username": _USERNAME, "recovery_auth": oa.b64(KEY)} | _CRED_SCHEMA,
        ["username", "recovery_auth", *sorted(CRED_FIELDS)],
    ),
    responses={200: _SESSION},
)
@limiter.limit(_cfg("RECOVER_LIMIT"))
@limiter.limit("10 per hour", key_func=_account_key, deduct_when=_failed, per_method=True)
def api_recover() -> ResponseReturnValue:
    """Set a new password with the recovery key; starts a session."""
    body = json_body({"username", "recovery_auth"} | CRED_FIELDS)
    user = services.recover(
        req_str(body, "username", max_len=services.USERNAME_MAX * 4),
        req_b64(body, "recovery_auth", size=KEY),
        _credentials(body),
    )
    db.session.commit()
    return jsonify(_start_session(user))


@bp.post("/api/v1/auth/reset/info")
@oa.api_doc(
    auth="public",
    rate_limited=True,
    errors=[401],
    body=oa.obj({"username": _USERNAME, "reset_code": oa.string(64)}, ["username", "reset_code"]),
    responses={200: oa.obj({"epoch": oa.integer(1)}, ["epoch"])},
)
@limiter.limit(_cfg("RECOVER_LIMIT"))
def reset_info() -> ResponseReturnValue:
    """The epoch for the new keys, after checking the admin's one-time reset code."""
    body = json_body({"username", "reset_code"})
    epoch = services.reset_epoch(
        req_str(body, "username", max_len=services.USERNAME_MAX * 4), req_str(body, "reset_code", max_len=64)
    )
    return jsonify(epoch=epoch)


@bp.post("/api/v1/auth/reset")
@oa.api_doc(
    auth="public",
    rate_limited=True,
    errors=[401],
    body=oa.obj(
        {"username": _USERNAME, "reset_code": oa.string(64)} | _CRED_SCHEMA | _KEY_SCHEMA,
        ["username", "reset_code", *sorted(CRED_FIELDS | KEY_FIELDS)],
    ),
    responses={200: _SESSION},
)
@limiter.limit(_cfg("RECOVER_LIMIT"))
def api_reset() -> ResponseReturnValue:
    """Install new credentials and new keys with an admin's reset code."""
    body = json_body({"username", "reset_code"} | CRED_FIELDS | KEY_FIELDS)
    user = services.complete_reset(
        req_str(body, "username", max_len=services.USERNAME_MAX * 4),
        req_str(body, "reset_code", max_len=64),
        _credentials(body),
        _keys(body),
    )
    db.session.commit()
    return jsonify(_start_session(user))


@bp.get("/api/v1/keys/<public_id>")
@oa.api_doc(
    responses={
        200: oa.obj(
            {
                "id": oa.string(),
                "username": oa.string(),
                "role": oa.string(enum=[r.value for r in Role]),
                "identity_pk": oa.b64(KEY),
                "enc_pk": oa.b64(KEY),
                "epoch": oa.integer(1),
                "enc_cert": oa.b64(64),
                "modcert": oa.obj({"sig": oa.b64(64), "expires_ms": oa.integer()}, ["sig", "expires_ms"]),
            },
            ["id", "username", "role", "identity_pk", "enc_pk", "epoch", "enc_cert"],
        )
    }
)
@login_required
def key_directory(public_id: str) -> ResponseReturnValue:
    """Public keys of an account: one's own, and (for staff) anyone's; conversations widen this later."""
    me_ = current()
    user = db.session.scalars(select(User).where(User.public_id == public_id)).first()
    if user is None or (user.id != me_.id and not me_.is_staff):
        raise NotFound(_("No such account."))
    data: dict[str, Any] = {
        "id": user.public_id,
        "username": user.username,
        "role": user.role.value,
        "identity_pk": b64e(user.identity_pk),
        "enc_pk": b64e(user.enc_pk),
        "epoch": user.enc_epoch,
        "enc_cert": b64e(user.enc_cert),
    }
    if user.modcert_sig is not None:
        data["modcert"] = {"sig": b64e(user.modcert_sig), "expires_ms": user.modcert_expires_ms}
    return jsonify(data)


@bp.get("/api/v1/keylog")
@oa.api_doc(
    query={"after": {"type": "string", "pattern": "^[0-9]+$", "description": "Entries after this sequence number."}},
    responses={
        200: oa.obj(
            {
                "entries": oa.array(
                    oa.obj(
                        {
                            "seq": oa.integer(1),
                            "user_id": oa.string(),
                            "event": oa.string(),
                            "identity_pk": oa.b64(KEY),
                            "enc_pk": oa.b64(KEY),
                            "epoch": oa.integer(1),
                            "ms": oa.integer(),
                            "hash": oa.b64(32),
                        },
                        ["seq", "user_id", "event", "identity_pk", "enc_pk", "epoch", "ms", "hash"],
                    ),
                    max_items=500,
                ),
                "checkpoint": oa.nullable(
                    oa.obj({"size": oa.integer(0), "head": oa.b64(32), "sig": oa.b64(64)}, ["size", "head", "sig"])
                ),
            },
            ["entries", "checkpoint"],
        )
    },
)
@login_required
def keylog_view() -> ResponseReturnValue:
    """Key log entries after `after` (at most 500) and the latest signed checkpoint."""
    after = request.args.get("after", "0")
    if not after.isdigit():
        raise Invalid(_("The parameter 'after' must be a whole number."), field="after")
    rows = db.session.scalars(
        select(KeyLogEntry).where(KeyLogEntry.seq > int(after)).order_by(KeyLogEntry.seq).limit(500)
    )
    cp = keylog.latest_checkpoint()
    return jsonify(
        entries=[
            {
                "seq": e.seq,
                "user_id": e.user_public_id,
                "event": e.event,
                "identity_pk": b64e(e.identity_pk),
                "enc_pk": b64e(e.enc_pk),
                "epoch": e.epoch,
                "ms": e.ms,
                "hash": b64e(e.entry_hash),
            }
            for e in rows
        ],
        checkpoint=None if cp is None else {"size": cp.size, "head": b64e(cp.head), "sig": b64e(cp.sig)},
    )
