"""Debian's chromium, headless, driven by Playwright (which cannot download browsers here): launching it,
and screenshots kept as test artifacts in tests/demo/artifacts/ (git-ignored)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).parent / "artifacts"


def launch_browser() -> Iterator[Any]:
    """The browser for a module's tests; skipped without chromium, except in CI where that is a failure."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: scripts/system-deps.sh installs it")
        pytest.skip("chromium is missing (apt-get install -y chromium, or scripts/system-deps.sh)")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")


def open_page(browser: Any, url: str, *, timeout_ms: int = 15_000) -> Iterator[Any]:
    """A fresh page on the demo, once its script says it is ready; no script error may happen on it."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1500, "height": 900})
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    yield page
    context.close()
    assert errors == [], errors
