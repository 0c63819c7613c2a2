"""Metered usage in a real browser: staff read each meter's use on the entitlement's page,
and a customer contact reads it in the portal, on a desktop and on a phone: a bar of what
was counted against the limit, the words beside it, nothing cut off."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from licensing import services
from licensing.actors import Actor
from licensing.models import CustomerContact, Entitlement, EntitlementFeature, ProductFeature
from tests.browser.test_admin_customer_switch import log_in
from tests.browser.test_portal import page_and_window_widths, sign_in
from tests.factories import EntitlementFactory, ProductFactory

pytestmark = pytest.mark.browser
STAFF = Actor.system("staff")


@pytest.fixture(autouse=True)
def _fresh(fresh_server_state) -> None:
    pass


@pytest.fixture
def metered(contact) -> Entitlement:
    """Photon Cloud: 1,000 API calls a month (640 used), and 50 renders (all used)."""
    entitlement = EntitlementFactory(
        customer=contact.customer,
        product=ProductFactory(name="Photon Cloud", code="cloud"),
        max_consumptions=1000,
        reset_period="monthly",
    )
    renders = services.product_feature_create(
        product_feature=ProductFeature(
            product=entitlement.product, code="renders", name="Cloud renders", feature_type="consumption"
        ),
        actor=STAFF,
    )
    services.entitlement_feature_grant(
        entitlement_feature=EntitlementFeature(entitlement=entitlement, feature=renders, max_consumptions=50),
        actor=STAFF,
    )
    services.consumption_correct(entitlement=entitlement, amount=640, reason="Imported", actor=STAFF)
    services.consumption_correct(entitlement=entitlement, amount=50, feature=renders, reason="Imported", actor=STAFF)
    return entitlement


def test_staff_see_each_meters_use_as_a_bar_on_the_entitlement_page(
    page: Page, live_server, superuser: User, metered: Entitlement, artifacts_dir: Path
) -> None:
    log_in(page, live_server.url, superuser)
    page.goto(f"{live_server.url}/admin/licensing/entitlement/{metered.pk}/change/")

    usage = page.locator(".form-row.field-usage")
    expect(usage.locator("label")).to_have_text("Usage:")
    rows = usage.locator(".usage .usage-row")
    expect(rows).to_have_count(2)
    calls = rows.filter(has_text="Entitlement")
    expect(calls.locator("meter")).to_have_attribute("value", "640")
    expect(calls.locator("meter")).to_have_attribute("max", "1000")
    expect(calls.locator(".usage-words")).to_contain_text("640 of 1,000 this period")
    renders = rows.filter(has_text="renders")
    expect(renders.locator(".usage-words")).to_contain_text("50 of 50 this period")
    assert calls.locator("meter").bounding_box()["width"] > 100  # a bar one can read, not a sliver
    grants = page.locator(".inline-group", has_text="Features granted")
    expect(grants).to_contain_text("renders")
    page.screenshot(path=artifacts_dir / "admin-usage.png", full_page=True)


@pytest.mark.parametrize("device", ["page", "phone"])
def test_a_contact_sees_the_usage_with_bars_and_the_days_it_was_counted(
    request, device: str, live_server, metered: Entitlement, contact: CustomerContact, artifacts_dir: Path
) -> None:
    browser_page: Page = request.getfixturevalue(device)
    sign_in(browser_page, live_server.url, contact)
    browser_page.goto(f"{live_server.url}/portal/entitlements/{metered.pk}/")

    usage = browser_page.get_by_role("region", name="Usage")
    expect(usage).to_be_visible()
    rows = usage.locator(".usage-row")
    expect(rows).to_have_count(2)
    renders = rows.filter(has_text="Cloud renders")
    expect(renders.locator("meter")).to_have_attribute("value", "50")
    expect(renders.locator(".usage-words")).to_contain_text("50 of 50 this period")
    expect(rows.filter(has_text="Entitlement").locator(".usage-words")).to_contain_text("640 of 1,000")
    expect(usage.locator("tbody tr")).to_have_count(2)  # today, once per meter
    for row in range(2):
        words = rows.nth(row).locator(".usage-words")
        box, bar = words.bounding_box(), rows.nth(row).locator("meter").bounding_box()
        assert box["x"] + box["width"] <= browser_page.viewport_size["width"]  # nothing cut off
        assert bar["width"] > 60
    scroll_width, window_width = page_and_window_widths(browser_page)
    assert scroll_width <= window_width
    browser_page.screenshot(path=artifacts_dir / f"portal-usage-{device}.png", full_page=True)
