"""Claim forms (names asked the Japanese way) and their mapping to and from claims-v1.

Each name is asked three times, as Japanese forms do: as written (kanji), as a kana reading
(フリガナ) and in Latin letters. The first non-empty one becomes the main name object and the
others follow it with ``kind: "reading"``; "other names" lines become ``kind: "former"``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any

from babel import Locale
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    Field,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from reunite.claims.validation import MAX_STRING, country_codes

MAX_CHILDREN = 20
LANGUAGES = ("ja", "en", "zh", "ko", "tl", "vi", "pt", "es", "fr", "de", "it", "ru")
_KANA = re.compile(r"^[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f\s・ー]+$")
_LATIN = re.compile(r"^[\sA-Za-z\u00c0-\u024f\u1e00-\u1eff'.\-]+$")


def _text(label: Any, max_len: int = MAX_STRING, **render: Any) -> StringField:
    too_long = _l("At most %(max)d characters.", max=max_len)
    return StringField(label, validators=[Optional(), Length(max=max_len, message=too_long)], render_kw=render or None)


def _choices(pairs: Iterable[tuple[str, Any]]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def country_choices() -> list[SelectChoice]:
    """Countries by name in the page's language, with "unknown" first."""
    names = Locale.parse(str(get_locale())).territories
    codes = sorted(country_codes(), key=lambda code: names.get(code, code))
    return _choices([("", _l("Unknown")), *((code, names.get(code, code)) for code in codes)])


def language_choices() -> list[SelectChoice]:
    """The languages offered as checkboxes, named in the page's language."""
    names = Locale.parse(str(get_locale())).languages
    return _choices((code, names.get(code, code)) for code in LANGUAGES)


def _halfwidth(value: Any) -> Any:
    """Full-width digits (２０１２, as Japanese phone keyboards type them) read as ASCII digits."""
    return unicodedata.normalize("NFKC", value).strip() if isinstance(value, str) else value


class DateForm(Form):
    """A partial date: the year, and the month and day when known."""

    year = StringField(
        _l("Year"),
        filters=[_halfwidth],
        validators=[Optional(), Regexp(r"^[0-9]{4}$", message=_l("Write the year with four digits, e.g. 2012."))],
        render_kw={"inputmode": "numeric", "maxlength": 4, "size": 4},
    )
    month = SelectField(
        _l("Month"), default="", choices=_choices([("", _l("Unknown")), *((str(m), str(m)) for m in range(1, 13))])
    )
    day = SelectField(
        _l("Day"), default="", choices=_choices([("", _l("Unknown")), *((str(d), str(d)) for d in range(1, 32))])
    )


class PlaceForm(Form):
    """A place: city, region, country (any may be unknown)."""

    city = _text(_l("City or town"))
    region = _text(_l("Prefecture, state or region"))
    country = SelectField(_l("Country"), default="", choices=[])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = country_choices()


class PersonForm(Form):
    """One person: names in three scripts, other names, sex, birth and nationality."""

    family_written = _text(_l("Family name (kanji, or as written)"), autocomplete="off")
    given_written = _text(_l("Given name (kanji, or as written)"), autocomplete="off")
    family_kana = _text(_l("Family name reading (フリガナ)"), autocomplete="off")
    given_kana = _text(_l("Given name reading (フリガナ)"), autocomplete="off")
    family_latin = _text(_l("Family name in Latin letters"), autocomplete="off")
    given_latin = _text(_l("Given name in Latin letters"), autocomplete="off")
    other_names = TextAreaField(
        _l("Former or other names (one per line)"),
        validators=[Optional(), Length(max=2000, message=_l("At most %(max)d characters.", max=2000))],
        render_kw={"rows": 2},
    )
    sex = SelectField(
        _l("Sex"),
        default="",
        choices=_choices([("", _l("Unknown")), ("F", _l("Female")), ("M", _l("Male")), ("X", _l("Another sex (X)"))]),
    )
    birth_date = FormField(DateForm, label=_l("Date of birth"))
    birth_place = FormField(PlaceForm, label=_l("Place of birth"))
    nationality = SelectField(_l("Nationality"), default="", choices=[])
    nationality_2 = SelectField(_l("Second nationality"), default="", choices=[])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.nationality.choices = self.nationality_2.choices = country_choices()


class ChildForm(PersonForm):
    """A child in a parent claim; ``ref`` keeps its identity across edits."""

    ref = HiddenField()


