"""A customer contact uses the end-user portal in a real browser.

What is checked is what a person sees: the sign-in form, the entitlement cards and their
badges, the reasons and the vendor's contact message when access is cut, the banner of a
disabled customer, freeing a seat, and offline activation with a request file; the
database is checked as well, so a page that merely looks right cannot pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import Locator, Page, expect

from licensing import services
from licensing.actors import Actor
from licensing.models import AuditEvent, CustomerContact, Device, Entitlement, License, OfflineRequest, PortalSettings
from tests.browser.conftest import PASSWORD, TIMEOUT_MS
from tests.factories import (
    ActivationCodeFactory,
    DeviceFactory,
    EntitlementFactory,
    LicenseFactory,
    ProductFactory,
)
from tests.licensing.api.conftest import ClientApp, read_license_file

pytestmark = pytest.mark.browser

VENDOR = "Northwind Software"
CONTACT_MESSAGE = "Email billing@northwind.example to settle the invoice and restore access."
ACTIVE = "Active"
# A badge whose reason is the row's own switch, or the customer's (the banner says that),
# shows the status alone.
DISABLED = "Disabled"


@pytest.fixture(autouse=True)
def _fresh(fresh_server_state) -> None:
    pass


@pytest.fixture
def vendor(transactional_db) -> PortalSettings:
    settings = PortalSettings.current()
    settings.vendor_name = VENDOR
    settings.contact_message = CONTACT_MESSAGE
    settings.support_email = "support@northwind.example"
    settings.save()
    return settings


@pytest.fixture
def studio(contact) -> Entitlement:
    """Photon Studio, 5 seats, two of them held by computers activated with one code."""
    entitlement = EntitlementFactory(
        customer=contact.customer, product=ProductFactory(name="Photon Studio", code="photon"), seats=5
    )
    code = ActivationCodeFactory(entitlement=entitlement)
    LicenseFactory(activation_code=code, device=DeviceFactory(hostname="design-pc-1"))
    LicenseFactory(activation_code=code, device=DeviceFactory(hostname="design-pc-2"))
    return entitlement


def sign_in(page: Page, base_url: str, contact: CustomerContact) -> None:
    """Sign in through the form, as a person would, starting from the portal's home."""
    page.goto(f"{base_url}/portal/")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    page.get_by_label("Email", exact=True).fill(contact.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=f"Entitlements of {contact.customer.name}")).to_be_visible()
    expect(page).to_have_url(f"{base_url}/portal/")


def card(page: Page, product_name: str) -> Locator:
    """The dashboard card whose heading names the product."""
    return page.locator("li.card").filter(has=page.locator("h2", has_text=product_name))


def test_contact_signs_in_and_sees_active_entitlement_with_seats_in_use(
    page: Page, live_server, vendor, contact, studio, artifacts_dir: Path
) -> None:
    sign_in(page, live_server.url, contact)

    studio_card = card(page, "Photon Studio")
    expect(studio_card).to_have_count(1)
    expect(studio_card.get_by_role("heading", level=2)).to_have_text("Photon Studio")
    expect(studio_card.get_by_role("link", name="Photon Studio")).to_have_attribute(
        "href", f"/portal/entitlements/{studio.pk}/"
    )
    expect(studio_card.locator("span.badge")).to_have_text(ACTIVE)
    expect(studio_card.locator(".seats")).to_have_text("2 of 5 in use")
    # Nothing is wrong, so nothing is explained and no one needs to be contacted.
    expect(studio_card.locator(".why-sentence")).to_have_count(0)
    expect(studio_card.locator(".contact")).to_have_count(0)
    expect(page.locator("section.banner")).to_have_count(0)
    expect(page.locator("footer")).to_contain_text(f"Signed in as {contact.email} (Acme Studio).")
    page.screenshot(path=artifacts_dir / "portal-dashboard-active.png", full_page=True)
    contact.refresh_from_db()
    assert contact.last_login is not None


