"""Real-browser fixtures: Debian's Chromium driven by Playwright's sync API.

The browser is the distribution's (/usr/bin/chromium), never one downloaded by
`playwright install`, so these tests use what the machine already has and need no
network.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

# Playwright's sync API runs an asyncio event loop in the test's thread. Django sees that
# running loop and refuses ORM calls from the test body (factories, `refresh_from_db`)
# with SynchronousOnlyOperation, although nothing here is actually concurrent: the loop
# only drives the browser, and the live server answers requests in its own thread.
# It is set for the whole process, not per test, because the loop keeps running from the
# moment the session-scoped browser starts until the session ends, so database setup and
# teardown, and any test collected after the browser tests, meet it too.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    # Containers and CI runners usually lack the user namespaces the sandbox needs.
    "--no-sandbox",
    # Keep the browser from calling home: no update checks, no sync, no field trials.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Screenshots for people to look at after a run; the directory is gitignored.
ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"

# Long enough for a cold first request to the live server, short enough that a missing
# element fails the test quickly.
TIMEOUT_MS = 10_000
# The portal password of the customer contact the browser tests sign in as.
PASSWORD = "portal password 123"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # One browser per session: starting Chromium costs about a second, a context (below)
    # costs milliseconds and isolates cookies and storage just as well.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh browser context: no cookies or session left over from another test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    return ARTIFACTS_DIR


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A page the size of a phone's screen (390 x 844 CSS pixels)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture
def fresh_server_state() -> Iterator[None]:
    """Failed sign-ins are counted in the cache (Redis), the signing key is cached per
    process while each test's database starts without one, and check-ins are buffered
    per process: none of it may leak from one test into the next."""
    from django.core.cache import cache

    from licensing.services.checkins import check_ins
    from licensing.signing import current_signer

    cache.clear()
    current_signer.cache_clear()
    yield
    current_signer.cache_clear()
    check_ins.discard()


@pytest.fixture
def contact(transactional_db):
    """Ada, a contact of Acme Studio, who signs in to the portal with PASSWORD."""
    from tests.factories import CustomerContactFactory

    return CustomerContactFactory(raw_password=PASSWORD, customer__name="Acme Studio", name="Ada Contact")