class MultiCheckboxField(SelectMultipleField):
    """Several choices shown as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class _ClaimForm(FlaskForm):
    separated_on = FormField(DateForm, label=_l("When contact was lost"))
    last_known_place = FormField(PlaceForm, label=_l("Last known place"))
    languages = MultiCheckboxField(_l("Languages you read"), choices=[])
    submit = SubmitField(_l("Save claim"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.languages.choices = language_choices()


class ParentClaimForm(_ClaimForm):
    """A parent's claim: the parent, the other parent and one or more children."""

    role = "parent"
    claimant = FormField(PersonForm, label=_l("About you"))
    other_parent = FormField(PersonForm, label=_l("The other parent"))
    children = FieldList(FormField(ChildForm), min_entries=1, max_entries=MAX_CHILDREN)
    add_child = SubmitField(_l("Add another child"))


class ChildClaimForm(_ClaimForm):
    """A child's claim: the child, the parent they look for and the parent they lived with."""

    role = "child"
    claimant = FormField(PersonForm, label=_l("About you"))
    sought_parent = FormField(PersonForm, label=_l("The parent you are looking for"))
    other_parent = FormField(PersonForm, label=_l("The parent you lived with"))


def form_class(role: str) -> type[ParentClaimForm] | type[ChildClaimForm]:
    """The form for a claim role."""
    return ParentClaimForm if role == "parent" else ChildClaimForm


# --- form → claims-v1 ------------------------------------------------------------------------


