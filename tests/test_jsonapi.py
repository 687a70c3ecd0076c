"""The strict JSON parsers refuse text no field may hold: lone surrogates and control characters."""

from __future__ import annotations

import pytest
from flask import Flask

from reunite.errors import Invalid
from reunite.jsonapi import get_str, json_body


@pytest.mark.parametrize("raw", [b'{"username": "abc\\ud800"}', b'{"note": "\\udfff"}', b'{"a\\ud83d": 1}'])
def test_a_lone_surrogate_is_refused(app: Flask, raw: bytes) -> None:
    with app.test_request_context("/api/v1/x", method="POST", data=raw, content_type="application/json"):
        with pytest.raises(Invalid) as err:
            json_body()
    assert "UTF-8" in err.value.message


def test_a_surrogate_pair_is_an_ordinary_character(app: Flask) -> None:
    raw = b'{"note": "\\ud83c\\udf38 miss you"}'
    with app.test_request_context("/api/v1/x", method="POST", data=raw, content_type="application/json"):
        assert json_body() == {"note": "🌸 miss you"}


@pytest.mark.parametrize("text", ["a\x00b", "bell\x07", "esc\x1b[0m", "del\x7f", "form\x0cfeed"])
def test_control_characters_are_refused_by_name(app: Flask, text: str) -> None:
    with app.test_request_context(), pytest.raises(Invalid) as err:
        get_str({"reason": text}, "reason", max_len=100)
    assert err.value.field == "reason"


def test_line_breaks_and_tabs_are_kept(app: Flask) -> None:
    with app.test_request_context():
        assert get_str({"reason": "two\r\nlines\tand a tab"}, "reason") == "two\r\nlines\tand a tab"
