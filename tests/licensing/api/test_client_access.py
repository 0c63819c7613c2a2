"""The access rules as a client application sees them over /api/v4/: the
vendor flips a switch with a service, and the client's next request says so, signed."""

import datetime as dt
from collections.abc import Callable

import pytest
import time_machine
from django.utils import timezone

from licensing import services
from licensing.actors import Actor
from licensing.models import AuditEvent, License, Product
from tests.factories import (
    ActivationCodeFactory,
    CustomerFactory,
    EntitlementFactory,
    LicenseTransactionFactory,
    LicenseUserFactory,
    ProductFactory,
)

from .conftest import verify_response

pytestmark = pytest.mark.django_db

VENDOR = Actor.system("vendor")
PRODUCT = "studio"
CLIENT_NAME = "Desktop app"  # the `credential` fixture's name


# --- the client's side ---------------------------------------------------------------


def signed(response):
    """Every answer, success or error, is signed over its exact body."""
    verify_response(response)
    return response


def activate(app, key: str, hardware_id: str = "hw-1", **fields):
    body = {"product": PRODUCT, "hardware_id": hardware_id, "license_key": key, "nonce": "n-1", **fields}
    return signed(app.post("activate_license", body))


def check(app, key: str, hardware_id: str = "hw-1"):
    params = {"product": PRODUCT, "hardware_id": hardware_id, "license_key": key, "nonce": "n-2"}
    return signed(app.get("check_license", params))


def deactivate(app, key: str, hardware_id: str = "hw-1"):
    return signed(app.post("deactivate_license", {"product": PRODUCT, "hardware_id": hardware_id, "license_key": key}))


def granted(response) -> dict:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["license_active"] is True
    assert body["status"] == "active"
    return body


def refused(response, code: str, reason: str | None = None, status: int = 400) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body.get("reason") == reason
    assert body["message"]
    return body


def client_events(action: str):
    return AuditEvent.objects.filter(action=action, actor_type=AuditEvent.ActorType.CLIENT, actor_label=CLIENT_NAME)


# --- the vendor's side -----------------------------------------------------------------


@pytest.fixture
def customer():
    return CustomerFactory()


@pytest.fixture
def entitlement(customer):
    return EntitlementFactory(
        customer=customer,
        product=ProductFactory(code=PRODUCT),
        transaction=LicenseTransactionFactory(customer=customer),
        seats=5,
    )


@pytest.fixture
def code(entitlement):
    return ActivationCodeFactory(entitlement=entitlement)


def _license(code):
    return License.objects.get(activation_code=code)


# (switch off, switch back on, keyword, what it is flipped on, reason)
SWITCHES = [
    pytest.param(
        services.customer_disable,
        services.customer_enable,
        "customer",
        lambda code: code.entitlement.customer,
        "customer_disabled",
        id="customer",
    ),
    pytest.param(
        services.entitlement_disable,
        services.entitlement_enable,
        "entitlement",
        lambda code: code.entitlement,
        "entitlement_disabled",
        id="entitlement",
    ),
    pytest.param(
        services.transaction_suspend,
        services.transaction_resume,
        "license_transaction",
        lambda code: code.entitlement.transaction,
        "transaction_suspended",
        id="transaction",
    ),
    pytest.param(
        services.activation_code_disable,
        services.activation_code_enable,
        "activation_code",
        lambda code: code,
        "code_disabled",
        id="activation-code",
    ),
    pytest.param(
        services.license_suspend,
        services.license_resume,
        "license",
        _license,
        "license_suspended",
        id="license",
    ),
]
# The switches above a license: they exist before any device activates.
CHAIN_SWITCHES = [p for p in SWITCHES if p.id != "license"]


# --- switches ---------------------------------------------------------------------------


@pytest.mark.parametrize(("switch_off", "switch_on", "keyword", "target", "reason"), SWITCHES)
def test_switching_off_stops_the_next_check_and_switching_on_restores_it_without_reactivation(
    app, code, switch_off: Callable, switch_on: Callable, keyword: str, target: Callable, reason: str
):
    license_id = granted(activate(app, code.code))["id"]

    switch_off(**{keyword: target(code)}, actor=VENDOR, reason="unpaid invoice")
    refused(check(app, code.code), "license_not_enabled", reason)

    switch_on(**{keyword: target(code)}, actor=VENDOR, reason="paid")
    body = granted(check(app, code.code))
    assert body["id"] == license_id
    assert body["nonce"] == "n-2"
    assert License.objects.count() == 1
    assert client_events("license.activated").count() == 1


