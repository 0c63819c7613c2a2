"""Floating slots in a real browser: staff see who runs a floating entitlement and
release a slot from its page; a customer contact does the same in the portal, on a
desktop and on a phone. What a person sees is checked, and the database too."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect

from licensing.models import AuditEvent, Entitlement, FloatingSlot, License
from tests.browser.test_admin_customer_switch import log_in
from tests.browser.test_portal import page_and_window_widths, sign_in
from tests.factories import (
    ActivationCodeFactory,
    DeviceFactory,
    EntitlementFactory,
    LicenseFactory,
    ProductFactory,
)

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _fresh(fresh_server_state) -> None:
    pass


@pytest.fixture
def render_farm(contact) -> Entitlement:
    """Photon Render, floating with 3 slots: two render nodes run it now, a third is activated but idle."""
    entitlement = EntitlementFactory(
        customer=contact.customer,
        product=ProductFactory(name="Photon Render", code="render"),
        license_model=Entitlement.LicenseModel.FLOATING,
        seats=3,
    )
    code = ActivationCodeFactory(entitlement=entitlement)
    now = timezone.now()
    for n, borrowed in ((1, False), (2, True), (3, None)):
        license = LicenseFactory(activation_code=code, device=DeviceFactory(hostname=f"render-node-{n}"))
        if borrowed is not None:
            ends = now + dt.timedelta(hours=8 if borrowed else 0.1)
            FloatingSlot.objects.create(
                license=license,
                entitlement=entitlement,
                taken_at=now,
                ends_at=ends,
                borrowed_until=ends if borrowed else None,
            )
    return entitlement


def test_staff_see_the_slots_in_use_and_release_one(
    page: Page, live_server, superuser: User, render_farm: Entitlement, artifacts_dir: Path
) -> None:
    log_in(page, live_server.url, superuser)
    page.goto(f"{live_server.url}/admin/licensing/entitlement/")
    row = page.locator("#result_list tbody tr", has_text="Photon Render")
    expect(row.locator("td.field-seats_display")).to_have_text("2 of 3 in use (3 registered)")

    row.locator("th a").click()
    slots = page.locator("fieldset, .inline-group").filter(has_text="Floating slots in use now")
    expect(slots.locator("tbody tr.form-row")).to_have_count(2)
    borrowed = slots.locator("tbody tr.form-row", has_text="render-node-2")
    expect(borrowed.locator("td.field-borrowed")).not_to_have_text("—")
    page.screenshot(path=artifacts_dir / "admin-floating-slots.png", full_page=True)

    node_1 = slots.locator("tbody tr.form-row", has_text="render-node-1")
    node_1.get_by_role("link", name="Release").click()
    expect(page.get_by_role("heading", name="Release floating slot?")).to_be_visible()
    expect(page.get_by_text("stays activated")).to_be_visible()
    page.fill("textarea[name=reason]", "node crashed overnight")
    page.locator('input[type=submit][value="Release floating slot"]').click()
    expect(page.locator(".messagelist")).to_contain_text("released")

    assert not FloatingSlot.objects.filter(license__device__hostname="render-node-1").exists()
    event = AuditEvent.objects.get(action="license.floating_released")
    assert event.reason == "node crashed overnight"
    assert License.objects.get(device__hostname="render-node-1").status == License.Status.ACTIVE
    page.goto(f"{live_server.url}/admin/licensing/entitlement/")
    row = page.locator("#result_list tbody tr", has_text="Photon Render")
    expect(row.locator("td.field-seats_display")).to_have_text("1 of 3 in use (3 registered)")


def test_a_contact_sees_who_runs_it_and_frees_a_crashed_computers_slot(
    page: Page, live_server, contact, render_farm: Entitlement, artifacts_dir: Path
) -> None:
    sign_in(page, live_server.url, contact)
    card = page.locator("li.card").filter(has=page.locator("h2", has_text="Photon Render"))
    expect(card.locator(".seats")).to_have_text("2 of 3 in use")
    card.get_by_role("link", name="Photon Render").click()

    section = page.locator("section", has=page.get_by_role("heading", name="Running now"))
    rows = section.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(section.locator("tr", has_text="render-node-2")).to_contain_text("for offline use, until")
    expect(section.locator("tr", has_text="render-node-1")).to_contain_text("no")
    page.screenshot(path=artifacts_dir / "portal-floating-slots.png", full_page=True)

    section.get_by_role("link", name="Release render-node-1").click()
    expect(page.get_by_role("heading", name="Release the slot held by render-node-1?")).to_be_visible()
    page.get_by_role("button", name="Release the slot").click()
    expect(page.locator("ul.messages")).to_contain_text("no longer holds a slot")
    expect(page.locator(".seats")).to_have_text("1 of 3 in use")
    expect(section.locator("tbody tr")).to_have_count(1)
    assert AuditEvent.objects.get(action="license.floating_released").actor_type == "portal"


def test_the_running_now_table_fits_a_phone(phone: Page, live_server, contact, render_farm: Entitlement) -> None:
    sign_in(phone, live_server.url, contact)
    phone.goto(f"{live_server.url}/portal/entitlements/{render_farm.pk}/")
    section = phone.locator("section", has=phone.get_by_role("heading", name="Running now"))
    expect(section.locator("tbody tr")).to_have_count(2)
    page_width, window_width = page_and_window_widths(phone)
    assert page_width <= window_width == 390
    for button in section.get_by_role("link", name="Release").all():
        box = button.bounding_box()
        assert box is not None and box["x"] + box["width"] <= window_width
