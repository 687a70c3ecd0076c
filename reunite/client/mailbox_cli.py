"""Mailbox commands of the Python client: conversations, read, send, report, moderate, state, export, verify-export."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from reunite.client import pins, verify
from reunite.client import protocol as p
from reunite.client.api import Client, Mailbox, Session

COMMANDS = ("conversations", "read", "send", "report", "moderate", "state", "export")


def add_commands(sub: Any) -> None:
    """Register the mailbox sub-commands on the client's argument parser."""

    def cmd(name: str, help_text: str, *, conv: bool = True) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
        parser.add_argument("username")
        parser.add_argument("--totp", help="six-digit code (moderators and admins)")
        parser.add_argument(
            "--org-pk", default=os.environ.get("REUNITE_ORG_PK"), help="pin the organisation key (write --org-pk=KEY)"
        )
        if conv:
            parser.add_argument("conversation")
            parser.add_argument(
                "--accept-key-change", action="store_true", help="re-pin partners' changed keys (after checking)"
            )
        return parser

    cmd("conversations", "list my conversations", conv=False)
    read = cmd("read", "decrypt and verify every message (moderators also see held ones)")
    read.add_argument("--after", type=int, default=0)
    send = cmd("send", "encrypt and send a message")
    send.add_argument("text", nargs="?", help="the text (default: read standard input)")
    rep = cmd("report", "reveal a message's text to the moderators")
    rep.add_argument("msg_id")
    rep.add_argument("--note", default="")
    rep.add_argument("--yes", action="store_true", help="I understand the moderators will read this message")
    mod = cmd("moderate", "moderators: release or reject a held message (signed)")
    mod.add_argument("msg_id")
    mod.add_argument("action", choices=["release", "reject"])
    mod.add_argument("--reason", default="")
    state = cmd("state", "moderators: pause, reopen or close; pre-moderation; confirm new keys")
    state.add_argument("--set", dest="state", choices=["open", "paused", "closed"])
    state.add_argument("--premoderated", choices=["on", "off"])
    state.add_argument("--confirm-keys", action="store_true")
    state.add_argument("--reason", default="")
    exp = cmd("export", "download the evidence bundle with the plaintexts I can open")
    exp.add_argument("--out", type=Path, required=True)
    ver = sub.add_parser("verify-export", help="verify an evidence bundle offline")
    ver.add_argument("bundle", type=Path)
    # Keys are base64url and may begin with "-": write --server-pk=KEY / --org-pk=KEY.
    ver.add_argument("--server-pk", help="the server's signing key to pin (write --server-pk=KEY)")
    ver.add_argument("--org-pk", help="the organisation key to pin (write --org-pk=KEY)")


def verify_export(args: argparse.Namespace) -> int:
    """Offline: check every signature, commitment, receipt and the chain of a bundle."""
    return verify.run(args.bundle, args.server_pk, args.org_pk)


def _warn_key_changes(box: Mailbox, conv: dict[str, Any], accept: bool) -> bool:
    """Pin first-seen keys and shout about changed ones; True when an unaccepted change remains."""
    changed = pins.check_and_pin(box.client.base_url, box.me, conv["roster"], accept=accept)
    for change in changed:
        print("!" * 72, file=sys.stderr)
        print(f"WARNING: the identity key of {change.user_id} HAS CHANGED.", file=sys.stderr)
        print(f"  pinned:  {change.pinned}\n  now:     {change.current}", file=sys.stderr)
        print(
            "  Their account may have been reset, or someone may be impersonating them. Compare the new\n"
            "  safety number with them in person before trusting it"
            + ("; re-pinned as you asked." if accept else " (then pass --accept-key-change)."),
            file=sys.stderr,
        )
        print("!" * 72, file=sys.stderr)
    return bool(changed) and not accept


