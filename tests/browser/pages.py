"""Steps a person takes on the pages, shared by the browser tests: log in, set up TOTP, unlock keys."""

from __future__ import annotations

from typing import Any


def login(page: Any, url: str, username: str, password: str) -> None:
    """Fill and send the login form (the page derives the keys; the caller waits for where it lands)."""
    page.goto(f"{url}/login")
    page.wait_for_selector("form[data-ready=true]")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form[data-flow] button[type=submit]")


def set_up_totp(page: Any, timeout: int) -> None:
    """On the TOTP set-up page: type a code computed from the key it shows, as an authenticator app would."""
    import pyotp

    secret = page.inner_text("code.totp-key").strip()
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("main form [type=submit]")
    page.wait_for_url(lambda u: "/totp/" not in u, timeout=timeout)


def unlock(page: Any, password: str) -> None:
    """Type the password into the mailbox page's unlock form (the keys stay in the tab)."""
    page.wait_for_selector("[data-unlock][data-ready=true]")
    page.fill("#unlock-password", password)
    page.click("[data-unlock] button[type=submit]")


def open_conversation(page: Any, url: str, cid: str, password: str, timeout: int) -> None:
    """Open a conversation, unlock the keys and wait until its messages are shown."""
    page.goto(f"{url}/conversations/{cid}")
    unlock(page, password)
    page.wait_for_selector("#conversation[data-ready=true]", timeout=timeout)
