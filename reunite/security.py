"""Security headers on every response: a strict CSP, no framing, no sniffing, no caching of private pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request
from flask_babel import gettext as _

from reunite.errors import Invalid
from reunite.jsonapi import CONTROL

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

# 'wasm-unsafe-eval' lets libsodium's WebAssembly compile; no inline script, no eval.
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


def register_security(app: Flask) -> None:
    """Attach the header hook, and refuse control characters in any submitted form."""

    @app.before_request
    def _plain_form_text() -> None:
        # Every page form at once: a NUL would otherwise reach PostgreSQL (which refuses it with an
        # error, a 500) and other control characters have no business in names, reasons or messages.
        if request.method in ("POST", "PUT") and request.mimetype in FORM_TYPES:
            for key, value in request.form.items(multi=True):
                if CONTROL.search(value) or CONTROL.search(key):
                    raise Invalid(_("This text contains control characters."), field=key[:64])

    @app.after_request
    def _headers(response: Response) -> Response:
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        # Same-origin, not no-referrer: over HTTPS Flask-WTF refuses a write without a Referer from
        # this host (WTF_CSRF_SSL_STRICT), and other sites still get none.
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        h.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if not request.path.startswith("/static/"):
            h.setdefault("Cache-Control", "no-store")
        return response


def is_local_path(target: str) -> bool:
    """Whether a redirect target stays on this site: a path, never another host (no open redirects).

    Browsers read a backslash as a slash ("/\\evil.example" is "//evil.example") and drop tabs
    and newlines, so those are refused too.
    """
    parts = urlsplit(target)
    is_plain = "\\" not in target and not any(ord(ch) < 0x20 for ch in target)
    return target.startswith("/") and not target.startswith("//") and not parts.netloc and not parts.scheme and is_plain
