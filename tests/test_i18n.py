"""English and Japanese: a complete Japanese catalogue, and pages that follow the chosen language."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from babel.messages import checkers
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "reunite/translations/ja/LC_MESSAGES/messages.po"


def _catalog() -> Any:
    with PO.open("rb") as fh:
        return read_po(fh, locale="ja")


def test_japanese_catalogue_has_no_untranslated_or_fuzzy_entries() -> None:
    catalog = _catalog()
    untranslated = [m.id for m in catalog if m.id and not m.string]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert untranslated == []
    assert fuzzy == []


def test_catalogue_covers_every_string_in_the_code(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    pybabel = Path(sys.executable).parent / "pybabel"
    subprocess.run(
        [
            str(pybabel),
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "--no-location",
            "-o",
            str(pot),
            "reunite",
            "templates",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as fh:
        wanted = {m.id for m in read_po(fh) if m.id}
    have = {m.id for m in _catalog() if m.id and m.string}
    missing = sorted(str(i) for i in wanted - have)
    assert missing == [], "run `make extract-messages` and translate: " + "; ".join(missing[:10])


def test_translations_keep_their_placeholders() -> None:
    catalog = _catalog()
    for message in catalog:
        if message.id and message.string:
            checkers.python_format(catalog, message)  # raises TranslationError on a mismatch


def test_accept_language_picks_japanese(client: Any) -> None:
    html = client.get("/", headers={"Accept-Language": "ja,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="ja">' in html
    assert "安全に、もう一度つながるために" in html
    html = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Find each other again, safely" in html


def test_language_picker_overrides_the_browser(client: Any) -> None:
    page = client.get("/help", headers={"Accept-Language": "en"}).get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    resp = client.post("/language/ja", data={"csrf_token": token, "next": "/help"})
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/help")
    html = client.get("/help", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "会話を読めるのはだれか" in html


def test_api_errors_follow_the_language(api: Any) -> None:
    resp = api.client.post(
        "/api/v1/auth/prelogin", json={}, headers={"X-CSRFToken": api.csrf(), "Accept-Language": "ja"}
    )
    assert resp.status_code == 400
    assert resp.get_json()["message"] == "項目「username」は必須です。"


def test_help_page_states_the_security_model_in_both_languages(client: Any) -> None:
    en = client.get("/help", headers={"Accept-Language": "en"}).get_data(as_text=True)
    ja = client.get("/help", headers={"Accept-Language": "ja"}).get_data(as_text=True)
    for needle in ("not the people who run the server", "lost for good", "Python client"):
        assert needle in en
    for needle in ("サーバーを運営する人も読めません", "二度と読めなくなります", "Pythonクライアント"):
        assert needle in ja


def test_every_matcher_field_and_level_has_a_label_in_both_languages(app: Any) -> None:
    # Moderators read the explanation in words; a level added to the engine without a label
    # would show its code ("kanji_reading") instead.
    from flask_babel import force_locale

    from reunite.matching.scoring import FIELDS

    codes = {f.name for f in FIELDS} | {level for f in FIELDS for level in f.levels}
    with app.test_request_context():
        labels = app.jinja_env.get_template("moderation/_labels.html").module
        for locale in ("en", "ja"):
            with force_locale(locale):
                for f in FIELDS:
                    assert str(labels.field_label(f.name)).strip() != f.name, (locale, f.name)
                    for level in f.levels:
                        label = str(labels.level_label(level)).strip()
                        assert label not in codes, (locale, f.name, level, label)
                        if locale == "ja":
                            assert not label.isascii(), (f.name, level, label)
