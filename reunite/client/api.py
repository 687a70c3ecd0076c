"""HTTP client for the reunite JSON API: accounts (register, login, recovery, reset) and the mailbox."""

from __future__ import annotations

import hmac
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import requests

from reunite.client import account
from reunite.client import protocol as p


class ApiError(Exception):
    """The server refused a request; `status`, `code`, `message` and `field` say why."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.code = str(body.get("error", "error"))
        self.message = str(body.get("message", "request failed"))
        self.field = body.get("field")
        super().__init__(f"{status} {self.code}: {self.message}")


@dataclass
class Session:
    """A logged-in session: the HTTP session, who we are, and the private keys (memory only)."""

    user: dict[str, Any]
    keys: account.KeySet = field(repr=False)


class Client:
    """Talks to one reunite server. Secrets are derived here; only what the spec allows is sent."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.timeout = timeout
        self._csrf: str | None = None

    # --- plumbing ---------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.base_url + path

    def _token(self) -> str:
        if self._csrf is None:
            self._csrf = str(self.get("/api/v1/csrf")["csrf_token"])
        return self._csrf

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        """GET a JSON resource."""
        resp = self.http.get(self._url(path), params=params or None, timeout=self.timeout)
        return self._answer(resp)

    def get_list(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """GET a JSON array."""
        resp = self.http.get(self._url(path), params=params or None, timeout=self.timeout)
        if resp.status_code >= 400:
            self._answer(resp)
        data = resp.json()
        if not isinstance(data, list):
            raise ApiError(resp.status_code, {"error": "bad_response", "message": "not a JSON array"})
        return data

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST JSON with the CSRF header."""
        resp = self.http.post(self._url(path), json=body, headers={"X-CSRFToken": self._token()}, timeout=self.timeout)
        data = self._answer(resp)
        if "csrf_token" in data:
            self._csrf = str(data["csrf_token"])
        return data

    @staticmethod
    def _answer(resp: requests.Response) -> dict[str, Any]:
        try:
            data = resp.json()
        except ValueError:
            data = {"error": "bad_response", "message": resp.text[:200]}
        if resp.status_code >= 400:
            raise ApiError(resp.status_code, data if isinstance(data, dict) else {})
        if not isinstance(data, dict):
            raise ApiError(resp.status_code, {"error": "bad_response", "message": "not a JSON object"})
        return data

    # --- protocol ---------------------------------------------------------------------------

    def register(
        self,
        username: str,
        password: str,
        role: str,
        *,
        birth_year: int | None = None,
        birth_month: int | None = None,
        locale: str = "en",
    ) -> tuple[Session, str]:
        """Create an account; returns the session and the formatted recovery key (show it once)."""
        username = unicodedata.normalize("NFC", username.strip())
        params = self.get("/api/v1/auth/params")
        keys = account.new_keyset()
        body: dict[str, Any] = {"username": username, "role": role, "locale": locale}
        body |= account.credential_fields(username, password, keys, int(params["ops"]), int(params["mem"]))
        new = account.key_fields(username, keys)
        body |= new.fields
        if birth_year is not None:
            body["birth_year"] = birth_year
        if birth_month is not None:
            body["birth_month"] = birth_month
        data = self.post("/api/v1/auth/register", body)
        return Session(user=data["user"], keys=keys), p.format_recovery_key(new.recovery_key)

    def login(self, username: str, password: str) -> Session:
        """Prelogin, derive, log in, and open the key bundle with the password-derived wrap key."""
        username = unicodedata.normalize("NFC", username.strip())
        pre = self.post("/api/v1/auth/prelogin", {"username": username})
        salt = p.b64d(pre["salt"])
        derived = p.derive_login_keys(password, salt, int(pre["ops"]), int(pre["mem"]))
        data = self.post("/api/v1/auth/login", {"username": username, "auth_key": p.b64e(derived.auth_key)})
        bundle = data["bundle"]
        plain = p.open_bundle(
            p.b64d(bundle["nonce"]), p.b64d(bundle["ciphertext"]), derived.wrap_key, data["user"]["username"]
        )
        return Session(user=data["user"], keys=account.keyset_from_plaintext(plain))

    def totp(self, code: str) -> None:
        """Second factor for moderator and admin sessions."""
        self.post("/api/v1/auth/totp", {"code": code})

    def whoami(self) -> dict[str, Any]:
        """The logged-in account."""
        return self.get("/api/v1/auth/me")

    def logout(self) -> None:
        """End the session."""
        self.post("/api/v1/auth/logout", {})

    def change_password(self, old_password: str, new_password: str) -> Session:
        """Prove the old password and re-seal the bundle under the new one, in one request."""
        own = self.get("/api/v1/auth/bundle")
        me = self.whoami()
        username = me["username"]
        old = p.derive_login_keys(old_password, p.b64d(own["salt"]), int(own["ops"]), int(own["mem"]))
        plain = p.open_bundle(
            p.b64d(own["bundle"]["nonce"]), p.b64d(own["bundle"]["ciphertext"]), old.wrap_key, username
        )
        keys = account.keyset_from_plaintext(plain)
        params = self.get("/api/v1/auth/params")
        body = {"old_auth_key": p.b64e(old.auth_key)}
        body |= account.credential_fields(username, new_password, keys, int(params["ops"]), int(params["mem"]))
        data = self.post("/api/v1/auth/password", body)
        return Session(user=data["user"], keys=keys)

    def delete_account(self, password: str) -> dict[str, Any]:
        """Erase the logged-in account for good, proving the password afresh (only the derived auth key is sent)."""
        own = self.get("/api/v1/auth/bundle")
        derived = p.derive_login_keys(password, p.b64d(own["salt"]), int(own["ops"]), int(own["mem"]))
        return self.post("/api/v1/account/delete", {"auth_key": p.b64e(derived.auth_key), "confirm": True})

    def export_account(self) -> dict[str, Any]:
        """Everything the service holds about the logged-in person (claims, matches, conversations, ...)."""
        return self.get("/api/v1/account/export")

    def recover(self, username: str, recovery_key_text: str, new_password: str) -> Session:
        """Use the recovery key to open the recovery copy and set a new password."""
        username = unicodedata.normalize("NFC", username.strip())
        rk = p.parse_recovery_key(recovery_key_text)
        rauth = p.b64e(p.recovery_auth(rk))
        data = self.post("/api/v1/auth/recovery", {"username": username, "recovery_auth": rauth})
        rb = data["recovery_bundle"]
        plain = p.open_bundle(p.b64d(rb["nonce"]), p.b64d(rb["ciphertext"]), rk, data["username"], recovery=True)
        keys = account.keyset_from_plaintext(plain)
        body: dict[str, Any] = {"username": data["username"], "recovery_auth": rauth}
        body |= account.credential_fields(data["username"], new_password, keys, int(data["ops"]), int(data["mem"]))
        answer = self.post("/api/v1/auth/recover", body)
        return Session(user=answer["user"], keys=keys)

    def complete_reset(self, username: str, reset_code: str, new_password: str) -> tuple[Session, str]:
        """After an admin reset: new password, new keys at the next epoch, new recovery key."""
        username = unicodedata.normalize("NFC", username.strip())
        info = self.post("/api/v1/auth/reset/info", {"username": username, "reset_code": reset_code})
        keys = account.new_keyset(epoch=int(info["epoch"]))
        params = self.get("/api/v1/auth/params")
        body: dict[str, Any] = {"username": username, "reset_code": reset_code}
        body |= account.credential_fields(username, new_password, keys, int(params["ops"]), int(params["mem"]))
        new = account.key_fields(username, keys)
        body |= new.fields
        data = self.post("/api/v1/auth/reset", body)
        return Session(user=data["user"], keys=keys), p.format_recovery_key(new.recovery_key)


# --- mailbox ----------------------------------------------------------------------------------


class RosterError(Exception):
    """The roster fails a check the sender must make before encrypting (spec: refuse to send)."""


def _roster_members(conv: dict[str, Any]) -> list[p.RosterMember]:
    return [p.RosterMember(r["user_id"], p.b64d(r["enc_pk"]), int(r["epoch"])) for r in conv["roster"]]


def check_roster(conv: dict[str, Any], org_pk: bytes | None, now_ms: int | None = None) -> list[p.RosterMember]:
    """Check every member's enc_cert, every moderator's certificate and that one is present.

    :returns: the roster as the protocol functions take it.
    :raises RosterError: naming the first failed check.
    """
    now = int(time.time() * 1000) if now_ms is None else now_ms
    moderators = 0
    for r in conv["roster"]:
        identity_pk, enc_pk = p.b64d(r["identity_pk"]), p.b64d(r["enc_pk"])
        if not p.verify_enc_cert(identity_pk, r.get("username", ""), enc_pk, int(r["epoch"]), p.b64d(r["enc_cert"])):
            raise RosterError(f"the encryption key of {r['user_id']} is not signed by its identity key")
        if r["role"] == "moderator":
            cert = r.get("modcert")
            if org_pk is None or not cert:
                raise RosterError(f"moderator {r['user_id']} has no certificate")
            if not p.verify_modcert(
                org_pk, r["user_id"], identity_pk, int(cert["expires_ms"]), p.b64d(cert["sig"]), now
            ):
                raise RosterError(f"moderator {r['user_id']} has no valid, unexpired certificate")
            moderators += 1
    if moderators == 0:
        raise RosterError("the conversation has no moderator")
    return _roster_members(conv)


PREVIOUS_KEYS = "sent to your previous keys; it cannot be opened on this account any more"


def _certified_keys(r: dict[str, Any]) -> list[tuple[bytes, bytes, int, bytes]]:
    """A roster member's keys (identity_pk, enc_pk, epoch, enc_cert): current first, then history."""
    keys = [(p.b64d(r["identity_pk"]), p.b64d(r["enc_pk"]), int(r["epoch"]), p.b64d(r["enc_cert"]))]
    for old in r.get("key_history", []):
        keys.append((p.b64d(old["identity_pk"]), p.b64d(old["enc_pk"]), int(old["epoch"]), p.b64d(old["enc_cert"])))
    return keys


def keys_at_send(conv: dict[str, Any], header: p.ParsedHeader) -> tuple[list[p.RosterMember], bytes]:
    """The roster keys a message's header names, and its sender's identity key, from key histories.

    Every member the header names must be on the conversation's roster (and every roster member
    in the header); each named (BLAKE2b(enc_pk), epoch) must be one of that member's keys with an
    ``enc_cert`` that verifies under the identity key of the same epoch; the header's sender
    identity hash must be the identity key of the sender's named keys.

    :raises VerificationError: naming the failed check.
    """
    by_id = {r["user_id"]: r for r in conv["roster"]}
    if {e.user_id for e in header.roster} != set(by_id):
        raise p.VerificationError("header roster does not match the conversation's members")
    members: list[p.RosterMember] = []
    sender_pk: bytes | None = None
    for entry in header.roster:
        r = by_id[entry.user_id]
        found = None
        for identity_pk, enc_pk, epoch, cert in _certified_keys(r):
            if epoch != entry.epoch or not hmac.compare_digest(p.blake2b_256(enc_pk), entry.enc_pk_hash):
                continue
            if p.verify_enc_cert(identity_pk, r.get("username", ""), enc_pk, epoch, cert):
                found = (identity_pk, enc_pk, epoch)
                break
        if found is None:
            raise p.VerificationError(f"header names keys of {entry.user_id} that are not in their certified history")
        members.append(p.RosterMember(entry.user_id, found[1], found[2]))
        if entry.user_id == header.sender_id:
            sender_pk = found[0]
    if sender_pk is None:
        raise p.VerificationError("sender is not on the roster")
    if not hmac.compare_digest(p.blake2b_256(sender_pk), header.sender_identity_hash):
        raise p.VerificationError("header names a sender identity key not in the sender's history")
    return members, sender_pk


@dataclass(frozen=True)
class Opened:
    """One chain item after the receiving checks: the message, or why it failed (never its text)."""

    item: dict[str, Any]
    message: p.OpenedMessage | None
    problem: str | None = None
    key: bytes | None = field(default=None, repr=False)
    previous_keys: bool = False


class Mailbox:
    """The mailbox protocol on top of a logged-in :class:`Client` (all cryptography happens here)."""

    def __init__(self, client: Client, session: Session, *, org_pk: bytes | None = None) -> None:
        self.client = client
        self.session = session
        self._org_pk = org_pk
        self._server_pk: bytes | None = None

    @property
    def me(self) -> str:
        """My user id."""
        return str(self.session.user["id"])

    def server_keys(self) -> tuple[bytes, bytes | None]:
        """(server_sign_pk, org_pk); an org key given to the constructor wins over the server's."""
        if self._server_pk is None:
            data = self.client.get("/api/v1/server-keys")
            self._server_pk = p.b64d(data["server_sign_pk"])
            if self._org_pk is None and data.get("org_pk"):
                self._org_pk = p.b64d(data["org_pk"])
        return self._server_pk, self._org_pk

    def conversations(self) -> list[dict[str, Any]]:
        """My conversations."""
        return self.client.get_list("/api/v1/conversations")

    def conversation(self, cid: str) -> dict[str, Any]:
        """A conversation with its roster."""
        return self.client.get(f"/api/v1/conversations/{cid}")

    def items(self, cid: str, after: int = 0, page: int = 200) -> list[dict[str, Any]]:
        """Every chain item after ``after`` I may see, following the pages."""
        out: list[dict[str, Any]] = []
        while True:
            data = self.client.get(f"/api/v1/conversations/{cid}/messages", after=after, limit=page)
            out += data["items"]
            after = int(data["next_after"])
            if not data.get("more"):
                return out

    def send(self, cid: str, text: str, *, sent_at: str | None = None) -> tuple[p.SentMessage, dict[str, Any]]:
        """Check the roster, encrypt for it, post, and check the server's receipt."""
        conv = self.conversation(cid)
        server_pk, org_pk = self.server_keys()
        members = check_roster(conv, org_pk)
        seq = int(conv["my_last_seq"]) + 1
        stamp = sent_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        sent = p.encrypt_message(self.session.keys.sign_seed, cid, self.me, seq, members, text, stamp)
        return sent, self.post_envelope(cid, sent.msg_id, seq, sent.envelope, server_pk)

    def post_envelope(
        self, cid: str, msg_id: bytes, seq: int, envelope: p.Envelope, server_pk: bytes | None = None
    ) -> dict[str, Any]:
        """Post a ready envelope; checks the receipt when the server key is known."""
        answer = self.client.post(
            f"/api/v1/conversations/{cid}/messages",
            {"msg_id": p.b64e(msg_id), "seq": seq, "envelope": envelope.to_json()},
        )
        if server_pk is not None:
            receipt = p.receipt_message(p.b64d(answer["entry_hash"]), int(answer["index"]))
            if not p.verify_detached(server_pk, receipt, p.b64d(answer["receipt"])):
                raise p.VerificationError("the server's receipt does not verify")
        return answer

    def open(self, conv: dict[str, Any], item: dict[str, Any]) -> Opened:
        """Run every receiving check on one message item; never raises for a bad message.

        The message is checked against the keys its header names (which may be keys a member
        had before an administrator's reset), each taken from that member's certified key
        history. A message sealed to one of my keys that is no longer in my key bundle comes
        back with ``previous_keys`` set once its signature and keys check out.
        """
        if self.me not in {r["user_id"] for r in conv["roster"]}:
            return Opened(item, None, "the sender or I am not on the roster")
        try:
            env = p.Envelope.from_json(item["envelope"])
            env.check_sizes()
            header = p.parse_header(env.header)
            members, sender_pk = keys_at_send(conv, header)
            mine = next(m for m in members if m.user_id == self.me)
            if mine.epoch not in self.session.keys.box_seeds:
                if not p.verify_envelope_signature(sender_pk, env):
                    return Opened(item, None, "signature does not verify")
                return Opened(item, None, PREVIOUS_KEYS, previous_keys=True)
            box_pk, box_sk = self.session.keys.box_keypair(mine.epoch)
            if p.blake2b_256(box_pk) != p.blake2b_256(mine.enc_pk):
                if not p.verify_envelope_signature(sender_pk, env):
                    return Opened(item, None, "signature does not verify")
                return Opened(item, None, PREVIOUS_KEYS, previous_keys=True)
            opened = p.open_envelope(env, self.me, box_pk, box_sk, sender_pk, members, conv_id=conv["id"])
            index = [e.user_id for e in opened.header.roster].index(self.me)
            key = p.unwrap_key(env.wrapped[index], box_pk, box_sk)
        except (p.ProtocolError, ValueError, KeyError, TypeError) as err:
            return Opened(item, None, getattr(err, "reason", str(err)))
        if p.b64e(opened.header.msg_id) != item.get("msg_id") or opened.header.seq != item.get("seq"):
            return Opened(item, None, "the item's msg_id or seq differs from the signed header")
        return Opened(item, opened, None, key)

    def moderate(self, cid: str, item: dict[str, Any], action: str, reason: str) -> dict[str, Any]:
        """Release or reject a held message, signed with my identity key over its chain entry."""
        sig = p.sign_detached(
            self.session.keys.sign_seed, p.modaction_message(p.b64d(item["entry_hash"]), action, reason)
        )
        return self.client.post(
            f"/api/v1/conversations/{cid}/messages/{item['msg_id']}/moderate",
            {"action": action, "reason": reason, "sig": p.b64e(sig)},
        )

    def report(self, cid: str, opened: Opened, note: str = "") -> dict[str, Any]:
        """Reveal a message's plaintext and franking key to the moderators (the person agreed to it)."""
        if opened.message is None:
            raise p.VerificationError("only a message that verified can be reported")
        body = {"m": p.b64e(opened.message.m), "kf": p.b64e(opened.message.kf), "note": note}
        return self.client.post(f"/api/v1/conversations/{cid}/messages/{opened.item['msg_id']}/report", body)

    def set_state(self, cid: str, **changes: Any) -> dict[str, Any]:
        """Moderators: state, premoderated, confirm_keys, reason."""
        return self.client.post(f"/api/v1/conversations/{cid}/state", changes)

    def held(self) -> list[dict[str, Any]]:
        """Moderators: held messages across my conversations (each with its ``conversation_id``)."""
        items: list[dict[str, Any]] = self.client.get("/api/v1/moderator/held")["items"]
        return items

    def reports(self) -> list[dict[str, Any]]:
        """Moderators: reports with their plaintext."""
        items: list[dict[str, Any]] = self.client.get("/api/v1/moderator/reports")["items"]
        return items

    def export(self, cid: str) -> dict[str, Any]:
        """The server's evidence bundle plus, for each message I can open, ``{msg_id, m, kf, k}``."""
        bundle = self.client.get(f"/api/v1/conversations/{cid}/export")
        conv = self.conversation(cid)
        plaintexts = []
        for item in bundle["entries"]:
            if item.get("kind") != "message":
                continue
            opened = self.open(conv, item)
            if opened.message is not None and opened.key is not None:
                plaintexts.append(
                    {
                        "msg_id": item["msg_id"],
                        "m": p.b64e(opened.message.m),
                        "kf": p.b64e(opened.message.kf),
                        "k": p.b64e(opened.key),
                    }
                )
        bundle["plaintexts"] = plaintexts
        return bundle