def test_contact_sees_entitlement_disabled_with_reason_and_contact_message(
    page: Page, live_server, vendor, contact, studio
) -> None:
    sign_in(page, live_server.url, contact)
    expect(card(page, "Photon Studio").locator("span.badge")).to_have_text(ACTIVE)

    services.entitlement_disable(entitlement=studio, actor=Actor.system("test"), reason="Invoice INV-1042 is overdue")
    page.reload()

    studio_card = card(page, "Photon Studio")
    expect(studio_card.locator("span.badge")).to_have_text(DISABLED)
    expect(studio_card.locator(".why-sentence")).to_have_text(f"{VENDOR} has disabled this entitlement.")
    expect(studio_card.locator(".vendor-note")).to_have_text(f"Note from {VENDOR}: Invoice INV-1042 is overdue")
    expect(studio_card.locator(".contact")).to_have_text(f"What to do: {CONTACT_MESSAGE}")
    # Only the entitlement is disabled, not the customer: no banner.
    expect(page.locator("section.banner")).to_have_count(0)

    # The entitlement's own page says the same, and its history shows who did it and why.
    studio_card.get_by_role("link", name="Photon Studio").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Photon Studio")
    expect(page.locator(".page-head span.badge")).to_have_text(DISABLED)
    expect(page.locator(".vendor-note")).to_contain_text("Invoice INV-1042 is overdue")
    event = page.locator("ol.history li", has_text="Entitlement disabled")
    expect(event).to_contain_text(f"by {VENDOR}")
    expect(event).to_contain_text("Invoice INV-1042 is overdue")
    studio.refresh_from_db()
    assert studio.status == Entitlement.Status.DISABLED


def test_contact_sees_banner_while_customer_disabled_and_full_access_after_reenabling(
    page: Page, live_server, vendor, contact, studio, artifacts_dir: Path
) -> None:
    customer = contact.customer
    cloud = EntitlementFactory(customer=customer, product=ProductFactory(name="Photon Cloud"), seats=3)
    actor = Actor.system("test")
    services.entitlement_disable(entitlement=cloud, actor=actor, reason="Chargeback on order 77")
    sign_in(page, live_server.url, contact)
    expect(page.locator("li.card span.badge")).to_have_text([DISABLED, ACTIVE])

    services.customer_disable(customer=customer, actor=actor, reason="Account on hold: invoices overdue")
    page.reload()

    banner = page.locator("section.banner")
    expect(banner).to_be_visible()
    expect(banner.get_by_role("heading")).to_have_text("All access for Acme Studio is disabled")
    expect(banner.locator(".vendor-note")).to_contain_text("Account on hold: invoices overdue")
    expect(banner.locator(".contact")).to_have_text(f"What to do: {CONTACT_MESSAGE}")
    # The customer rule comes first, so it is the reason on every card, including the
    # one disabled on its own before: each says Disabled and points to the banner, which
    # alone says what happened and whom to contact.
    expect(page.locator("li.card span.badge")).to_have_text([DISABLED, DISABLED])
    expect(page.locator("li.card a.badge-pointer")).to_have_text(["see the notice at the top"] * 2)
    expect(page.locator("li.card .why")).to_have_count(0)
    expect(page.locator(".contact")).to_have_count(1)
    page.screenshot(path=artifacts_dir / "portal-dashboard-disabled.png", full_page=True)

    services.customer_enable(customer=customer, actor=actor)
    page.reload()

    expect(page.locator("section.banner")).to_have_count(0)
    expect(card(page, "Photon Studio").locator("span.badge")).to_have_text(ACTIVE)
    # Entitlements disabled on their own stay disabled when the customer is enabled again.
    expect(card(page, "Photon Cloud").locator("span.badge")).to_have_text(DISABLED)
    expect(card(page, "Photon Cloud").locator(".why-sentence")).to_have_text(f"{VENDOR} has disabled this entitlement.")
    expect(card(page, "Photon Cloud").locator(".vendor-note")).to_contain_text("Chargeback on order 77")

    services.entitlement_enable(entitlement=cloud, actor=actor)
    page.reload()

    expect(page.locator("section.banner")).to_have_count(0)
    expect(page.locator("li.card span.badge")).to_have_text([ACTIVE, ACTIVE])
    expect(page.locator("li.card .why")).to_have_count(0)
    customer.refresh_from_db()
    cloud.refresh_from_db()
    assert customer.status == customer.Status.ACTIVE
    assert cloud.status == Entitlement.Status.ACTIVE


