"""The portal's layout in a real browser, on a desktop (1280 px) and a phone (390 px):
every status badge shows all its words (none is cut off by its cell, its table or the
screen), a disabled customer's message is said once, in the banner, and a revoked code is
never offered in full."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from licensing import services
from licensing.actors import Actor
from licensing.models import AuditEvent, Entitlement, PortalSettings
from tests.browser.conftest import PASSWORD, TIMEOUT_MS
from tests.factories import ActivationCodeFactory, DeviceFactory, EntitlementFactory, LicenseFactory, ProductFactory

pytestmark = pytest.mark.browser

VENDOR = "Northwind Software"
CONTACT_MESSAGE = "Email billing@northwind.example to settle the invoice and restore access."
STAFF = Actor.system("test")
WIDTHS = [1280, 390]
LONG_HOSTNAME = "render-workstation-in-the-basement-0042"
LONG_HARDWARE_ID = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


@pytest.fixture(autouse=True)
def _fresh(fresh_server_state) -> None:
    pass


@pytest.fixture
def vendor(transactional_db) -> PortalSettings:
    settings = PortalSettings.current()
    settings.vendor_name = VENDOR
    settings.contact_message = CONTACT_MESSAGE
    settings.save()
    return settings


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}px")
def screen(request, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": request.param, "height": 900}, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture
def studio(vendor, contact) -> Entitlement:
    """Photon Studio with every kind of row a badge sits in: an active code with two
    computers (one named by a long host name, one by its hardware id alone), a revoked
    code whose computer is revoked with it, and a suspended license."""
    entitlement = EntitlementFactory(
        customer=contact.customer, product=ProductFactory(name="Photon Studio", code="photon"), seats=10
    )
    active = ActivationCodeFactory(entitlement=entitlement)
    LicenseFactory(activation_code=active, device=DeviceFactory(hostname=LONG_HOSTNAME))
    LicenseFactory(activation_code=active, device=DeviceFactory(hostname="", hardware_id=LONG_HARDWARE_ID))
    suspended = LicenseFactory(activation_code=active, device=DeviceFactory(hostname="design-pc-3"))
    services.license_suspend(license=suspended, actor=STAFF, reason="Under review")
    revoked = ActivationCodeFactory(entitlement=entitlement)
    LicenseFactory(activation_code=revoked, device=DeviceFactory(hostname="old-laptop"))
    services.activation_code_revoke(activation_code=revoked, actor=STAFF, reason="Leaked on a forum")
    # A second entitlement, disabled on its own: its badge and reason differ from the first's.
    cloud = EntitlementFactory(customer=contact.customer, product=ProductFactory(name="Photon Cloud"), seats=3)
    services.entitlement_disable(entitlement=cloud, actor=STAFF, reason="Chargeback on order 77")
    return entitlement


def sign_in(page: Page, base_url: str, contact) -> None:
    page.goto(f"{base_url}/portal/sign-in/")
    page.get_by_label("Email", exact=True).fill(contact.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=f"Entitlements of {contact.customer.name}")).to_be_visible()


# For each visible badge: its text, whether its text overflows its own box, and whether
# its box reaches past the screen or past the scrolling table around it.
CLIPPED_BADGES = """() => {
  const clipped = [];
  for (const badge of document.querySelectorAll(".badge")) {
    if (!badge.offsetParent) continue;  // not shown
    const box = badge.getBoundingClientRect();
    const wrap = badge.closest(".table-wrap");
    const bounds = wrap ? wrap.getBoundingClientRect() : {left: 0, right: window.innerWidth};
    const problems = [];
    if (badge.scrollWidth > badge.clientWidth) problems.push(`text ${badge.scrollWidth} > box ${badge.clientWidth}`);
    if (box.left < 0 || box.right > window.innerWidth) problems.push(`box ${box.left}..${box.right} off screen`);
    if (box.left < bounds.left - 0.5 || box.right > bounds.right + 0.5) problems.push("cut off by its table");
    if (problems.length) clipped.push(`${badge.textContent}: ${problems.join(", ")}`);
  }
  return clipped;
}"""


def badges_checked(page: Page) -> int:
    count = page.locator(".badge").count()
    assert count > 0
    assert page.evaluate(CLIPPED_BADGES) == []
    page_width, window_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert page_width <= window_width
    return count


def test_no_badge_is_cut_off_on_the_dashboard_or_an_entitlement_page(
    screen: Page, live_server, contact, studio, artifacts_dir: Path
) -> None:
    sign_in(screen, live_server.url, contact)
    badges_checked(screen)

    screen.goto(f"{live_server.url}/portal/entitlements/{studio.pk}/")
    expect(screen.get_by_role("heading", name="Devices holding a seat")).to_be_visible()
    devices = screen.locator("section", has=screen.get_by_role("heading", name="Devices holding a seat"))
    # The longest badges of the page are shown in full, on a phone too.
    expect(devices.locator(".badge", has_text="Revoked: activation code revoked")).to_be_visible()
    expect(devices.locator(".badge", has_text="Suspended")).to_be_visible()
    assert badges_checked(screen) >= 6  # the entitlement's, two codes', four computers'
    width = screen.viewport_size["width"]
    screen.screenshot(path=artifacts_dir / f"portal-entitlement-badges-{width}.png", full_page=True)

    # Long computer names are capped, the whole name in the tooltip.
    long_name = devices.locator(".computer", has_text=LONG_HOSTNAME[:24])
    expect(long_name).to_have_attribute("title", LONG_HOSTNAME)
    assert len(long_name.inner_text()) <= 25
    hardware_id = devices.locator(".computer", has_text=LONG_HARDWARE_ID[:12])
    expect(hardware_id).to_have_attribute("title", LONG_HARDWARE_ID)
    expect(hardware_id).to_have_text(f"{LONG_HARDWARE_ID[:12]}\u2026")


def test_a_disabled_customers_message_is_said_once_and_badges_point_to_it(
    screen: Page, live_server, contact, studio, artifacts_dir: Path
) -> None:
    services.customer_disable(customer=contact.customer, actor=STAFF, reason="Account on hold: invoices overdue")
    sign_in(screen, live_server.url, contact)

    for url in ("/portal/", f"/portal/entitlements/{studio.pk}/"):
        screen.goto(f"{live_server.url}{url}")
        banner = screen.locator("section.banner")
        expect(banner).to_be_visible()
        text = screen.locator("main").inner_text()
        assert text.count("has disabled") == 1, text
        assert text.count(CONTACT_MESSAGE) == 1, text
        assert text.count("Account on hold: invoices overdue") == 1, text
        assert "customer disabled" not in text
        # Every row the customer's switch disabled shows the status and a pointer, no more.
        pointers = screen.locator("a.badge-pointer")
        assert pointers.count() >= 2
        for pointer in pointers.all():
            expect(pointer).to_have_text("see the notice at the top")
            expect(pointer).to_have_attribute("href", "#banner-title")
        expect(screen.locator(".why")).to_have_count(0)
        badges_checked(screen)

    # The pointer leads to the banner.
    screen.locator("a.badge-pointer").first.click()
    expect(banner.get_by_role("heading")).to_be_in_viewport()
    width = screen.viewport_size["width"]
    screen.screenshot(path=artifacts_dir / f"portal-entitlement-customer-disabled-{width}.png", full_page=True)


def test_a_revoked_code_is_never_offered_in_full(screen: Page, live_server, contact, studio) -> None:
    active, revoked = studio.activation_codes.order_by("created_at", "pk")
    sign_in(screen, live_server.url, contact)
    screen.goto(f"{live_server.url}/portal/entitlements/{studio.pk}/")

    revoked_row = screen.locator(f'tr[data-code="{revoked.pk}"]')
    expect(revoked_row.locator(".badge")).to_have_text("Revoked")
    expect(revoked_row.locator("[data-code-masked]")).to_have_text(revoked.masked_code)
    expect(revoked_row.get_by_role("button")).to_have_count(0)
    assert revoked.code not in screen.content()

    active_row = screen.locator(f'tr[data-code="{active.pk}"]')
    expect(active_row.get_by_role("button", name=f"Reveal code ending {active.code[-4:]}")).to_be_visible()
    expect(active_row.get_by_role("button", name=f"Copy code ending {active.code[-4:]}")).to_be_visible()


def test_recent_events_are_worded_for_people_and_leave_refusals_out(screen: Page, live_server, contact, studio) -> None:
    license = studio.licenses.get(device__hostname=LONG_HOSTNAME)
    services.license_deactivate(license=license, actor=STAFF)
    # What a client retrying with a wrong hardware id leaves in the audit trail.
    AuditEvent.objects.create(
        actor_type=AuditEvent.ActorType.CLIENT,
        action="license.deactivation_refused",
        target_type="licensing.license",
        target_id=license.pk,
        target_repr=str(license),
        reason="device_not_found",
    )
    sign_in(screen, live_server.url, contact)
    screen.goto(f"{live_server.url}/portal/entitlements/{studio.pk}/")

    history = screen.locator("ol.history")
    expect(history.locator("li", has_text=f"Deactivated on {LONG_HOSTNAME[:24]}")).to_have_count(1)
    expect(history).not_to_contain_text("refused")
    expect(history).not_to_contain_text("not found")
    expect(history.locator("li", has_text="License on design-pc-3 suspended")).to_contain_text("Under review")
    expect(history.locator(".computer", has_text=LONG_HOSTNAME[:24]).first).to_have_attribute("title", LONG_HOSTNAME)
    page_width, window_width = screen.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert page_width <= window_width
