"""Registration, login, password change and recovery through the pages, in Chromium, in both languages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.pages import login

pytestmark = [pytest.mark.services, pytest.mark.usefixtures("fresh_limits")]


def _register(page: Any, url: str, username: str, password: str, role: str, shots: Path, tag: str) -> str:
    page.goto(f"{url}/register?role={role}")
    page.wait_for_selector("form[data-ready=true]")
    page.fill("#username", username)
    if role == "child":
        page.fill("#birth_year", "2011")
    page.fill("#password", password)
    page.fill("#password2", password)
    page.screenshot(path=str(shots / f"{tag}-register.png"), full_page=True)
    page.click("form[data-flow] button[type=submit]")
    page.wait_for_selector("#recovery:not([hidden])", timeout=30_000)
    recovery = page.inner_text("[data-recovery-key]").strip()
    page.screenshot(path=str(shots / f"{tag}-recovery-key.png"), full_page=True)
    page.check("[data-recovery-saved]")
    page.click("[data-recovery-continue]")
    page.wait_for_url("**/account")
    return recovery


def test_parent_registers_logs_in_changes_password_and_recovers(
    live_server: Any, new_page: Any, shots_dir: Path
) -> None:
    url = live_server.url
    page, _ = new_page("en-GB")
    recovery = _register(page, url, "browser-john", "parent password 1", "parent", shots_dir, "en")
    assert "browser-john" in page.inner_text("main")
    page.click("text=Log out")

    login(page, url, "browser-john", "wrong password!")
    error = page.wait_for_selector("[data-error]:not([hidden])")
    assert "Wrong username or password." in error.inner_text()
    login(page, url, "browser-john", "parent password 1")
    page.wait_for_url("**/account")

    page.goto(f"{url}/account/password")
    page.wait_for_selector("form[data-ready=true]")
    page.fill("#old_password", "parent password 1")
    page.fill("#password", "parent password 2")
    page.fill("#password2", "parent password 2")
    page.click("form[data-flow] button[type=submit]")
    page.wait_for_url("**/account")
    page.click("text=Log out")

    page.goto(f"{url}/recover")
    page.wait_for_selector("form[data-ready=true]")
    page.fill("#username", "browser-john")
    page.fill("#recovery_key", recovery.replace("-", " ").lower())
    page.fill("#password", "parent password 3")
    page.fill("#password2", "parent password 3")
    page.click("form[data-flow] button[type=submit]")
    page.wait_for_url("**/account")
    page.click("text=Log out")
    login(page, url, "browser-john", "parent password 3")
    page.wait_for_url("**/account")


def test_child_registers_in_japanese_on_a_phone_and_sees_errors_in_japanese(
    live_server: Any, new_page: Any, shots_dir: Path
) -> None:
    url = live_server.url
    page, _ = new_page("ja-JP", phone=True)
    page.goto(f"{url}/register?role=child")
    page.wait_for_selector("form[data-ready=true]")
    assert page.get_attribute("html", "lang") == "ja"
    page.fill("#username", "ゆき2011")
    page.fill("#password", "短い")
    page.fill("#password2", "短い")
    page.fill("#birth_year", "2011")
    page.click("form[data-flow] button[type=submit]")
    error = page.wait_for_selector("[data-error]:not([hidden])")
    assert "10文字以上" in error.inner_text()
    assert page.get_attribute("#password", "aria-invalid") == "true"
    # What was typed is still there.
    assert page.input_value("#username") == "ゆき2011"
    page.screenshot(path=str(shots_dir / "ja-phone-register-error.png"), full_page=True)
    recovery = _register(page, url, "ゆき2011", "こどものひみつのパスワード", "child", shots_dir, "ja-phone")
    assert len(recovery.split("-")) == 13
    text = page.inner_text("main")
    assert "モデレーターが読みます" in text
    # The layout fits the phone: nothing wider than the viewport.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