class FormMapping:
    """Builds a claims-v1 object from a submitted form and remembers which field made which path."""

    def __init__(self) -> None:
        self.where: dict[str, Field] = {}
        self.is_ok = True

    def fail(self, field: Field, message: Any) -> None:
        """Attach an error to a field (shown next to it)."""
        field.errors = [*field.errors, str(message)]
        self.is_ok = False

    def field_for(self, path: str | None) -> Field | None:
        """The form field behind a JSON path (or its nearest recorded parent)."""
        while path:
            if path in self.where:
                return self.where[path]
            path = re.sub(r"(\[[0-9]+\]|\.?[^.\[]+)$", "", path)
        return None

    def date(self, form: DateForm, path: str) -> str | None:
        year = (form.year.data or "").strip()
        month = form.month.data or ""
        day = form.day.data or ""
        self.where[path] = form.year
        if not year:
            if month or day:
                self.fail(form.year, _l("Give the year too, or leave month and day as unknown."))
            return None
        if day and not month:
            self.fail(form.month, _l("Give the month too, or leave the day as unknown."))
            return None
        text = year
        if month:
            text += f"-{int(month):02d}"
            if day:
                text += f"-{int(day):02d}"
        return text

    def place(self, form: PlaceForm, path: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for key in ("city", "region", "country"):
            value = (getattr(form, key).data or "").strip()
            if value:
                out[key] = value
                self.where[f"{path}.{key}"] = getattr(form, key)
        self.where.setdefault(path, form.city)
        return out

    def person(self, form: PersonForm, path: str) -> dict[str, Any]:
        names: list[dict[str, str]] = []
        self.where[f"{path}.names"] = form.family_written
        for family_field, given_field in (
            (form.family_written, form.given_written),
            (form.family_kana, form.given_kana),
            (form.family_latin, form.given_latin),
        ):
            name: dict[str, str] = {}
            family = (family_field.data or "").strip()
            given = (given_field.data or "").strip()
            if family:
                name["family"] = family
                self.where[f"{path}.names[{len(names)}].family"] = family_field
            if given:
                name["given"] = given
                self.where[f"{path}.names[{len(names)}].given"] = given_field
            if not name:
                continue
            if names:
                name["kind"] = "reading"
            self.where[f"{path}.names[{len(names)}]"] = family_field if family else given_field
            names.append(name)
        for line in (form.other_names.data or "").splitlines():
            if line.strip():
                self.where[f"{path}.names[{len(names)}]"] = form.other_names
                names.append({"full": line.strip(), "kind": "former"})
        person: dict[str, Any] = {"names": names}
        if form.sex.data:
            person["sex"] = form.sex.data
        self.where[f"{path}.sex"] = form.sex
        birth = self.date(form.birth_date.form, f"{path}.birth_date")
        if birth:
            person["birth_date"] = birth
        place = self.place(form.birth_place.form, f"{path}.birth_place")
        if place:
            person["birth_place"] = place
        nationalities = [code for code in dict.fromkeys([form.nationality.data, form.nationality_2.data]) if code]
        if nationalities:
            person["nationalities"] = nationalities
        self.where[f"{path}.nationalities"] = form.nationality
        self.where[path] = form.family_written
        return person


def _is_blank(person: Mapping[str, Any]) -> bool:
    return not any(value for key, value in person.items() if key != "ref")


def form_to_claim(form: ParentClaimForm | ChildClaimForm) -> tuple[dict[str, Any], FormMapping]:
    """The claims-v1 object (without ``id``) a validated form describes, and the path→field map.

    Entirely empty child blocks are left out. New children get the next free ``ref``.
    """
    m = FormMapping()
    claim: dict[str, Any] = {"role": form.role, "claimant": m.person(form.claimant.form, "claimant")}
    if isinstance(form, ParentClaimForm):
        other = m.person(form.other_parent.form, "other_parent")
        if not _is_blank(other):
            claim["other_parent"] = other
        used = {entry.form.ref.data for entry in form.children if entry.form.ref.data}
        numbers = [int(ref) for ref in used if ref.isdigit()]
        next_ref = max(numbers, default=0) + 1
        children: list[dict[str, Any]] = []
        for entry in form.children:
            child_form = entry.form
            path = f"children[{len(children)}]"
            child = m.person(child_form, path)
            m.where[f"{path}.ref"] = child_form.family_written
            if _is_blank(child):
                continue
            ref = (child_form.ref.data or "").strip()
            if not ref:
                ref = str(next_ref)
                next_ref += 1
                child_form.ref.data = ref
            children.append({"ref": ref, **child})
        claim["children"] = children
        if form.children.entries:
            m.where["children"] = form.children.entries[0].form.family_written
    else:
        for key in ("sought_parent", "other_parent"):
            person = m.person(getattr(form, key).form, key)
            if not _is_blank(person):
                claim[key] = person
    separated = m.date(form.separated_on.form, "separated_on")
    if separated:
        claim["separated_on"] = separated
    place = m.place(form.last_known_place.form, "last_known_place")
    if place:
        claim["last_known_place"] = place
    if form.languages.data:
        claim["languages"] = list(form.languages.data)
    m.where["languages"] = form.languages
    return claim, m


# --- claims-v1 → form ------------------------------------------------------------------------


def _script(name: Mapping[str, str]) -> str:
    text = " ".join(name.get(key, "") for key in ("family", "given", "full")).strip()
    if _KANA.match(text):
        return "kana"
    if _LATIN.match(text):
        return "latin"
    return "written"


def _format_name(name: Mapping[str, str]) -> str:
    return name.get("full") or " ".join(part for part in (name.get("family"), name.get("given")) if part)


def _person_obj(person: Mapping[str, Any]) -> SimpleNamespace:
    fields: dict[str, Any] = {key: "" for key in ("family_written", "given_written", "family_kana", "given_kana")}
    fields |= {"family_latin": "", "given_latin": "", "other_names": ""}
    others: list[str] = []
    names = list(person.get("names", []))
    # The first name and the readings right after it fill the three rows; the rest are "other names".
    group_end = 1
    while group_end < len(names) and names[group_end].get("kind") == "reading":
        group_end += 1
    filled: set[str] = set()
    for index, name in enumerate(names):
        script = _script(name)
        structured = index < group_end and "full" not in name and script not in filled
        if structured:
            filled.add(script)
            fields[f"family_{script}"] = name.get("family", "")
            fields[f"given_{script}"] = name.get("given", "")
        else:
            others.append(_format_name(name))
    fields["other_names"] = "\n".join(others)
    nationalities = list(person.get("nationalities", [])) + ["", ""]
    birth = (person.get("birth_date") or "").split("-") + ["", "", ""]
    place = person.get("birth_place", {})
    return SimpleNamespace(
        **fields,
        ref=person.get("ref", ""),
        sex=person.get("sex", ""),
        birth_date=SimpleNamespace(year=birth[0], month=str(int(birth[1])) if birth[1] else "", day=_day(birth[2])),
        birth_place=SimpleNamespace(**{key: place.get(key, "") for key in ("city", "region", "country")}),
        nationality=nationalities[0],
        nationality_2=nationalities[1],
    )


def _day(text: str) -> str:
    return str(int(text)) if text else ""


def claim_to_form_obj(data: Mapping[str, Any]) -> SimpleNamespace:
    """An object the claim forms can be filled from (``Form(obj=...)``)."""
    separated = (data.get("separated_on") or "").split("-") + ["", "", ""]
    place = data.get("last_known_place", {})
    return SimpleNamespace(
        claimant=_person_obj(data.get("claimant", {})),
        other_parent=_person_obj(data.get("other_parent", {})),
        sought_parent=_person_obj(data.get("sought_parent", {})),
        children=[_person_obj(child) for child in data.get("children", [])] or [_person_obj({})],
        separated_on=SimpleNamespace(year=separated[0], month=_day(separated[1]), day=_day(separated[2])),
        last_known_place=SimpleNamespace(**{key: place.get(key, "") for key in ("city", "region", "country")}),
        languages=list(data.get("languages", [])),
    )
