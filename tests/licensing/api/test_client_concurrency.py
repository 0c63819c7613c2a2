"""No oversubscription: concurrent activations, each on its own database
connection, never take more seats than the entitlement has, and concurrent activations
of one device make one license. Concurrent deactivations of one device free its seat
once, and the others are told what any later request would be."""

import itertools
import threading
import time
from collections import Counter

import pytest
from django.db import connection
from django.test import Client

from licensing import services
from licensing.actors import Actor
from licensing.models import AuditEvent, Device, License, LicenseUser, Product
from licensing.signing import current_signer
from tests.factories import ActivationCodeFactory, EntitlementFactory, LicenseUserFactory, ProductFactory

from .conftest import ClientApp, verify_response

PRODUCT = "studio"


def all_at_once(app: ClientApp, requests: list, endpoint: str = "activate_license") -> list:
    """Send every request (a JSON body, or an offline request file) from its own thread
    and connection, released together by a barrier so that they really do race for the
    entitlement; the answers, in order."""
    # The conftest's autouse fixtures have cleared the signer and the cache. Load the
    # signing key first: the race under test is for seats, not for the key.
    current_signer()
    barrier = threading.Barrier(len(requests))
    responses: list = [None] * len(requests)
    errors: list[BaseException] = []

    def run(index: int, body: dict) -> None:
        try:
            client = ClientApp(http=Client(), api_key=app.api_key, shared_key=app.shared_key)
            barrier.wait(timeout=30)
            send = client.post_raw if isinstance(body, str) else client.post
            responses[index] = send(endpoint, body)
        except BaseException as error:  # surfaced in the test thread below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, body)) for i, body in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    for response in responses:
        verify_response(response)
    return responses


def outcome(response) -> tuple[int, str]:
    if response.status_code == 200:
        return 200, "ok"
    return response.status_code, response.json().get("code", "")


@pytest.mark.django_db(transaction=True)
def test_concurrent_activations_of_different_devices_never_oversubscribe(app):
    code = ActivationCodeFactory(entitlement__product__code=PRODUCT, entitlement__seats=10)
    requests = [{"product": PRODUCT, "hardware_id": f"hw-{n:02d}", "license_key": code.code} for n in range(40)]

    responses = all_at_once(app, requests)

    assert Counter(outcome(r) for r in responses) == {(200, "ok"): 10, (400, "license_activated_max_times"): 30}
    holding = License.objects.holding_seat().filter(entitlement=code.entitlement)
    assert holding.count() == 10
    assert License.objects.count() == 10
    granted = {r.json()["id"] for r in responses if r.status_code == 200}
    assert granted == {str(pk) for pk in holding.values_list("pk", flat=True)}
    assert AuditEvent.objects.filter(action="license.activated").count() == 10
    # Thirty identical refusals (one client, one address, one code) are one row a minute.
    assert AuditEvent.objects.filter(action="license.activation_refused").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_activations_of_the_same_device_make_one_license(app):
    code = ActivationCodeFactory(entitlement__product__code=PRODUCT, entitlement__seats=10)
    body = {"product": PRODUCT, "hardware_id": "hw-same", "license_key": code.code}

    responses = all_at_once(app, [body] * 20)

    assert [r.status_code for r in responses] == [200] * 20, [r.content for r in responses if r.status_code != 200]
    license = License.objects.get()
    assert {r.json()["id"] for r in responses} == {str(license.pk)}
    assert License.objects.holding_seat().count() == 1
    assert {r.json()["times_activated"] for r in responses} == {1}
    assert AuditEvent.objects.filter(action="license.activated").count() == 1