def _safety_numbers(box: Mailbox, conv: dict[str, Any]) -> None:
    me = next((r for r in conv["roster"] if r["user_id"] == box.me), None)
    if me is None:
        return
    for r in conv["roster"]:
        if r["user_id"] == box.me:
            continue
        number = p.safety_number(box.me, p.b64d(me["identity_pk"]), r["user_id"], p.b64d(r["identity_pk"]))
        groups = " ".join(number[i : i + 5] for i in range(0, 60, 5))
        print(f"safety number with {r['role']} {r.get('username', r['user_id'])}: {groups}")


def _print_item(opened: Any) -> None:
    item = opened.item
    state = item.get("state", "")
    head = f"#{item['index']} {item['msg_id']} from {item.get('sender_id')} [{state}]"
    if item.get("reason"):
        head += f" (moderator: {item['reason']})"
    if opened.message is None and getattr(opened, "previous_keys", False):
        print(f"{head}: {opened.problem}; the text is not shown")
    elif opened.message is None:
        print(f"{head}: failed verification ({opened.problem}); the text is not shown")
    else:
        print(f"{head} at {opened.message.sent_at}:\n{opened.message.text}")


def _find(box: Mailbox, cid: str, msg_id: str) -> dict[str, Any] | None:
    for item in box.items(cid):
        if item["kind"] == "message" and item["msg_id"] == msg_id:
            return item
    return None


def run(args: argparse.Namespace, client: Client, session: Session) -> int:
    """Run one mailbox command for a logged-in session."""
    box = Mailbox(client, session, org_pk=p.b64d(args.org_pk) if args.org_pk else None)
    if args.command == "conversations":
        print(json.dumps(box.conversations(), ensure_ascii=False, indent=1))
        return 0
    cid = args.conversation
    conv = box.conversation(cid)
    blocked = _warn_key_changes(box, conv, args.accept_key_change)
    if args.command == "read":
        print(f"conversation {cid} ({conv['state']}{', pre-moderated' if conv['premoderated'] else ''})")
        _safety_numbers(box, conv)
        for item in box.items(cid, args.after):
            if item["kind"] == "modaction":
                what = f"{item['action']} {item['msg_id']} {item['reason']}"
                print(f"#{item['index']} moderator {item['moderator_id']}: {what}")
                continue
            _print_item(box.open(conv, item))
        return 0
    if args.command == "send":
        if blocked:
            print("refusing to send: a partner's key changed (see above)", file=sys.stderr)
            return 1
        text = args.text if args.text is not None else sys.stdin.read()
        sent, answer = box.send(cid, text)
        print(json.dumps({"msg_id": p.b64e(sent.msg_id), **answer}))
        return 0
    if args.command == "report":
        target = _find(box, cid, args.msg_id)
        if target is None:
            print("no such message", file=sys.stderr)
            return 1
        opened = box.open(conv, target)
        print(
            "Reporting sends this message's text to the moderators of this conversation. "
            "It is the only way a message's text ever reaches the server.",
            file=sys.stderr,
        )
        if not args.yes and input("Send the report? [y/N] ").strip().lower() not in ("y", "yes"):
            return 1
        print(json.dumps(box.report(cid, opened, args.note)))
        return 0
    if args.command == "moderate":
        target = _find(box, cid, args.msg_id)
        if target is None:
            print("no such message", file=sys.stderr)
            return 1
        opened = box.open(conv, target)
        if opened.message is None:
            print(f"warning: this message failed verification ({opened.problem})", file=sys.stderr)
        print(json.dumps(box.moderate(cid, target, args.action, args.reason)))
        return 0
    if args.command == "state":
        changes: dict[str, Any] = {"reason": args.reason}
        if args.state:
            changes["state"] = args.state
        if args.premoderated:
            changes["premoderated"] = args.premoderated == "on"
        if args.confirm_keys:
            changes["confirm_keys"] = True
        print(json.dumps(box.set_state(cid, **changes)))
        return 0
    bundle = box.export(cid)
    args.out.write_bytes(p.canonical_json(bundle) + b"\n")
    print(
        json.dumps(
            {"exported": str(args.out), "entries": len(bundle["entries"]), "plaintexts": len(bundle["plaintexts"])}
        )
    )
    return 0
