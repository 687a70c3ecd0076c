"""Offline verifier of a mailbox evidence bundle: every signature, commitment, receipt and the whole chain.

Usage: ``python -m reunite.client.verify BUNDLE.json [--server-pk=B64] [--org-pk=B64]`` (or
``python -m reunite.client verify-export``). No network. Each check is printed; the first
failure is named with where it is, and the exit status is 1. The bundle must be byte for byte
in canonical form, so no byte of it can change without a check failing.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reunite.client import protocol as p

FORMAT = "reunite-evidence-v1"
TOP_LEVEL = {
    "format",
    "conversation",
    "exported_by",
    "exported_ms",
    "server_sign_pk",
    "org_pk",
    "roster",
    "entries",
    "manifest",
    "export_sig",
    "plaintexts",
}
SIGNED_PARTS = ("format", "conversation", "exported_by", "exported_ms", "server_sign_pk", "org_pk", "roster")


class _Fail(Exception):
    pass


@dataclass
class Report:
    """Every check made, in order, and the first one that failed."""

    checks: list[tuple[bool, str, str]] = field(default_factory=list)
    messages: int = 0
    actions: int = 0
    withheld: int = 0
    plaintexts: int = 0

    @property
    def first_failure(self) -> str | None:
        """``"where: why"`` of the first failed check, or None."""
        for ok, where, why in self.checks:
            if not ok:
                return f"{where}: {why}"
        return None

    @property
    def is_ok(self) -> bool:
        """Every check passed."""
        return bool(self.checks) and self.first_failure is None


def _b64(value: Any, where: str, size: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise _Fail(f"{where} is not a base64url string")
    try:
        raw = p.b64d(value)
    except ValueError:
        raise _Fail(f"{where} is not canonical base64url") from None
    if size is not None and len(raw) != size:
        raise _Fail(f"{where} must be {size} bytes")
    return raw


class _Verifier:
    def __init__(self, report: Report, out: Callable[[str], None]) -> None:
        self.report = report
        self.out = out

    def check(self, ok: bool, where: str, what: str, why: str = "") -> bool:
        self.report.checks.append((ok, where, why or what))
        self.out(f"{'ok  ' if ok else 'FAIL'} {where}: {what if ok else why or what}")
        return ok

    def guarded(self, where: str, what: str, fn: Callable[[], str | None]) -> bool:
        """Run one check; ``fn`` returns None when it holds, else the reason."""
        try:
            why = fn()
        except _Fail as err:
            why = str(err)
        except (p.ProtocolError, ValueError, KeyError, TypeError) as err:
            why = f"malformed ({type(err).__name__}: {err})"
        return self.check(why is None, where, what, why or "")


def verify_bundle(
    raw: bytes,
    *,
    server_pk: bytes | None = None,
    org_pk: bytes | None = None,
    out: Callable[[str], None] = print,
) -> Report:
    """Verify an evidence bundle (bytes as written by the client) and print each check.

    :param server_pk: the server's receipt key as the person knows it; when given, the bundle's
        must equal it (otherwise the bundle's own key is used, and the output says so).
    :param org_pk: likewise for the organisation key that certifies moderators.
    """
    report = Report()
    v = _Verifier(report, out)
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        v.check(False, "file", "UTF-8", f"not UTF-8 at byte {err.start}")
        return report
    except json.JSONDecodeError as err:
        v.check(False, "file", "JSON", f"not JSON at line {err.lineno} column {err.colno} (byte {err.pos}): {err.msg}")
        return report
    try:
        canonical = p.canonical_json(doc)
    except ValueError as err:
        v.check(False, "file", "canonical JSON", str(err))
        return report
    if raw not in (canonical, canonical + b"\n"):
        at = next(
            (i for i, (a, b) in enumerate(zip(raw, canonical, strict=False)) if a != b), min(len(raw), len(canonical))
        )
        v.check(False, "file", "canonical form", f"byte {at} differs from the canonical form of the same document")
        return report
    v.check(True, "file", "canonical JSON form")
    if not isinstance(doc, dict) or set(doc) != TOP_LEVEL:
        names = sorted(set(doc) ^ TOP_LEVEL) if isinstance(doc, dict) else ["(not an object)"]
        v.check(False, "bundle", "fields", f"unexpected or missing top-level fields: {', '.join(names)}")
        return report
    v.check(doc["format"] == FORMAT, "format", FORMAT, f"unknown format {doc['format']!r}")
    _Bundle(v, doc, server_pk, org_pk).run()
    return report


class _Bundle:
    def __init__(self, v: _Verifier, doc: dict[str, Any], server_pk: bytes | None, org_pk: bytes | None) -> None:
        self.v = v
        self.doc = doc
        self.trusted_server = server_pk
        self.trusted_org = org_pk
        self.server_pk = b""
        self.org_pk = b""
        self.conv_id = ""
        self.roster: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}

    def run(self) -> None:
        self.keys()
        self.roster_checks()
        self.entries()
        self.plaintexts()
        self.manifest()

    # --- keys and roster ------------------------------------------------------------------

    def keys(self) -> None:
        v, doc = self.v, self.doc

        def server() -> str | None:
            self.server_pk = _b64(doc["server_sign_pk"], "server_sign_pk", 32)
            if self.trusted_server is not None and self.server_pk != self.trusted_server:
                return "differs from the server key you gave"
            return None

        def org() -> str | None:
            self.org_pk = _b64(doc["org_pk"], "org_pk", 32)
            if self.trusted_org is not None and self.org_pk != self.trusted_org:
                return "differs from the organisation key you gave"
            return None

        trust = (
            "matches the key you gave" if self.trusted_server else "taken from the bundle (pass --server-pk to pin it)"
        )
        v.guarded("server_sign_pk", trust, server)
        trust = "matches the key you gave" if self.trusted_org else "taken from the bundle (pass --org-pk to pin it)"
        v.guarded("org_pk", trust, org)
        conv = doc["conversation"]
        v.guarded(
            "conversation",
            "has an id",
            lambda: None if isinstance(conv, dict) and isinstance(conv.get("id"), str) else "no id",
        )
        self.conv_id = conv.get("id", "") if isinstance(conv, dict) else ""

    def roster_checks(self) -> None:
        v = self.v
        roster = self.doc["roster"]
        if not isinstance(roster, list) or not roster:
            v.check(False, "roster", "members", "the roster is missing or empty")
            return
        ids = [r.get("user_id") if isinstance(r, dict) else None for r in roster]
        names = [i.encode() for i in ids if isinstance(i, str)]
        v.check(
            len(names) == len(ids) and names == sorted(set(names)),
            "roster",
            "members in ascending user id, no duplicates",
            "members are not in strictly ascending user id order",
        )
        moderators = 0
        for n, r in enumerate(roster):
            where = f"roster[{n}] ({r.get('user_id') if isinstance(r, dict) else '?'})"
            if not isinstance(r, dict):
                v.check(False, where, "member", "not an object")
                continue
            self.roster[str(r.get("user_id"))] = r

            def enc_cert(r: dict[str, Any] = r, where: str = where) -> str | None:
                ok = p.verify_enc_cert(
                    _b64(r["identity_pk"], f"{where}.identity_pk", 32),
                    r["username"],
                    _b64(r["enc_pk"], f"{where}.enc_pk", 32),
                    int(r["epoch"]),
                    _b64(r["enc_cert"], f"{where}.enc_cert", 64),
                )
                return None if ok else "enc_cert does not verify under the member's identity key"

            v.guarded(where, "enc_cert verifies under the identity key", enc_cert)
            if r.get("role") == "moderator":
                moderators += 1

                def modcert(r: dict[str, Any] = r, where: str = where) -> str | None:
                    cert = r.get("modcert")
                    if not isinstance(cert, dict):
                        return "moderator without a certificate"
                    ok = p.verify_modcert(
                        self.org_pk,
                        r["user_id"],
                        _b64(r["identity_pk"], f"{where}.identity_pk", 32),
                        int(cert["expires_ms"]),
                        _b64(cert["sig"], f"{where}.modcert.sig", 64),
                        int(self.doc["exported_ms"]),
                    )
                    return (
                        None
                        if ok
                        else "moderator certificate does not verify under the organisation key or had expired"
                    )

                v.guarded(where, "moderator certificate verifies (organisation key, unexpired at export)", modcert)
        v.check(moderators > 0, "roster", "at least one moderator", "the roster has no moderator")

    def _identity_keys(self, user_id: str) -> list[bytes]:
        r = self.roster.get(user_id)
        if r is None:
            return []
        keys = [p.b64d(r["identity_pk"])]
        for old in r.get("key_history", []):
            keys.append(p.b64d(old["identity_pk"]))
        return keys

    def _enc_hashes(self, user_id: str) -> set[tuple[bytes, int]]:
        r = self.roster.get(user_id)
        if r is None:
            return set()
        out = {(p.blake2b_256(p.b64d(r["enc_pk"])), int(r["epoch"]))}
        for old in r.get("key_history", []):
            out.add((p.blake2b_256(p.b64d(old["enc_pk"])), int(old["epoch"])))
        return out

    # --- the chain ------------------------------------------------------------------------

    def entries(self) -> None:
        v = self.v
        entries = self.doc["entries"]
        if not isinstance(entries, list):
            v.check(False, "entries", "list", "entries is not a list")
            return
        prev = p.CONVLOG_GENESIS
        for n, item in enumerate(entries, start=1):
            index = item.get("index") if isinstance(item, dict) else None
            where = f"entry {n}"
            if not v.check(
                index == n,
                where,
                f"index {n}",
                f"index is {index!r}, expected {n} (an entry is missing, added or moved)",
            ):
                return
            kind = item.get("kind")
            computed: bytes | None = None
            if kind == "message":
                computed = self.message(where, item, prev)
                self.v.report.messages += 1
            elif kind == "modaction":
                computed = self.modaction(where, item, prev)
                self.v.report.actions += 1
            elif kind == "withheld":
                self.v.report.withheld += 1
                try:
                    computed = _b64(item.get("entry_hash"), f"{where}.entry_hash", 32)
                    v.check(
                        set(item) == {"index", "kind", "entry_hash", "receipt"},
                        where,
                        "withheld entry (hidden from this member; only its hash)",
                        "a withheld entry carries unexpected fields",
                    )
                except _Fail as err:
                    v.check(False, where, "withheld entry", str(err))
            else:
                v.check(False, where, "kind", f"unknown kind {kind!r}")
            if computed is None:
                return

            def receipt(
                item: dict[str, Any] = item, computed: bytes = computed, n: int = n, where: str = where
            ) -> str | None:
                if _b64(item.get("entry_hash"), f"{where}.entry_hash", 32) != computed:
                    return "entry_hash does not match the recomputed chain entry"
                sig = _b64(item.get("receipt"), f"{where}.receipt", 64)
                ok = p.verify_detached(self.server_pk, p.receipt_message(computed, n), sig)
                return None if ok else "the server's receipt does not verify"

            if not v.guarded(
                where, "chain entry recomputes from the previous one; receipt verifies (server key)", receipt
            ):
                return
            prev = computed

    def message(self, where: str, item: dict[str, Any], prev: bytes) -> bytes | None:
        v = self.v
        fields = {
            "index",
            "kind",
            "msg_id",
            "sender_id",
            "seq",
            "state",
            "received_ms",
            "envelope",
            "entry_hash",
            "receipt",
        }
        if not v.check(
            set(item) - {"reason"} == fields,
            where,
            "message fields",
            "a message entry has unexpected or missing fields",
        ):
            return None
        try:
            env = p.Envelope.from_json(item["envelope"])
            header = p.parse_header(env.header)
            msg_id = _b64(item["msg_id"], f"{where}.msg_id", p.MSG_ID_BYTES)
        except (p.ProtocolError, _Fail) as err:
            v.check(False, where, "envelope", f"malformed envelope: {err}")
            return None
        where = f"{where} (message {item['msg_id']})"

        def binding() -> str | None:
            if header.conv_id != self.conv_id:
                return "the signed header names another conversation"
            if header.msg_id != msg_id or header.sender_id != item["sender_id"] or header.seq != item["seq"]:
                return "msg_id, sender_id or seq differ from the signed header"
            if item["state"] not in ("held", "delivered", "rejected"):
                return "unknown state"
            for entry in header.roster:
                if (entry.enc_pk_hash, entry.epoch) not in self._enc_hashes(entry.user_id):
                    return f"the header names a key of {entry.user_id} that is not in the roster's key history"
            if not any(e.user_id == header.sender_id for e in header.roster):
                return "the sender is not on the header's roster"
            if len(env.wrapped) != len(header.roster):
                return "not one wrapped key per roster member"
            return None

        v.guarded(where, "header names this conversation, its msg_id, sender, seq and roster keys", binding)

        def signature() -> str | None:
            for key in self._identity_keys(header.sender_id):
                if hmac.compare_digest(p.blake2b_256(key), header.sender_identity_hash):
                    return None if p.verify_envelope_signature(key, env) else "the sender's signature does not verify"
            return "the header names an identity key the sender never had"

        v.guarded(where, "sender's signature verifies (identity key named in the header)", signature)
        self.messages[item["msg_id"]] = {"env": env, "entry_hash": None}
        try:
            computed = p.convlog_entry(
                prev, msg_id, env.c, env.kc, env.nonce, env.body, env.sig, int(item["received_ms"])
            )
        except (ValueError, TypeError) as err:
            v.check(False, where, "chain entry", f"cannot compute: {err}")
            return None
        self.messages[item["msg_id"]]["entry_hash"] = computed
        return computed

    def modaction(self, where: str, item: dict[str, Any], prev: bytes) -> bytes | None:
        v = self.v
        fields = {"index", "kind", "msg_id", "action", "reason", "moderator_id", "ms", "sig", "entry_hash", "receipt"}
        if not v.check(
            set(item) == fields, where, "moderator action fields", "a moderator action has unexpected or missing fields"
        ):
            return None
        where = f"{where} ({item.get('action')} of message {item.get('msg_id')})"
        try:
            msg_id = _b64(item["msg_id"], f"{where}.msg_id", p.MSG_ID_BYTES)
            sig = _b64(item["sig"], f"{where}.sig", p.SIG_BYTES)
            action, reason, moderator = str(item["action"]), str(item["reason"]), str(item["moderator_id"])
            computed = p.convlog_modaction_entry(prev, msg_id, action, reason, moderator, sig, int(item["ms"]))
        except (_Fail, ValueError, TypeError) as err:
            v.check(False, where, "moderator action", f"malformed: {err}")
            return None

        def signed() -> str | None:
            target = self.messages.get(item["msg_id"])
            if target is None or target["entry_hash"] is None:
                return "it acts on a message that is not earlier in the chain"
            if action not in ("release", "reject"):
                return "unknown action"
            r = self.roster.get(moderator)
            if r is None or r.get("role") != "moderator":
                return "signed by someone who is not a moderator on the roster"
            message = p.modaction_message(target["entry_hash"], action, reason)
            if any(p.verify_detached(k, message, sig) for k in self._identity_keys(moderator)):
                return None
            return "the moderator's signature does not verify"

        v.guarded(where, "moderator on the roster signed this action on that message's entry", signed)
        return computed

    # --- plaintexts and the server's signature ------------------------------------------------

    def plaintexts(self) -> None:
        v = self.v
        items = self.doc["plaintexts"]
        if not isinstance(items, list):
            v.check(False, "plaintexts", "list", "plaintexts is not a list")
            return
        for n, pt in enumerate(items):
            where = f"plaintexts[{n}] (message {pt.get('msg_id') if isinstance(pt, dict) else '?'})"

            def commitment(pt: Any = pt, where: str = where) -> str | None:
                if not isinstance(pt, dict) or not {"msg_id", "m", "kf"} <= set(pt) <= {"msg_id", "m", "kf", "k"}:
                    return "expected {msg_id, m, kf, k?}"
                target = self.messages.get(pt["msg_id"])
                if target is None:
                    return "no message with this msg_id in the chain"
                env: p.Envelope = target["env"]
                m = _b64(pt["m"], f"{where}.m")
                kf = _b64(pt["kf"], f"{where}.kf", p.KEY_BYTES)
                if not p.verify_report(env.header, m, kf, env.c):
                    return "c does not recompute from this text and kf (the text or kf was changed)"
                p.unpad_plaintext(m)
                if "k" in pt:
                    k = _b64(pt["k"], f"{where}.k", p.KEY_BYTES)
                    if not hmac.compare_digest(p.key_commitment(k), env.kc):
                        return "kc does not match the message key"
                    if p.open_body(k, env.nonce, env.header, env.c, env.kc, env.body) != kf + m:
                        return "the body does not decrypt to this text and kf"
                return None

            what = "c recomputes from m and kf; kc matches K; the body decrypts to kf ‖ m"
            if v.guarded(where, what, commitment):
                self.v.report.plaintexts += 1

    def manifest(self) -> None:
        v, doc = self.v, self.doc

        def parts() -> str | None:
            expected = [(name, hashlib.sha256(p.canonical_json(doc[name])).digest()) for name in SIGNED_PARTS]
            expected += [
                (f"entries/{e.get('index')}", hashlib.sha256(p.canonical_json(e)).digest()) for e in doc["entries"]
            ]
            given = doc["manifest"]
            if not isinstance(given, list) or [g.get("part") for g in given] != [name for name, _ in expected]:
                return "the manifest does not list exactly the bundle's parts"
            for (name, digest), g in zip(expected, given, strict=True):
                if _b64(g.get("sha256"), f"manifest {name}", 32) != digest:
                    return f"part {name} was changed after the server signed it"
            sig = _b64(doc["export_sig"], "export_sig", 64)
            if not p.verify_detached(self.server_pk, p.export_message(expected), sig):
                return "the server's signature over the manifest does not verify"
            return None

        v.guarded("manifest", "every part hashes as the server signed it; export signature verifies", parts)


def main(argv: list[str] | None = None) -> int:
    """Verify a bundle file; exit 0 when every check passed, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="python -m reunite.client.verify", description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--server-pk", help="the server's signing key to pin (write --server-pk=KEY)")
    parser.add_argument("--org-pk", help="the organisation key to pin (write --org-pk=KEY)")
    args = parser.parse_args(argv)
    return run(args.bundle, args.server_pk, args.org_pk)


def run(path: Path, server_pk: str | None = None, org_pk: str | None = None) -> int:
    """Verify ``path``, print every check and a summary; returns the exit status."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        print(f"cannot read {path}: {err}", file=sys.stderr)
        return 1
    report = verify_bundle(
        raw,
        server_pk=p.b64d(server_pk) if server_pk else None,
        org_pk=p.b64d(org_pk) if org_pk else None,
    )
    failure = report.first_failure
    if failure is None and report.is_ok:
        print(
            f"VERIFIED: {len(report.checks)} checks; {report.messages} messages, {report.actions} moderator actions, "
            f"{report.withheld} withheld entries, {report.plaintexts} plaintexts"
        )
        return 0
    print(f"VERIFICATION FAILED at {failure}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
