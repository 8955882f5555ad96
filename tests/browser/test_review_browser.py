"""The review page in a real browser: Playwright driving Debian's Chromium, headless.

The setup installs `chromium` with apt when it is missing (CI runs as root); screenshots
land in tests/artifacts/browser/ (git-ignored), or $MODBOT_TEST_ARTIFACTS.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import MakeService, unavailable, wait_decided, wait_for

from bot.demo.forum import DemoForum
from bot.review.testing import FAST_HASHER, PASSWORD, XSS, add_moderator, review_settings
from bot.review.web import ReviewServer, start_review_server

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(
    os.environ.get("MODBOT_TEST_ARTIFACTS", Path(__file__).parent.parent / "artifacts")
)


def ensure_chromium() -> None:
    """apt-get install chromium when it is missing (as root), else skip (fail under CI)."""
    if CHROMIUM.exists():
        return
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        unavailable("browser tests", "no /usr/bin/chromium and no root apt-get to install it")
    install = [apt, "install", "-y", "--no-install-recommends", "chromium"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(install, env=env, capture_output=True, timeout=600).returncode != 0:
        subprocess.run([apt, "update"], env=env, capture_output=True, timeout=600)
        subprocess.run(install, env=env, capture_output=True, timeout=600)
    if not CHROMIUM.exists():
        unavailable("browser tests", "apt-get could not install chromium")


@pytest.fixture(scope="module", name="chromium_ready")
def _chromium_ready() -> None:
    ensure_chromium()
    try:
        import playwright  # noqa: F401
    except ImportError:
        unavailable("browser tests", "playwright is not installed (pip install -e '.[test]')")
    shots = ARTIFACTS / "browser"
    shots.mkdir(parents=True, exist_ok=True)
    ignore = ARTIFACTS / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# test artifacts: never committed\n*\n", encoding="utf-8")


@pytest.fixture(name="page")
async def _page(chromium_ready: None) -> AsyncIterator[Any]:
    """A fresh headless Chromium page; every dialog and console message is recorded."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            page.dialogs = []  # type: ignore[attr-defined]
            page.console = []  # type: ignore[attr-defined]

            async def on_dialog(dialog: Any) -> None:
                page.dialogs.append(dialog.message)  # type: ignore[attr-defined]
                await dialog.dismiss()

            page.on("dialog", on_dialog)
            page.on("console", lambda m: page.console.append(m.text))  # type: ignore[attr-defined]
            yield page
        finally:
            await browser.close()


@pytest.fixture(name="site")
async def _site(
    forum: DemoForum, make_service: MakeService
) -> AsyncIterator[tuple[Any, ReviewServer]]:
    """A running service against the demo forum, with the review page on its own port."""
    service = await make_service(forum)
    add_moderator(service.store.sync, "alice")
    settings = service.settings.model_copy(update={"review": review_settings()})
    server = await start_review_server(settings, service.platforms, hasher=FAST_HASHER)
    assert server is not None
    try:
        yield service, server
    finally:
        await server.close()


async def shot(page: Any, name: str) -> None:
    await page.screenshot(path=str(ARTIFACTS / "browser" / f"{name}.png"), full_page=True)


async def log_in(page: Any, url: str) -> None:
    await page.goto(f"{url}/queue")
    assert "/login" in page.url  # no session: sent to the login page
    await page.fill("input[name=name]", "alice")
    await page.fill("input[name=password]", PASSWORD)
    await shot(page, "01-login")
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{url}/queue")