def test_contact_frees_a_seat_by_deactivating_a_device(page: Page, live_server, vendor, contact, studio) -> None:
    freed = License.objects.get(entitlement=studio, device__hostname="design-pc-1")
    kept = License.objects.get(entitlement=studio, device__hostname="design-pc-2")
    sign_in(page, live_server.url, contact)
    card(page, "Photon Studio").get_by_role("link", name="Photon Studio").click()
    expect(page).to_have_url(f"{live_server.url}/portal/entitlements/{studio.pk}/")
    expect(page.locator(".seats")).to_have_text("2 of 5 in use")
    row = page.locator(f'tr[data-license="{freed.pk}"]')
    expect(row).to_contain_text("design-pc-1")
    expect(page.locator(f'tr[data-license="{kept.pk}"]')).to_be_visible()

    row.get_by_role("link", name="Deactivate").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Free the seat held by design-pc-1?")
    page.get_by_role("button", name="Deactivate and free the seat").click()

    expect(page).to_have_url(f"{live_server.url}/portal/entitlements/{studio.pk}/")
    expect(page.locator(".messages .message-success")).to_have_text(
        "design-pc-1 no longer holds a seat of Photon Studio."
    )
    expect(page.locator(".seats")).to_have_text("1 of 5 in use")
    expect(page.locator(f'tr[data-license="{freed.pk}"]')).to_have_count(0)
    expect(page.locator(f'tr[data-license="{kept.pk}"]')).to_be_visible()
    expect(page.locator("ol.history li", has_text="Deactivated on design-pc-1")).to_contain_text("by you")
    freed.refresh_from_db()
    kept.refresh_from_db()
    assert freed.status == License.Status.DEACTIVATED
    assert kept.status == License.Status.ACTIVE
    event = AuditEvent.objects.for_target(freed).get(action="license.deactivated")
    assert event.actor_type == AuditEvent.ActorType.PORTAL
    assert event.actor_id == str(contact.pk)

    # Back on the dashboard the card counts the freed seat too.
    page.get_by_role("link", name="Entitlements", exact=True).first.click()
    expect(card(page, "Photon Studio").locator(".seats")).to_have_text("1 of 5 in use")


@pytest.fixture
def app(transactional_db) -> ClientApp:
    """The vendor's desktop application, as far as it signs offline request files."""
    credential, shared_key = services.client_credential_create(name="Photon desktop", actor=Actor.system("test"))
    return ClientApp(http=Client(), api_key=credential.api_key, shared_key=shared_key)


def test_contact_activates_an_offline_computer_with_its_request_file(
    page: Page, live_server, vendor, contact, studio, app: ClientApp, tmp_path: Path
) -> None:
    code = studio.activation_codes.get()
    request_file = tmp_path / "request.txt"
    request_file.write_text(
        app.offline_request(
            "activation", product="photon", hardware_id="vault-hw-0001", license_key=code.code, hostname="vault-pc"
        )
    )
    sign_in(page, live_server.url, contact)
    page.get_by_role("link", name="Offline activation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Offline activation")

    page.get_by_label("Request file").set_input_files(request_file)
    with page.expect_download(timeout=TIMEOUT_MS) as download_info:
        page.get_by_role("button", name="Upload request").click()
    download = download_info.value

    assert download.suggested_filename == "photon-vault-pc.lic"
    payload = read_license_file(Path(download.path()).read_text())
    assert payload["hardware_id"] == "vault-hw-0001"
    license = License.objects.get(entitlement=studio, device__hardware_id="vault-hw-0001")
    assert license.status == License.Status.ACTIVE
    assert license.device.hostname == "vault-pc"
    assert license.activation_code == code
    activated = AuditEvent.objects.for_target(license).get(action="license.activated")
    assert activated.actor_type == AuditEvent.ActorType.PORTAL

    # The computer now holds a seat, and the contact sees it.
    page.goto(f"{live_server.url}/portal/entitlements/{studio.pk}/")
    expect(page.locator(".seats")).to_have_text("3 of 5 in use")
    expect(page.locator(f'tr[data-license="{license.pk}"]')).to_contain_text("vault-pc")


