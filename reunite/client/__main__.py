"""Command line: `python -m reunite.client register|login|whoami|...|conversations|read|send|report|export`.

`export-account` downloads everything the service holds about you; `delete-account` erases the
account for good (after a fresh password proof).

Each command runs in one process: it logs in (asking for the password), does its work, and
forgets the keys when it exits. Passwords are read without echo (or from REUNITE_PASSWORD /
REUNITE_NEW_PASSWORD for scripts). Mailbox commands pin partners' identity keys in
$REUNITE_PINS (default ~/.config/reunite/pins.json) and warn loudly when one changes;
`verify-export` runs offline.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys

from reunite.client import mailbox_cli
from reunite.client.api import ApiError, Client, RosterError
from reunite.client.protocol import ProtocolError


def _password(env: str, prompt: str, *, confirm: bool = False) -> str:
    value = os.environ.get(env)
    if value:
        return value
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("Again: ") != first:
        raise SystemExit("the two passwords differ")
    return first


def main(argv: list[str] | None = None) -> int:
    """Run one command; exit status 0 on success, 1 when the server refused, 2 on bad usage."""
    parser = argparse.ArgumentParser(prog="python -m reunite.client", description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=os.environ.get("REUNITE_SERVER", "http://127.0.0.1:5000"))
    sub = parser.add_subparsers(dest="command", required=True)
    reg = sub.add_parser("register", help="create a child or parent account")
    reg.add_argument("username")
    reg.add_argument("--role", choices=["child", "parent"], required=True)
    reg.add_argument("--birth-year", type=int)
    reg.add_argument("--birth-month", type=int)
    reg.add_argument("--locale", choices=["en", "ja"], default="en")
    for name in ("login", "whoami", "change-password", "delete-account", "export-account"):
        cmd = sub.add_parser(name)
        cmd.add_argument("username")
        cmd.add_argument("--totp", help="six-digit code (moderators and admins)")
    rec = sub.add_parser("recover", help="set a new password with the recovery key")
    rec.add_argument("username")
    rec.add_argument("--recovery-key", default=os.environ.get("REUNITE_RECOVERY_KEY"))
    rst = sub.add_parser("reset", help="finish an administrator's reset with the one-time code")
    rst.add_argument("username")
    rst.add_argument("--code", required=True)
    mailbox_cli.add_commands(sub)
    for name in ("delete-account", "export-account"):
        sub.choices[name].add_argument("--out", help="export-account: write the JSON here instead of stdout")
        sub.choices[name].add_argument("--yes", action="store_true", help="delete-account: do not ask to confirm")
    args = parser.parse_args(argv)
    if args.command == "verify-export":
        return mailbox_cli.verify_export(args)
    client = Client(args.server)
    try:
        if args.command == "register":
            password = _password("REUNITE_PASSWORD", "Password: ", confirm=True)
            session, recovery = client.register(
                args.username,
                password,
                args.role,
                birth_year=args.birth_year,
                birth_month=args.birth_month,
                locale=args.locale,
            )
            print(json.dumps({"registered": session.user["id"], "username": session.user["username"]}))
            print(f"Recovery key (write it down, it is not shown again): {recovery}", file=sys.stderr)
        elif args.command == "recover":
            key = args.recovery_key or getpass.getpass("Recovery key: ")
            new = _password("REUNITE_NEW_PASSWORD", "New password: ", confirm=True)
            session = client.recover(args.username, key, new)
            print(json.dumps({"recovered": session.user["id"]}))
        elif args.command == "reset":
            new = _password("REUNITE_NEW_PASSWORD", "New password: ", confirm=True)
            session, recovery = client.complete_reset(args.username, args.code, new)
            print(json.dumps({"reset": session.user["id"], "epoch": session.user["epoch"]}))
            print(f"New recovery key (write it down, it is not shown again): {recovery}", file=sys.stderr)
        else:
            session = client.login(args.username, _password("REUNITE_PASSWORD", "Password: "))
            if args.totp:
                client.totp(args.totp)
            if args.command in mailbox_cli.COMMANDS:
                return mailbox_cli.run(args, client, session)
            if args.command == "login":
                print(json.dumps({"logged_in": session.user["id"], "epoch": session.keys.epoch}))
            elif args.command == "whoami":
                print(json.dumps(client.whoami()))
            elif args.command == "export-account":
                text = json.dumps(client.export_account(), ensure_ascii=False, indent=1)
                if args.out:
                    with open(args.out, "w", encoding="utf-8") as out:
                        out.write(text)
                    os.chmod(args.out, 0o600)
                else:
                    print(text)
            elif args.command == "delete-account":
                if not args.yes and input(f"Delete the account {args.username} for good? Type yes: ") != "yes":
                    print("not deleted", file=sys.stderr)
                    return 2
                print(json.dumps(client.delete_account(_password("REUNITE_PASSWORD", "Password: "))))
            else:
                new = _password("REUNITE_NEW_PASSWORD", "New password: ", confirm=True)
                client.change_password(_password("REUNITE_PASSWORD", "Password: "), new)
                print(json.dumps({"password_changed": True}))  # nosec B105  # a status flag, not a password
    except ApiError as err:
        print(f"refused: {err.message}" + (f" (field: {err.field})" if err.field else ""), file=sys.stderr)
        return 1
    except ProtocolError as err:
        print(f"could not open the keys: {err}", file=sys.stderr)
        return 1
    except RosterError as err:
        print(f"refusing to send: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"cannot reach {args.server}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
