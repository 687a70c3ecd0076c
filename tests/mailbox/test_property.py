"""Any text, empty to the longest allowed, in any Unicode, goes through the real API and opens intact."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reunite.client import protocol as p
from tests.mailbox.conftest import Conv


def test_any_text_round_trips_through_the_api(open_conversation: Any, app: Any) -> None:
    app.config["MAILBOX_SEND_LIMIT"] = "100000 per minute"
    conv: Conv = open_conversation()
    roster = conv.child.box.conversation(conv.id)
    state = {"after": 0}

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(text=st.text(max_size=p.MAX_TEXT_CHARS))
    @example(text="")
    @example(text="\x00" * p.MAX_TEXT_CHARS)  # the longest JSON: six bytes per character
    @example(text="🌸" * p.MAX_TEXT_CHARS)
    @example(text='会いたい\u2028\ufeff"\\')
    def roundtrip(text: str) -> None:
        _, answer = conv.parent.box.send(conv.id, text)
        assert answer["state"] == "delivered"
        items = conv.child.box.items(conv.id, state["after"])
        assert [i["index"] for i in items] == [answer["index"]]
        state["after"] = answer["index"]
        opened = conv.child.box.open(roster, items[0])
        assert opened.message is not None, opened.problem
        assert opened.message.text == text

    roundtrip()
