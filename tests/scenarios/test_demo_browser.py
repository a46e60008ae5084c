"""`drumbeat demo` in a real browser: headless Chromium (Debian's) driven by Playwright opens
the sandbox page, fast-forwards to the scoreboard, sends `/metric calls`, clicks a scoreboard
button, submits a MAPLE modal, and checks what appears. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.demo import Demo, DemoOptions

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Demo, str]]:
    options = DemoOptions(
        reps=6,
        seed=3,
        port=0,
        months=1,
        database_url=f"sqlite:///{tmp_path / 'demo.db'}",
        config_path=tmp_path / "drumbeat-demo.toml",
    )
    running = Demo(options)
    running.seed()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    url = asyncio.run_coroutine_threadsafe(running.start(), loop).result(timeout=60)
    try:
        yield running, url
    finally:
        asyncio.run_coroutine_threadsafe(running.stop(), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def _person(demo: Demo, role: str) -> str:
    people = demo.webui.people
    return next(p["id"] for p in people if p["role"] == role)


def test_demo_page_in_a_browser(demo: tuple[Demo, str]) -> None:
    running, url = demo
    ARTIFACTS.mkdir(exist_ok=True)
    rep, manager = _person(running, "rep"), _person(running, "manager")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}?user={rep}")
        page.wait_for_selector("text=Messages with Drumbeat")
        page.click("button[data-jump=scoreboard]")
        page.wait_for_selector(".msg >> text=Your scoreboard", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "demo-scoreboard.png"))

        page.fill("#command", "/metric calls this week vs last period")
        page.press("#command", "Enter")
        answer = page.wait_for_selector(".ephemeral >> text=Calls ·", timeout=15_000)
        assert answer is not None
        assert "Only visible to you" in page.inner_text(".ephemeral")

        page.click(".msg button.bk >> text=Details")
        page.wait_for_selector("#modal:not(.hidden) >> text=Scoreboard details", timeout=15_000)
        page.screenshot(path=str(ARTIFACTS / "demo-details.png"))
        page.click("#modalclose")

        page.goto(f"{url}?user={manager}")
        page.wait_for_selector("text=Messages with Drumbeat")
        page.click("button[data-jump=maple]")
        page.wait_for_selector(".msg >> text=Weekly MAPLE", timeout=30_000)
        page.click(".msg button.bk >> text=Open MAPLE")
        page.wait_for_selector("#modal:not(.hidden) >> text=Weekly MAPLE", timeout=15_000)
        page.click("#modalsubmit")  # empty required fields: errors inline, modal stays
        page.wait_for_selector(".input .error", timeout=15_000)
        page.fill("textarea[data-block=advanced]", "Closed two renewals; new SDR started")
        page.fill("textarea[data-block=planned]", "- Hire an AE\n- Pipeline review")
        page.screenshot(path=str(ARTIFACTS / "demo-maple-modal.png"))
        page.click("#modalsubmit")
        page.wait_for_selector("#modal.hidden", state="attached", timeout=15_000)
        page.wait_for_selector(".msg >> text=Your MAPLE update for", timeout=15_000)
        page.screenshot(path=str(ARTIFACTS / "demo-maple-done.png"))
        browser.close()
