"""Entitlements that end soon, or ended and are in their grace period, say so in the portal
with the vendor's renewal message, on the dashboard card and on the entitlement's page;
trials carry a "Trial" badge. Said only to the account that may see the entitlement, and
at no extra query per entitlement."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client
from django.utils.formats import date_format

from licensing import services
from licensing.actors import Actor
from licensing.models import Entitlement, PortalSettings
from tests.factories import ActivationCodeFactory, CustomerContactFactory, EntitlementFactory, ProductFactory
from tests.portal.conftest import signed_in

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
VENDOR = Actor.system("vendor test")
RENEWAL = "Renew at https://northwind.example/renew or email billing@northwind.example."


@pytest.fixture
def frozen():
    with time_machine.travel(T0, tick=False):
        yield T0


@pytest.fixture(autouse=True)
def vendor(db) -> PortalSettings:
    settings = PortalSettings.current()
    settings.vendor_name = "Northwind Software"
    settings.renewal_message = RENEWAL
    settings.save()
    return settings


@pytest.fixture
def browser(frozen, contact) -> Client:
    """The contact, signed in at T0 (the clock stays there for the whole test)."""
    return signed_in(contact)


def ending(customer, at: dt.datetime, name: str = "Photon Studio", **fields) -> Entitlement:
    return EntitlementFactory(
        customer=customer, product=ProductFactory(name=name), valid_from=at - 365 * DAY, valid_until=at, **fields
    )


def card(html: str, product_name: str) -> str:
    """The dashboard card of one entitlement."""
    cards = re.findall(r'<li class="card.*?</li>\s*(?=<li class="card|</ul>)', html, re.S)
    found = [c for c in cards if f">{product_name}</a>" in c]
    assert len(found) == 1, f"no single card for {product_name}"
    return found[0]


def notice(html: str) -> str | None:
    """The text of the renewal notice in `html`, spaces collapsed; None without one."""
    found = re.findall(r"<div class=\"renewal .*?</div>", html, re.S)
    assert len(found) <= 1
    return " ".join(re.sub(r"<[^>]+>", "", found[0]).split()) if found else None


def dashboard_card(client: Client, product_name: str = "Photon Studio") -> str:
    return card(client.get("/portal/").content.decode(), product_name)


def detail(client: Client, entitlement: Entitlement) -> str:
    response = client.get(f"/portal/entitlements/{entitlement.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def day(moment: dt.datetime) -> str:
    return date_format(moment, "DATE_FORMAT")


@pytest.mark.parametrize(
    ("left", "headline"),
    [
        (30 * DAY, "Expires in 30 days"),
        (12 * DAY, "Expires in 12 days"),
        (12 * DAY + HOUR, "Expires in 13 days"),  # rounded up
        (DAY + dt.timedelta(seconds=1), "Expires in 2 days"),
        (DAY, "Expires in 1 day"),
        (23 * HOUR, "Expires today"),
        (dt.timedelta(minutes=1), "Expires today"),
    ],
)
def test_an_entitlement_ending_within_the_first_notice_says_when_with_the_renewal_message(
    browser, contact, left, headline
):
    entitlement = ending(contact.customer, T0 + left)
    for html in (dashboard_card(browser), detail(browser, entitlement)):
        text = notice(html)
        assert text is not None and text.startswith(headline + " ")
        assert f"It ends on {day(T0 + left)}, and its licenses stop working then." in text
        assert RENEWAL in text
        assert '<span class="badge badge-active">Active</span>' in html


def test_the_renewal_message_links_its_address_and_is_escaped(browser, contact, vendor):
    ending(contact.customer, T0 + 3 * DAY)
    html = dashboard_card(browser)
    # Linked, and free to wrap after its punctuation on a narrow screen.
    assert '<a href="https://northwind.example/renew">https://<wbr>northwind.<wbr>example/<wbr>renew</a>' in html
    assert '<a href="mailto:billing@northwind.example">billing@<wbr>northwind.<wbr>example</a>.' in html

    vendor.renewal_message = "Renew <b>now</b> & save"
    vendor.save()
    html = dashboard_card(browser)
    assert "Renew &lt;b&gt;now&lt;/b&gt; &amp; save" in html
    assert "<b>now</b>" not in html


@pytest.mark.parametrize(
    ("end", "grace"),
    [
        (T0 + 30 * DAY + dt.timedelta(seconds=1), dt.timedelta(0)),  # not yet within 30 days
        (T0 + 200 * DAY, 7 * DAY),
        (T0 - HOUR, dt.timedelta(0)),  # ended, no grace: expired
        (T0 - 8 * DAY, 7 * DAY),  # ended, grace over: expired
    ],
)
def test_no_renewal_notice_far_from_the_end_or_once_licenses_stopped(browser, contact, end, grace):
    entitlement = ending(contact.customer, end, grace_period=grace)
    for html in (dashboard_card(browser), detail(browser, entitlement)):
        assert notice(html) is None
        assert RENEWAL not in html


def test_a_perpetual_entitlement_has_no_renewal_notice(browser, contact):
    entitlement = EntitlementFactory(customer=contact.customer, product=ProductFactory(name="Photon Studio"))
    services.entitlement_update(entitlement=entitlement, data={"valid_until": None}, actor=VENDOR)
    assert notice(dashboard_card(browser)) is None


def test_an_entitlement_in_grace_says_until_when_licenses_still_work(browser, contact):
    entitlement = ending(contact.customer, T0 - 2 * DAY, grace_period=7 * DAY)
    for html in (dashboard_card(browser), detail(browser, entitlement)):
        text = notice(html)
        assert text is not None
        assert text.startswith(f"In grace until {day(T0 + 5 * DAY)} ")
        assert f"This entitlement ended on {day(T0 - 2 * DAY)}; its licenses still work until then." in text
        assert RENEWAL in text
        assert '<span class="badge badge-active">Active</span>' in html  # still working
        assert f'<time datetime="{(T0 + 5 * DAY).isoformat()}">' in html


def test_an_entitlement_ending_soon_with_a_grace_says_how_long_licenses_keep_working(browser, contact):
    ending(contact.customer, T0 + 5 * DAY, grace_period=14 * DAY)
    text = notice(dashboard_card(browser))
    assert text.startswith("Expires in 5 days ")
    assert f"It ends on {day(T0 + 5 * DAY)}; its licenses keep working until {day(T0 + 19 * DAY)}" in text


def test_a_disabled_entitlement_ending_soon_says_why_it_is_disabled_not_to_renew(browser, contact):
    entitlement = ending(contact.customer, T0 + 5 * DAY)
    services.entitlement_disable(entitlement=entitlement, actor=VENDOR, reason="Chargeback")
    html = dashboard_card(browser)
    assert "Northwind Software has disabled this entitlement." in html
    assert notice(html) is None


def test_the_notice_starts_at_the_first_milestone_of_the_settings(browser, contact, settings):
    ending(contact.customer, T0 + 12 * DAY)
    settings.LICENSING_EXPIRY_NOTICE_DAYS = [7, 1]
    assert notice(dashboard_card(browser)) is None
    settings.LICENSING_EXPIRY_NOTICE_DAYS = [60]
    assert notice(dashboard_card(browser)).startswith("Expires in 12 days ")
    settings.LICENSING_EXPIRY_NOTICE_DAYS = []  # no notices at all
    assert notice(dashboard_card(browser)) is None


def test_renewing_ends_the_notice(browser, contact):
    entitlement = ending(contact.customer, T0 + 3 * DAY)
    assert notice(dashboard_card(browser)) is not None
    services.entitlement_renew(entitlement=entitlement, actor=VENDOR, days=365)
    assert notice(dashboard_card(browser)) is None


def test_a_trial_carries_a_trial_badge_and_a_sale_does_not(browser, contact):
    trial = ending(contact.customer, T0 + 14 * DAY, name="Photon Trial", is_trial=True)
    ending(contact.customer, T0 + 300 * DAY, name="Photon Studio")
    page = browser.get("/portal/").content.decode()
    assert '<span class="badge badge-trial">Trial</span>' in card(page, "Photon Trial")
    assert "badge-trial" not in card(page, "Photon Studio")
    assert notice(card(page, "Photon Trial")).startswith("Expires in 14 days ")
    html = detail(browser, trial)
    assert '<span class="badge badge-trial">Trial</span>' in html.split('class="page-head"')[1].split("</div>")[0]

    services.trial_convert(entitlement=trial, actor=VENDOR, valid_until=T0 + 365 * DAY)
    assert "badge-trial" not in browser.get("/portal/").content.decode()


def test_a_license_user_sees_the_notice_of_their_own_entitlement(frozen, license_user):
    entitlement = license_user.entitlements.get()
    services.entitlement_update(
        entitlement=entitlement, data={"valid_from": T0 - DAY, "valid_until": T0 + 4 * DAY}, actor=VENDOR
    )
    # Another entitlement of the same customer, not the user's: never shown to them.
    ending(license_user.customer, T0 + 2 * DAY, name="Not Yours")
    client = signed_in(license_user)
    page = client.get("/portal/").content.decode()
    assert notice(card(page, entitlement.product.name)).startswith("Expires in 4 days ")
    assert "Not Yours" not in page
    assert page.count('class="renewal ') == 1


def test_another_customer_sees_nothing_of_an_entitlement_ending_soon(browser, contact):
    theirs = ending(contact.customer, T0 + 3 * DAY, name="Photon Studio", is_trial=True)
    other = CustomerContactFactory(raw_password="bravo password 456")
    ending(other.customer, T0 + 6 * DAY, name="Bravo Suite")
    client = signed_in(other, "bravo password 456")

    page = client.get("/portal/").content.decode()
    assert "Photon Studio" not in page
    assert page.count('class="renewal ') == 1  # their own only
    assert notice(card(page, "Bravo Suite")).startswith("Expires in 6 days ")
    assert "badge-trial" not in page
    assert client.get(f"/portal/entitlements/{theirs.pk}/").status_code == 404
    # And the first contact sees only theirs.
    page = browser.get("/portal/").content.decode()
    assert "Bravo Suite" not in page and page.count('class="renewal ') == 1


def test_the_dashboard_and_page_take_as_many_queries_with_notices_as_without(
    browser, contact, django_assert_num_queries
):
    first = ending(contact.customer, T0 + 300 * DAY, name="Product 0")
    with django_assert_num_queries(4) as few:  # session, account, portal settings, entitlements
        assert notice(browser.get("/portal/").content.decode()) is None
    for n in range(1, 16):
        kind = n % 3
        end = T0 + n * DAY if kind == 0 else T0 - n * HOUR
        ending(contact.customer, end, name=f"Product {n}", grace_period=7 * DAY if kind else DAY, is_trial=kind == 2)
    with django_assert_num_queries(len(few.captured_queries)):
        page = browser.get("/portal/").content.decode()
    assert page.count('class="renewal ') == 15
    assert page.count('data-renewal-notice="grace"') == 10
    assert page.count("badge-trial") == 5

    ActivationCodeFactory(entitlement=first)
    with django_assert_num_queries(7) as few:  # session, account, settings, entitlement, codes, seats, history
        detail(browser, first)
    soon = ending(contact.customer, T0 + 2 * DAY, name="Soon", is_trial=True)
    ActivationCodeFactory(entitlement=soon)
    with django_assert_num_queries(len(few.captured_queries)):
        assert notice(detail(browser, soon)).startswith("Expires in 2 days ")
