"""Staff disable and re-enable a customer from its admin page, in a real browser.

What is checked is what a person sees: the button, the confirmation, the message, the
effective-status badges of the customer's entitlements and the audit history; the
database is checked as well, so a page that merely looks right cannot pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Locator, Page, expect

from licensing import services
from licensing.actors import Actor
from licensing.models import Customer, Entitlement
from tests.factories import CustomerFactory, EntitlementFactory, ProductFactory

pytestmark = pytest.mark.browser

CUSTOMER_DISABLED = "Disabled: customer disabled"
ENTITLEMENT_DISABLED = "Disabled: entitlement disabled"
ACTIVE = "Active"


def log_in(page: Page, base_url: str, user: User) -> None:
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "staff-password")
    page.get_by_role("button", name="Log in").click()
    # The admin index greets a signed-in user; the login page never shows "Log out".
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def flip_switch(page: Page, label: str, reason: str = "") -> None:
    """Click an object-tool switch, optionally give a reason, and confirm."""
    page.locator("a.switch-button", has_text=label).click()
    expect(page.get_by_role("heading", name=f"{label}?")).to_be_visible()
    if reason:
        page.fill("textarea[name=reason]", reason)
    page.locator(f'input[type=submit][value="{label}"]').click()


def entitlement_badge(page: Page, entitlement: Entitlement) -> Locator:
    """The effective-status badge in the "Entitlements" inline row of this entitlement."""
    row = page.locator("#entitlements-group tbody tr.form-row", has_text=entitlement.product.name)
    return row.locator("span.status-badge")


def test_staff_disables_and_reenables_customer_in_one_click(
    page: Page, live_server, superuser: User, artifacts_dir: Path
) -> None:
    customer = CustomerFactory(name="Acme")
    desktop = EntitlementFactory(customer=customer, product=ProductFactory(name="Acme Desktop"))
    cloud = EntitlementFactory(customer=customer, product=ProductFactory(name="Acme Cloud"))
    charged_back = EntitlementFactory(customer=customer, product=ProductFactory(name="Acme Mobile"))
    services.entitlement_disable(entitlement=charged_back, actor=Actor.system("test"), reason="chargeback")
    change_url = f"{live_server.url}/admin/licensing/customer/{customer.pk}/change/"

    log_in(page, live_server.url, superuser)
    page.goto(change_url)
    expect(page.locator("a.switch-button")).to_have_text(["Disable customer"])
    expect(page.locator("#entitlements-group span.status-badge")).to_have_count(3)
    expect(entitlement_badge(page, desktop)).to_have_text(ACTIVE)
    expect(entitlement_badge(page, charged_back)).to_have_text(ENTITLEMENT_DISABLED)

    flip_switch(page, "Disable customer", reason="Invoice 42 overdue")

    expect(page).to_have_url(change_url)
    expect(page.locator("ul.messagelist li.success")).to_have_text("Customer “Acme” disabled.")
    expect(page.locator("a.switch-button")).to_have_text(["Enable customer"])
    expect(page.get_by_role("link", name="Disable customer")).to_have_count(0)
    # The customer rule comes first of the access rules, so it is the reason every row
    # shows, including the entitlement that was already disabled on its own.
    expect(page.locator("#entitlements-group span.status-badge")).to_have_text([CUSTOMER_DISABLED] * 3)
    disabled_event = page.locator("table.audit-history tbody tr", has_text="customer.disabled")
    expect(disabled_event).to_have_count(1)
    expect(disabled_event).to_contain_text("Invoice 42 overdue")
    expect(disabled_event).to_contain_text("root")
    page.screenshot(path=artifacts_dir / "admin-customer-disabled.png", full_page=True)
    customer.refresh_from_db()
    assert customer.status == Customer.Status.DISABLED
    assert customer.status_reason == "Invoice 42 overdue"

    flip_switch(page, "Enable customer")

    expect(page).to_have_url(change_url)
    expect(page.locator("ul.messagelist li.success")).to_have_text("Customer “Acme” enabled.")
    expect(page.locator("a.switch-button")).to_have_text(["Disable customer"])
    expect(entitlement_badge(page, desktop)).to_have_text(ACTIVE)
    expect(entitlement_badge(page, cloud)).to_have_text(ACTIVE)
    expect(entitlement_badge(page, charged_back)).to_have_text(ENTITLEMENT_DISABLED)
    expect(page.locator("table.audit-history tbody tr", has_text="customer.enabled")).to_have_count(1)
    page.screenshot(path=artifacts_dir / "admin-customer-reenabled.png", full_page=True)
    customer.refresh_from_db()
    assert customer.status == Customer.Status.ACTIVE
    charged_back.refresh_from_db()
    assert charged_back.status == Entitlement.Status.DISABLED
