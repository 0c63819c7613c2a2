"""A floating entitlement in the portal: how many of its slots are in use, which
computers run it now, and releasing a slot held by a computer that crashed. Each
account sees and releases only its own."""

import datetime as dt

import pytest
from django.utils import timezone

from licensing.models import AuditEvent, Entitlement, FloatingSlot, License
from tests.factories import ActivationCodeFactory, CustomerContactFactory, EntitlementFactory, LicenseFactory

from .conftest import PASSWORD, signed_in

FLOATING = Entitlement.LicenseModel.FLOATING


def running(license: License) -> FloatingSlot:
    now = timezone.now()
    return FloatingSlot.objects.create(
        license=license, entitlement=license.entitlement, taken_at=now, ends_at=now + dt.timedelta(minutes=10)
    )


@pytest.fixture
def floating(contact):
    entitlement = EntitlementFactory(customer=contact.customer, license_model=FLOATING, seats=5)
    code = ActivationCodeFactory(entitlement=entitlement)
    licenses = [LicenseFactory(activation_code=code, device__hostname=f"render-{n}") for n in range(4)]
    for license in licenses[:3]:
        running(license)
    return entitlement, licenses


def test_the_dashboard_and_the_entitlement_page_say_how_many_run_now(portal, floating):
    entitlement, licenses = floating
    assert "3 of 5 in use" in portal.get("/portal/").content.decode()
    page = portal.get(f"/portal/entitlements/{entitlement.pk}/").content.decode()
    assert "3 of 5 in use" in page
    assert "Running now" in page
    for license in licenses[:3]:
        assert f"/portal/licenses/{license.pk}/release-floating/" in page
    assert f"/portal/licenses/{licenses[3].pk}/release-floating/" not in page  # activated, not running


def test_a_contact_releases_a_slot_and_the_device_stays_activated(portal, floating, contact):
    _, licenses = floating
    url = f"/portal/licenses/{licenses[0].pk}/release-floating/"
    assert "Release the slot" in portal.get(url).content.decode()
    response = portal.post(url, follow=True)
    assert "no longer holds a slot" in response.content.decode()
    assert not FloatingSlot.objects.filter(license=licenses[0]).exists()
    assert License.objects.get(pk=licenses[0].pk).status == License.Status.ACTIVE
    event = AuditEvent.objects.get(action="license.floating_released")
    assert (event.actor_type, event.reason) == ("portal", "Slot released in the portal.")


def test_another_customers_contact_can_neither_see_nor_release_the_slots(floating, db):
    entitlement, licenses = floating
    stranger = signed_in(CustomerContactFactory(raw_password=PASSWORD))
    assert stranger.get(f"/portal/entitlements/{entitlement.pk}/").status_code == 404
    url = f"/portal/licenses/{licenses[0].pk}/release-floating/"
    assert stranger.get(url).status_code == 404
    assert stranger.post(url).status_code == 404
    assert FloatingSlot.objects.filter(license=licenses[0]).exists()


def test_releasing_on_a_node_locked_license_says_there_is_nothing_to_release(portal, holdings):
    _, _, licenses = holdings
    response = portal.post(f"/portal/licenses/{licenses[0].pk}/release-floating/", follow=True)
    assert "node-locked" in response.content.decode()
    assert License.objects.get(pk=licenses[0].pk).status == License.Status.ACTIVE
