"""Every switch of the management API end to end: the row changes through the admin's service,
the change is audited with who and why, and the effective status of everything below
it follows the one rule."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from licensing import services
from licensing.actors import Actor
from licensing.models import ApiToken, AuditEvent, Customer, License, LicenseTransaction
from licensing.signing import current_signer
from tests.factories import (
    ActivationCodeFactory,
    CustomerFactory,
    EntitlementFactory,
    LicenseFactory,
    LicenseTransactionFactory,
)
from tests.licensing.api.conftest import ClientApp

pytestmark = pytest.mark.django_db


def audited(target, action: str) -> AuditEvent:
    event = AuditEvent.objects.filter(target_id=target.pk, action=action).get()
    token = ApiToken.objects.get(name="billing")
    assert (event.actor_type, event.actor_id, event.actor_label) == ("api_token", str(token.pk), "billing")
    return event


@pytest.mark.parametrize("method", ["post", "patch"])
def test_disabling_a_customer_disables_everything_it_owns_and_enabling_restores_it(api, method):
    license = LicenseFactory()
    customer = license.entitlement.customer
    response = getattr(api, method)(f"/api/v1/customers/{customer.pk}/disable", {"reason": "unpaid"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["status_reason"]) == ("disabled", "unpaid")
    assert (body["effective_status"], body["effective_reason"]) == ("disabled", "customer_disabled")
    assert body["effective_status_text"] == "Disabled: customer disabled"
    assert audited(customer, "customer.disabled").reason == "unpaid"

    below = api.get(f"/api/v1/licenses/{license.pk}").json()
    assert (below["status"], below["effective_status"], below["effective_reason"]) == (
        "active",
        "disabled",
        "customer_disabled",
    )

    response = getattr(api, method)(f"/api/v1/customers/{customer.pk}/enable", {}, format="json")
    assert response.json()["effective_status"] == "active"
    assert api.get(f"/api/v1/licenses/{license.pk}").json()["effective_status"] == "active"
    audited(customer, "customer.enabled")


def test_reenabling_a_customer_keeps_an_entitlement_that_was_disabled_on_its_own(api):
    entitlement = EntitlementFactory()
    api.post(f"/api/v1/entitlements/{entitlement.pk}/disable", {"reason": "refund"}, format="json")
    api.post(f"/api/v1/customers/{entitlement.customer_id}/disable", {}, format="json")
    api.post(f"/api/v1/customers/{entitlement.customer_id}/enable", {}, format="json")
    body = api.get(f"/api/v1/entitlements/{entitlement.pk}").json()
    assert (body["effective_status"], body["effective_reason"]) == ("disabled", "entitlement_disabled")
    assert body["status_reason"] == "refund"


def test_entitlement_disable_and_enable(api):
    entitlement = EntitlementFactory()
    body = api.post(f"/api/v1/entitlements/{entitlement.pk}/disable", {"reason": "x"}, format="json").json()
    assert (body["status"], body["effective_reason"]) == ("disabled", "entitlement_disabled")
    audited(entitlement, "entitlement.disabled")
    body = api.post(f"/api/v1/entitlements/{entitlement.pk}/enable", {}, format="json").json()
    assert body["effective_status"] == "active"
    audited(entitlement, "entitlement.enabled")


def test_activation_code_disable_enable_and_final_revoke(api):
    code = ActivationCodeFactory()
    path = f"/api/v1/activation-codes/{code.pk}"
    assert api.post(f"{path}/disable", {}, format="json").json()["effective_reason"] == "code_disabled"
    assert api.post(f"{path}/enable", {}, format="json").json()["effective_status"] == "active"
    body = api.post(f"{path}/revoke", {"reason": "leaked"}, format="json").json()
    assert (body["status"], body["effective_reason"]) == ("revoked", "code_revoked")
    for action in ("disabled", "enabled", "revoked"):
        audited(code, f"activation_code.{action}")

    again = api.post(f"{path}/revoke", {}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    assert "final" in again.json()["message"]
    assert api.post(f"{path}/enable", {}, format="json").status_code == 409


def test_license_suspend_resume_and_revoke_with_patch(api):
    license = LicenseFactory()
    path = f"/api/v1/licenses/{license.pk}"
    body = api.patch(path, {"suspended": True, "reason": "audit"}, format="json").json()
    assert (body["status"], body["effective_reason"], body["status_reason"]) == (
        "suspended",
        "license_suspended",
        "audit",
    )
    assert api.patch(path, {"suspended": False}, format="json").json()["effective_status"] == "active"
    assert api.patch(path, {"revoked": True}, format="json").json()["effective_reason"] == "license_revoked"
    for action in ("suspended", "resumed", "revoked"):
        audited(license, f"license.{action}")


@pytest.mark.parametrize(
    "body",
    [{}, {"suspended": True, "revoked": True}, {"revoked": False}, {"suspended": "maybe"}, {"status": "revoked"}],
)
def test_a_license_patch_that_is_not_exactly_one_switch_is_refused_and_changes_nothing(api, body):
    license = LicenseFactory()
    response = api.patch(f"/api/v1/licenses/{license.pk}", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    license.refresh_from_db()
    assert license.status == License.Status.ACTIVE
    assert not AuditEvent.objects.filter(target_id=license.pk).exists()


def test_deactivating_a_license_frees_its_seat_at_once(api):
    license = LicenseFactory()
    entitlement_path = f"/api/v1/entitlements/{license.entitlement_id}"
    assert api.get(entitlement_path).json()["seats_used"] == 1
    body = api.post(f"/api/v1/licenses/{license.pk}/deactivate", {}, format="json").json()
    assert (body["status"], body["effective_reason"]) == ("deactivated", "license_deactivated")
    assert body["deactivated_at"] is not None
    assert api.get(entitlement_path).json()["seats_used"] == 0
    audited(license, "license.deactivated")


def test_switching_something_already_in_that_state_is_a_409_and_records_nothing(api):
    customer = CustomerFactory()
    api.post(f"/api/v1/customers/{customer.pk}/disable", {}, format="json")
    response = api.post(f"/api/v1/customers/{customer.pk}/disable", {"reason": "again"}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "code": "invalid_transition",
        "message": "Cannot disable this customer: it is disabled.",
    }
    assert AuditEvent.objects.filter(target_id=customer.pk, action="customer.disabled").count() == 1


@pytest.mark.parametrize("target", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_switching_an_unknown_or_malformed_id_is_a_404(api, target):
    response = api.post(f"/api/v1/customers/{target}/disable", {}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# 10Duke-style suspend/resume of a license transaction ----------------------------------


@pytest.fixture
def order():
    customer = CustomerFactory(kind=Customer.Kind.ORGANIZATION)
    transaction = LicenseTransactionFactory(customer=customer, external_id="ORD-1001")
    entitlement = EntitlementFactory(
        customer=customer, transaction=transaction, seats=5, valid_until=timezone.now() + dt.timedelta(days=30)
    )
    code = ActivationCodeFactory(entitlement=entitlement)
    LicenseFactory(entitlement=entitlement, activation_code=code)
    return transaction


def transaction_path(transaction, verb: str, prefix: str = "organizations") -> str:
    return f"/api/v1/{prefix}/{transaction.customer_id}/license-transactions/{transaction.external_id}/{verb}-licenses"


def test_suspend_licenses_answers_with_the_transaction_and_each_items_seats(api, order):
    response = api.put(transaction_path(order, "suspend"), {"reason": "chargeback"}, format="json")
    assert response.status_code == 200
    transaction = response.json()["transaction"]
    entitlement = order.entitlements.get()
    assert transaction["id"] == str(order.pk)
    assert transaction["externalId"] == "ORD-1001"
    assert transaction["processed"].endswith("Z")
    assert transaction["status"] == "suspended"
    [item] = transaction["items"]
    assert item["id"] == str(entitlement.pk)
    assert item["productId"] == str(entitlement.product_id)
    assert item["quantity"] == 5
    assert item["licenseValidFrom"] and item["licenseValidUntil"]
    assert item["licenses"] == [
        {
            "id": str(entitlement.pk),
            "active": False,
            "seatsTaken": 1,
            "seatsTotal": 5,
            "effectiveStatus": "suspended",
            "effectiveReason": "transaction_suspended",
        }
    ]
    assert audited(order, "transaction.suspended").reason == "chargeback"

    resumed = api.put(transaction_path(order, "resume"), {}, format="json").json()["transaction"]
    assert resumed["status"] == "active"
    assert resumed["items"][0]["licenses"][0]["active"] is True
    audited(order, "transaction.resumed")


def test_a_client_check_on_a_suspended_transactions_license_says_why(api, order):
    current_signer.cache_clear()
    credential, shared_key = services.client_credential_create(name="app", actor=Actor.system("test"))
    client = ClientApp(http=Client(), api_key=credential.api_key, shared_key=shared_key)
    license = License.objects.get()
    query = {
        "product": license.entitlement.product.code,
        "hardware_id": license.device.hardware_id,
        "license_key": license.activation_code.code,
    }
    assert client.get("check_license", query).status_code == 200

    api.put(transaction_path(order, "suspend"), {}, format="json")
    refused = client.get("check_license", query).json()
    assert (refused["code"], refused["reason"]) == ("license_not_enabled", "transaction_suspended")

    api.put(transaction_path(order, "resume"), {}, format="json")
    assert client.get("check_license", query).status_code == 200


def test_the_person_path_refuses_an_organization_and_changes_nothing(api, order):
    response = api.put(transaction_path(order, "suspend", prefix="users"), {}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "wrong_customer_kind"
    assert "/api/v1/organizations/" in response.json()["message"]
    order.refresh_from_db()
    assert order.status == LicenseTransaction.Status.ACTIVE


def test_the_person_path_serves_a_person(api):
    person = CustomerFactory(kind=Customer.Kind.PERSON)
    transaction = LicenseTransactionFactory(customer=person, external_id="ORD-7")
    response = api.put(transaction_path(transaction, "suspend", prefix="users"), {}, format="json")
    assert response.status_code == 200
    assert response.json()["transaction"]["status"] == "suspended"


def test_a_transaction_of_another_customer_is_not_found_and_unchanged(api, order):
    stranger = CustomerFactory(kind=Customer.Kind.ORGANIZATION)
    response = api.put(
        f"/api/v1/organizations/{stranger.pk}/license-transactions/{order.external_id}/suspend-licenses",
        {},
        format="json",
    )
    assert response.status_code == 404
    order.refresh_from_db()
    assert order.status == LicenseTransaction.Status.ACTIVE


def test_suspending_a_suspended_transaction_is_a_409(api, order):
    api.put(transaction_path(order, "suspend"), {}, format="json")
    response = api.put(transaction_path(order, "suspend"), {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


def test_a_malformed_customer_id_in_a_transaction_path_is_a_404(api, order):
    response = api.put(
        f"/api/v1/organizations/nope/license-transactions/{order.external_id}/suspend-licenses", {}, format="json"
    )
    assert response.status_code == 404


@pytest.mark.parametrize("external_id", ["ORD%00-1", "ORD%1F-1", "x" * 201])
def test_an_external_id_no_order_could_have_is_a_404_not_a_database_error(token, order, external_id):
    # Such a path reaches the catch-all view, not DRF's; checked with CSRF enforced, as a
    # real client meets it (Django's test clients skip the check).
    api = APIClient(enforce_csrf_checks=True)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api.put(
        f"/api/v1/organizations/{order.customer_id}/license-transactions/{external_id}/suspend-licenses",
        {},
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
