"""The whole journey in Chromium, through the pages: register, file claims, match, approve, consent, talk, close.

A parent registers in English on a desktop and files a case with two children; a child registers
in Japanese on a 390×844 phone (keyboard only) and files a claim that names the father only in
katakana; a real Celery worker on Redis proposes the link; two moderators log in with TOTP,
review the evidence and approve; both people read the notification mail on a real SMTP server,
open the link and accept; they talk (held, released, reported, exported and verified offline)
and the child withdraws. Only staff accounts are made outside the pages (no page creates staff),
and only the mailbox and the authenticator (pyotp) stand in for a person's phone.

Every page of the journey is checked with axe-core (no serious or critical violation, every form
field labelled) and saved as a screenshot in the folder the run prints. At the end each role
switches language with the page's picker and its pages are checked and captured again, so every
role's pages exist in both languages.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reunite.client import protocol as p
from tests.browser.axe import check_page, layout_shift
from tests.browser.pages import login, open_conversation, set_up_totp, unlock
from tests.conftest import LiveServer, flush_redis, free_port, running_server, running_worker, service_env
from tests.notifications.conftest import SmtpServer, body_of, start_smtp

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]
BROKER = "redis://127.0.0.1:6379/12"  # the session's own Celery queue keeps runs apart (tests/conftest.py)
# Rate-limit counters of this server only: the shared test store also counts other runs' logins from 127.0.0.1.
LIMITS = "redis://127.0.0.1:6379/9"
TIMEOUT = 90_000  # Argon2id in the page is slow when the machine is busy
STAFF_PASSWORD = "journey staff password"
PARENT_PASSWORD = "parent journey password"
CHILD_PASSWORD = "こどものひみつのパスワード"


@dataclass
class Journey:
    """The server, worker and mailbox of the journey."""

    server: LiveServer
    smtp: SmtpServer
    worker_log: Path


@pytest.fixture(scope="module")
def journey(pg_migrated: str, org_identity: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journey]:
    """gunicorn and a Celery worker sharing a Redis broker, with mail going to an SMTP server on loopback."""
    smtp = start_smtp()
    port = free_port()
    env = service_env(
        pg_migrated,
        TEST_BROKER_URL=BROKER,
        TEST_RATELIMIT_STORAGE_URI=flush_redis(LIMITS),
        TEST_MAIL_URL=smtp.url,
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        ORG_PUBLIC_KEY=p.b64e(org_identity.pk),
    )
    logs = tmp_path_factory.mktemp("journey")
    try:
        with (
            running_worker(env, logs / "worker.log") as worker_log,
            running_server(env, logs / "gunicorn.log", port=port) as server,
        ):
            yield Journey(server, smtp, worker_log)
    finally:
        smtp.controller.stop()


def _make_staff(server: LiveServer, org: Any, tag: str) -> list[str]:
    """Two certified moderators (set-up: no public page creates staff accounts, the CLI does)."""
    from reunite import create_app
    from reunite.auth import services as auth_services
    from reunite.auth.models import Role
    from reunite.cli import create_account
    from reunite.extensions import db

    app = create_app(
        "testing", SQLALCHEMY_DATABASE_URI=server.env["TEST_DATABASE_URL"], RATELIMIT_STORAGE_URI="memory://"
    )
    names = [f"mod-a-{tag}", f"mod-b-{tag}"]
    with app.app_context():
        for name, locale in zip(names, ("en", "ja"), strict=True):
            mod, _ = create_account(name, Role.MODERATOR, STAFF_PASSWORD, None, locale)
            auth_services.certify_moderator(mod, org.seed, int(time.time() * 1000) + 86_400_000)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return names


class Shots:
    """Numbered screenshots of the journey, each page checked with axe-core first."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.n = 0
        self.shifts: dict[str, float] = {}

    def __call__(self, page: Any, name: str, *, axe: bool = True) -> None:
        if axe:
            check_page(page)
        # "Good" cumulative layout shift is below 0.1 (web.dev/cls); a page that jumps while it loads fails.
        self.shifts[name] = shift = layout_shift(page)
        assert shift < 0.1, f"{page.url} shifted its layout by {shift:.3f} while loading"
        self.n += 1
        page.screenshot(path=str(self.folder / f"journey-{self.n:02d}-{name}.png"), full_page=True)


