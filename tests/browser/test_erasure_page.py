"""Deleting one's account through the page, in Chromium: the password proof is derived in the browser."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from reunite.client.api import ApiError, Client
from tests.browser.axe import check_page

pytestmark = [pytest.mark.services, pytest.mark.usefixtures("fresh_limits")]


def test_a_parent_deletes_their_account_on_the_page(live_server: Any, new_page: Any, shots_dir: Path) -> None:
    url = live_server.url
    locale = "en-GB"
    username = f"erase-{secrets.token_hex(3)}"
    Client(url).register(username, "parent password 1", "parent", locale=locale[:2])
    page, _ = new_page(locale)
    page.goto(f"{url}/login")
    page.wait_for_selector("form[data-ready=true]")
    page.fill("#username", username)
    page.fill("#password", "parent password 1")
    page.click("form[data-flow] button[type=submit]")
    page.wait_for_url("**/account")

    page.goto(f"{url}/account/export")
    page.wait_for_load_state("load")
    check_page(page)
    page.goto(f"{url}/account/delete")
    page.wait_for_selector("form[data-ready=true]")
    check_page(page)
    page.screenshot(path=str(shots_dir / f"{locale}-delete-account.png"), full_page=True)
    page.fill("#password", "parent password 1")
    page.click("form[data-flow] button[type=submit]")
    error = page.wait_for_selector("[data-error]:not([hidden])")
    assert error.inner_text().strip()  # the box is not ticked: nothing was sent
    page.check("input[name=confirm]")
    page.fill("#password", "not my password")
    page.click("form[data-flow] button[type=submit]")
    page.wait_for_selector("#password[aria-invalid=true]", timeout=30_000)

    page.fill("#password", "parent password 1")
    page.click("form[data-flow] button[type=submit]")
    page.wait_for_url(f"{url}/", timeout=30_000)
    with pytest.raises(ApiError) as err:
        Client(url).login(username, "parent password 1")
    assert err.value.status == 401
