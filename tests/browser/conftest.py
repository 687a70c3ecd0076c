"""Playwright driving Debian's Chromium; console errors, page errors and CSP violations fail the test."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM} (the setup installs Debian's chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def shots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("REUNITE_SCREENSHOTS", str(tmp_path_factory.mktemp("screenshots"))))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    return folder


EXPECTED_4XX = re.compile(r"Failed to load resource: the server responded with a status of 4(00|01|09|29)\b")


class PageProblems:
    """Collects console errors, uncaught exceptions and CSP reports from a page."""

    def __init__(self, page: Any) -> None:
        self.items: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.items.append(f"page error: {e}"))
        page.on("response", lambda r: self.items.append(f"HTTP {r.status} {r.url}") if r.status >= 500 else None)

    def _console(self, message: Any) -> None:
        # A 4xx the page expects (a wrong password) is logged by Chromium as a failed load; the
        # page shows it to the person. Everything else logged as an error (CSP refusals included) fails.
        if message.type != "error" or EXPECTED_4XX.match(message.text):
            return
        self.items.append(f"console {message.type}: {message.text}")

    def check(self) -> None:
        assert self.items == [], self.items


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    contexts: list[Any] = []
    problems: list[PageProblems] = []

    def _make(locale: str = "en-GB", phone: bool = False) -> tuple[Any, PageProblems]:
        viewport = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
        ctx = browser.new_context(locale=locale, viewport=viewport, extra_http_headers={"Accept-Language": locale})
        contexts.append(ctx)
        page = ctx.new_page()
        pr = PageProblems(page)
        problems.append(pr)
        return page, pr

    yield _make
    for ctx in contexts:
        ctx.close()
    for pr in problems:
        pr.check()
