"""Validation of claims-v1 objects: the JSON Schema plus the rules a schema cannot express.

Every failure raises :class:`reunite.errors.Invalid` whose ``field`` is a JSON path such as
``children[1].birth_date``. A valid claim comes back canonical: strings in NFC without
surrounding whitespace, keys in the order of the specification, empty optional lists and
places left out, so equal content compares equal.
"""

from __future__ import annotations

import calendar
import copy
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from flask_babel import gettext as _
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from reunite.errors import Invalid

SCHEMA_PATH = Path(__file__).with_name("claims-v1.schema.json")
MAX_STRING = 200
MAX_CLAIM_BYTES = 64 * 1024
EARLIEST_YEAR = 1900
# A valid claim nests five levels deep (children[0].names[0].family); anything deeper is junk.
MAX_DEPTH = 8

CLAIM_KEYS = (
    "id",
    "role",
    "claimant",
    "sought_parent",
    "other_parent",
    "children",
    "separated_on",
    "last_known_place",
    "languages",
)
PERSON_KEYS = ("ref", "names", "sex", "birth_date", "birth_place", "nationalities")
NAME_KEYS = ("family", "given", "full", "kind")
PLACE_KEYS = ("city", "region", "country")
PERSON_FIELDS = ("claimant", "other_parent", "sought_parent")
# Codes babel lists as territories that are not countries (EU, UN, pseudo-locales, unknown).
NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@cache
def country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes known to the CLDR data shipped with babel."""
    codes = (str(code) for code in Locale("en").territories)
    return frozenset(code for code in codes if len(code) == 2 and code.isalpha() and code.isupper()) - NOT_COUNTRIES


@cache
def language_codes() -> frozenset[str]:
    """ISO 639-1 (two-letter) language codes known to babel."""
    codes = (str(code) for code in Locale("en").languages)
    return frozenset(code for code in codes if len(code) == 2 and code.isalpha())


@cache
def _validator(require_id: bool) -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    if not require_id:
        # Claims made in the app get their interchange id from the server.
        schema["required"] = [name for name in schema["required"] if name != "id"]
        del schema["properties"]["id"]
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def json_path(parts: Iterable[str | int]) -> str:
    """Format a path as ``children[1].names[0].family``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _normalise(value: Any, path: tuple[str | int, ...]) -> Any:
    """NFC and stripped strings; refuses control characters, naming the field."""
    if len(path) > MAX_DEPTH:
        raise Invalid(_("This value is nested too deeply."), field=json_path(path))
    if isinstance(value, str):
        text = unicodedata.normalize("NFC", value).strip()
        if _CONTROL.search(text):
            raise Invalid(_("This text contains control characters."), field=json_path(path))
        return text
    if isinstance(value, dict):
        return {key: _normalise(item, (*path, key)) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalise(item, (*path, index)) for index, item in enumerate(value)]
    return value


def _schema_error(err: ValidationError) -> Invalid:
    """Turn the schema's complaint into a message a person can act on, naming the field."""
    path = list(err.absolute_path)
    kind = err.validator
    instance = err.instance
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = set(err.schema.get("properties", {}))
        extra = sorted(key for key in instance if key not in known)[0]
        return Invalid(_("Unknown field '%(name)s'.", name=extra), field=json_path([*path, extra]))
    if kind == "required" and isinstance(instance, dict):
        missing = next(name for name in err.validator_value if name not in instance)
        if missing == "children":
            return Invalid(_("A parent claim names at least one child."), field=json_path([*path, missing]))
        return Invalid(_("This field is required."), field=json_path([*path, missing]))
    if kind == "not" and isinstance(err.validator_value, dict):
        forbidden = err.validator_value.get("required", ["role"])[0]
        if forbidden == "children":
            message = _("A child claim has no children list.")
        else:
            message = _("A parent claim has no sought parent; use other_parent.")
        return Invalid(message, field=json_path([*path, forbidden]))
    field = json_path(path) or None
    if kind == "anyOf":
        return Invalid(_("A name needs at least one of family, given or full."), field=field)
    if kind == "type":
        wanted = str(err.validator_value)
        if wanted == "object":
            return Invalid(_("This must be an object."), field=field)
        if wanted == "array":
            return Invalid(_("This must be a list."), field=field)
        if wanted == "string":
            return Invalid(_("This must be text."), field=field)
        return Invalid(_("This value has the wrong type."), field=field)
    if kind == "pattern":
        last = path[-1] if path else ""
        parent = path[-2] if len(path) >= 2 else ""
        if last in ("birth_date", "separated_on"):
            return Invalid(_("Not a date: use YYYY, YYYY-MM or YYYY-MM-DD."), field=field)
        if parent == "languages":
            return Invalid(_("Not a language code: use two lower-case letters such as ja or en."), field=field)
        return Invalid(_("Not a country code: use two upper-case letters such as JP or US."), field=field)
    if kind == "enum":
        choices = ", ".join(str(choice) for choice in err.validator_value)
        return Invalid(_("Choose one of: %(choices)s.", choices=choices), field=field)
    if kind == "maxLength":
        return Invalid(_("Too long: at most %(limit)s characters.", limit=err.validator_value), field=field)
    if kind == "maxItems":
        return Invalid(_("Too many: at most %(limit)s items.", limit=err.validator_value), field=field)
    if kind == "minLength":
        return Invalid(_("This may not be empty."), field=field)
    if kind == "minItems":
        return Invalid(_("This list may not be empty."), field=field)
    return Invalid(_("This value is not allowed here."), field=field)


