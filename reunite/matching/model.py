"""Claims as frozen dataclasses, parsed and validated from claims-v1 dictionaries."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Sex = Literal["F", "M", "X"]
NameKind = Literal["birth", "current", "former", "nickname", "reading"]

_DATE = re.compile(r"^[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_NAME_KINDS = ("birth", "current", "former", "nickname", "reading")


class ClaimFormatError(ValueError):
    """A claim does not follow claims-v1; ``field_path`` names the offending field."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field_path = field_path
        self.message = message


@dataclass(frozen=True, slots=True)
class Name:
    """One written form of a person's name."""

    family: str | None = None
    given: str | None = None
    full: str | None = None
    kind: NameKind | None = None


@dataclass(frozen=True, slots=True)
class Place:
    """A city/region/country triple, names in any script."""

    city: str | None = None
    region: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class Person:
    """What a claim says about one person."""

    names: tuple[Name, ...] = ()
    sex: Sex | None = None
    birth_date: str | None = None
    birth_place: Place | None = None
    nationalities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChildEntry:
    """A child listed in a parent claim, identified by ``ref`` inside the claim."""

    ref: str
    person: Person


@dataclass(frozen=True, slots=True)
class ParentClaim:
    """A claim filed by a parent who lost contact with one or more children."""

    id: str
    claimant: Person
    children: tuple[ChildEntry, ...]
    other_parent: Person | None = None
    separated_on: str | None = None
    last_known_place: Place | None = None
    languages: tuple[str, ...] = ()

    def child(self, ref: str) -> ChildEntry:
        """Return the child with ``ref``; :raises KeyError: if there is none."""
        for entry in self.children:
            if entry.ref == ref:
                return entry
        raise KeyError(ref)


@dataclass(frozen=True, slots=True)
class ChildClaim:
    """A claim filed by a child looking for a parent."""

    id: str
    claimant: Person
    sought_parent: Person | None = None
    other_parent: Person | None = None
    separated_on: str | None = None
    last_known_place: Place | None = None
    languages: tuple[str, ...] = ()


Claim = ParentClaim | ChildClaim


