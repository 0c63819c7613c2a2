"""The admin's one-click switches: button, confirmation, service call, message."""

import pytest
from django.urls import reverse

from licensing import services
from licensing.models import ActivationCode, AuditEvent, Customer, Entitlement, License
from tests.factories import ActivationCodeFactory, CustomerFactory, EntitlementFactory, LicenseFactory
from tests.licensing.admin.urls import action_url, change_url

pytestmark = pytest.mark.django_db


def test_customer_page_offers_disable_then_enable(client, superuser, actor):
    customer = CustomerFactory()
    client.force_login(superuser)
    page = client.get(change_url(customer)).content.decode()
    assert "Disable customer" in page
    assert "Enable customer" not in page

    services.customer_disable(customer=customer, actor=actor)
    page = client.get(change_url(customer)).content.decode()
    assert "Enable customer" in page
    assert "Disable customer" not in page


def test_confirming_disables_the_customer_with_reason_and_message(client, superuser):
    customer = CustomerFactory(name="Acme")
    client.force_login(superuser)

    confirmation = client.get(action_url(customer, "disable"))
    assert confirmation.status_code == 200
    assert "stops working" in confirmation.content.decode()
    assert Customer.objects.get(pk=customer.pk).status == "active"  # a GET changes nothing

    response = client.post(action_url(customer, "disable"), {"reason": "Invoice 42 overdue"}, follow=True)
    assert response.redirect_chain[-1][0] == change_url(customer)
    assert "Customer “Acme” disabled." in response.content.decode()
    customer.refresh_from_db()
    assert customer.status == Customer.Status.DISABLED
    event = AuditEvent.objects.for_target(customer).get()
    assert (event.reason, event.actor_label, event.ip) == ("Invoice 42 overdue", superuser.username, "127.0.0.1")


def test_get_on_action_url_changes_nothing(client, superuser):
    customer = CustomerFactory()
    client.force_login(superuser)
    client.get(action_url(customer, "disable"))
    customer.refresh_from_db()
    assert customer.status == Customer.Status.ACTIVE
    assert not AuditEvent.objects.exists()


def test_switch_that_no_longer_applies_warns_and_changes_nothing(client, superuser, actor):
    customer = CustomerFactory()
    services.customer_disable(customer=customer, actor=actor, reason="first")
    client.force_login(superuser)
    response = client.post(action_url(customer, "disable"), {"reason": "second"}, follow=True)
    assert "is disabled; nothing to disable" in response.content.decode()
    assert AuditEvent.objects.count() == 1


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "%00", "1" * 500])
def test_switch_on_unknown_or_malformed_id_is_404(client, superuser, bad_id):
    client.force_login(superuser)
    url = reverse("admin:licensing_customer_changelist") + f"{bad_id}/actions/disable/"
    assert client.post(url, {"reason": "x"}).status_code == 404


def test_unknown_switch_name_is_404(client, superuser):
    client.force_login(superuser)
    assert client.post(action_url(CustomerFactory(), "delete-everything")).status_code == 404


def test_overlong_reason_is_refused_with_a_message(client, superuser):
    customer = CustomerFactory()
    client.force_login(superuser)
    response = client.post(action_url(customer, "disable"), {"reason": "x" * 2001})
    assert response.status_code == 200
    assert "at most 2000 characters" in response.content.decode()
    customer.refresh_from_db()
    assert customer.status == Customer.Status.ACTIVE


@pytest.mark.parametrize(
    ("factory", "name", "field_value"),
    [
        (EntitlementFactory, "disable", ("status", Entitlement.Status.DISABLED)),
        (ActivationCodeFactory, "disable", ("status", ActivationCode.Status.DISABLED)),
        (ActivationCodeFactory, "revoke", ("status", ActivationCode.Status.REVOKED)),
        (LicenseFactory, "suspend", ("status", License.Status.SUSPENDED)),
        (LicenseFactory, "deactivate", ("status", License.Status.DEACTIVATED)),
        (LicenseFactory, "revoke", ("status", License.Status.REVOKED)),
    ],
)
def test_every_switch_button_calls_its_service(client, superuser, factory, name, field_value):
    obj = factory()
    client.force_login(superuser)
    assert action_url(obj, name) in client.get(change_url(obj)).content.decode()
    client.post(action_url(obj, name), {"reason": "support ticket 7"})
    obj.refresh_from_db()
    assert getattr(obj, field_value[0]) == field_value[1]
    assert AuditEvent.objects.for_target(obj).get().reason == "support ticket 7"


def test_bulk_disable_asks_for_confirmation_then_disables_each(client, superuser, actor):
    customers = CustomerFactory.create_batch(3)
    services.customer_disable(customer=customers[0], actor=actor)
    client.force_login(superuser)
    changelist = reverse("admin:licensing_customer_changelist")
    selected = [str(c.pk) for c in customers]

    confirmation = client.post(changelist, {"action": "disable_selected", "_selected_action": selected})
    assert confirmation.status_code == 200
    assert "Disable customer" in confirmation.content.decode()
    assert Customer.objects.disabled().count() == 1

    response = client.post(
        changelist,
        {"action": "disable_selected", "_selected_action": selected, "confirm": "yes", "reason": "fraud"},
        follow=True,
    )
    assert "Disabled 2 customers. 1 skipped" in response.content.decode()
    assert Customer.objects.disabled().count() == 3
    assert AuditEvent.objects.filter(action="customer.disabled", reason="fraud").count() == 2


def test_audit_history_shows_on_the_object_page(client, superuser, actor):
    entitlement = EntitlementFactory()
    services.entitlement_disable(entitlement=entitlement, actor=actor, reason="chargeback")
    client.force_login(superuser)
    page = client.get(change_url(entitlement)).content.decode()
    assert "entitlement.disabled" in page
    assert "chargeback" in page