def _first(errors: Iterable[ValidationError]) -> ValidationError | None:
    # Sorted by path so the same bad claim always reports the same field.
    ordered = sorted(errors, key=lambda e: (json_path(e.absolute_path), str(e.validator)))
    return ordered[0] if ordered else None


def _check_date(text: str, path: str, today: date) -> None:
    parts = [int(piece) for piece in text.split("-")]
    year = parts[0]
    month = parts[1] if len(parts) > 1 else None
    day = parts[2] if len(parts) > 2 else None
    if year < EARLIEST_YEAR:
        raise Invalid(_("Not a plausible year (%(year)s or later).", year=EARLIEST_YEAR), field=path)
    if month is not None and day is not None and day > calendar.monthrange(year, month)[1]:
        raise Invalid(_("Not a date: this day does not exist in that month."), field=path)
    known = (year, month or 1, day or 1)
    if known > (today.year, today.month, today.day):
        raise Invalid(_("This date is in the future."), field=path)


def _check_place(place: Mapping[str, Any], path: str) -> None:
    country = place.get("country")
    if country is not None and country not in country_codes():
        raise Invalid(_("Unknown country code."), field=f"{path}.country")


def _check_person(person: Mapping[str, Any], path: str, today: date, *, needs_name: bool) -> None:
    names = person.get("names") or []
    if needs_name and not names:
        raise Invalid(_("Give at least one form of the name."), field=f"{path}.names")
    if "birth_date" in person:
        _check_date(person["birth_date"], f"{path}.birth_date", today)
    if "birth_place" in person:
        _check_place(person["birth_place"], f"{path}.birth_place")
    for index, code in enumerate(person.get("nationalities", [])):
        if code not in country_codes():
            raise Invalid(_("Unknown country code."), field=f"{path}.nationalities[{index}]")


def _check_semantics(claim: Mapping[str, Any], today: date) -> None:
    _check_person(claim["claimant"], "claimant", today, needs_name=True)
    for key in ("other_parent", "sought_parent"):
        if key in claim:
            _check_person(claim[key], key, today, needs_name=False)
    seen: dict[str, int] = {}
    for index, child in enumerate(claim.get("children", [])):
        path = f"children[{index}]"
        if child["ref"] in seen:
            raise Invalid(
                _("This ref is already used by %(other)s.", other=f"children[{seen[child['ref']]}]"),
                field=f"{path}.ref",
            )
        seen[child["ref"]] = index
        _check_person(child, path, today, needs_name=True)
    if "separated_on" in claim:
        _check_date(claim["separated_on"], "separated_on", today)
    if "last_known_place" in claim:
        _check_place(claim["last_known_place"], "last_known_place")
    for index, code in enumerate(claim.get("languages", [])):
        if code not in language_codes():
            raise Invalid(_("Unknown language code."), field=f"languages[{index}]")


def _ordered(obj: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: obj[key] for key in keys if key in obj}


def _canon_place(place: Mapping[str, Any]) -> dict[str, Any]:
    return _ordered(place, PLACE_KEYS)


def _canon_person(person: Mapping[str, Any]) -> dict[str, Any]:
    out = _ordered(person, PERSON_KEYS)
    out["names"] = [_ordered(name, NAME_KEYS) for name in person.get("names", [])]
    if "birth_place" in out:
        out["birth_place"] = _canon_place(out["birth_place"])
    if "nationalities" in out:
        out["nationalities"] = list(dict.fromkeys(out["nationalities"]))
    return {key: value for key, value in out.items() if value not in ([], {})}


def canonical(claim: Mapping[str, Any]) -> dict[str, Any]:
    """Keys in specification order; empty optional lists and places left out; duplicates in code lists dropped."""
    out = _ordered(claim, CLAIM_KEYS)
    for key in PERSON_FIELDS:
        if key in out:
            out[key] = _canon_person(out[key])
    if "children" in out:
        out["children"] = [_canon_person(child) for child in out["children"]]
    if "last_known_place" in out:
        out["last_known_place"] = _canon_place(out["last_known_place"])
    if "languages" in out:
        out["languages"] = list(dict.fromkeys(out["languages"]))
    return {key: value for key, value in out.items() if value not in ([], {}) or key == "claimant"}


def validate_claim(obj: Any, *, require_id: bool, today: date | None = None) -> dict[str, Any]:
    """Check a claims-v1 object and return its canonical form.

    :param obj: the parsed JSON (not modified).
    :param require_id: True for interchange files (``id`` required); False for the app, where
        ``id`` is refused because the server assigns it.
    :param today: the date that counts as "now" for the not-in-the-future rule (UTC today by default).
    :raises Invalid: with ``field`` set to the JSON path of the first problem.
    """
    if not isinstance(obj, dict):
        raise Invalid(_("A claim must be a JSON object."), field=None)
    if not require_id and "id" in obj:
        raise Invalid(_("Do not send an id: the server assigns it."), field="id")
    if len(json.dumps(obj, ensure_ascii=False).encode("utf-8")) > MAX_CLAIM_BYTES:
        raise Invalid(_("This claim is too large."), field=None)
    normalised = _normalise(copy.deepcopy(obj), ())
    problem = _first(_validator(require_id).iter_errors(normalised))
    if problem is not None:
        raise _schema_error(problem)
    _check_semantics(normalised, today or datetime.now(UTC).date())
    return canonical(normalised)
