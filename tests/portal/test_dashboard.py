"""The dashboard: every entitlement with its effective status, and, when one does not
work, why in plain words and whom to contact."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from licensing import services
from licensing.actors import Actor
from licensing.models import PortalSettings
from tests.factories import (
    ActivationCodeFactory,
    EntitlementFactory,
    LicenseFactory,
    LicenseTransactionFactory,
    ProductFactory,
)

VENDOR = Actor.system("vendor test")
CONTACT_MESSAGE = "Email billing@studio.example to settle an overdue invoice."


@pytest.fixture(autouse=True)
def vendor(db):
    settings = PortalSettings.current()
    settings.vendor_name = "Studio Software"
    settings.contact_message = CONTACT_MESSAGE
    settings.save()
    return settings


def card(html: str, product_name: str) -> str:
    """The dashboard card of one entitlement."""
    cards = re.findall(r'<li class="card.*?</li>\s*(?=<li class="card|</ul>)', html, re.S)
    found = [c for c in cards if f">{product_name}</a>" in c]
    assert len(found) == 1, f"no single card for {product_name}"
    return found[0]


def test_active_entitlement_shows_product_seats_validity_and_features(portal, holdings):
    entitlement = holdings[0]
    html = card(portal.get("/portal/").content.decode(), entitlement.product.name)
    assert '<span class="badge badge-active">Active</span>' in html
    assert "2 of 5 in use" in html
    assert entitlement.valid_until.strftime("%Y") in html
    assert "Export</span>: yes" in html and "Max Projects</span>: 50" in html
    assert "What to do" not in html


def test_disabled_entitlement_says_so_with_vendor_note_and_contact_message(portal, contact):
    entitlement = EntitlementFactory(customer=contact.customer)
    services.entitlement_disable(entitlement=entitlement, actor=VENDOR, reason="Invoice INV-1042 is overdue")
    html = card(portal.get("/portal/").content.decode(), entitlement.product.name)
    # The badge says the status; the sentence below it says whose switch it is.
    assert '<span class="badge badge-disabled">Disabled</span>' in html
    assert "Studio Software has disabled this entitlement." in html
    assert "Invoice INV-1042 is overdue" in html
    assert CONTACT_MESSAGE in html


def test_disabled_customer_sees_banner_and_every_entitlement_disabled(portal, contact):
    entitlements = [EntitlementFactory(customer=contact.customer) for _ in range(3)]
    services.customer_disable(customer=contact.customer, actor=VENDOR, reason="Account on hold")
    page = portal.get("/portal/").content.decode()
    assert f"All access for {contact.customer.name} is disabled" in page
    assert 'aria-labelledby="banner-title"' in page  # a labelled region, not re-announced on every page
    # The banner says it once; each card has the badge and a pointer to the banner.
    for entitlement in entitlements:
        html = card(page, entitlement.product.name)
        assert '<span class="badge badge-disabled">Disabled</span>' in html
        assert '<a class="badge-pointer" href="#banner-title">see the notice at the top</a>' in html
        assert 'class="why' not in html
    assert page.count("has disabled") == 1
    assert page.count(CONTACT_MESSAGE) == 1  # in the banner, not repeated on every card
    assert page.count("Account on hold") == 1
    assert "customer disabled" not in page

    services.customer_enable(customer=contact.customer, actor=VENDOR)
    page = portal.get("/portal/").content.decode()
    assert "is disabled" not in page
    assert page.count('<span class="badge badge-active">Active</span>') == 3


def test_reenabling_customer_keeps_separately_disabled_entitlement_disabled(portal, contact):
    kept, charged_back = EntitlementFactory(customer=contact.customer), EntitlementFactory(customer=contact.customer)
    services.entitlement_disable(entitlement=charged_back, actor=VENDOR, reason="Chargeback")
    services.customer_disable(customer=contact.customer, actor=VENDOR)
    services.customer_enable(customer=contact.customer, actor=VENDOR)
    page = portal.get("/portal/").content.decode()
    assert "Active" in card(page, kept.product.name)
    assert "Studio Software has disabled this entitlement." in card(page, charged_back.product.name)
    assert "see the notice at the top" not in page


def test_suspended_transaction_expired_and_future_entitlements_explain_themselves(portal, contact):
    now = timezone.now()
    order = LicenseTransactionFactory(customer=contact.customer, external_id="ORDER-77")
    suspended = EntitlementFactory(customer=contact.customer, transaction=order)
    services.transaction_suspend(license_transaction=order, actor=VENDOR, reason="Payment reversed")
    expired = EntitlementFactory(
        customer=contact.customer, valid_from=now - dt.timedelta(days=30), valid_until=now - dt.timedelta(days=1)
    )
    future = EntitlementFactory(
        customer=contact.customer, valid_from=now + dt.timedelta(days=3), valid_until=now + dt.timedelta(days=30)
    )
    page = portal.get("/portal/").content.decode()

    html = card(page, suspended.product.name)
    assert "Suspended: license transaction suspended" in html
    assert "Studio Software has suspended order ORDER-77" in html
    assert "Payment reversed" in html and CONTACT_MESSAGE in html

    html = card(page, expired.product.name)
    assert '<span class="badge badge-expired">Expired</span>' in html
    assert "This entitlement ended on" in html and CONTACT_MESSAGE in html

    html = card(page, future.product.name)
    assert '<span class="badge badge-not_yet_valid">Not yet valid</span>' in html
    assert "This entitlement starts on" in html
    assert CONTACT_MESSAGE not in html  # nothing to ask the vendor: it starts by itself


def test_customer_without_entitlements_sees_an_empty_state(portal):
    assert "There are no entitlements to show yet." in portal.get("/portal/").content.decode()


def test_vendor_text_is_escaped(portal, contact, vendor):
    vendor.contact_message = "<script>alert(1)</script>"
    vendor.save()
    entitlement = EntitlementFactory(customer=contact.customer)
    services.entitlement_disable(entitlement=entitlement, actor=VENDOR, reason="<b>bold</b>")
    page = portal.get("/portal/").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "<b>bold</b>" not in page


def _populate(customer, entitlements: int, devices_each: int) -> None:
    for _ in range(entitlements):
        entitlement = EntitlementFactory(customer=customer, product=ProductFactory(), seats=devices_each + 1)
        code = ActivationCodeFactory(entitlement=entitlement)
        for _ in range(devices_each):
            LicenseFactory(activation_code=code)


def test_dashboard_renders_in_constant_queries(portal, contact, django_assert_num_queries):
    _populate(contact.customer, 1, 1)
    with django_assert_num_queries(4) as few:  # session, account, portal settings, entitlements
        assert portal.get("/portal/").status_code == 200
    _populate(contact.customer, 15, 4)
    services.customer_disable(customer=contact.customer, actor=VENDOR)
    with django_assert_num_queries(len(few.captured_queries)):
        assert portal.get("/portal/").content.decode().count('class="card card-disabled"') == 16