@pytest.mark.django_db(transaction=True)
def test_one_machine_activating_two_products_at_once_is_recorded_once(app):
    """Activations of two entitlements lock different rows, so nothing queues them: both
    find no record of the machine and both insert one. The second insert yields to the
    first (ON CONFLICT DO NOTHING) and uses its row; nothing fails."""
    first = ActivationCodeFactory(entitlement__product__code=PRODUCT, entitlement__seats=10)
    second = ActivationCodeFactory(
        entitlement__product__code="suite", entitlement__customer=first.entitlement.customer, entitlement__seats=10
    )
    outcomes = Counter()
    for round_ in range(10):
        bodies = [
            {"product": code.entitlement.product.code, "hardware_id": f"hw-{round_}", "license_key": code.code}
            for code in (first, second) * 3
        ]
        for response in all_at_once(app, bodies):
            outcomes[outcome(response)] += 1

    assert outcomes == {(200, "ok"): 60}
    assert Device.objects.count() == 10
    assert License.objects.count() == 20


@pytest.mark.django_db(transaction=True)
def test_concurrent_deactivations_of_one_device_free_its_seat_once_and_answer_the_rest(app):
    code = ActivationCodeFactory(entitlement__product__code=PRODUCT, entitlement__seats=10)
    body = {"product": PRODUCT, "hardware_id": "hw-same", "license_key": code.code}
    outcomes = Counter()

    for _ in range(20):
        assert app.post("activate_license", body).status_code == 200
        for response in all_at_once(app, [body] * 4, endpoint="deactivate_license"):
            outcomes[outcome(response)] += 1
        assert not License.objects.holding_seat().exists()

    assert outcomes == {(200, "ok"): 20, (400, "device_not_found"): 60}
    assert AuditEvent.objects.filter(action="license.deactivated").count() == 20


@pytest.mark.django_db(transaction=True)
def test_concurrent_offline_deactivations_of_one_device_free_its_seat_once(app):
    code = ActivationCodeFactory(entitlement__product__code=PRODUCT, entitlement__seats=10)
    device = {"product": PRODUCT, "hardware_id": "hw-vault"}
    outcomes = Counter()

    for _ in range(10):
        activation = app.offline_request("activation", **device, license_key=code.code)
        assert app.post_raw("activate_offline", activation).status_code == 200
        requests = [app.offline_request("deactivation", **device, license_key=code.code) for _ in range(4)]
        for response in all_at_once(app, requests, endpoint="deactivate_offline"):
            outcomes[outcome(response)] += 1
        assert not License.objects.holding_seat().exists()

    assert outcomes == {(200, "ok"): 10, (400, "device_not_found"): 30}


@pytest.mark.django_db(transaction=True)
def test_editing_a_license_user_while_their_devices_activate_never_deadlocks(app):
    """The edit locks the user and then touches the entitlements; an activation locks an
    entitlement and then inserts a license pointing at the user. Neither may wait on
    the other's lock for good (PostgreSQL would end one of them with a deadlock)."""
    product = ProductFactory(code="suite", authorization_method=Product.AuthorizationMethod.USER)
    user = LicenseUserFactory(username="ada@customer.example", raw_password="correct horse")
    kept, toggled = (EntitlementFactory(product=product, customer=user.customer, seats=10_000) for _ in range(2))
    user.entitlements.add(kept, toggled)
    current_signer()
    deadline = time.monotonic() + 4
    answers: Counter = Counter()
    failures: list[BaseException] = []

    def activate(worker: int) -> None:
        client = ClientApp(http=Client(), api_key=app.api_key, shared_key=app.shared_key)
        try:
            for n in itertools.count():
                if time.monotonic() > deadline:
                    return
                body = {"product": "suite", "hardware_id": f"hw-{worker}-{n}", "username": user.username}
                answers[outcome(client.post("activate_license", body | {"password": "correct horse"}))] += 1
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    def edit() -> None:
        try:
            for n in itertools.count():
                if time.monotonic() > deadline:
                    return
                links = [kept] if n % 2 else [kept, toggled]
                services.license_user_update(
                    license_user=LicenseUser.objects.get(pk=user.pk),
                    data={"entitlements": links},
                    actor=Actor.system("t"),
                )
                answers["edit"] += 1
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=activate, args=(n,)) for n in range(3)] + [threading.Thread(target=edit)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not failures, failures
    assert set(answers) <= {(200, "ok"), (400, "license_not_found"), "edit"}, answers
    assert answers[(200, "ok")] > 0 and answers["edit"] > 0, answers
