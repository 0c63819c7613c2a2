"""Support staff may flip reversible switches; only licensing admins and superusers may
revoke. Enforced on the server: a forged request is refused, not just a hidden button."""

import pytest
from django.urls import reverse

from licensing.models import ActivationCode, AuditEvent, Customer, License
from tests.factories import ActivationCodeFactory, CustomerFactory, LicenseFactory, StaffUserFactory
from tests.licensing.admin.urls import action_url, change_url

pytestmark = pytest.mark.django_db


def test_support_can_disable_and_enable_a_customer(client, support_user):
    customer = CustomerFactory()
    client.force_login(support_user)
    assert "Disable customer" in client.get(change_url(customer)).content.decode()
    client.post(action_url(customer, "disable"), {"reason": "overdue"})
    customer.refresh_from_db()
    assert customer.status == Customer.Status.DISABLED
    client.post(action_url(customer, "enable"))
    customer.refresh_from_db()
    assert customer.status == Customer.Status.ACTIVE


def test_support_can_suspend_a_license(client, support_user):
    license = LicenseFactory()
    client.force_login(support_user)
    client.post(action_url(license, "suspend"))
    license.refresh_from_db()
    assert license.status == License.Status.SUSPENDED


@pytest.mark.parametrize(("factory", "model"), [(ActivationCodeFactory, ActivationCode), (LicenseFactory, License)])
def test_support_sees_no_revoke_button_and_a_forged_revoke_is_refused(client, support_user, factory, model):
    obj = factory()
    client.force_login(support_user)
    page = client.get(change_url(obj)).content.decode()
    assert "Revoke" not in page

    assert client.get(action_url(obj, "revoke")).status_code == 403
    assert client.post(action_url(obj, "revoke"), {"reason": "forged"}).status_code == 403
    assert model.objects.get(pk=obj.pk).status == "active"
    assert not AuditEvent.objects.exists()


def test_support_cannot_bulk_revoke_codes_by_forging_the_action(client, support_user):
    code = ActivationCodeFactory()
    client.force_login(support_user)
    changelist = reverse("admin:licensing_activationcode_changelist")
    assert "revoke_selected" not in client.get(changelist).content.decode()
    client.post(
        changelist,
        {"action": "revoke_selected", "_selected_action": [str(code.pk)], "confirm": "yes", "reason": "forged"},
    )
    code.refresh_from_db()
    assert code.status == ActivationCode.Status.ACTIVE


@pytest.mark.parametrize("user_fixture", ["licensing_admin", "superuser"])
@pytest.mark.parametrize(("factory", "model"), [(ActivationCodeFactory, ActivationCode), (LicenseFactory, License)])
def test_licensing_admin_and_superuser_may_revoke(request, client, user_fixture, factory, model):
    obj = factory()
    client.force_login(request.getfixturevalue(user_fixture))
    assert "Revoke" in client.get(change_url(obj)).content.decode()
    client.post(action_url(obj, "revoke"), {"reason": "fraud"})
    assert model.objects.get(pk=obj.pk).status == "revoked"


def test_staff_without_a_role_can_flip_nothing(client, roles):
    customer = CustomerFactory()
    client.force_login(StaffUserFactory())
    assert client.post(action_url(customer, "disable")).status_code == 403
    customer.refresh_from_db()
    assert customer.status == Customer.Status.ACTIVE


def test_anonymous_is_sent_to_login(client):
    customer = CustomerFactory()
    response = client.post(action_url(customer, "disable"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    customer.refresh_from_db()
    assert customer.status == Customer.Status.ACTIVE
