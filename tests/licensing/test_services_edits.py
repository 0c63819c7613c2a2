"""The edit services: each rule across fields and rows holds when the service is called
directly, as a task or a command would call it, not only behind a form or a serializer.
A refused edit changes nothing and records nothing."""

import threading

import pytest
from django.db import connection

from licensing import services
from licensing.errors import InvalidEdit, Refusal
from licensing.models import (
    ActivationCode,
    AuditEvent,
    CustomerContact,
    Entitlement,
    LicenseTransaction,
    LicenseUser,
    Product,
    WebhookEndpoint,
)
from tests.factories import (
    ActivationCodeFactory,
    CustomerContactFactory,
    CustomerFactory,
    EntitlementFactory,
    LicenseFactory,
    LicenseTransactionFactory,
    LicenseUserFactory,
    ProductFactory,
    WebhookEndpointFactory,
)

pytestmark = pytest.mark.django_db


def refused(call, field: str, message: str) -> InvalidEdit:
    recorded = AuditEvent.objects.count()
    with pytest.raises(InvalidEdit) as error:
        call()
    assert field in error.value.errors
    assert any(message in text for text in error.value.errors[field]), error.value.errors
    assert AuditEvent.objects.count() == recorded
    return error.value


def user_product() -> Product:
    return ProductFactory(authorization_method=Product.AuthorizationMethod.USER)


# Creating and editing are recorded.


def test_creating_records_every_field_and_editing_records_what_changed(actor):
    entitlement = EntitlementFactory.build(customer=CustomerFactory(), product=ProductFactory(), seats=3)
    entitlement.transaction = None
    services.entitlement_create(entitlement=entitlement, actor=actor)
    services.entitlement_update(entitlement=entitlement, data={"seats": 9}, actor=actor)

    created, updated = AuditEvent.objects.for_target(entitlement).order_by("occurred_at")
    assert created.action == "entitlement.created" and created.before == {}
    assert created.after["seats"] == 3 and created.after["product"] == str(entitlement.product_id)
    assert (updated.action, updated.before, updated.after) == ("entitlement.updated", {"seats": 3}, {"seats": 9})


def test_a_new_password_is_recorded_as_changed_never_as_its_hash(actor):
    user = LicenseUserFactory()
    services.license_user_update(license_user=user, data={"password": "a new secret 123"}, actor=actor)
    user.refresh_from_db()
    assert user.check_password("a new secret 123")
    event = AuditEvent.objects.get(target_id=user.pk)
    assert event.action == "license_user.password_changed"
    assert user.password not in str(event.before) + str(event.after)


def test_an_unknown_field_is_a_programming_error_not_an_edit(actor):
    with pytest.raises(ValueError, match="status"):
        services.customer_update(customer=CustomerFactory(), data={"status": "disabled"}, actor=actor)


# Entitlements.


@pytest.mark.parametrize("field", ["customer", "product"])
def test_an_entitlements_customer_and_product_are_fixed(actor, field):
    license = LicenseFactory()
    entitlement = license.entitlement
    other = {"customer": CustomerFactory, "product": ProductFactory}[field]()

    refused(
        lambda: services.entitlement_update(entitlement=entitlement, data={field: other}, actor=actor),
        field,
        "cannot change",
    )
    # Its codes and licenses stay where they were.
    assert getattr(Entitlement.objects.get(pk=entitlement.pk), f"{field}_id") == getattr(entitlement, f"{field}_id")
    assert license.entitlement_id == entitlement.pk


def test_sending_an_entitlements_own_customer_and_product_again_is_no_move(actor):
    entitlement = EntitlementFactory()
    data = {"customer": entitlement.customer, "product": entitlement.product, "seats": 2}
    services.entitlement_update(entitlement=entitlement, data=data, actor=actor)
    assert Entitlement.objects.get(pk=entitlement.pk).seats == 2


