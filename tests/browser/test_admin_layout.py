"""The admin's lists and pages fit the screens staff use, in a real browser: a 1280 px
laptop (navigation, list and filters side by side, nothing essential off screen or
behind a sideways scroll) and a 390 px phone (lists keep each row's link and status).
Object-tool buttons stay inside the window and off the title.

Measured as a person would see it: element boxes against the window, the page's own
width against the window's. Screenshots of a customer's and an entitlement's page are
saved to test-artifacts/ for people to look at.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from licensing import services
from licensing.actors import Actor
from licensing.models import AuditEvent, WebhookDelivery, WebhookEvent
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.test_admin_customer_switch import log_in
from tests.browser.test_admin_trials import TEXT_BOX, overlaps
from tests.factories import (
    ActivationCodeFactory,
    CustomerFactory,
    DeviceFactory,
    EntitlementFactory,
    LicenseFactory,
    LicenseTransactionFactory,
    ProductFactory,
    WebhookEndpointFactory,
)

pytestmark = pytest.mark.browser

LAPTOP, PHONE = 1280, 390


@pytest.fixture(autouse=True)
def _fresh(fresh_server_state) -> None:
    pass


@dataclass
class Records:
    customer: object
    entitlement: object
    license: object
    event: AuditEvent
    delivery: WebhookDelivery


@pytest.fixture
def records(transactional_db) -> Records:
    """What vendor staff saw: long names, switches with reasons, a long webhook URL."""
    actor = Actor.system("billing-sync")
    customer = CustomerFactory(name="Acme Corporation International", email="licensing-team@acme-corporation.example")
    order = LicenseTransactionFactory(customer=customer, external_id="ORDER-2026-000417")
    desktop = EntitlementFactory(customer=customer, product=ProductFactory(name="Studio Desktop"), transaction=order)
    render = EntitlementFactory(customer=customer, product=ProductFactory(name="Studio Render Farm"), seats=40)
    code = ActivationCodeFactory(entitlement=desktop)
    license = None
    for n in range(3):
        device = DeviceFactory(customer=customer, hostname=f"design-workstation-{n:02d}.acme.internal")
        license = LicenseFactory(activation_code=code, device=device, lease_expires_at=timezone.now())
    services.entitlement_disable(
        entitlement=render, actor=actor, reason="Chargeback on invoice 2026-0042, pending the bank's decision"
    )
    services.license_suspend(license=license, actor=actor, reason="Reported stolen by the customer's IT department")
    services.entitlement_update(entitlement=desktop, data={"lease_period": dt.timedelta(hours=6)}, actor=actor)
    endpoint = WebhookEndpointFactory(
        url="https://hooks.acme-corporation.example/licensing/events/receiver?token=3f9a0c1e5b7d2468ace0",
        description="",
    )
    event = WebhookEvent.objects.create(type="entitlement.disabled", payload='{"type": "entitlement.disabled"}')
    delivery = WebhookDelivery.objects.create(
        event=event,
        endpoint=endpoint,
        status=WebhookDelivery.Status.FAILED,
        tries=8,
        last_status_code=503,
        last_attempt_at=timezone.now(),
        last_error="HTTP 503 from the receiver: Service Unavailable (upstream timed out after 30 seconds)",
    )
    audit_event = AuditEvent.objects.filter(action="entitlement.disabled").get()
    return Records(customer, desktop, license, audit_event, delivery)


@pytest.fixture
def staff_page(browser: Browser, live_server, superuser: User):
    """A signed-in page at a given width (the context is closed after the test)."""
    contexts = []

    def open_at(width: int) -> Page:
        context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-US")
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        log_in(page, live_server.url, superuser)
        return page

    yield open_at
    for context in contexts:
        context.close()


def admin_url(live_server, model: str, obj=None) -> str:
    base = f"{live_server.url}/admin/licensing/{model}/"
    return f"{base}{obj.pk}/change/" if obj is not None else base


def assert_no_sideways_scroll(page: Page) -> None:
    width, window = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width <= window, f"the page is {width} px wide in a {window} px window: {page.url}"


def assert_inside_window(page: Page, selector: str) -> None:
    element = page.locator(selector).first
    expect(element).to_be_visible()
    box = element.bounding_box()
    window = page.viewport_size["width"]
    assert box["x"] >= 0 and box["x"] + box["width"] <= window, f"{selector} at {box} is outside {window} px"


def assert_results_fit(page: Page) -> None:
    width, room = page.evaluate(
        "() => { const r = document.querySelector('#changelist-form .results'); return [r.scrollWidth, r.clientWidth] }"
    )
    assert width <= room, f"the list is {width} px wide in {room} px: {page.url}"


def assert_buttons_inside_and_clear_of_the_title(page: Page) -> None:
    buttons = page.locator(".object-tools a")
    headings = [page.locator("#content h1"), page.locator("#content h2").first]
    assert buttons.count() >= 1
    for index in range(buttons.count()):
        button = buttons.nth(index)
        label = button.inner_text()
        assert_inside_window(page, f".object-tools li:nth-child({index + 1}) a")
        box = button.bounding_box()
        for heading in headings:
            assert not overlaps(box, heading.evaluate(TEXT_BOX)), f"“{label}” covers “{heading.inner_text()}”"


# Each list with the cells that must be seen in the first row: at 1280 px all of them, at
# 390 px the link and the status (the audit log: the link and the action).
LISTS = {
    "customer": (["tbody th a", ".field-status_badge", ".field-entitlement_count"], [".field-status_badge"]),
    "entitlement": (
        ["tbody th a", ".field-valid_until_display", ".field-effective_status_badge"],
        [".field-effective_status_badge"],
    ),
    "license": (
        ["tbody th a", ".field-effective_status_badge", ".field-last_check_in", ".field-lease_expires"],
        [".field-effective_status_badge"],
    ),
    "auditevent": (["tbody th a", ".field-record", ".field-who", ".field-reason"], [".field-action"]),
    "webhookdelivery": (
        ["tbody th a", ".field-endpoint", ".field-status_badge", ".field-last_attempt"],
        [".field-status_badge"],
    ),
}


@pytest.mark.parametrize("model", LISTS)
def test_lists_fit_a_laptop_screen(staff_page, live_server, records: Records, model: str) -> None:
    page = staff_page(LAPTOP)
    page.goto(admin_url(live_server, model))
    assert_no_sideways_scroll(page)
    assert_results_fit(page)
    for cell in LISTS[model][0]:
        assert_inside_window(page, f"#result_list {cell}")


@pytest.mark.parametrize("model", LISTS)
def test_lists_keep_their_link_and_status_on_a_phone(staff_page, live_server, records: Records, model: str) -> None:
    page = staff_page(PHONE)
    page.goto(admin_url(live_server, model))
    assert_no_sideways_scroll(page)
    for cell in ["tbody th a", *LISTS[model][1]]:
        assert_inside_window(page, f"#result_list {cell}")


def pages(records: Records) -> dict[str, object]:
    return {
        "customer": records.customer,
        "entitlement": records.entitlement,
        "license": records.license,
        "auditevent": records.event,
        "webhookdelivery": records.delivery,
    }


@pytest.mark.parametrize("width", [LAPTOP, 1400, PHONE])
@pytest.mark.parametrize("model", LISTS)
def test_record_pages_fit_and_their_buttons_stay_off_the_title(
    staff_page, live_server, records: Records, model: str, width: int
) -> None:
    page = staff_page(width)
    page.goto(admin_url(live_server, model, pages(records)[model]))
    assert_no_sideways_scroll(page)
    assert_buttons_inside_and_clear_of_the_title(page)


def test_a_license_page_shows_its_switches_beside_a_long_title(staff_page, live_server, records: Records) -> None:
    page = staff_page(1400)
    page.goto(admin_url(live_server, "license", records.license))
    expect(page.locator(".object-tools a.switch-button")).to_have_text(["Resume license", "Revoke license"])
    assert_buttons_inside_and_clear_of_the_title(page)


@pytest.mark.parametrize("width", [LAPTOP, PHONE])
def test_screenshots_of_a_customer_and_an_entitlement(
    staff_page, live_server, records: Records, artifacts_dir: Path, width: int
) -> None:
    page = staff_page(width)
    for model, obj in (("customer", records.customer), ("entitlement", records.entitlement)):
        page.goto(admin_url(live_server, model, obj))
        expect(page.locator("#content h1")).to_be_visible()
        page.screenshot(path=artifacts_dir / f"admin-layout-{model}-{width}.png", full_page=True)
    # The related lists are there to be seen: the customer's entitlements, the entitlement's licenses.
    expect(page.locator("#licenses-group tbody tr")).to_have_count(3)
