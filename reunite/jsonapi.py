"""Strict JSON request parsing: every failure names the field, nothing is guessed."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import current_app, request
from flask_babel import gettext as _

from reunite.client.protocol import b64d
from reunite.errors import Invalid

# C0 controls and DEL, except tab, line feed and carriage return (a reason may span lines).
# PostgreSQL cannot store NUL in text at all; the others have no place in a field either.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _depth(value: Any, limit: int) -> int:
    stack: list[tuple[Any, int]] = [(value, 1)]
    deepest = 0
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def json_body(allowed: set[str] | None = None) -> dict[str, Any]:
    """The request body as a JSON object.

    :param allowed: when given, any other top-level key is refused by name.
    :raises Invalid: not JSON, not an object, too deep, or an unknown field.
    """
    if not request.is_json:
        raise Invalid(_("Send the request body as JSON (Content-Type: application/json)."))
    raw = request.get_data(cache=True)
    limit = current_app.config["MAX_JSON_DEPTH"]
    # Refuse absurd nesting before the parser recurses into it.
    opened = 0
    peak = 0
    for byte in raw:
        if byte in (0x5B, 0x7B):
            opened += 1
            peak = max(peak, opened)
        elif byte in (0x5D, 0x7D):
            opened -= 1
    if peak > limit * 4:
        raise Invalid(_("The JSON is nested too deeply (at most %(limit)s levels).", limit=limit))
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise Invalid(_("The body is not valid UTF-8.")) from err
    except (json.JSONDecodeError, RecursionError) as err:
        raise Invalid(_("The body is not valid JSON: %(problem)s.", problem=getattr(err, "msg", "too deep"))) from err
    if not isinstance(body, dict):
        raise Invalid(_("The body must be a JSON object."))
    try:
        # JSON may escape a lone surrogate ("\ud800"), which no UTF-8 text can hold; refuse it
        # here rather than fail later when a service encodes the string.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as err:
        raise Invalid(_("The body is not valid UTF-8.")) from err
    if _depth(body, limit) > limit:
        raise Invalid(_("The JSON is nested too deeply (at most %(limit)s levels).", limit=limit))
    if allowed is not None:
        for key in body:
            if key not in allowed:
                raise Invalid(_("Unknown field '%(key)s'.", key=key), field=str(key)[:64])
    return body


def get_str(body: dict[str, Any], name: str, *, max_len: int = 256, required: bool = True) -> str | None:
    """A string field, refused when missing (if required), of the wrong type, or too long."""
    value = body.get(name)
    if value is None:
        if required:
            raise Invalid(_("The field '%(name)s' is required.", name=name), field=name)
        return None
    if not isinstance(value, str):
        raise Invalid(_("The field '%(name)s' must be a string.", name=name), field=name)
    if CONTROL.search(value):
        raise Invalid(_("This text contains control characters."), field=name)
    if len(value) > max_len:
        raise Invalid(
            _("The field '%(name)s' is too long (at most %(max_len)s characters).", name=name, max_len=max_len),
            field=name,
        )
    return value


def req_str(body: dict[str, Any], name: str, *, max_len: int = 256) -> str:
    """A required string field."""
    value = get_str(body, name, max_len=max_len, required=True)
    assert value is not None  # noqa: S101 - type narrowing: get_str raised otherwise, so -O is harmless  # nosec B101
    return value


def get_int(body: dict[str, Any], name: str, *, lo: int, hi: int, required: bool = True) -> int | None:
    """An integer field within [lo, hi]."""
    value = body.get(name)
    if value is None:
        if required:
            raise Invalid(_("The field '%(name)s' is required.", name=name), field=name)
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(_("The field '%(name)s' must be an integer.", name=name), field=name)
    if not lo <= value <= hi:
        raise Invalid(_("The field '%(name)s' must be between %(lo)s and %(hi)s.", name=name, lo=lo, hi=hi), field=name)
    return value


def req_int(body: dict[str, Any], name: str, *, lo: int, hi: int) -> int:
    """A required integer field within [lo, hi]."""
    value = get_int(body, name, lo=lo, hi=hi)
    assert value is not None  # noqa: S101 - type narrowing: get_int raised otherwise, so -O is harmless  # nosec B101
    return value


def req_b64(body: dict[str, Any], name: str, *, size: int | None = None, max_size: int = 4096) -> bytes:
    """A required base64url (no padding) field decoding to exactly `size` bytes, or at most `max_size`."""
    text = req_str(body, name, max_len=(max_size * 4) // 3 + 4)
    try:
        value = b64d(text)
    except ValueError as err:
        raise Invalid(_("The field '%(name)s' is not valid base64url.", name=name), field=name) from err
    if size is not None and len(value) != size:
        raise Invalid(_("The field '%(name)s' must decode to %(size)s bytes.", name=name, size=size), field=name)
    if len(value) > max_size:
        raise Invalid(_("The field '%(name)s' is too large.", name=name), field=name)
    return value


def req_obj(body: dict[str, Any], name: str, allowed: set[str]) -> dict[str, Any]:
    """A required nested object with only the allowed keys."""
    value = body.get(name)
    if not isinstance(value, dict):
        raise Invalid(_("The field '%(name)s' must be an object.", name=name), field=name)
    for key in value:
        if key not in allowed:
            raise Invalid(_("Unknown field '%(name)s'.", name=f"{name}.{key}"), field=f"{name}.{key}"[:64])
    return value
