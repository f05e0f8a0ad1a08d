"""Debian's Chromium, headless, driven by Playwright: for the browser tests and the live
latency benchmark (Playwright never downloads a browser of its own here)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium reaches for Google's hosts at every start,
# which this machine's closed network refuses.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 800}


@contextmanager
def chromium_page(url: str) -> Iterator:
    """A page at `url`; page.errors collects the page's uncaught errors."""
    from playwright.sync_api import sync_playwright  # a dev dependency: tests and benches only

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.errors = []
            page.on("pageerror", lambda error: page.errors.append(str(error)))
            page.goto(url)
            yield page
        finally:
            browser.close()
