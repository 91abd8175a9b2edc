"""Browser tests: Playwright driving Debian's chromium against pytest-django's live server.

Playwright never downloads a browser here: it launches /usr/bin/chromium (installed by
`.ci/run` through apt). Without it the tests are skipped with a loud reason, except in CI
(the `CI` environment variable set), where that is a failure.

Fixtures for any browser test (staff workspace and portal alike):
- `browser`: one chromium for the whole session;
- `page_for(username, password="demo", javascript=True)`: a new browser context, signed
  in through the login form, so each user has their own cookies;
- `shot(page, name)`: a full-page PNG in $SCREENSHOT_DIR (default test-artifacts/screenshots).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an event loop in this thread; Django refuses database access
# from a thread with a running loop unless told it is safe (it is: the loop is idle).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 900}
PASSWORD = "demo"


def screenshot_dir() -> Path:
    path = Path(os.environ.get("SCREENSHOT_DIR", "test-artifacts/screenshots"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def shot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save what the page shows as <SCREENSHOT_DIR>/<name>.png."""
    path = screenshot_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = (
            f"BROWSER TESTS NOT RUN: {CHROMIUM} is missing. Install Debian's chromium "
            "(apt-get install chromium), as .ci/run does; Playwright must not download one."
        )
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(name="shot")
def shot_fixture() -> Callable[..., Path]:
    return shot


@pytest.fixture
def page_for(browser: Any, live_server: Any) -> Iterator[Callable[..., Any]]:
    """`page_for("qa")`: a page signed in as that user in a browser context of its own."""
    contexts: list[Any] = []

    def open_page(username: str, password: str = PASSWORD, *, javascript: bool = True) -> Any:
        context = browser.new_context(
            viewport=VIEWPORT, base_url=live_server.url, java_script_enabled=javascript
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        return page

    yield open_page
    for context in contexts:
        context.close()
