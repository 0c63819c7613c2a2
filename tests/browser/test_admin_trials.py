"""Staff convert a trial to a paid entitlement and renew it, in a real browser.

What is checked is what a person sees: the buttons (visible, beside the title rather
than over it), the forms, the messages, the Trial badge gone and the new end in the
validity field; the database is checked as well, so a page that merely looks right
cannot pass.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from licensing import services
from licensing.actors import Actor
from licensing.models import AuditEvent, Entitlement
from tests.browser.test_admin_customer_switch import log_in
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _fresh(fresh_server_state) -> None:
    pass


@pytest.fixture
def trial_entitlement(transactional_db) -> Entitlement:
    """A 14-day trial of Photon, handed out to Eve's machine as GET /api/v4/trial_key does."""
    product = ProductFactory(name="Photon", code="photon", trial_allowed=True, trial_duration=14)
    trial = services.trial_start(
        product=product, hardware_id="hw-eve-laptop", email="eve@example.com", actor=Actor.system("test")
    )
    return trial.entitlement


# Where the text of an element is drawn: a heading's box spans the whole width, beside
# the floated buttons, but its words must not run under them.
TEXT_BOX = """element => {
    const range = document.createRange();
    range.selectNodeContents(element);
    const box = range.getBoundingClientRect();
    return {x: box.x, y: box.y, width: box.width, height: box.height};
}"""


def overlaps(first: dict, second: dict) -> bool:
    return not (
        first["x"] + first["width"] <= second["x"]
        or second["x"] + second["width"] <= first["x"]
        or first["y"] + first["height"] <= second["y"]
        or second["y"] + second["height"] <= first["y"]
    )


def assert_buttons_clear_of_the_title(page: Page, labels: list[str]) -> None:
    buttons = page.locator(".object-tools a.switch-button")
    expect(buttons).to_have_text(labels)
    headings = [page.locator("#content h1"), page.locator("#content h2").first]
    for heading in headings:
        expect(heading).to_be_visible()
    for index in range(len(labels)):
        button = buttons.nth(index)
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box["width"] > 40 and box["height"] > 15  # a button one can click, not a sliver
        for heading in headings:
            assert not overlaps(box, heading.evaluate(TEXT_BOX)), f"“{labels[index]}” covers “{heading.inner_text()}”"


def test_staff_convert_a_trial_to_paid_then_renew_it_by_days(
    page: Page, live_server, superuser: User, trial_entitlement: Entitlement, artifacts_dir: Path
) -> None:
    entitlement = trial_entitlement
    buyer = CustomerFactory(name="Eve's Studio")
    change_url = f"{live_server.url}/admin/licensing/entitlement/{entitlement.pk}/change/"

    log_in(page, live_server.url, superuser)
    page.goto(change_url)
    badge = page.locator(".trial-badge")
    expect(badge).to_be_visible()
    expect(badge).to_have_text("Trial")
    page.screenshot(path=artifacts_dir / "admin-trial.png", full_page=True)
    assert_buttons_clear_of_the_title(page, ["Renew", "Convert to paid", "Generate code", "Disable entitlement"])
    page.screenshot(path=artifacts_dir / "admin-trial.png", full_page=True)

    # Convert to paid: moved to the buyer, keeping the trial's end.
    page.locator("a.switch-button", has_text="Convert to paid").click()
    expect(page.get_by_role("heading", name="Convert to paid")).to_be_visible()
    expect(page.locator(".lifecycle-facts")).to_contain_text("Customer: eve@example.com")
    page.locator(".field-customer .select2-selection").click()
    page.locator(".select2-search__field").fill("Studio")
    page.locator(".select2-results__option", has_text="Eve's Studio").click()
    page.fill("textarea[name=reason]", "Order 4711")
    page.screenshot(path=artifacts_dir / "admin-trial-convert.png", full_page=True)
    page.locator('input[type=submit][value="Convert to paid"]').click()

    expect(page).to_have_url(change_url)
    entitlement.refresh_from_db()
    expect(page.locator("ul.messagelist li.success")).to_have_text(
        f"Trial converted: “Photon for Eve's Studio” is paid, valid until {entitlement.valid_until:%Y-%m-%d %H:%M} UTC."
    )
    expect(page.locator(".trial-badge")).to_have_count(0)
    expect(page.get_by_role("link", name="Convert to paid")).to_have_count(0)
    assert_buttons_clear_of_the_title(page, ["Renew", "Generate code", "Disable entitlement"])
    expect(page.locator("fieldset", has_text="From a trial")).to_contain_text("Converted to paid")
    assert (entitlement.is_trial, entitlement.customer) == (False, buyer)
    assert AuditEvent.objects.filter(action="trial.converted", reason="Order 4711", actor_label="root").exists()

    # Renew by 30 days from the current end.
    old_end = entitlement.valid_until
    page.locator("a.switch-button", has_text="Renew").click()
    expect(page.get_by_role("heading", name="Renew")).to_be_visible()
    expect(page.get_by_label("The current end (renewing early loses nothing)")).to_be_checked()
    days = page.locator("#id_days")
    expect(days).to_be_visible()
    days.fill("30")
    page.screenshot(path=artifacts_dir / "admin-renew.png", full_page=True)
    page.locator('input[type=submit][value="Renew"]').click()

    expect(page).to_have_url(change_url)
    new_end = old_end + dt.timedelta(days=30)
    expect(page.locator("ul.messagelist li.success")).to_have_text(
        f"“Photon for Eve's Studio” renewed: valid until {new_end:%Y-%m-%d %H:%M} UTC."
    )
    date_input = page.locator("#id_valid_until_0")
    expect(date_input).to_be_visible()
    expect(date_input).to_have_value(f"{new_end:%Y-%m-%d}")
    expect(page.locator(".field-validity_state")).to_contain_text(f"({new_end:%Y-%m-%d %H:%M} UTC)")
    entitlement.refresh_from_db()
    assert entitlement.valid_until == new_end
    page.screenshot(path=artifacts_dir / "admin-renewed.png", full_page=True)
