"""The rules of the edit services, through the management API: a refused edit is a 400
naming the field, in the one error shape, and changes nothing."""

import pytest

from licensing.models import ActivationCode, AuditEvent, Entitlement, LicenseTransaction, LicenseUser
from tests.factories import (
    ActivationCodeFactory,
    CustomerFactory,
    EntitlementFactory,
    LicenseFactory,
    LicenseTransactionFactory,
    LicenseUserFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db


def assert_refused(response, field: str, message: str) -> None:
    assert response.status_code == 400, response.json()
    body = response.json()
    assert (body["status"], body["code"]) == (400, "invalid")
    assert any(message in text for text in body["errors"][field]), body
    assert not AuditEvent.objects.filter(action__endswith=".updated").exists()


@pytest.mark.parametrize("method", ["patch", "put"])
def test_an_entitlement_is_not_moved_to_another_product_with_its_codes_and_licenses(api, method):
    license = LicenseFactory()
    entitlement = license.entitlement
    other = ProductFactory()
    body = {"customer": str(entitlement.customer_id), "product": str(other.pk), "seats": entitlement.seats}

    response = getattr(api, method)(f"/api/v1/entitlements/{entitlement.pk}", body, format="json")

    assert_refused(response, "product", "cannot change")
    assert Entitlement.objects.get(pk=entitlement.pk).product_id == entitlement.product_id
    assert not Entitlement.objects.filter(product=other).exists()


def test_an_entitlement_is_not_moved_to_another_customer(api):
    entitlement = EntitlementFactory()
    response = api.patch(
        f"/api/v1/entitlements/{entitlement.pk}", {"customer": str(CustomerFactory().pk)}, format="json"
    )
    assert_refused(response, "customer", "cannot change")
    assert Entitlement.objects.get(pk=entitlement.pk).customer_id == entitlement.customer_id


def test_a_code_is_not_moved_to_another_entitlement(api):
    code = ActivationCodeFactory()
    response = api.patch(
        f"/api/v1/activation-codes/{code.pk}", {"entitlement": str(EntitlementFactory().pk)}, format="json"
    )
    assert_refused(response, "entitlement", "cannot change")
    assert ActivationCode.objects.get(pk=code.pk).entitlement_id == code.entitlement_id


def test_a_codes_cap_cannot_drop_below_the_devices_active_with_it(api):
    license = LicenseFactory()
    LicenseFactory(activation_code=license.activation_code, entitlement=license.entitlement)
    code = license.activation_code
    response = api.patch(f"/api/v1/activation-codes/{code.pk}", {"max_activations": 1}, format="json")
    assert_refused(response, "max_activations", "2 devices are active with this code")
    assert ActivationCode.objects.get(pk=code.pk).max_activations is None


def test_a_license_user_is_not_moved_to_another_customer(api):
    user = LicenseUserFactory()
    response = api.patch(f"/api/v1/license-users/{user.pk}", {"customer": str(CustomerFactory().pk)}, format="json")
    assert_refused(response, "customer", "cannot change")
    assert LicenseUser.objects.get(pk=user.pk).customer_id == user.customer_id


def test_a_license_user_is_not_given_another_customers_entitlement_on_update(api):
    user = LicenseUserFactory()
    theirs = EntitlementFactory(product=ProductFactory(authorization_method="user"))
    response = api.patch(f"/api/v1/license-users/{user.pk}", {"entitlements": [str(theirs.pk)]}, format="json")
    assert_refused(response, "entitlements", "belongs to another customer")
    assert not user.entitlements.exists()


def test_an_order_is_not_moved_to_another_customer(api):
    order = LicenseTransactionFactory()
    response = api.patch(
        f"/api/v1/license-transactions/{order.pk}", {"customer": str(CustomerFactory().pk)}, format="json"
    )
    assert_refused(response, "customer", "cannot change")
    assert LicenseTransaction.objects.get(pk=order.pk).customer_id == order.customer_id


def test_a_products_activation_method_is_fixed_once_it_has_entitlements(api):
    product = ProductFactory(authorization_method="user")
    assert api.patch(f"/api/v1/products/{product.pk}", {"name": "Renamed"}, format="json").status_code == 200
    EntitlementFactory(product=product)

    response = api.patch(f"/api/v1/products/{product.pk}", {"authorization_method": "license_key"}, format="json")

    assert response.status_code == 400
    assert "has entitlements" in response.json()["errors"]["authorization_method"][0]


def test_errors_of_a_lists_items_are_one_list_of_text_saying_which_item(api):
    response = api.post(
        "/api/v1/webhook-endpoints",
        {"url": "https://hooks.example.com/", "event_types": ["customer.disabled", "nope"]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["event_types"] == ['item 1: "nope" is not a valid choice.']


def test_options_describe_what_a_write_takes(api):
    actions = api.options("/api/v1/products").json()["actions"]
    assert set(actions["POST"]) == {
        "code",
        "name",
        "authorization_method",
        "trial_allowed",
        "trial_duration",
        "trial_seats",
        "trial_features",
    }
    assert not any(field["read_only"] for field in actions["POST"].values())
