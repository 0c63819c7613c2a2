"""One representation of each resource serves the management API and webhook `data`:
what a vendor's integration receives in an event is what it would read from the API
at that moment, and the outbox never goes through an API view to build it."""

import json

import pytest
from django.db import transaction

from licensing import representations, services
from licensing.api.management import views
from licensing.api.management.webhooks import WebhookDeliveryViewSet, WebhookEndpointViewSet
from licensing.models import License, Product, WebhookEvent
from licensing.representations.events import EVENTS
from licensing.services import switches
from tests.factories import (
    ActivationCodeFactory,
    CustomerFactory,
    EntitlementFactory,
    LicenseFactory,
    LicenseTransactionFactory,
    LicenseUserFactory,
    ProductFactory,
    WebhookEndpointFactory,
)

pytestmark = pytest.mark.django_db


def _event_data(event_type: str) -> dict:
    return json.loads(WebhookEvent.objects.get(type=event_type).payload)["data"]


def _license_user_given_an_entitlement(actor):
    user = LicenseUserFactory()
    product = ProductFactory(authorization_method=Product.AuthorizationMethod.USER)
    entitlement = EntitlementFactory(customer=user.customer, product=product)
    return services.license_user_update(license_user=user, data={"entitlements": [entitlement]}, actor=actor)


# Each resource that announces events: how to make one event of it, and its API path.
EVENT_TESTS = {
    "customer.disabled": (
        lambda actor: services.customer_disable(customer=CustomerFactory(), actor=actor),
        "customers",
    ),
    "product.updated": (
        lambda actor: services.product_update(product=ProductFactory(), data={"name": "Renamed"}, actor=actor),
        "products",
    ),
    "transaction.suspended": (
        lambda actor: services.transaction_suspend(license_transaction=LicenseTransactionFactory(), actor=actor),
        "license-transactions",
    ),
    "entitlement.updated": (
        lambda actor: services.entitlement_update(
            entitlement=LicenseFactory().entitlement, data={"seats": 7}, actor=actor
        ),
        "entitlements",
    ),
    "activation_code.revoked": (
        lambda actor: services.activation_code_revoke(activation_code=LicenseFactory().activation_code, actor=actor),
        "activation-codes",
    ),
    "license_user.updated": (_license_user_given_an_entitlement, "license-users"),
    "license.suspended": (lambda actor: services.license_suspend(license=LicenseFactory(), actor=actor), "licenses"),
}


@pytest.mark.parametrize("event_type", EVENT_TESTS)
def test_webhook_data_is_what_the_management_api_shows_for_the_row_at_that_moment(api, actor, event_type):
    WebhookEndpointFactory()
    make, path = EVENT_TESTS[event_type]

    row = make(actor)

    data = _event_data(event_type)
    assert data["id"] == str(row.pk)
    assert api.get(f"/api/v1/{path}/{row.pk}").json() == data


def test_every_resource_that_announces_events_is_represented_and_covered_above():
    announced = {model.resource_name for model in EVENTS}
    assert set(EVENTS) <= set(representations.RESOURCES)
    assert announced == {event.split(".")[0] for event in EVENT_TESTS}


def test_every_switch_is_an_event_type_and_so_is_every_edit_of_an_announcing_resource():
    transitions = [value for value in vars(switches).values() if isinstance(value, switches.Transition)]
    assert len(transitions) >= 14
    assert {t.action for t in transitions} <= set(representations.EVENT_TYPES)
    edited = {model.resource_name for model in EVENTS if model is not License}
    assert {f"{name}.{verb}" for name in edited for verb in ("created", "updated")} <= set(representations.EVENT_TYPES)


def test_the_answer_to_a_write_is_the_representation_too(api):
    customer = CustomerFactory()
    answer = api.patch(f"/api/v1/customers/{customer.pk}", {"name": "Acme Ltd"}, format="json").json()
    assert answer == representations.represent(customer) == api.get(f"/api/v1/customers/{customer.pk}").json()


VIEWSETS = [
    views.ProductViewSet,
    views.CustomerViewSet,
    views.LicenseTransactionViewSet,
    views.EntitlementViewSet,
    views.ActivationCodeViewSet,
    views.LicenseUserViewSet,
    views.DeviceViewSet,
    views.LicenseViewSet,
    views.AuditEventViewSet,
    WebhookEndpointViewSet,
    WebhookDeliveryViewSet,
]


@pytest.fixture
def viewsets_reading_the_request(monkeypatch):
    """Every management viewset's `get_queryset` reads `self.request.query_params` first,
    as an ordinary DRF filter does: a change made outside a request must not care."""
    for viewset in VIEWSETS:
        original = viewset.get_queryset

        def get_queryset(self, original=original):
            self.request.query_params.get("anything")
            return original(self)

        monkeypatch.setattr(viewset, "get_queryset", get_queryset)


CHANGES = {
    "customer.enabled": lambda actor: services.customer_enable(
        customer=services.customer_disable(customer=CustomerFactory(), actor=actor), actor=actor
    ),
    "entitlement.disabled": lambda actor: services.entitlement_disable(entitlement=EntitlementFactory(), actor=actor),
    "transaction.suspended": lambda actor: services.transaction_suspend(
        license_transaction=LicenseTransactionFactory(), actor=actor
    ),
    "activation_code.disabled": lambda actor: services.activation_code_disable(
        activation_code=ActivationCodeFactory(), actor=actor
    ),
    "license.revoked": lambda actor: services.license_revoke(license=LicenseFactory(), actor=actor),
    "license.deactivated": lambda actor: services.license_deactivate(license=LicenseFactory(), actor=actor),
    "customer.updated": lambda actor: services.customer_update(
        customer=CustomerFactory(), data={"name": "New name"}, actor=actor
    ),
}


@pytest.mark.parametrize("event_type", CHANGES)
def test_a_change_with_an_active_endpoint_never_goes_through_an_api_view(
    viewsets_reading_the_request, actor, event_type
):
    WebhookEndpointFactory()
    with transaction.atomic():
        CHANGES[event_type](actor)
    assert WebhookEvent.objects.filter(type=event_type).count() == 1


def test_the_experiment_breaks_what_does_go_through_a_view(viewsets_reading_the_request, api):
    """The fixture above does bite: an API list, which has a request, still works, and a
    view without one fails, as the outbox once did when it built `data` through a view."""
    assert api.get("/api/v1/entitlements").status_code == 200
    with pytest.raises(AttributeError):
        views.EntitlementViewSet().get_queryset()
