"""A live server on a seeded database, and headless Chromium driven by Playwright.

Browser tests are marked ``browser``. Without Chromium or axe-core they are skipped on a
developer's machine and fail in CI or with ``REQUIRE_BROWSER=1`` (tests/requirements.py).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from requirements import require
from werkzeug.serving import WSGIRequestHandler, make_server

from directory import create_app
from directory.config import ROOT
from directory.extensions import db

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"


class QuietRequestHandler(WSGIRequestHandler):
    """No access log: the test output stays readable."""

    def log_request(self, *args, **kwargs) -> None:
        pass


@dataclass
class LiveServer:
    url: str
    app: Flask

    def __call__(self, path: str) -> str:
        return self.url + path


@pytest.fixture(scope="session")
def live_server(databases, tmp_path_factory) -> Iterator[LiveServer]:
    """The application on its own seeded database, served by werkzeug in a thread."""
    instance = tmp_path_factory.mktemp("live-instance")
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": databases.seeded(),
            "SEARCH_INDEX_DIR": str(instance / "search-index"),
            "SECRET_KEY": "test-secret-key-not-for-production",
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session."""
    require(
        "browser", CHROMIUM.exists(), f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require("browser", False, "the playwright package is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


def _new_page(browser, **options):
    context = browser.new_context(
        locale="fr-FR", viewport={"width": 1280, "height": 900}, **options
    )
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    return context, tab


@pytest.fixture
def page(browser):
    """A fresh French-speaking tab, with the site's Content-Security-Policy enforced."""
    context, tab = _new_page(browser)
    yield tab
    context.close()


@pytest.fixture
def audit_page(browser, axe_source):
    """A tab for accessibility audits: CSP is bypassed only so that axe-core can be injected."""
    context, tab = _new_page(browser, bypass_csp=True)
    yield tab
    context.close()


@pytest.fixture(scope="session")
def axe_source() -> Path:
    """axe-core from npm (``npm install`` at the repository root)."""
    require("browser", AXE_JS.exists(), f"axe-core not found at {AXE_JS} (run npm install)")
    return AXE_JS
