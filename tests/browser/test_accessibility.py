"""Public pages in both languages under axe-core; errors in the page's language; the problem catcher catches.

The pages of the logged-in journey are checked in test_journey.py; these are the pages a newcomer
sees first, on a desktop in English and on a phone in Japanese.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reunite.client import protocol as p
from tests.browser.axe import check_page, layout_shift
from tests.browser.conftest import PageProblems
from tests.conftest import LiveServer

pytestmark = [pytest.mark.services, pytest.mark.usefixtures("fresh_limits")]

PUBLIC_PAGES = ("/", "/help", "/login", "/register", "/register?role=child", "/recover", "/reset")


@pytest.mark.parametrize(("locale", "phone"), [("en-GB", False), ("ja-JP", True)])
def test_public_pages_have_no_serious_accessibility_problem(
    live_server: LiveServer, new_page: Any, shots_dir: Path, locale: str, phone: bool
) -> None:
    page, _ = new_page(locale, phone=phone)
    lang = locale[:2]
    for path in PUBLIC_PAGES:
        page.goto(live_server.url + path)
        page.wait_for_load_state("load")
        assert page.get_attribute("html", "lang") == lang
        check_page(page)
        if phone:
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} is {width}px wide"
        name = path.strip("/").replace("?", "-").replace("=", "-") or "home"
        page.screenshot(path=str(shots_dir / f"public-{lang}{'-phone' if phone else ''}-{name}.png"), full_page=True)


def test_login_and_recovery_errors_are_in_japanese_and_keep_what_was_typed(
    live_server: LiveServer, new_page: Any, shots_dir: Path
) -> None:
    url = live_server.url
    page, _ = new_page("ja-JP", phone=True)
    page.goto(f"{url}/login")
    page.wait_for_selector("form[data-ready=true]")
    page.click("form[data-flow] button[type=submit]")
    error = page.wait_for_selector("[data-error]:not([hidden])")
    assert "ユーザー名とパスワードを入力してください" in error.inner_text()
    page.fill("#username", "だれでもない人")
    page.fill("#password", "まちがったパスワードです")
    page.click("form[data-flow] button[type=submit]")
    page.wait_for_selector("[data-error]:has-text('ユーザー名またはパスワードが違います')", timeout=30_000)
    assert page.input_value("#username") == "だれでもない人"
    check_page(page)
    page.screenshot(path=str(shots_dir / "ja-phone-login-error.png"), full_page=True)

    page.goto(f"{url}/recover")
    page.wait_for_selector("form[data-ready=true]")
    page.fill("#username", "だれでもない人")
    page.fill("#recovery_key", "ABCD-EFGH")
    page.fill("#password", "あたらしいパスワードです")
    page.fill("#password2", "あたらしいパスワードです")
    page.click("form[data-flow] button[type=submit]")
    error = page.wait_for_selector("[data-error]:not([hidden])")
    assert "英数字4文字×13組" in error.inner_text()
    page.fill("#recovery_key", p.format_recovery_key(p.new_recovery_key()))
    page.click("form[data-flow] button[type=submit]")
    page.wait_for_selector("[data-error]:has-text('ユーザー名または回復キーが違います')", timeout=30_000)
    assert page.input_value("#username") == "だれでもない人"
    check_page(page)
    page.screenshot(path=str(shots_dir / "ja-phone-recover-error.png"), full_page=True)


def test_the_problem_catcher_fails_on_csp_violations_and_script_errors(browser: Any, live_server: LiveServer) -> None:
    """The fixture every browser test relies on really sees an inline script refused and an uncaught error."""
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        problems = PageProblems(page)
        page.goto(live_server.url + "/login")
        page.wait_for_selector("form[data-ready=true]")
        assert problems.items == []
        with pytest.raises(Exception, match="Content Security Policy|Refused"):
            page.add_script_tag(content="window.injected = true")
        page.evaluate("() => { setTimeout(() => { throw new Error('boom from the test'); }, 0); }")
        page.wait_for_timeout(200)
        assert page.evaluate("() => window.injected === undefined")
        assert any("Content Security Policy" in item for item in problems.items), problems.items
        assert any("boom from the test" in item for item in problems.items), problems.items
        with pytest.raises(AssertionError):
            problems.check()
    finally:
        ctx.close()


def test_the_layout_shift_measure_sees_a_page_that_jumps(browser: Any, live_server: LiveServer) -> None:
    """test_journey.py asserts a shift below 0.1 on every page: make sure the measure is not blind."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = ctx.new_page()
        page.goto(live_server.url + "/help")
        assert layout_shift(page) < 0.1
        # Late content pushed in above the text, as a page that loads something slowly would do.
        page.evaluate(
            """() => new Promise((done) => {
              const banner = document.createElement('div');
              banner.style.height = '400px';
              document.querySelector('main').prepend(banner);
              requestAnimationFrame(() => setTimeout(done, 100));
            })"""
        )
        assert layout_shift(page) > 0.1
    finally:
        ctx.close()
