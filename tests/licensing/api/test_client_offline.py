"""Offline activation and deactivation through request files."""

import datetime as dt

import pytest
from django.utils import timezone

from licensing import services
from licensing.actors import Actor
from licensing.models import AuditEvent, License
from tests.factories import ActivationCodeFactory
from tests.licensing.api.conftest import read_license_file, verify_response

pytestmark = pytest.mark.django_db


@pytest.fixture
def code():
    return ActivationCodeFactory(
        entitlement__product__code="studio",
        entitlement__seats=1,
        entitlement__offline_grace=dt.timedelta(days=7),
        entitlement__valid_until=timezone.now() + dt.timedelta(days=3),
    )


def test_offline_activation_takes_a_seat_and_expires_with_the_entitlement(app, code):
    request = app.offline_request("activation", product="studio", hardware_id="vault-1", license_key=code.code)
    response = app.post_raw("activate_offline", request)
    assert response.status_code == 200
    payload = read_license_file(response.content.decode())
    # Offline grace is 7 days, but the entitlement ends in 3: the file ends with it.
    assert payload["expires_at"] == code.entitlement.valid_until.isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )
    assert License.objects.holding_seat().count() == 1
    assert AuditEvent.objects.filter(action="license.activated", actor_type="client").count() == 1


def test_offline_deactivation_frees_the_seat(app, code):
    app.post_raw(
        "activate_offline",
        app.offline_request("activation", product="studio", hardware_id="vault-1", license_key=code.code),
    )
    response = app.post_raw(
        "deactivate_offline",
        app.offline_request("deactivation", product="studio", hardware_id="vault-1", license_key=code.code),
    )
    assert response.status_code == 200
    assert response.content == b"license_deactivated"
    verify_response(response)
    assert License.objects.holding_seat().count() == 0
    second = app.post_raw(
        "activate_offline",
        app.offline_request("activation", product="studio", hardware_id="vault-2", license_key=code.code),
    )
    assert second.status_code == 200


def test_repeated_request_id_gets_the_first_answer_and_changes_nothing(app, code):
    request = app.offline_request(
        "activation", product="studio", hardware_id="vault-1", license_key=code.code, request_id="req-1"
    )
    first = app.post_raw("activate_offline", request)
    License.objects.update(lease_expires_at=None)
    again = app.post_raw("activate_offline", request)
    assert again.status_code == first.status_code == 200
    assert again.content == first.content
    assert again["LicenseSignature"] == first["LicenseSignature"]
    assert License.objects.get().lease_expires_at is None
    assert AuditEvent.objects.filter(action="license.activated").count() == 1


def test_refused_offline_answer_is_also_final_for_its_request_id(app, code):
    app.post_raw(
        "activate_offline",
        app.offline_request("activation", product="studio", hardware_id="vault-1", license_key=code.code),
    )
    full = app.offline_request(
        "activation", product="studio", hardware_id="vault-2", license_key=code.code, request_id="req-2"
    )
    refused = app.post_raw("activate_offline", full)
    assert refused.json()["code"] == "license_activated_max_times"
    services.license_deactivate(license=License.objects.get(), actor=Actor.system("test"))  # a seat is free now
    assert app.post_raw("activate_offline", full).content == refused.content


def test_stale_or_future_offline_request_is_refused(app, code):
    import time_machine

    request = app.offline_request("activation", product="studio", hardware_id="vault-1", license_key=code.code)
    with time_machine.travel(timezone.now() + dt.timedelta(days=8)):
        stale = app.post_raw("activate_offline", request)
    assert stale.json()["code"] == "date_header_diff"
    with time_machine.travel(timezone.now() - dt.timedelta(hours=1)):
        future = app.post_raw("activate_offline", request)
    assert future.json()["code"] == "date_header_diff"
    assert not License.objects.exists()


def test_another_credential_cannot_read_an_answer_by_its_request_id(app, code):
    from django.test import Client

    from licensing import services
    from licensing.actors import Actor
    from tests.licensing.api.conftest import ClientApp

    request = app.offline_request(
        "activation", product="studio", hardware_id="vault-1", license_key=code.code, request_id="known-id"
    )
    assert app.post_raw("activate_offline", request).status_code == 200
    other, key = services.client_credential_create(name="Other vendor tool", actor=Actor.system("test"))
    intruder = ClientApp(http=Client(), api_key=other.api_key, shared_key=key)
    forged = intruder.offline_request(
        "activation", product="studio", hardware_id="vault-1", license_key=code.code, request_id="known-id"
    )
    response = intruder.post_raw("activate_offline", forged)
    assert response.json()["code"] == "invalid_parameters"
    assert "BEGIN LICENSE FILE" not in response.content.decode()
