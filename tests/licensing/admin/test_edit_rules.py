"""The rules of the edit services, through the admin: fields fixed at creation are not
offered and a forged value is ignored; a rule the form misses because another change
overtook it is still refused by the service, and the page says why."""

import pytest

from licensing.models import ActivationCode, AuditEvent, CustomerContact, Entitlement, LicenseTransaction
from tests.factories import (
    CustomerContactFactory,
    CustomerFactory,
    LicenseFactory,
    LicenseTransactionFactory,
)
from tests.licensing.admin.test_bad_input import entitlement_form_data
from tests.licensing.admin.urls import change_url

pytestmark = pytest.mark.django_db


def skip_once(monkeypatch, model) -> None:
    """The form's check of the row passes, as if it had run before the devices came;
    the service's, under the lock, is the real one."""
    real = model.clean
    checks = iter([lambda row: None])
    monkeypatch.setattr(model, "clean", lambda row: next(checks, real)(row))


@pytest.mark.parametrize("overtaken", [False, True])
def test_a_codes_cap_cannot_drop_below_the_devices_active_with_it(client, superuser, monkeypatch, overtaken):
    """Said beside the field; and when a device activated after the form was checked,
    refused by the service under the code's lock, the page saying why."""
    license = LicenseFactory()
    LicenseFactory(activation_code=license.activation_code, entitlement=license.entitlement)
    code = license.activation_code
    if overtaken:
        skip_once(monkeypatch, ActivationCode)
    client.force_login(superuser)

    response = client.post(change_url(code), {"max_activations": "1"}, follow=True)

    assert response.status_code == 200
    assert "2 devices are active with this code" in response.content.decode()
    assert ActivationCode.objects.get(pk=code.pk).max_activations is None
    assert not AuditEvent.objects.exists()


def test_a_forged_customer_for_an_order_is_ignored(client, superuser):
    order = LicenseTransactionFactory()
    client.force_login(superuser)
    form = {"external_id": "ORDER-RENAMED", "processed_at_0": "2026-01-01", "processed_at_1": "10:00:00"}
    client.post(change_url(order), {**form, "customer": str(CustomerFactory().pk)})
    order_now = LicenseTransaction.objects.get(pk=order.pk)
    assert (order_now.customer_id, order_now.external_id) == (order.customer_id, "ORDER-RENAMED")


def test_a_forged_customer_for_a_contact_is_ignored(client, superuser):
    contact = CustomerContactFactory()
    client.force_login(superuser)
    client.post(change_url(contact), {"customer": str(CustomerFactory().pk), "email": contact.email, "name": "New"})
    contact_now = CustomerContact.objects.get(pk=contact.pk)
    assert (contact_now.customer_id, contact_now.name) == (contact.customer_id, "New")


def test_seats_taken_after_the_form_was_checked_are_still_counted(client, superuser, monkeypatch):
    """The form saw a free seat; by the time the service holds the lock a device has
    taken it. The service refuses, the page says why, and nothing changes."""
    license = LicenseFactory(activation_code__entitlement__seats=3)
    LicenseFactory(activation_code=license.activation_code, entitlement=license.entitlement)
    entitlement = license.entitlement
    skip_once(monkeypatch, Entitlement)
    client.force_login(superuser)

    response = client.post(change_url(entitlement), entitlement_form_data(entitlement, seats=1), follow=True)

    assert "2 seats are in use" in response.content.decode()
    assert Entitlement.objects.get(pk=entitlement.pk).seats == 3
    assert not AuditEvent.objects.filter(action="entitlement.updated").exists()
