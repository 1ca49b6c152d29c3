"""Browser journeys: the system Chromium driven by Playwright against pytest-django's live server.

One browser per session, one context (a fresh profile, locale zh-CN) per page. Every page records
the URLs it requests and the errors its console prints, so a journey can prove that nothing is
fetched from a CDN and that no script failed. A failing test leaves a screenshot in
`<GRIDGOV_VAR_DIR>/test/e2e-failures/`; `GRIDGOV_E2E_SHOTS=<dir>` also saves named screenshots for review.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)


@dataclass
class Journey:
    """A page plus what it saw: requested URLs and console errors."""

    page: Page
    base_url: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base_url + path

    def goto(self, path: str):
        return self.page.goto(self.url(path))

    def login(self, username: str, password: str = PASSWORD, *, expect_success: bool = True) -> None:
        """Sign in through the login form (going there first unless the page is already on it)."""
        if "/accounts/login/" not in self.page.url:
            self.goto("/accounts/login/")
        form = self.page.get_by_test_id("login-form")
        form.locator("input[name=username]").fill(username)
        form.locator("input[name=password]").fill(password)
        form.locator("button[type=submit]").click()
        if expect_success:
            expect(self.page.get_by_test_id("user-menu")).to_be_visible()

    def open_user_menu(self) -> None:
        self.page.get_by_test_id("user-menu").click()
        expect(self.page.get_by_test_id("logout")).to_be_visible()

    def assert_only_local_requests(self) -> None:
        """Intranet-ready: every request went to the live server (no CDN, no tiles, no fonts)."""
        assert self.requests, "the page made no request at all"
        foreign = [u for u in self.requests if not u.startswith(self.base_url + "/")]
        assert not foreign, f"requests left the server: {foreign}"

    def assert_no_console_errors(self) -> None:
        assert not self.console_errors, f"console errors: {self.console_errors}"

    def shot(self, name: str) -> None:
        """Save a named screenshot when GRIDGOV_E2E_SHOTS names a folder (for looking at the UI)."""
        folder = os.environ.get("GRIDGOV_E2E_SHOTS")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"e2e_report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def new_journey(request, browser: Browser, transactional_db, live_server, settings) -> Iterator[Callable[..., Journey]]:
    """Open a fresh browser context on the live server; pass Playwright context options (e.g. viewport)."""
    journeys: list[Journey] = []

    def make(**options) -> Journey:
        context = browser.new_context(locale="zh-CN", **options)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        journey = Journey(page=page, base_url=live_server.url)
        page.on("request", lambda r: journey.requests.append(r.url))
        page.on("console", lambda m: m.type == "error" and journey.console_errors.append(f"{m.text} @ {m.location}"))
        page.on("pageerror", lambda exc: journey.console_errors.append(f"uncaught: {exc}"))
        journeys.append(journey)
        return journey

    yield make

    report = getattr(request.node, "e2e_report_call", None)
    failed_dir = Path(settings.VAR_DIR) / "test" / "e2e-failures"
    for index, journey in enumerate(journeys):
        if report is not None and report.failed:
            failed_dir.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
            try:
                journey.page.screenshot(path=str(failed_dir / f"{name}-{index}.png"), full_page=True)
            except Exception as exc:  # a crashed page must not hide the test's own failure
                print(f"e2e: no failure screenshot: {exc}")
        journey.page.context.close()


@pytest.fixture
def journey(new_journey) -> Journey:
    return new_journey()
