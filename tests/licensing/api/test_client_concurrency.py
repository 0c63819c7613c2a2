"""No oversubscription: concurrent activations, each on its own database
connection, never take more seats than the entitlement has, and concurrent activations
of one device make one license."""

import threading
from collections import Counter

import pytest
from django.db import connection
from django.test import Client

from licensing.models import AuditEvent, License
from licensing.signing import current_signer
from tests.factories import ActivationCodeFactory

from .conftest import ClientApp, verify_response

PRODUCT = "studio"


def activate_all_at_once(app: ClientApp, requests: list[dict]) -> list:
    """Send every activation from its own thread and connection, released together by a
    barrier so that they really do race for the entitlement; the answers, in order."""
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
            responses[index] = client.post("activate_license", body)
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

    responses = activate_all_at_once(app, requests)

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

    responses = activate_all_at_once(app, [body] * 20)

    assert [r.status_code for r in responses] == [200] * 20, [r.content for r in responses if r.status_code != 200]
    license = License.objects.get()
    assert {r.json()["id"] for r in responses} == {str(license.pk)}
    assert License.objects.holding_seat().count() == 1
    assert {r.json()["times_activated"] for r in responses} == {1}
    assert AuditEvent.objects.filter(action="license.activated").count() == 1