async def test_moderator_logs_in_restores_and_confirms_with_the_keyboard(
    page: Any, site: tuple[Any, ReviewServer], forum: DemoForum
) -> None:
    """Log in; see the span highlighted; restore one (the forum gets the call); confirm
    another with j and c; the stats page has its charts."""
    service, server = site
    hidden = await forum.add_comment("go home wetback", deliver_webhook=False)
    flagged = await forum.add_comment("Shut up, you idiot.", deliver_webhook=False)
    await wait_decided(service, hidden["id"], "hide")
    await wait_decided(service, flagged["id"], "flag")
    await log_in(page, server.url)
    await page.wait_for_selector("article.entry")
    mark = page.locator("article.entry:has-text('wetback') mark.hit")
    assert await mark.inner_text() == "wetback"
    await shot(page, "02-queue")

    entry = page.locator("article.entry:has-text('wetback')")
    await entry.locator("button.btn-restore").click()
    await page.wait_for_load_state()
    await wait_for(lambda: forum.comment(hidden["id"]).state == "visible", timeout_s=10)
    assert [c.action for c in forum.calls_for(hidden["id"])] == ["hide", "restore"]
    assert "restore: done" in await page.locator(".flash").inner_text()
    await shot(page, "03-restored")

    # the restored one left the pending queue: the insult is first; j/k move, c confirms
    first = page.locator("article.entry").first
    assert "idiot" in await first.inner_text()
    await page.keyboard.press("j")
    await page.keyboard.press("k")
    assert "current" in (await first.get_attribute("class") or "")
    await page.keyboard.press("c")
    await page.wait_for_selector(".flash")
    assert "confirm: done" in await page.locator(".flash").inner_text()
    rows = service.store.sync.query(
        "SELECT comment_id, verdict, moderator FROM verdicts ORDER BY id"
    )
    assert [tuple(r) for r in rows] == [
        (str(hidden["id"]), "restore", "alice"),
        (str(flagged["id"]), "confirm", "alice"),
    ]
    await shot(page, "04-confirmed")

    await page.click("header.top nav >> text=Stats")
    await page.wait_for_url(f"{server.url}/stats")
    for chart in ("chart-per-day", "chart-rule-hits", "chart-rule-precision"):
        assert await page.locator(f"svg.{chart}").count() == 1, chart
    await shot(page, "05-stats")
    assert page.dialogs == []  # type: ignore[attr-defined]


async def test_hostile_comment_renders_as_text_and_runs_nothing(
    page: Any, site: tuple[Any, ReviewServer], forum: DemoForum
) -> None:
    """`<script>…<img onerror=…>` shows as text: no dialog, no injected element."""
    service, server = site
    hostile = await forum.add_comment(
        XSS + " you idiot", author="<img src=x onerror=alert(2)>", deliver_webhook=False
    )
    await wait_decided(service, hostile["id"], "flag")
    await log_in(page, server.url)
    entry = page.locator("article.entry").first
    text = await entry.locator("blockquote.text").inner_text()
    assert text.startswith(XSS)
    assert await page.locator("main img").count() == 0
    assert await page.locator("main script").count() == 0
    await page.wait_for_timeout(300)  # give an onerror handler time to fire, if any existed
    assert page.dialogs == []  # type: ignore[attr-defined]
    await page.goto(f"{server.url}/entry/1")
    await page.wait_for_timeout(200)
    assert page.dialogs == []  # type: ignore[attr-defined]
    await shot(page, "06-hostile-text")


async def test_forged_post_is_refused_and_strangers_go_to_login(
    page: Any, site: tuple[Any, ReviewServer], forum: DemoForum
) -> None:
    """A POST with a wrong CSRF token answers 403; a fresh browser is sent to /login."""
    service, server = site
    comment = await forum.add_comment("Shut up, you idiot.", deliver_webhook=False)
    decision_id = (await wait_decided(service, comment["id"], "flag"))["id"]
    await log_in(page, server.url)
    status = await page.evaluate(
        """async ([url]) => {
            const body = new URLSearchParams({action: "restore", csrf_token: "forged"});
            const r = await fetch(url, {method: "POST", body});
            return r.status;
        }""",
        [f"{server.url}/entry/{decision_id}/verdict"],
    )
    assert status == 403
    assert service.store.sync.query("SELECT COUNT(*) FROM verdicts")[0][0] == 0
    await page.context.clear_cookies()
    for path in ("/queue", "/stats", "/audit"):
        await page.goto(f"{server.url}{path}")
        assert page.url.startswith(f"{server.url}/login?next=")
    await shot(page, "07-login-redirect")
