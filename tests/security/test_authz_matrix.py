"""The authorisation matrix: every route of app.url_map, asked by every kind of actor, with the answer each must get.

One line per endpoint (per method when an endpoint takes several): which real object fills the
URL, then the expected outcome for each actor in the order of ``ACTORS``:

    anon  child  parent  other_child  other_parent  mod_nototp  moderator  admin

The child and the parent own the objects (claims, the proposal, the conversation and its message);
the other child and parent are real people with claims of their own who try the owners' ids; the
moderator approved the match and sits on the conversation's roster; the admin does not.

Outcomes:
    ok     the request was served (2xx, or a redirect somewhere other than login/TOTP)
    bad    it passed the access checks and was refused on its content (400/409): the body is junk
    login  401, or a redirect to the login page
    totp   staff who have not passed TOTP in this session: a redirect to TOTP setup/verify, or a JSON 403 saying so
    403    forbidden
    404    not found: someone else's object answers exactly like a missing one

A route missing from the table fails the test, and so does a row for a route that no longer exists.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, url_for
from sqlalchemy import select
from werkzeug.routing import Rule

from reunite.claims.models import Claim
from reunite.client import protocol as p
from reunite.extensions import db
from reunite.mailbox.models import Message
from reunite.mailbox.services import envelope_json
from tests.security.conftest import ACTORS, World

OUTCOMES = {"ok", "bad", "login", "totp", "403", "404"}

# Which real object fills the URL of an endpoint (the owners' ids).
ARGS: dict[str, Callable[[World], dict[str, str]]] = {
    "-": lambda w: {},
    "child_claim": lambda w: {"public_id": w.child_claim},
    "child_claim_id": lambda w: {"claim_id": w.child_claim},
    "child_user": lambda w: {"public_id": w.made["child"].user.public_id},
    "conv": lambda w: {"public_id": w.conv.id},
    "msg": lambda w: {"public_id": w.conv.id, "msg_id": w.msg_id},
    "proposal": lambda w: {"public_id": w.proposal},
    "flag": lambda w: {"flag_id": w.flag_id},
    "lang": lambda w: {"code": "en"},
    "static": lambda w: {"filename": "favicon.svg"},
}

# fmt: off
# key: "endpoint", or "endpoint METHOD" for an endpoint with several methods.
#   key                              object             anon   child  parent o_chld o_prnt mod_nt mod    admin
MATRIX: dict[str, tuple[str, str]] = {
    "admin.reset":                   ("child_user",    "login  403    403    403    403    403    403    ok"),
    "admin.users":                   ("-",             "login  403    403    403    403    403    403    ok"),
    "audit.index":                   ("-",             "login  403    403    403    403    403    403    ok"),
    "auth.account":                  ("-",             "login  ok     ok     ok     ok     totp   ok     ok"),
    "auth.api_change_password":      ("-",             "login  bad    bad    bad    bad    totp   bad    bad"),
    "auth.api_delete_account":       ("-",             "login  bad    bad    bad    bad    totp   bad    bad"),
    "auth.api_export_account":       ("-",             "login  ok     ok     ok     ok     totp   ok     ok"),
    "auth.api_login":                ("-",             "bad    bad    bad    bad    bad    bad    bad    bad"),
    "auth.api_logout":               ("-",             "ok     ok     ok     ok     ok     ok     ok     ok"),
    "auth.api_recover":              ("-",             "bad    bad    bad    bad    bad    bad    bad    bad"),
    "auth.api_register":             ("-",             "bad    bad    bad    bad    bad    bad    bad    bad"),
    "auth.api_reset":                ("-",             "bad    bad    bad    bad    bad    bad    bad    bad"),
    "auth.api_totp":                 ("-",             "login  bad    bad    bad    bad    bad    bad    bad"),
    "auth.csrf_token":               ("-",             "ok     ok     ok     ok     ok     ok     ok     ok"),
    "auth.delete_page":              ("-",             "login  ok     ok     ok     ok     totp   ok     ok"),
    "auth.export_page":              ("-",             "login  ok     ok     ok     ok     totp   ok     ok"),
    "auth.kdf_params":               ("-",             "ok     ok     ok     ok     ok     ok     ok     ok"),
    "auth.key_directory":            ("child_user",    "login  ok     404    404    404    totp   ok     ok"),
    "auth.keylog_view":              ("-",             "login  ok     ok     ok     ok     totp   ok     ok"),
    "auth.login_page":               ("-",             "ok     ok     ok     ok     ok     ok     ok     ok"),
    "auth.logout":                   ("-",             "ok     ok     ok     ok     ok     ok     ok     ok"),
    "auth.me":                       ("-",             "login  ok     ok     ok     ok     ok     ok     ok"),
    "auth.own_bundle":               ("-",             "login  ok     ok     ok     ok     ok     ok     ok"),
    "auth.password_page":            ("-",             "login  ok     ok     ok     ok     totp   ok     ok"),
    "auth.prelogin":                 ("-",             "ok     ok     ok     ok     ok     ok     ok     ok"),
    "auth.recover_page":             ("-",             "ok     ok     ok     ok     ok     ok     ok     ok"),
    "auth.recovery_copy":            ("-",             "bad    bad    bad    bad    bad    bad    bad    bad"),
    "auth.register_page":            ("-",             "ok     ok     ok     ok     ok     ok     ok     ok"),
    "auth.reset_info":               ("-",             "bad    bad    bad    bad    bad    bad    bad    bad"),
    "auth.reset_page":               ("-",             "ok     ok     ok     ok     ok     ok     ok     ok"),
    "auth.totp_setup GET":           ("-",             "login  403    403    403    403    ok     totp   totp"),
    "auth.totp_setup POST":          ("-",             "login  403    403    403    403    ok     totp   totp"),
    "auth.totp_verify GET":          ("-",             "login  403    403    403    403    totp   ok     ok"),
    "auth.totp_verify POST":         ("-",             "login  403    403    403    403    totp   ok     ok"),
    "claims.api_create":             ("-",             "login  bad    bad    bad    bad    403    403    403"),
    "claims.api_get":                ("child_claim",   "login  ok     404    404    404    403    403    403"),
    "claims.api_history":            ("child_claim",   "login  ok     404    404    404    403    403    403"),
    "claims.api_list":               ("-",             "login  ok     ok     ok     ok     403    403    403"),
    "claims.api_update":             ("child_claim",   "login  ok     404    404    404    403    403    403"),
    "claims.edit_claim GET":         ("child_claim",   "login  ok     404    404    404    403    403    403"),
    "claims.edit_claim POST":        ("child_claim",   "login  ok     404    404    404    403    403    403"),
    "claims.my_claims":              ("-",             "login  ok     ok     ok     ok     403    403    403"),
    "claims.new_claim GET":          ("-",             "login  ok     ok     ok     ok     403    403    403"),
    "claims.new_claim POST":         ("-",             "login  ok     ok     ok     ok     403    403    403"),
    "claims.view_claim":             ("child_claim",   "login  ok     404    404    404    403    403    403"),
    "mailbox.conversation":          ("conv",          "login  ok     ok     404    404    totp   ok     404"),
    "mailbox.conversation_json":     ("conv",          "login  ok     ok     404    404    totp   ok     404"),
    "mailbox.conversations":         ("-",             "login  ok     ok     ok     ok     totp   ok     ok"),
    "mailbox.export":                ("conv",          "login  ok     ok     404    404    totp   ok     404"),
    "mailbox.held":                  ("-",             "login  403    403    403    403    totp   ok     ok"),
    "mailbox.held_page":             ("-",             "login  403    403    403    403    totp   ok     ok"),
    "mailbox.inbox":                 ("-",             "login  ok     ok     ok     ok     totp   ok     ok"),
    "mailbox.messages":              ("conv",          "login  ok     ok     404    404    totp   ok     404"),
    "mailbox.moderate":              ("msg",           "login  403    403    404    404    totp   bad    404"),
    "mailbox.report":                ("msg",           "login  bad    403    404    404    totp   bad    404"),
    "mailbox.reports":               ("-",             "login  403    403    403    403    totp   ok     ok"),
    "mailbox.reports_page":          ("-",             "login  403    403    403    403    totp   ok     ok"),
    "mailbox.send":                  ("conv",          "login  bad    bad    404    404    totp   bad    404"),
    "mailbox.server_keys":           ("-",             "login  ok     ok     ok     ok     totp   ok     ok"),
    "mailbox.set_state":             ("conv",          "login  403    403    404    404    totp   ok     404"),
    "main.healthz":                  ("-",             "ok     ok     ok     ok     ok     ok     ok     ok"),
    "main.help_page":                ("-",             "ok     ok     ok     ok     ok     ok     ok     ok"),
    "main.index":                    ("-",             "ok     ok     ok     ok     ok     ok     ok     ok"),
    "main.language":                 ("lang",          "ok     ok     ok     ok     ok     ok     ok     ok"),
    "main.openapi":                  ("-",             "ok     ok     ok     ok     ok     ok     ok     ok"),
    "moderation.clear_flag":         ("flag",          "login  403    403    403    403    403    403    ok"),
    "moderation.decide":             ("proposal",      "login  403    403    403    403    totp   bad    bad"),
    "moderation.flag":               ("child_claim_id","login  403    403    403    403    totp   ok     ok"),
    "moderation.flags":              ("-",             "login  403    403    403    403    403    403    ok"),
    "moderation.index":              ("-",             "login  403    403    403    403    totp   ok     ok"),
    "moderation.match GET":          ("proposal",      "login  ok     ok     404    404    403    403    403"),
    "moderation.match POST":         ("proposal",      "login  ok     ok     404    404    403    403    403"),
    "moderation.my_matches":         ("-",             "login  ok     ok     ok     ok     403    403    403"),
    "moderation.queue":              ("-",             "login  403    403    403    403    totp   ok     ok"),
    "moderation.review":             ("proposal",      "login  403    403    403    403    totp   ok     ok"),
    "moderation.withdraw":           ("proposal",      "login  ok     ok     404    404    403    403    403"),
    "notifications.api_list":        ("-",             "login  ok     ok     ok     ok     totp   ok     ok"),
    "notifications.index":           ("-",             "login  ok     ok     ok     ok     totp   ok     ok"),
    "notifications.mark_all_read":   ("-",             "login  ok     ok     ok     ok     totp   ok     ok"),
    "notifications.settings GET":    ("-",             "login  ok     ok     ok     ok     totp   ok     ok"),
    "notifications.settings POST":   ("-",             "login  ok     ok     ok     ok     totp   ok     ok"),
    "static":                        ("static",        "ok     ok     ok     ok     ok     ok     ok     ok"),
}
# fmt: on

# Requests that end something for the asker run after every other request of every actor.
LAST = ("moderation.withdraw", "auth.api_logout", "auth.logout")


def _body(key: str, w: World) -> Any:
    """A request body that reaches the access checks (and, for an authorised asker, changes nothing)."""
    if key == "auth.prelogin":
        return {"username": w.made["child"].user.username}
    if key == "claims.api_update":
        claim = db.session.scalars(select(Claim).where(Claim.public_id == w.child_claim)).one()
        return {"role": "child", **claim.data}  # the same content: no new version
    if key == "mailbox.send":
        msg = db.session.scalars(select(Message)).one()  # the world's one message, sent again under a new id
        return {"msg_id": p.b64e(secrets.token_bytes(p.MSG_ID_BYTES)), "seq": 99, "envelope": envelope_json(msg)}
    if key == "mailbox.moderate":
        return {"action": "release", "reason": "", "sig": p.b64e(bytes(p.SIG_BYTES))}
    if key == "mailbox.report":
        return {"m": p.b64e(b"\x00" * 64), "kf": p.b64e(bytes(p.KEY_BYTES))}
    return {}


def rule_keys(app: Flask) -> dict[str, tuple[Rule, str]]:
    """Matrix keys of every route: "endpoint", or "endpoint METHOD" for endpoints with several methods."""
    keys: dict[str, tuple[Rule, str]] = {}
    for rule in app.url_map.iter_rules():
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        for method in methods:
            key = rule.endpoint if len(methods) == 1 else f"{rule.endpoint} {method}"
            keys[key] = (rule, method)
    return keys


def classify(resp: Any) -> str:
    """The outcome of a response (see the module docstring)."""
    status = resp.status_code
    if status in (301, 302, 303, 307, 308):
        path = urlsplit(resp.headers["Location"]).path
        if path == "/login":
            return "login"
        if path.startswith("/totp/"):
            return "totp"
        return "ok"
    if status == 401:
        return "login"
    if status == 403:
        data = resp.get_json(silent=True) if resp.is_json else None
        if isinstance(data, dict) and "TOTP" in str(data.get("message", "")):
            return "totp"
        return "403"
    if status == 404:
        return "404"
    if status in (400, 409):
        return "bad"
    if 200 <= status < 300:
        return "ok"
    return f"HTTP {status}"


def ask(app: Flask, w: World, actor: str, key: str, rule: Rule, method: str) -> tuple[str, Any]:
    """Send one actor's request to one route; returns (path, response)."""
    api = w.clients[actor]
    with app.test_request_context():
        path = url_for(rule.endpoint, **ARGS[MATRIX[key][0] if key in MATRIX else "-"](w))
    if method == "GET":
        return path, api.client.get(path)
    body = _body(key, w)
    if path.startswith("/api/"):
        return path, api.client.open(path, method=method, json=body, headers={"X-CSRFToken": api.csrf()})
    form = {"csrf_token": api.csrf(), **body}
    if key == "main.language":
        form["next"] = "/help"
    return path, api.client.open(path, method=method, data=form)