def test_an_entitlement_cannot_hang_on_another_customers_transaction(actor):
    entitlement = EntitlementFactory()
    foreign = LicenseTransactionFactory()
    refused(
        lambda: services.entitlement_update(entitlement=entitlement, data={"transaction": foreign}, actor=actor),
        "transaction",
        "belongs to another customer",
    )
    new = EntitlementFactory.build(customer=CustomerFactory(), product=ProductFactory(), transaction=foreign)
    refused(lambda: services.entitlement_create(entitlement=new, actor=actor), "transaction", "another customer")
    assert not Entitlement.objects.filter(pk=new.pk).exists()


def test_seats_cannot_drop_below_the_licenses_holding_them(actor):
    license = LicenseFactory(activation_code__entitlement__seats=2)
    LicenseFactory(activation_code=license.activation_code, entitlement=license.entitlement)
    entitlement = license.entitlement

    refused(
        lambda: services.entitlement_update(entitlement=entitlement, data={"seats": 1}, actor=actor),
        "seats",
        "2 seats are in use",
    )
    assert Entitlement.objects.get(pk=entitlement.pk).seats == 2

    services.license_deactivate(license=license, actor=actor)
    services.entitlement_update(entitlement=entitlement, data={"seats": 1}, actor=actor)
    assert Entitlement.objects.get(pk=entitlement.pk).seats == 1


# Activation codes.


def test_a_code_stays_with_its_entitlement(actor):
    code = ActivationCodeFactory()
    refused(
        lambda: services.activation_code_update(
            activation_code=code, data={"entitlement": EntitlementFactory()}, actor=actor
        ),
        "entitlement",
        "cannot change",
    )
    assert ActivationCode.objects.get(pk=code.pk).entitlement_id == code.entitlement_id


def test_a_codes_cap_cannot_drop_below_the_devices_active_with_it(actor):
    license = LicenseFactory()
    LicenseFactory(activation_code=license.activation_code, entitlement=license.entitlement)
    code = license.activation_code

    refused(
        lambda: services.activation_code_update(activation_code=code, data={"max_activations": 1}, actor=actor),
        "max_activations",
        "2 devices are active with this code",
    )
    assert ActivationCode.objects.get(pk=code.pk).max_activations is None

    services.activation_code_update(activation_code=code, data={"max_activations": 2}, actor=actor)
    assert ActivationCode.objects.get(pk=code.pk).max_activations == 2


# License users.


def test_a_license_user_holds_only_its_customers_entitlements(actor):
    user = LicenseUserFactory()
    theirs = EntitlementFactory(product=user_product())
    refused(
        lambda: services.license_user_update(license_user=user, data={"entitlements": [theirs]}, actor=actor),
        "entitlements",
        "belongs to another customer",
    )
    new = LicenseUser(customer=CustomerFactory(), username="new@customer.example")
    refused(
        lambda: services.license_user_create(
            license_user=new, password="long enough", entitlements=[theirs], actor=actor
        ),
        "entitlements",
        "belongs to another customer",
    )
    assert not LicenseUser.objects.filter(username="new@customer.example").exists()
    assert not user.entitlements.exists()


def test_a_license_user_holds_only_user_based_entitlements(actor):
    user = LicenseUserFactory()
    keyed = EntitlementFactory(customer=user.customer)
    refused(
        lambda: services.license_user_update(license_user=user, data={"entitlements": [keyed]}, actor=actor),
        "entitlements",
        "activated with keys",
    )


def test_a_license_user_stays_with_its_customer(actor):
    user = LicenseUserFactory()
    refused(
        lambda: services.license_user_update(license_user=user, data={"customer": CustomerFactory()}, actor=actor),
        "customer",
        "cannot change",
    )
    assert LicenseUser.objects.get(pk=user.pk).customer_id == user.customer_id


# Other records that belong to a customer, and fixed rights.


def test_an_order_stays_with_its_customer(actor):
    order = LicenseTransactionFactory()
    refused(
        lambda: services.transaction_update(
            license_transaction=order, data={"customer": CustomerFactory()}, actor=actor
        ),
        "customer",
        "cannot change",
    )
    assert LicenseTransaction.objects.get(pk=order.pk).customer_id == order.customer_id