def _fits_phone(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} is {width}px wide on a 390px phone"


def _tab_to(page: Any, selector: str, limit: int = 40) -> None:
    """Press Tab until the element matching ``selector`` has the focus (keyboard only)."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector} on {page.url}")


def _wait_for_url(page: Any, pattern: Any) -> None:
    """Wait for a navigation after a form the page's script submits; on timeout, say what the page said."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_url(pattern, timeout=TIMEOUT)
    except PlaywrightTimeout:
        said = page.eval_on_selector_all("[data-status], [data-error]", "(els) => els.map((e) => e.textContent)")
        raise AssertionError(f"{page.url} did not move on; the page says {said}") from None


def _staff_login(page: Any, url: str, username: str, shots: Shots, tag: str) -> None:
    """Password, then TOTP set up through the page with the key it shows (as an authenticator app would)."""
    login(page, url, username, STAFF_PASSWORD)
    _wait_for_url(page, "**/totp/setup**")
    shots(page, f"{tag}-totp-setup")
    set_up_totp(page, TIMEOUT)


def _register_parent(page: Any, url: str, username: str, shots: Shots) -> None:
    page.goto(f"{url}/")
    shots(page, "en-home")
    page.click("main a[href*='register']" if page.locator("main a[href*='register']").count() else "text=Register")
    page.wait_for_selector("form[data-ready=true]")
    page.fill("#username", username)
    page.check("input[name=role][value=parent]")
    page.fill("#password", PARENT_PASSWORD)
    page.fill("#password2", "not the same password")
    page.click("form[data-flow] button[type=submit]")
    error = page.wait_for_selector("[data-error]:not([hidden])")
    assert "Type the same password twice" in error.inner_text()
    assert page.input_value("#username") == username  # what was typed is kept
    shots(page, "en-register-error")
    page.fill("#password2", PARENT_PASSWORD)
    page.click("form[data-flow] button[type=submit]")
    page.wait_for_selector("#recovery:not([hidden])", timeout=TIMEOUT)
    assert len(page.inner_text("[data-recovery-key]").split("-")) == 13
    shots(page, "en-recovery-key")
    page.check("[data-recovery-saved]")
    page.click("[data-recovery-continue]")
    _wait_for_url(page, "**/account")


def _set_email(page: Any, url: str, address: str, shots: Shots, tag: str) -> None:
    page.goto(f"{url}/notifications/settings")
    page.fill("#email", address)
    page.click("#save")
    page.wait_for_selector(f"text={address}")
    shots(page, f"{tag}-email")


def _fill_person(page: Any, prefix: str, values: dict[str, str]) -> None:
    for field, value in values.items():
        target = f"#{prefix}-{field}"
        if page.evaluate("(s) => document.querySelector(s).tagName", target) == "SELECT":
            page.select_option(target, value)
        else:
            page.fill(target, value)


