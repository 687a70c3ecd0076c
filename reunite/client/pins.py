"""Pinned identity keys of conversation partners (trust on first use), kept in a local JSON file.

The file is ``$REUNITE_PINS`` or ``~/.config/reunite/pins.json``; it maps
``"<server> <my user id>"`` to ``{"<user id>": "<identity_pk base64url>"}``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def pins_path() -> Path:
    """Where pins are kept."""
    env = os.environ.get("REUNITE_PINS")
    if env:
        return Path(env)
    return Path.home() / ".config" / "reunite" / "pins.json"


@dataclass(frozen=True)
class KeyChange:
    """A member whose identity key differs from the pinned one."""

    user_id: str
    pinned: str
    current: str


def _load(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as err:
        raise SystemExit(f"the pin file {path} is not JSON; fix or remove it ({err})") from err
    return data if isinstance(data, dict) else {}


def check_and_pin(server: str, me: str, roster: list[dict[str, Any]], *, accept: bool = False) -> list[KeyChange]:
    """Pin keys seen for the first time; return the members whose pinned key changed.

    A changed key is re-pinned only with ``accept=True`` (the person checked the safety number).
    """
    path = pins_path()
    data = _load(path)
    mine = data.setdefault(f"{server} {me}", {})
    changed = []
    dirty = False
    for member in roster:
        uid, key = str(member["user_id"]), str(member["identity_pk"])
        if uid == me:
            continue
        old = mine.get(uid)
        if old is None or (old != key and accept):
            mine[uid] = key
            dirty = True
        if old is not None and old != key:
            changed.append(KeyChange(uid, old, key))
    if dirty:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), "utf-8")
        tmp.replace(path)
    return changed