def test_a_contact_stays_with_its_customer(actor):
    contact = CustomerContactFactory()
    refused(
        lambda: services.customer_contact_update(contact=contact, data={"customer": CustomerFactory()}, actor=actor),
        "customer",
        "cannot change",
    )
    assert CustomerContact.objects.get(pk=contact.pk).customer_id == contact.customer_id


def test_a_tokens_rights_are_fixed(actor):
    token, _ = services.api_token_create(name="billing", read_only=True, actor=actor)
    refused(
        lambda: services.api_token_update(token=token, data={"read_only": False}, actor=actor),
        "read_only",
        "cannot change",
    )


def test_an_endpoint_subscribes_only_to_event_types_that_exist(actor):
    refused(
        lambda: services.webhook_endpoint_create(
            endpoint=WebhookEndpoint(url="https://hooks.example.com/", event_types=["customer.exploded"]), actor=actor
        ),
        "event_types",
        "customer.exploded",
    )
    assert not WebhookEndpoint.objects.exists()
    endpoint = WebhookEndpointFactory()
    refused(
        lambda: services.webhook_endpoint_update(endpoint=endpoint, data={"event_types": ["nope"]}, actor=actor),
        "event_types",
        "nope",
    )


# Under the lock.


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks")
def test_lowering_seats_and_activating_at_once_never_leave_more_licenses_than_seats(actor):
    """The seat check of an edit runs under the entitlement's lock, which activations
    take to count seats: whichever comes second sees the other's result."""
    license = LicenseFactory(activation_code__entitlement__seats=2)
    entitlement, code = license.entitlement, license.activation_code
    barrier = threading.Barrier(2)
    outcomes = []

    def lower():
        barrier.wait()
        try:
            services.entitlement_update(entitlement=entitlement, data={"seats": 1}, actor=actor)
            outcomes.append("lowered")
        except InvalidEdit:
            outcomes.append("kept")
        finally:
            connection.close()

    def activate():
        barrier.wait()
        try:
            services.license_activate(
                product_code=entitlement.product.code, hardware_id="second-device", license_key=code.code, actor=actor
            )
            outcomes.append("activated")
        except Refusal:
            outcomes.append("no seat")
        finally:
            connection.close()

    for _ in range(10):
        threads = [threading.Thread(target=lower), threading.Thread(target=activate)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        fresh = Entitlement.objects.get(pk=entitlement.pk)
        assert fresh.licenses.holding_seat().count() == fresh.seats_used <= fresh.seats, outcomes
        # Back to two seats and one device for the next round.
        for other in fresh.licenses.exclude(pk=license.pk).holding_seat():
            services.license_deactivate(license=other, actor=actor)
        services.entitlement_update(entitlement=fresh, data={"seats": 2}, actor=actor)


def test_a_trial_grants_only_the_products_own_features(actor):
    product, other = ProductFactory(), ProductFactory()
    own = product.features.create(code="export", name="Export")
    foreign = other.features.create(code="render", name="Render")
    with pytest.raises(InvalidEdit) as refused:
        services.product_update(product=product, data={"trial_features": [own, foreign]}, actor=actor)
    assert "render" in refused.value.errors["trial_features"][0]
    assert not product.trial_features.exists()
    services.product_update(product=product, data={"trial_allowed": True, "trial_features": [own]}, actor=actor)
    assert list(product.trial_features.all()) == [own]


def test_trials_are_refused_on_a_product_activated_by_users(actor):
    product = ProductFactory(authorization_method=Product.AuthorizationMethod.USER)
    with pytest.raises(InvalidEdit) as refused:
        services.product_update(product=product, data={"trial_allowed": True}, actor=actor)
    assert "trial_allowed" in refused.value.errors
    product.refresh_from_db()
    assert not product.trial_allowed


def test_no_activation_code_for_a_product_activated_by_license_users(actor):
    entitlement = EntitlementFactory(product=ProductFactory(authorization_method=Product.AuthorizationMethod.USER))
    with pytest.raises(InvalidEdit) as refused:
        services.activation_code_create(activation_code=ActivationCode(entitlement=entitlement), actor=actor)
    assert "entitlement" in refused.value.errors
    assert not ActivationCode.objects.exists()
    assert not AuditEvent.objects.filter(action="activation_code.created").exists()
