"""The pub/sub page in a real browser: two Chromium tabs, one publishes, the other sees it.

The server runs as the README runs it (a subprocess of examples/pubsub/server.py); headless
Chromium (Debian's package, never Playwright's download) is driven by Playwright's sync API.
A screenshot of both tabs is saved in test-artifacts/.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-proxy-server",
]

pytestmark = pytest.mark.network


@pytest.fixture
def pubsub_url():
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "examples/pubsub/server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"listening on (http://\S+)", line)
        assert match, (line, process.stderr.read() if process.poll() is not None else "")
        yield match.group(1)
    finally:
        process.kill()
        process.wait(timeout=10)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def two_tabs_publish(tabs: list[Any], url: str, message: str) -> list[Any]:
    """Open the page in each tab, subscribe each to "news", publish ``message`` from the
    first; wait until every tab shows it. Returns the tabs (publisher, subscriber)."""
    for tab in tabs:
        tab.goto(url + "/")
        tab.wait_for_function(
            "document.getElementById('status').textContent.includes('connected')"
            " && !document.getElementById('status').textContent.includes('dis')",
            timeout=10_000,
        )
        tab.fill("#topic", "news")
        tab.click("#subscribe")
        tab.wait_for_function(
            "document.getElementById('subscriptions').textContent.includes('news')",
            timeout=10_000,
        )
    tabs[0].fill("#message", message)
    tabs[0].click("#publish")
    for tab in tabs:  # the publisher is subscribed too
        tab.wait_for_function(
            "[...document.querySelectorAll('#log li')]"
            f".some(li => li.textContent.includes({message!r}))",
            timeout=10_000,
        )
    return tabs


def test_two_tabs_publish_and_receive(pubsub_url: str, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 900, "height": 700})
            tabs = [context.new_page(), context.new_page()]
            publisher, subscriber = two_tabs_publish(tabs, pubsub_url, "hello from tab one")
            items = subscriber.locator("#log li").all_text_contents()
            assert any("hello from tab one" in item for item in items)
            ARTIFACTS.mkdir(exist_ok=True)
            publisher.screenshot(path=str(ARTIFACTS / "pubsub-tab-publisher.png"))
            subscriber.screenshot(path=str(ARTIFACTS / "pubsub-tab-subscriber.png"))
        finally:
            browser.close()
