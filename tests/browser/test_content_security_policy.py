"""Every page the server renders carries a Content-Security-Policy that allows nothing
inline and nothing from elsewhere, and the pages still work under it in a real browser:
not one resource or script is refused."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from playwright.sync_api import Page, expect

from tests.browser.test_admin_customer_switch import log_in
from tests.factories import CustomerContactFactory, EntitlementFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/admin/login/", "/portal/sign-in/"])
def test_pages_carry_a_policy_that_allows_only_this_server_and_nothing_inline(db, path):
    policy = Client().get(path)["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


def test_the_api_docs_allow_inline_styles_for_swagger_ui_and_still_no_inline_script(db):
    policy = Client().get("/api/docs/")["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in policy
    assert "script-src 'self';" in policy


def test_client_api_answers_are_not_pages(db):
    assert "Content-Security-Policy" not in Client().get("/api/v4/public_key")


def watch_refusals(page: Page) -> list[str]:
    """What the browser refuses under the policy, as it reports it on the console."""
    refused: list[str] = []

    def seen(message) -> None:
        if "Content Security Policy" in message.text:
            refused.append(f"{page.url}: {message.text[:120]}")

    page.on("console", seen)
    return refused


@pytest.mark.browser
def test_the_admin_the_portal_and_the_api_docs_work_under_the_policy(page: Page, live_server, superuser: User):
    refused = watch_refusals(page)
    entitlement = EntitlementFactory()
    contact = CustomerContactFactory(customer=entitlement.customer, raw_password="portal password 123")

    log_in(page, live_server.url, superuser)
    page.goto(f"{live_server.url}/admin/licensing/entitlement/{entitlement.pk}/change/")
    expect(page.locator("#id_seats")).to_be_visible()
    page.goto(f"{live_server.url}/admin/licensing/license/")
    expect(page.locator("#changelist")).to_be_visible()

    page.goto(f"{live_server.url}/portal/sign-in/")
    page.fill("#id_email", contact.email)
    page.fill("#id_password", "portal password 123")
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/portal/entitlements/{entitlement.pk}/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()

    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .info")).to_be_visible()

    assert refused == []
