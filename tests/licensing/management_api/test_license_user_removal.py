"""Taking a license user off an entitlement releases their licenses on it, in the same
transaction, audited and announced: their devices stop at the next check, through
whichever interface the user was removed."""

import pytest
from django.test import Client

from licensing import services
from licensing.actors import Actor
from licensing.models import AuditEvent, License, Product, WebhookEvent
from tests.factories import (
    CustomerFactory,
    EntitlementFactory,
    LicenseUserFactory,
    ProductFactory,
    WebhookEndpointFactory,
)
from tests.licensing.admin.urls import change_url
from tests.licensing.api.conftest import ClientApp

pytestmark = pytest.mark.django_db

USERNAME, PASSWORD = "ada@customer.example", "correct horse battery staple"


@pytest.fixture
def holding(db):
    """A license user with a running device on one entitlement, and another entitlement."""
    customer = CustomerFactory()
    product = ProductFactory(code="team", authorization_method=Product.AuthorizationMethod.USER)
    kept = EntitlementFactory(customer=customer, product=ProductFactory(authorization_method="user"))
    removed = EntitlementFactory(customer=customer, product=product)
    user = LicenseUserFactory(customer=customer, username=USERNAME)
    user.entitlements.add(removed, kept)
    return user, removed, kept


@pytest.fixture
def app(db) -> ClientApp:
    """The user's application, signing with a client credential of its own."""
    credential, shared_key = services.client_credential_create(name="Team app", actor=Actor.system("test"))
    return ClientApp(http=Client(), api_key=credential.api_key, shared_key=shared_key)


def activate_and_check(app: ClientApp) -> tuple[int, dict]:
    identity = {"product": "team", "hardware_id": "hw-1", "username": USERNAME}
    assert app.post("activate_license", {**identity, "password": PASSWORD}).status_code == 200
    response = app.get("check_license", identity)
    return response.status_code, response.json()


def check(app: ClientApp):
    return app.get("check_license", {"product": "team", "hardware_id": "hw-1", "username": USERNAME})


def assert_released(user, removed) -> None:
    license = License.objects.get(license_user=user, entitlement=removed)
    assert license.status == License.Status.DEACTIVATED and license.deactivated_at is not None
    event = AuditEvent.objects.get(action="license.deactivated", target_id=license.pk)
    assert event.reason == "The license user was removed from the entitlement."
    assert WebhookEvent.objects.filter(type="license.deactivated").count() == 1


def test_removing_a_user_through_the_api_stops_their_device_at_the_next_check(app, api, holding):
    user, removed, kept = holding
    WebhookEndpointFactory()
    assert activate_and_check(app)[0] == 200

    response = api.patch(f"/api/v1/license-users/{user.pk}", {"entitlements": [str(kept.pk)]}, format="json")

    assert response.status_code == 200
    assert check(app).json()["code"] == "device_not_found"
    assert_released(user, removed)


def test_removing_a_user_through_the_service_releases_suspended_licenses_too(app, holding, actor):
    user, _, _ = holding
    activate_and_check(app)
    services.license_suspend(license=License.objects.get(), actor=actor)

    services.license_user_update(license_user=user, data={"entitlements": []}, actor=actor)

    assert not License.objects.holding_seat().exists()
    assert check(app).json()["code"] == "device_not_found"


def test_removing_a_user_in_the_admin_releases_their_licenses(app, holding, superuser):
    user, removed, kept = holding
    WebhookEndpointFactory()
    activate_and_check(app)
    admin = Client()
    admin.force_login(superuser)

    admin.post(change_url(user), {"username": user.username, "name": "", "entitlements": [str(kept.pk)]})

    assert_released(user, removed)


def test_keeping_the_entitlement_keeps_the_license(app, api, holding):
    user, removed, _ = holding
    activate_and_check(app)
    api.patch(f"/api/v1/license-users/{user.pk}", {"name": "Ada", "entitlements": [str(removed.pk)]}, format="json")
    assert check(app).status_code == 200
