"""The admin's home page in a real browser: staff see the tiles, a tile leads to the list
of the rows it counts, and at a desktop's and a phone's width every tile lies whole
within the window, none over another."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect

from licensing import limits, services
from licensing.actors import Actor
from licensing.models import Entitlement, FloatingSlot, WebhookDelivery, WebhookEvent
from licensing.services import trials
from tests.browser.test_admin_customer_switch import log_in
from tests.factories import (
    ActivationCodeFactory,
    CustomerFactory,
    EntitlementFactory,
    LicenseFactory,
    ProductFactory,
    WebhookEndpointFactory,
)

pytestmark = pytest.mark.browser

DAY = dt.timedelta(days=1)
TILE_TITLES = [
    "Disabled customers",
    "Failing webhook endpoints",
    "Expiring within 30 days",
    "In grace",
    "Node-locked seats in use",
    "Floating seats in use",
    "Trials started this week",
]

# Each tile's box in the page (not the window), and whether anything in it is cut off.
TILE_BOXES = """tiles => tiles.map(tile => {
    const box = tile.getBoundingClientRect();
    return {
        x: box.x + window.scrollX, y: box.y + window.scrollY, width: box.width, height: box.height,
        clipped: tile.scrollWidth > tile.clientWidth || tile.scrollHeight > tile.clientHeight,
    };
})"""


@pytest.fixture(autouse=True)
def _fresh(fresh_server_state) -> None:
    pass


@pytest.fixture
def vendor(transactional_db, monkeypatch) -> None:
    """A vendor with something on every tile: a disabled customer beside an enabled one,
    entitlements ending soon and in grace, seats in use, a failing endpoint, a trial."""
    monkeypatch.setattr(trials, "TRIALS_PER_ADDRESS", limits.Limit("dashboard-browser-test", attempts=100, window=60))
    actor, now = Actor.system("test"), timezone.now()
    globex = CustomerFactory(name="Globex")
    services.customer_disable(customer=globex, actor=actor, reason="Invoice 42 overdue")
    initech = CustomerFactory(name="Initech")
    EntitlementFactory(customer=initech, valid_from=now - 355 * DAY, valid_until=now + 10 * DAY)
    EntitlementFactory(customer=initech, valid_from=now - 365 * DAY, valid_until=now - 2 * DAY, grace_period=7 * DAY)
    code = ActivationCodeFactory(entitlement__customer=initech, entitlement__seats=10)
    for _ in range(3):
        LicenseFactory(activation_code=code)
    floating = ActivationCodeFactory(
        entitlement__customer=initech, entitlement__license_model=Entitlement.LicenseModel.FLOATING
    )
    for _ in range(2):
        license = LicenseFactory(activation_code=floating)
        FloatingSlot.objects.create(license=license, entitlement=license.entitlement, ends_at=now + DAY)
    endpoint = WebhookEndpointFactory(description="CRM sync")
    event = WebhookEvent.objects.create(type="customer.disabled", payload="{}")
    WebhookDelivery.objects.create(
        event=event, endpoint=endpoint, status=WebhookDelivery.Status.FAILED, tries=8, completed_at=now - DAY
    )
    product = ProductFactory(name="Photon", trial_allowed=True, trial_duration=14)
    services.trial_start(product=product, hardware_id="hw-eve", email="eve@example.com", actor=actor)


def overlaps(first: dict, second: dict) -> bool:
    return not (
        first["x"] + first["width"] <= second["x"]
        or second["x"] + second["width"] <= first["x"]
        or first["y"] + first["height"] <= second["y"]
        or second["y"] + second["height"] <= first["y"]
    )


def assert_tiles_whole_and_apart(page: Page) -> None:
    viewport = page.viewport_size
    tiles = page.locator("li.dash-tile")
    expect(tiles).to_have_count(len(TILE_TITLES))
    boxes = tiles.evaluate_all(TILE_BOXES)
    for title, box in zip(TILE_TITLES, boxes, strict=True):
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], (title, box, viewport)
        assert box["height"] <= viewport["height"], (title, box)  # fits the window when scrolled to
        assert not box["clipped"], (title, box)
    for i, first in enumerate(boxes):
        for second in boxes[i + 1 :]:
            assert not overlaps(first, second), (first, second)
    # Nothing sticks out sideways: the page does not scroll horizontally.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for tile in tiles.all():
        tile.scroll_into_view_if_needed()
        box = tile.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], box


def test_staff_see_the_tiles_and_a_tile_leads_to_the_rows_it_counts(
    page: Page, live_server, superuser: User, vendor, artifacts_dir: Path
) -> None:
    log_in(page, live_server.url, superuser)  # lands on the dashboard

    expect(page.locator(".dash-title")).to_have_text(TILE_TITLES)
    expect(page.locator('[data-tile="disabled-customers"] .dash-figure')).to_have_text("1")
    # 3 devices on the seats of the three node-locked entitlements that work (5 + 5 + 10) and the trial's (1).
    expect(page.locator('[data-tile="node-locked-seats"] .dash-figure')).to_have_text("3 of 21")
    expect(page.locator('[data-tile="disabled-customers"]')).to_have_class(re.compile(r"\bdash-problem\b"))
    expect(page.locator('[data-tile="in-grace"]')).to_have_class(re.compile(r"\bdash-attention\b"))
    expect(page.get_by_role("heading", name="Latest changes")).to_be_visible()
    expect(page.locator(".dash-event", has_text="customer.disabled")).to_contain_text("Globex")
    # Django's list of models is still there, below.
    expect(page.locator(".dash-apps").get_by_role("link", name="Customers", exact=True)).to_be_visible()
    assert_tiles_whole_and_apart(page)
    page.screenshot(path=artifacts_dir / "admin-dashboard.png", full_page=True)

    page.get_by_role("link", name=re.compile(r"^Disabled customers")).click()

    expect(page).to_have_url(re.compile(r"/admin/licensing/customer/\?disabled=yes$"))
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Globex")


def test_on_a_phone_the_tiles_stack_whole_and_apart(
    phone: Page, live_server, superuser: User, vendor, artifacts_dir: Path
) -> None:
    log_in(phone, live_server.url, superuser)

    expect(phone.locator(".dash-title")).to_have_text(TILE_TITLES)
    assert_tiles_whole_and_apart(phone)
    # One column: each tile below the one before.
    lefts = {round(box["x"]) for box in phone.locator("li.dash-tile").evaluate_all(TILE_BOXES)}
    assert len(lefts) == 1
    phone.screenshot(path=artifacts_dir / "admin-dashboard-phone.png", full_page=True)