def _parent_files_case(page: Any, url: str, birth: tuple[str, str, str], shots: Shots) -> str:
    page.goto(f"{url}/claims")
    page.click("main a[href$='/claims/new']")
    page.wait_for_url("**/claims/new")
    _fill_person(page, "claimant", {"family_latin": "Smith", "given_latin": "John", "sex": "M", "nationality": "US"})
    _fill_person(
        page,
        "other_parent",
        {
            "family_written": "田中",
            "given_written": "愛子",
            "family_latin": "Tanaka",
            "given_latin": "Aiko",
            "sex": "F",
            "nationality": "JP",
        },
    )
    year, month, day = birth
    _fill_person(
        page,
        "children-0",
        {
            "family_latin": "Smith",
            "given_latin": "Emma Yuki",
            "sex": "F",
            "birth_date-year": year,
            "birth_date-month": month,
            "birth_date-day": day,
            "birth_place-city": "Seattle",
            "birth_place-country": "US",
        },
    )
    page.click("#add_child")
    page.wait_for_selector("#children-1-given_latin")
    assert page.input_value("#children-0-given_latin") == "Emma Yuki"  # kept across the round trip
    _fill_person(
        page,
        "children-1",
        {"family_latin": "Smith", "given_latin": "Ken", "sex": "M", "birth_date-year": "2015"},
    )
    _fill_person(page, "separated_on", {"year": "2016", "month": "7"})
    _fill_person(page, "last_known_place", {"city": "Osaka", "country": "JP"})
    page.check("input[name=languages][value=en]")
    shots(page, "en-claim-form")
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/claims/cl-[^/]+$"))
    text = page.inner_text("main")
    assert "Emma Yuki" in text
    assert "Ken" in text
    shots(page, "en-claim-saved")
    return page.url