def test_junk_request_file_shows_a_clear_error_and_activates_nothing(
    page: Page, live_server, vendor, contact, studio, tmp_path: Path
) -> None:
    junk = tmp_path / "holiday-photo.txt"
    junk.write_text("Dear support, please activate my computer. Thanks!\n")
    licenses, devices = License.objects.count(), Device.objects.count()
    sign_in(page, live_server.url, contact)
    page.get_by_role("link", name="Offline activation").click()

    page.get_by_label("Request file").set_input_files(junk)
    page.get_by_role("button", name="Upload request").click()

    expect(page.locator(".field-error")).to_have_text(
        "This is not an offline request file: it should be one block of letters and digits (base64), "
        "as your application saved it."
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Offline activation")
    assert License.objects.count() == licenses
    assert Device.objects.count() == devices
    assert not OfflineRequest.objects.exists()
    assert not AuditEvent.objects.filter(action="license.activated").exists()


def page_and_window_widths(page: Page) -> list[int]:
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


def test_dashboard_fits_a_phone_screen_without_sideways_scrolling(
    phone: Page, live_server, vendor, contact, studio
) -> None:
    sign_in(phone, live_server.url, contact)

    studio_card = card(phone, "Photon Studio")
    expect(studio_card).to_be_visible()
    expect(studio_card.locator("span.badge")).to_have_text(ACTIVE)
    expect(studio_card.locator(".seats")).to_have_text("2 of 5 in use")
    nav = phone.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Offline activation")).to_be_visible()
    expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
    page_width, window_width = page_and_window_widths(phone)
    assert window_width == 390
    assert page_width <= window_width
    # Each device's Deactivate button is on screen, not in a column scrolled out of view.
    for button in phone.get_by_role("link", name="Deactivate").all():
        box = button.bounding_box()
        assert box is not None and box["x"] + box["width"] <= window_width


def test_entitlement_page_fits_a_phone_screen_without_sideways_scrolling(
    phone: Page, live_server, vendor, contact, studio
) -> None:
    sign_in(phone, live_server.url, contact)
    card(phone, "Photon Studio").get_by_role("link", name="Photon Studio").click()
    expect(phone.get_by_role("heading", name="Devices holding a seat")).to_be_visible()

    page_width, window_width = page_and_window_widths(phone)
    assert window_width == 390
    assert page_width <= window_width


def test_contact_reveals_and_copies_an_activation_code(page: Page, live_server, vendor, contact, studio) -> None:
    code = studio.activation_codes.get()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in(page, live_server.url, contact)
    card(page, "Photon Studio").get_by_role("link", name="Photon Studio").click()

    row = page.locator("tr", has=page.locator("[data-code-masked]"))
    expect(row.locator("[data-code-masked]")).to_have_text(code.masked_code)
    expect(row.get_by_text(code.code)).to_be_hidden()
    row.get_by_role("button", name=f"Reveal code ending {code.code[-4:]}").click()
    expect(row.get_by_text(code.code)).to_be_visible()
    expect(row.get_by_role("button", name=f"Hide code ending {code.code[-4:]}")).to_have_attribute(
        "aria-expanded", "true"
    )

    row.get_by_role("button", name=f"Copy code ending {code.code[-4:]}").click()
    expect(row.get_by_role("status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == code.code