@pytest.mark.parametrize(("switch_off", "switch_on", "keyword", "target", "reason"), CHAIN_SWITCHES)
def test_activation_through_a_switched_off_chain_is_refused_and_takes_nothing(
    app, code, switch_off: Callable, switch_on: Callable, keyword: str, target: Callable, reason: str
):
    switch_off(**{keyword: target(code)}, actor=VENDOR)

    refused(activate(app, code.code), "license_not_enabled", reason)

    assert not License.objects.exists()
    assert not License.objects.holding_seat().exists()
    event = client_events("license.activation_refused").get()
    assert (event.target_id, event.reason) == (code.pk, "license_not_enabled")
    assert event.after == {"code": "license_not_enabled", "reason": reason, "hardware_id": "hw-1"}


def test_check_on_a_disabled_customer_names_the_first_failing_rule(app, code):
    granted(activate(app, code.code))
    services.entitlement_disable(entitlement=code.entitlement, actor=VENDOR)
    services.customer_disable(customer=code.entitlement.customer, actor=VENDOR)
    refused(check(app, code.code), "license_not_enabled", "customer_disabled")

    # Re-enabling the customer leaves the separately disabled entitlement disabled.
    services.customer_enable(customer=code.entitlement.customer, actor=VENDOR)
    refused(check(app, code.code), "license_not_enabled", "entitlement_disabled")


# --- validity window ----------------------------------------------------------------------


def test_check_after_the_end_of_validity_answers_expired(app, code):
    granted(activate(app, code.code))
    with time_machine.travel(code.entitlement.valid_until + dt.timedelta(minutes=1), tick=False):
        refused(check(app, code.code), "license_not_active", "expired")
        refused(activate(app, code.code, hardware_id="hw-2"), "license_not_active", "expired")
    assert License.objects.count() == 1


def test_check_before_the_start_of_validity_answers_not_yet_valid(app, code):
    entitlement = code.entitlement
    start = timezone.now() + dt.timedelta(days=2)
    entitlement.valid_from, entitlement.valid_until = start, start + dt.timedelta(days=30)
    entitlement.save()

    refused(activate(app, code.code), "license_not_active", "not_yet_valid")
    assert not License.objects.exists()

    with time_machine.travel(start + dt.timedelta(hours=1), tick=False):
        granted(activate(app, code.code))
    refused(check(app, code.code), "license_not_active", "not_yet_valid")


# --- revocation ------------------------------------------------------------------------------


def test_revoked_license_is_refused_on_check_and_can_never_activate_again(app, code):
    granted(activate(app, code.code))
    services.license_revoke(license=_license(code), actor=VENDOR, reason="stolen laptop")

    refused(check(app, code.code), "license_revoked", "license_revoked")
    refused(activate(app, code.code), "license_revoked", "license_revoked")
    assert License.objects.get().status == License.Status.REVOKED
    assert not License.objects.holding_seat().exists()


def test_revoked_code_refuses_every_device_including_new_ones(app, code):
    granted(activate(app, code.code))
    services.activation_code_revoke(activation_code=code, actor=VENDOR, reason="leaked on a forum")

    refused(check(app, code.code), "license_revoked", "code_revoked")
    refused(activate(app, code.code, hardware_id="brand-new"), "license_revoked", "code_revoked")
    assert not License.objects.filter(device__hardware_id="brand-new").exists()


# --- seats --------------------------------------------------------------------------------------


def test_activation_is_refused_when_the_entitlement_seats_are_taken(app, code):
    code.entitlement.seats = 2
    code.entitlement.save()
    granted(activate(app, code.code, hardware_id="hw-1"))
    granted(activate(app, code.code, hardware_id="hw-2"))

    refused(activate(app, code.code, hardware_id="hw-3"), "license_activated_max_times")

    assert License.objects.holding_seat().count() == 2
    assert not License.objects.filter(device__hardware_id="hw-3").exists()


def test_activation_is_refused_at_the_codes_own_cap_while_entitlement_seats_remain(app, code):
    code.max_activations = 1
    code.save()
    first = granted(activate(app, code.code, hardware_id="hw-1"))
    assert (first["key_max_activations"], first["key_times_activated"]) == (1, 1)

    refused(activate(app, code.code, hardware_id="hw-2"), "license_activated_max_times")

    # The entitlement still has seats: another of its codes activates that device.
    other = ActivationCodeFactory(entitlement=code.entitlement)
    body = granted(activate(app, other.code, hardware_id="hw-2"))
    assert (body["max_activations"], body["times_activated"]) == (5, 2)


