"""An entitlement that ends soon, in a real browser: a customer contact signs in and reads,
on the dashboard card, when it expires and the vendor's renewal message, on a desktop
and on a phone, with nothing of the notice cut off or pushed off the screen."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from licensing.models import CustomerContact, Entitlement, PortalSettings
from tests.browser.test_portal import card, page_and_window_widths, sign_in
from tests.factories import EntitlementFactory, ProductFactory

pytestmark = pytest.mark.browser

# Long enough to wrap on a phone, with an address longer than a phone's line is wide.
RENEWAL = (
    "Renew before it ends at https://northwind.example/account/renewals/photon-studio-annual, or email "
    "billing@northwind.example and quote your customer number."
)


@pytest.fixture(autouse=True)
def _fresh(fresh_server_state) -> None:
    pass


@pytest.fixture
def vendor(transactional_db) -> PortalSettings:
    settings = PortalSettings.current()
    settings.vendor_name = "Northwind Software"
    settings.renewal_message = RENEWAL
    settings.save()
    return settings


@pytest.fixture
def ending_soon(contact: CustomerContact) -> Entitlement:
    """Photon Studio, a trial ending in 12 days and a half: "Expires in 13 days" (days are
    rounded up) for as long as the test could possibly run."""
    now = timezone.now()
    return EntitlementFactory(
        customer=contact.customer,
        product=ProductFactory(name="Photon Studio", code="photon"),
        valid_from=now - dt.timedelta(days=1),
        valid_until=now + dt.timedelta(days=12, hours=12),
        is_trial=True,
    )


@pytest.mark.parametrize("device", ["page", "phone"])
def test_a_contact_sees_when_an_entitlement_expires_and_how_to_renew_with_nothing_cut_off(
    request, device: str, live_server, vendor, contact: CustomerContact, ending_soon: Entitlement, artifacts_dir: Path
) -> None:
    browser_page: Page = request.getfixturevalue(device)
    sign_in(browser_page, live_server.url, contact)

    studio = card(browser_page, "Photon Studio")
    expect(studio.locator(".badge-active")).to_have_text("Active")
    expect(studio.locator(".badge-trial")).to_have_text("Trial")
    notice = studio.locator("[data-renewal-notice]")
    expect(notice).to_be_visible()
    expect(notice.locator(".renewal-headline")).to_have_text("Expires in 13 days")
    expect(notice.locator(".renewal-message")).to_contain_text("Renew before it ends at")
    expect(notice.locator(".renewal-message")).to_contain_text("quote your customer number.")
    link = notice.get_by_role("link", name="https://northwind.example/account", exact=False)
    expect(link).to_have_attribute("href", "https://northwind.example/account/renewals/photon-studio-annual")

    width = browser_page.viewport_size["width"]
    card_box = studio.bounding_box()
    for part in [notice, *notice.locator("p, a, time").all(), studio.locator(".badges")]:
        box = part.bounding_box()
        assert box is not None and box["width"] > 0
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, part  # on the screen
        assert box["x"] >= card_box["x"] and box["x"] + box["width"] <= card_box["x"] + card_box["width"]  # in the card
    # Nothing inside the notice is wider than the notice itself (a long word or address
    # would overflow it, and be cut off or run over the card's edge).
    scroll_width, client_width = notice.evaluate("element => [element.scrollWidth, element.clientWidth]")
    assert scroll_width <= client_width
    scroll_width, window_width = page_and_window_widths(browser_page)
    assert scroll_width <= window_width
    browser_page.screenshot(path=artifacts_dir / f"portal-expiry-{device}.png", full_page=True)

    # The entitlement's own page says the same.
    studio.get_by_role("link", name="Photon Studio").click()
    expect(browser_page.get_by_role("heading", name="Photon Studio", level=1)).to_be_visible()
    page_notice = browser_page.locator("[data-renewal-notice]")
    expect(page_notice.locator(".renewal-headline")).to_have_text("Expires in 13 days")
    expect(page_notice.locator(".renewal-message")).to_contain_text("quote your customer number.")
    box = page_notice.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