def _obj(value: Any, path: str, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ClaimFormatError(path, "must be an object")
    for key in value:
        if key not in allowed:
            raise ClaimFormatError(f"{path}.{key}" if path else str(key), "unknown field")
    return value


def _str(value: Any, path: str, max_len: int, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or not value:
        raise ClaimFormatError(path, "must be a non-empty string")
    if len(value) > max_len:
        raise ClaimFormatError(path, f"longer than {max_len} characters")
    if pattern is not None and not pattern.match(value):
        raise ClaimFormatError(path, "has an invalid format")
    return value


def _opt_str(
    d: dict[str, Any], key: str, path: str, max_len: int, pattern: re.Pattern[str] | None = None
) -> str | None:
    if key not in d:
        return None
    return _str(d[key], f"{path}.{key}" if path else key, max_len, pattern)


def _list(value: Any, path: str, max_items: int) -> list[Any]:
    if not isinstance(value, list):
        raise ClaimFormatError(path, "must be a list")
    if len(value) > max_items:
        raise ClaimFormatError(path, f"more than {max_items} items")
    return value


def _place(value: Any, path: str) -> Place:
    d = _obj(value, path, frozenset({"city", "region", "country"}))
    return Place(
        city=_opt_str(d, "city", path, 200),
        region=_opt_str(d, "region", path, 200),
        country=_opt_str(d, "country", path, 2, _COUNTRY),
    )


def _name(value: Any, path: str) -> Name:
    d = _obj(value, path, frozenset({"family", "given", "full", "kind"}))
    kind = d.get("kind")
    if kind is not None and kind not in _NAME_KINDS:
        raise ClaimFormatError(f"{path}.kind", "must be one of " + ", ".join(_NAME_KINDS))
    name = Name(
        family=_opt_str(d, "family", path, 200),
        given=_opt_str(d, "given", path, 200),
        full=_opt_str(d, "full", path, 400),
        kind=kind,
    )
    if name.family is None and name.given is None and name.full is None:
        raise ClaimFormatError(path, "needs at least one of family, given, full")
    return name


_PERSON_FIELDS = frozenset({"names", "sex", "birth_date", "birth_place", "nationalities"})


def _person(value: Any, path: str, extra: frozenset[str] = frozenset()) -> Person:
    d = _obj(value, path, _PERSON_FIELDS | extra)
    names = tuple(_name(n, f"{path}.names[{i}]") for i, n in enumerate(_list(d.get("names", []), f"{path}.names", 20)))
    sex = d.get("sex")
    if sex is not None and sex not in ("F", "M", "X"):
        raise ClaimFormatError(f"{path}.sex", "must be F, M or X")
    nats = tuple(
        _str(c, f"{path}.nationalities[{i}]", 2, _COUNTRY)
        for i, c in enumerate(_list(d.get("nationalities", []), f"{path}.nationalities", 5))
    )
    place = d.get("birth_place")
    return Person(
        names=names,
        sex=sex,
        birth_date=_opt_str(d, "birth_date", path, 10, _DATE),
        birth_place=None if place is None else _place(place, f"{path}.birth_place"),
        nationalities=nats,
    )


_CLAIM_FIELDS = frozenset(
    {
        "id",
        "role",
        "claimant",
        "other_parent",
        "sought_parent",
        "children",
        "separated_on",
        "last_known_place",
        "languages",
    }
)


def claim_from_dict(d: Any) -> ParentClaim | ChildClaim:
    """Parse and validate one claims-v1 object.

    :raises ClaimFormatError: naming the first offending field (dotted path).
    """
    d = _obj(d, "", _CLAIM_FIELDS)
    for req in ("id", "role", "claimant"):
        if req not in d:
            raise ClaimFormatError(req, "is required")
    claim_id = _str(d["id"], "id", 100)
    role = d["role"]
    if role not in ("parent", "child"):
        raise ClaimFormatError("role", "must be parent or child")
    claimant = _person(d["claimant"], "claimant")
    other = None if "other_parent" not in d else _person(d["other_parent"], "other_parent")
    separated_on = _opt_str(d, "separated_on", "", 10, _DATE)
    lkp = d.get("last_known_place")
    place = None if lkp is None else _place(lkp, "last_known_place")
    languages = tuple(
        _str(x, f"languages[{i}]", 2, _LANGUAGE) for i, x in enumerate(_list(d.get("languages", []), "languages", 10))
    )
    if role == "parent":
        if "sought_parent" in d:
            raise ClaimFormatError("sought_parent", "not allowed in a parent claim")
        if "children" not in d:
            raise ClaimFormatError("children", "is required in a parent claim")
        raw_children = _list(d["children"], "children", 20)
        if not raw_children:
            raise ClaimFormatError("children", "needs at least one child")
        children: list[ChildEntry] = []
        seen: set[str] = set()
        for i, c in enumerate(raw_children):
            path = f"children[{i}]"
            cd = _obj(c, path, _PERSON_FIELDS | {"ref"})
            if "ref" not in cd:
                raise ClaimFormatError(f"{path}.ref", "is required")
            if "names" not in cd:
                raise ClaimFormatError(f"{path}.names", "is required")
            ref = _str(cd["ref"], f"{path}.ref", 40)
            if ref in seen:
                raise ClaimFormatError(f"{path}.ref", "is not unique in the claim")
            seen.add(ref)
            children.append(ChildEntry(ref, _person(cd, path, frozenset({"ref"}))))
        return ParentClaim(
            id=claim_id,
            claimant=claimant,
            children=tuple(children),
            other_parent=other,
            separated_on=separated_on,
            last_known_place=place,
            languages=languages,
        )
    if "children" in d:
        raise ClaimFormatError("children", "not allowed in a child claim")
    sought = None if "sought_parent" not in d else _person(d["sought_parent"], "sought_parent")
    return ChildClaim(
        id=claim_id,
        claimant=claimant,
        sought_parent=sought,
        other_parent=other,
        separated_on=separated_on,
        last_known_place=place,
        languages=languages,
    )


def read_claims(path: str | Path) -> list[ParentClaim | ChildClaim]:
    """Read a claims-v1 JSON Lines file.

    :raises ClaimFormatError: with ``line N:`` prefixed to the field path.
    """
    claims: list[ParentClaim | ChildClaim] = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ClaimFormatError(f"line {n}", f"invalid JSON: {exc.msg}") from exc
            try:
                claims.append(claim_from_dict(data))
            except ClaimFormatError as exc:
                raise ClaimFormatError(f"line {n}: {exc.field_path}", exc.message) from exc
    return claims