def test_activating_the_same_device_again_returns_the_same_license_and_takes_no_seat(app, code):
    first = granted(activate(app, code.code))
    again = granted(activate(app, code.code))

    assert again["id"] == first["id"]
    assert again["times_activated"] == first["times_activated"] == 1
    assert License.objects.count() == 1
    assert License.objects.holding_seat().count() == 1


def test_an_activation_answers_what_the_database_then_holds(app, code, settings):
    """The answer is built from the rows the activation locked and changed, not read
    again: it must say what a check reading the database says."""
    settings.LICENSING_CLIENT_SNAPSHOTS = False
    code.max_activations = 3
    code.save()
    granted(activate(app, code.code, hardware_id="hw-1"))
    for answer in (activate(app, code.code, hardware_id="hw-2"), activate(app, code.code, hardware_id="hw-2")):
        body = granted(answer)
        read = granted(check(app, code.code, hardware_id="hw-2"))
        moment = ("server_time", "nonce", "lease_expires_at")
        assert {k: v for k, v in body.items() if k not in moment} == {k: v for k, v in read.items() if k not in moment}
        assert (body["times_activated"], body["key_times_activated"]) == (2, 2)


def test_deactivation_frees_the_seat_at_once(app, code):
    code.entitlement.seats = 1
    code.entitlement.save()
    granted(activate(app, code.code, hardware_id="hw-1"))
    refused(activate(app, code.code, hardware_id="hw-2"), "license_activated_max_times")

    response = deactivate(app, code.code, hardware_id="hw-1")
    assert response.status_code == 200
    assert response.content == b"license_deactivated"

    body = granted(activate(app, code.code, hardware_id="hw-2"))
    assert body["times_activated"] == 1
    refused(check(app, code.code, hardware_id="hw-1"), "device_not_found")
    assert list(License.objects.holding_seat().values_list("device__hardware_id", flat=True)) == ["hw-2"]


# --- user-based products ------------------------------------------------------------------------


@pytest.fixture
def license_user(customer):
    entitlement = EntitlementFactory(
        customer=customer, product=ProductFactory(code=PRODUCT, authorization_method=Product.AuthorizationMethod.USER)
    )
    user = LicenseUserFactory(customer=customer, username="ada@customer.example")
    user.entitlements.add(entitlement)
    return user


def activate_user(app, username: str, password: str, hardware_id: str = "hw-1"):
    body = {"product": PRODUCT, "hardware_id": hardware_id, "username": username, "password": password}
    return signed(app.post("activate_license", body))


def test_user_activates_with_username_and_password_and_checks_in_with_username(app, license_user):
    body = granted(activate_user(app, "ada@customer.example", "correct horse battery staple"))
    assert body["user"] == "ada@customer.example"
    assert body["license_key"] is None
    assert body["product_details"] == {"short_code": PRODUCT, "authorization_method": "user"}

    params = {"product": PRODUCT, "hardware_id": "hw-1", "username": "ada@customer.example"}
    checked = granted(signed(app.get("check_license", params)))
    assert checked["id"] == body["id"]
    assert License.objects.get().license_user == license_user


def test_user_with_a_wrong_password_is_refused_and_takes_nothing(app, license_user):
    refused(activate_user(app, "ada@customer.example", "tr0ub4dor&3"), "invalid_credentials", status=400)

    assert not License.objects.exists()
    event = client_events("license.activation_refused").get()
    assert (event.target_id, event.reason) == (license_user.pk, "invalid_credentials")


# --- audit ----------------------------------------------------------------------------------------


def test_activations_deactivations_and_refusals_are_audited_as_the_client(app, code, credential):
    code.entitlement.seats = 1
    code.entitlement.save()
    granted(activate(app, code.code, hardware_id="hw-1"))
    refused(activate(app, code.code, hardware_id="hw-2"), "license_activated_max_times")
    deactivate(app, code.code, hardware_id="hw-1")

    license = License.objects.get(device__hardware_id="hw-1")
    activated = client_events("license.activated").get()
    assert (activated.target_id, activated.actor_id) == (license.pk, str(credential.pk))
    assert activated.after["status"] == "active"

    refusal = client_events("license.activation_refused").get()
    assert (refusal.target_id, refusal.reason) == (code.pk, "license_activated_max_times")
    assert refusal.after["hardware_id"] == "hw-2"

    deactivated = client_events("license.deactivated").get()
    assert deactivated.target_id == license.pk
    assert (deactivated.before["status"], deactivated.after["status"]) == ("active", "deactivated")
