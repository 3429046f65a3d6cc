"""Browser tests: Debian's Chromium, driven by Playwright, against pytest-django's live_server.

A missing Chromium fails these tests with a message saying how to install it; they never skip.
"""

import os

# Playwright's sync API keeps an asyncio event loop in this thread (for the rest of the run: the
# browser is session-wide), and Django's ORM then refuses to run unless told it is safe. It is
# here: the tests and the live server each use their own connection, and nothing is async.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

import pytest  # noqa: E402
from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from tools.chromium import CHROMIUM, MISSING, describe, is_known, launch_args  # noqa: E402

PHONE = {"width": 375, "height": 812}  # most members sign in on a phone


@pytest.fixture(scope="session")
def browser() -> Browser:
    if not CHROMIUM.exists():
        pytest.fail(MISSING, pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_args())
        yield browser
        browser.close()


@pytest.fixture
def console_errors() -> list[str]:
    """Console errors and uncaught exceptions of the test's page (CSP violations are errors).

    Errors listed in tools/chromium.py's KNOWN_CONSOLE_ERRORS are left out.
    """
    return []


@pytest.fixture
def page(browser, live_server, console_errors) -> Page:
    """A Japanese phone on the live server: relative URLs such as page.goto("/login/") work."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        locale="ja-JP",
        timezone_id="Asia/Tokyo",
    )
    context.set_default_timeout(10_000)
    page = context.new_page()

    def on_console(message):
        line = describe(message)
        if line and not is_known(line):
            console_errors.append(f"{page.url}: {line}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: console_errors.append(f"{page.url}: uncaught {error}"))
    yield page
    context.close()
