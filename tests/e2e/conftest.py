"""Browser tests: Playwright driving Debian's Chromium against Django's live server.

A missing browser is a failure, never a skip: CI installs the `chromium` package (.ci/run).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page

CHROMIUM = "/usr/bin/chromium"
# Browser tests save their screenshots here, where git does not look (var/ is ignored), so a test
# run never rewrites a tracked file; `make screenshots` copies them into docs/screenshots/ (the
# README's pictures) when they are meant to change.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

# What Chromium writes to the console when a policy refuses something (an inline script or style,
# an eval, a form target, a camera request), besides the securitypolicyviolation event.
POLICY_MESSAGE = re.compile(
    r"Content.Security.Policy|Permissions.policy|Refused to|violates the following", re.I
)
# Runs in every document before the page's own scripts (Playwright injects it past the CSP).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("securitypolicyviolation: " + e.effectiveDirective + " refused "
    + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber
    + " (" + document.location.pathname + ")");
}, true);
"""

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# there (fixtures, assertions) are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


def screenshot_path(name: str) -> Path:
    """Where the screenshot `name` goes (var/screenshots/<name>.png), its folder made."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


def save_screenshots(page: Page, name: str) -> None:
    """Save the page at phone and desk size as <name>-<width>x<height>.png."""
    for width, height in ((390, 844), (1280, 800)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(150)
        page.screenshot(path=str(screenshot_path(f"{name}-{width}x{height}")), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})


@pytest.fixture
def shoot(page):
    """shoot(name): save the page at phone and desk size under var/screenshots/."""

    def _shoot(name: str) -> None:
        save_screenshots(page, name)

    return _shoot


@pytest.fixture(autouse=True)
def no_policy_violations(monkeypatch):
    """Every browser context a test opens reports CSP and Permissions-Policy violations, and a
    test that caused one fails: a page that works only because the browser was lenient is
    broken for the people whose browser is not."""
    seen: list[str] = []
    original = Browser.new_context

    def new_context(self: Browser, *args, **kwargs) -> BrowserContext:
        context = original(self, *args, **kwargs)
        context.add_init_script(REPORT_VIOLATIONS)

        def on_console(message: ConsoleMessage) -> None:
            if POLICY_MESSAGE.search(message.text) or "securitypolicyviolation" in message.text:
                seen.append(f"{message.type}: {message.text} [{message.location.get('url')}]")

        context.on("console", on_console)
        context.on("weberror", lambda error: seen.append(f"uncaught: {error.error}"))
        return context

    monkeypatch.setattr(Browser, "new_context", new_context)
    yield seen
    assert seen == [], "the browser reported:\n" + "\n".join(seen)
