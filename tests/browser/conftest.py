"""Browser harness: the session app on a real HTTP server, driven by Debian's headless Chromium.

Playwright's own browser download is never used (and pytest-playwright, which wants it, is not
either): the tests launch ``/usr/bin/chromium`` through ``playwright.sync_api``. A missing
Chromium fails the tests with the command that installs it; it never skips them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
#: Screenshots are for people to look at, so they go outside the repository.
SHOTS_DIR = Path(os.environ.get("TCMA_SHOTS_DIR", "/tmp/tcma-shots"))


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    """The session app on 127.0.0.1:<free port>, in a daemon thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    """One Chromium per run; every test gets its own context (cookies, storage) from it."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: install it with: apt-get install -y chromium", pytrace=False
        )
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def new_page(browser, live_server):
    """Open a fresh browser (own cookies) at a viewport size: ``new_page(PHONE)``."""
    contexts = []

    def open_page(viewport: dict[str, int] = DESKTOP):
        context = browser.new_context(base_url=live_server, viewport=viewport)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    """A desktop-sized page in a fresh browser context, relative URLs go to the live server."""
    return new_page(DESKTOP)


@pytest.fixture(scope="session")
def shots_dir() -> Path:
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    return SHOTS_DIR