def test_every_route_has_a_row_and_every_row_a_route(app: Flask) -> None:
    keys = rule_keys(app)
    missing = sorted(set(keys) - set(MATRIX))
    stale = sorted(set(MATRIX) - set(keys))
    assert not missing, f"routes without a row in the authorisation matrix: {missing}"
    assert not stale, f"rows for routes that no longer exist: {stale}"
    for key, (args, row) in MATRIX.items():
        assert args in ARGS, key
        cells = row.split()
        assert len(cells) == len(ACTORS), key
        assert set(cells) <= OUTCOMES, key


def test_the_matrix(app: Flask, world: World) -> None:
    keys = rule_keys(app)
    order = sorted(keys, key=lambda k: (LAST.index(k.split()[0]) + 1 if k.split()[0] in LAST else 0, k))
    wrong: list[str] = []
    observed: dict[str, list[str]] = {}
    for key in order:
        rule, method = keys[key]
        if key not in MATRIX and rule.arguments:
            continue  # a new route with ids: its row must name the object (see the other test)
        for actor in ACTORS:
            path, resp = ask(app, world, actor, key, rule, method)
            assert resp.status_code < 500, (key, actor, resp.status_code)
            data = resp.get_json(silent=True) if resp.is_json else None
            is_csrf = (isinstance(data, dict) and data.get("error") == "csrf") or (
                "security token is missing" in resp.get_data(as_text=True)
            )
            if isinstance(data, dict) and "csrf_token" in data:
                world.clients[actor].token = data["csrf_token"]  # the session was rebuilt
            if is_csrf:
                wrong.append(f"{key:30s} {actor:12s} failed on its CSRF token, so it tested nothing")
                continue
            got = classify(resp)
            resp.close()  # a static file answer holds its file open until closed
            observed.setdefault(key, []).append(got)
            expected = MATRIX[key][1].split()[ACTORS.index(actor)] if key in MATRIX else None
            if expected is not None and got != expected:
                wrong.append(f"{key:30s} {actor:12s} expected {expected:5s} got {got:5s} {method} {path}")
    # A new route without ids gets a suggested row: what it answers now. Check it before pasting it in.
    suggestions = [
        "    " + f'"{key}":'.ljust(33) + '("-",'.ljust(18) + '"' + " ".join(f"{o:6s}" for o in got).rstrip() + '"),'
        for key, got in observed.items()
        if key not in MATRIX
    ]
    assert not suggestions, "routes missing from MATRIX; what they answer now:\n" + "\n".join(suggestions)
    assert set(keys) == set(MATRIX), "see test_every_route_has_a_row_and_every_row_a_route"
    assert not wrong, "authorisation matrix mismatches:\n" + "\n".join(wrong)