def _child_registers_with_keyboard(page: Any, url: str, username: str, birth_year: str, shots: Shots) -> None:
    """Registration on a phone with Tab, Enter, Space and typing only."""
    page.goto(f"{url}/register?role=child")
    page.wait_for_selector("form[data-ready=true]")
    assert page.get_attribute("html", "lang") == "ja"
    shots(page, "ja-phone-register")
    _tab_to(page, "#username")
    page.keyboard.type(username)
    _tab_to(page, "input[name=role][value=child]")
    assert page.is_checked("input[name=role][value=child]")
    _tab_to(page, "#birth_year")
    page.keyboard.type(birth_year)
    _tab_to(page, "#password")
    page.keyboard.type(CHILD_PASSWORD)
    _tab_to(page, "#password2")
    page.keyboard.type(CHILD_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("#recovery:not([hidden])", timeout=TIMEOUT)
    _fits_phone(page)
    shots(page, "ja-phone-recovery-key")
    _tab_to(page, "[data-recovery-saved]")
    page.keyboard.press("Space")
    _tab_to(page, "[data-recovery-continue]")
    page.keyboard.press("Enter")
    _wait_for_url(page, "**/account")


def _child_files_claim(page: Any, url: str, birth: tuple[str, str, str], shots: Shots) -> None:
    page.goto(f"{url}/claims/new")
    year, month, day = birth
    _fill_person(
        page,
        "claimant",
        {
            "family_written": "田中",
            "given_written": "ゆき",
            "sex": "F",
            "birth_date-year": year,
            "birth_date-month": month,
            "birth_date-day": day,
            "birth_place-country": "US",
        },
    )
    # The father only as his child remembers him: a first name, in katakana.
    _fill_person(page, "sought_parent", {"given_kana": "ジョン", "sex": "M", "nationality": "US"})
    _fill_person(page, "other_parent", {"family_written": "田中", "given_written": "愛子"})
    _fill_person(page, "separated_on", {"year": "16"})
    page.check("input[name=languages][value=ja]")
    _fits_phone(page)
    shots(page, "ja-phone-claim-form")
    # A mistake: the error is in Japanese, next to the field, and everything typed is still there.
    page.click("#submit")
    page.wait_for_selector("#separated_on-year[aria-invalid=true]")
    assert "4桁" in page.inner_text("#separated_on-year-error")
    assert page.input_value("#sought_parent-given_kana") == "ジョン"
    assert page.input_value("#claimant-birth_date-year") == year
    assert page.is_checked("input[name=languages][value=ja]")
    _fits_phone(page)
    shots(page, "ja-phone-claim-error")
    page.click(".error-links a[href='#separated_on-year']")  # the summary at the top leads to the field
    page.fill("#separated_on-year", "2016")
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/claims/cl-[^/]+$"))
    assert "ジョン" in page.inner_text("main")
    _fits_phone(page)
    shots(page, "ja-phone-claim-saved")


def _find_proposal(page: Any, url: str, child_birth: str) -> str:
    """Wait (reloading the queue page) for the worker's proposal whose review shows this child's birth date."""
    deadline = time.monotonic() + 90
    seen: set[str] = set()
    while time.monotonic() < deadline:
        page.goto(f"{url}/moderator/queue")
        for href in page.eval_on_selector_all("ul.queue a", "(as) => as.map((a) => a.getAttribute('href'))"):
            if href in seen:
                continue
            seen.add(href)
            page.goto(url + href)
            if page.locator("table.compare", has_text=child_birth).count():
                return str(href)
        time.sleep(1)
    raise AssertionError("the worker proposed no link for the journey's child claim")


def _approve(page: Any, url: str, href: str, shots: Shots, tag: str, *, phone: bool = False) -> None:
    page.goto(url + href)
    assert page.locator(".badge.minor").count() >= 1
    assert page.locator("ul.bars li").count() >= 3  # the explanation, field by field
    if phone:
        _fits_phone(page)
    shots(page, f"{tag}-review")
    page.locator("form", has=page.locator("#approve-reason")).locator("button[type=submit]").click()
    page.wait_for_load_state()
    shots(page, f"{tag}-approved")


def _mail_link(smtp: SmtpServer, address: str, path: str, seen: int = 0) -> str:
    """The link in the newest mail to ``address`` that points at ``path`` (waits for the worker)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        mails = [m for m in smtp.inbox.messages() if address in str(m["To"])]
        links = [link for m in mails for link in re.findall(r"https?://\S+", body_of(m)) if path in link]
        if len(links) > seen:
            return links[-1]
        time.sleep(0.3)
    raise AssertionError(f"no mail with a link to {path} reached {address}")


def _accept(page: Any, link: str, name: str, message: str, shots: Shots, tag: str) -> None:
    page.goto(link)
    page.wait_for_selector("#shared_name")
    shots(page, f"{tag}-match")
    page.fill("#shared_name", name)
    page.fill("#shared_message", message)
    page.click("#accept")
    page.wait_for_selector("main .notice")
    shots(page, f"{tag}-accepted")


def _msg(page: Any, text: str) -> Any:
    return page.locator("li.msg", has_text=text)


def _release(page: Any, url: str, text: str, shots: Shots, tag: str) -> None:
    page.goto(f"{url}/moderator/held")
    unlock(page, STAFF_PASSWORD)
    page.wait_for_selector("#moderate[data-ready=true]", timeout=TIMEOUT)
    item = page.locator("li.held-item", has_text=text)
    item.wait_for(timeout=TIMEOUT)
    assert item.get_attribute("data-verified") == "true"
    shots(page, f"{tag}-held")
    item.locator("button[value=release]").click()
    page.wait_for_selector("li.held-item[data-done=release]", timeout=TIMEOUT)


def test_the_whole_journey(journey: Journey, org_identity: Any, new_page: Any, shots_dir: Path) -> None:
    url = journey.server.url
    smtp = journey.smtp
    shots = Shots(shots_dir)
    tag = secrets.token_hex(3)
    # A birth date no other test's claims use, so the proposal found is this journey's.
    birth = ("2013", str(1 + secrets.randbelow(12)), str(1 + secrets.randbelow(28)))
    birth_text = f"{birth[0]}-{int(birth[1]):02d}-{int(birth[2]):02d}"
    parent_mail = f"parent-{tag}@example.org"
    child_mail = f"child-{tag}@example.org"
    mod_a, mod_b = _make_staff(journey.server, org_identity, tag)

    # 1. The parent registers in English and files a case with two children.
    parent, _ = new_page("en-GB")
    parent.set_default_timeout(TIMEOUT)
    _register_parent(parent, url, f"john-{tag}", shots)
    _set_email(parent, url, parent_mail, shots, "en-parent")
    _parent_files_case(parent, url, birth, shots)

    # 2. The child registers in Japanese on a phone (keyboard only) and files a claim.
    child, _ = new_page("ja-JP", phone=True)
    child.set_default_timeout(TIMEOUT)
    _child_registers_with_keyboard(child, url, f"ゆき{tag}", birth[0], shots)
    _fits_phone(child)
    shots(child, "ja-phone-account")
    _set_email(child, url, child_mail, shots, "ja-phone-child")
    _child_files_claim(child, url, birth, shots)

    # 3. The worker proposes the link; two moderators (TOTP) review the evidence and approve.
    mod, _ = new_page("en-GB")
    mod.set_default_timeout(TIMEOUT)
    _staff_login(mod, url, mod_a, shots, "en-mod")
    href = _find_proposal(mod, url, birth_text)
    assert "reunite.claims.match_claim" in journey.worker_log.read_text()
    mod.goto(f"{url}/moderator/queue")
    shots(mod, "en-mod-queue")
    _approve(mod, url, href, shots, "en-mod")
    assert "two moderators" in mod.inner_text("main")
    mod2, _ = new_page("ja-JP", phone=True)
    mod2.set_default_timeout(TIMEOUT)
    _staff_login(mod2, url, mod_b, shots, "ja-phone-mod2")
    _approve(mod2, url, href, shots, "ja-phone-mod2", phone=True)
    proposal_id = href.rsplit("/", 1)[-1]

    # 4. Both read the mail, open the link and accept.
    link = _mail_link(smtp, parent_mail, f"/matches/{proposal_id}")
    assert link.startswith(url)
    for msg in smtp.inbox.messages():
        assert f"john-{tag}" not in body_of(msg)
        assert "ゆき" not in body_of(msg)
    _accept(parent, link, "John", "I never stopped looking for you.", shots, "en-parent")
    link = _mail_link(smtp, child_mail, f"/matches/{proposal_id}")
    _accept(child, link, "ゆき", "お父さん、会いたいです。", shots, "ja-phone-child")
    assert "I never stopped looking for you." in child.inner_text("main")
    _fits_phone(child)
    child.click("main a[href*='/conversations/']")
    cid = child.url.rsplit("/", 1)[-1]

    # 5. They talk. The child's first message is held, then released by the moderator.
    unlock(child, CHILD_PASSWORD)
    child.wait_for_selector("#conversation[data-ready=true]", timeout=TIMEOUT)
    first = "お父さん、こんにちは。ゆきです。ずっと会いたかったです。"
    child.fill("#message-text", first)
    child.click("#compose button[type=submit]")
    child.wait_for_selector("li.msg.mine[data-state=held]", timeout=TIMEOUT)
    _fits_phone(child)
    shots(child, "ja-phone-child-held")
    _release(mod, url, first, shots, "en-mod")

    # The parent answers with the keyboard only (unlock, type, send).
    parent.goto(f"{url}/conversations/{cid}")
    parent.wait_for_selector("[data-unlock][data-ready=true]")
    _tab_to(parent, "#unlock-password")
    parent.keyboard.type(PARENT_PASSWORD)
    parent.keyboard.press("Enter")
    parent.wait_for_selector("#conversation[data-ready=true]", timeout=TIMEOUT)
    _msg(parent, first).wait_for(timeout=TIMEOUT)
    assert "Verified" in _msg(parent, first).inner_text()
    reply = "Yuki! I am so happy to hear from you. Tell me about school?"
    _tab_to(parent, "#message-text")
    parent.keyboard.type(reply)
    _tab_to(parent, "#compose button[type=submit]")
    parent.keyboard.press("Enter")
    parent.wait_for_selector("li.msg.mine[data-state=held]", timeout=TIMEOUT)
    shots(parent, "en-parent-conversation")
    _release(mod, url, reply, shots, "en-mod-reply")
    _msg(child, reply).wait_for(timeout=TIMEOUT)
    assert _msg(child, reply).get_attribute("data-state") == "delivered"
    _fits_phone(child)
    shots(child, "ja-phone-child-conversation")

    # 6. The parent reports the child's message; the moderator sees it verified.
    _msg(parent, first).locator("button.report").click()
    parent.wait_for_selector("#report-dialog[open]")
    shots(parent, "en-parent-report-dialog")
    parent.fill("#report-note", "Checking the report button.")
    parent.click("[data-report-confirm]")
    parent.wait_for_selector("li.msg[data-reported=true]", timeout=TIMEOUT)
    mod.goto(f"{url}/moderator/reports")
    unlock(mod, STAFF_PASSWORD)
    mod.wait_for_selector("#moderate[data-ready=true]", timeout=TIMEOUT)
    report = mod.locator("section.report-item", has_text=first)
    report.wait_for(timeout=TIMEOUT)
    assert report.get_attribute("data-verified") == "true"
    shots(mod, "en-mod-report")

    # 7. The parent downloads the conversation; the offline verifier accepts the file.
    with parent.expect_download() as info:
        parent.click("[data-export]")
    bundle = shots_dir / f"journey-export-{tag}.json"
    info.value.save_as(bundle)
    parent.wait_for_selector("[data-export-status]:not([hidden])")
    checked = subprocess.run(
        [sys.executable, "-m", "reunite.client", "verify-export", str(bundle), f"--org-pk={p.b64e(org_identity.pk)}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert re.search(r"\b2 plaintexts\b", checked.stdout), checked.stdout

    # 8. The child withdraws; the conversation closes for both.
    child.goto(f"{url}/matches/{proposal_id}")
    assert not child.is_visible("form[action$='/withdraw'] button[type=submit]")  # not one tap away
    child.click("details.withdraw summary")
    shots(child, "ja-phone-child-withdraw")
    child.click("form[action$='/withdraw'] button[type=submit]")
    child.wait_for_url(f"**/matches/{proposal_id}")
    assert "会話は終了しています" in child.inner_text("main")
    _fits_phone(child)
    shots(child, "ja-phone-child-withdrawn")
    for page, password in ((child, CHILD_PASSWORD), (parent, PARENT_PASSWORD)):
        open_conversation(page, url, cid, password, TIMEOUT)
        assert page.is_visible("[data-server-state=closed]")
        assert page.get_attribute("#compose", "data-blocked") == "true"
    shots(parent, "en-parent-closed")
    shots(child, "ja-phone-child-closed")

    # 9. Every role's pages once more in the other language, switched with the page's own picker.
    people_pages = ["/claims", f"/matches/{proposal_id}", "/notifications", "/account", f"/conversations/{cid}"]
    staff_pages = ["/moderator/queue", href, "/moderator/held", "/moderator/reports", "/notifications"]
    for page, lang, who, paths in (
        (parent, "ja", "ja-parent", people_pages),
        (child, "en", "en-phone-child", people_pages),
        (mod, "ja", "ja-mod", staff_pages),
    ):
        page.goto(f"{url}{paths[0]}")
        page.click(f"header .lang button[lang={lang}]")
        page.wait_for_function("(lang) => document.documentElement.lang === lang", arg=lang)
        for path in paths:
            page.goto(f"{url}{path}")
            assert page.get_attribute("html", "lang") == lang, path
            if page is child:
                _fits_phone(child)
            shots(page, f"{who}-{path.strip('/').replace('/', '-')[:40]}")
    worst = max(shots.shifts, key=shots.shifts.__getitem__)
    print(f"\njourney: {shots.n} pages checked with axe-core; largest layout shift {shots.shifts[worst]:.3f} ({worst})")
