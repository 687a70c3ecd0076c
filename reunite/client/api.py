"""HTTP client for the reunite JSON API: registration, login, password change, recovery, reset."""

from __future__ import annotations

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
