"""Activation details found in review: refusals leave the workers' memory alone, and a
device already active through one code or user can move to another of the same
entitlement without taking a second seat."""

import pytest

from licensing import services
from licensing.actors import Actor
from licensing.models import AuditEvent, License
from tests.factories import ActivationCodeFactory, EntitlementFactory, user_on_two_entitlements

pytestmark = pytest.mark.django_db


def activate(app, code, hardware_id="hw-1"):
    return app.post("activate_license", {"product": "studio", "hardware_id": hardware_id, "license_key": code.code})


@pytest.fixture
def entitlement():
    return EntitlementFactory(product__code="studio", seats=5)


def test_refused_activations_do_not_retire_snapshots(app, entitlement, settings, django_assert_num_queries):
    settings.LICENSING_CHECKIN_FLUSH_SECONDS = 3600
    code = ActivationCodeFactory(entitlement=entitlement)
    activate(app, code)
    query = {"product": "studio", "hardware_id": "hw-1", "license_key": code.code}
    app.get("check_license", query)
    app.get("check_license", query)  # remembered from here on
    for _ in range(3):
        response = app.post(
            "activate_license", {"product": "studio", "hardware_id": "hw-x", "license_key": "0000-0000-0000-0000"}
        )
        assert response.json()["code"] == "license_not_found"
    with django_assert_num_queries(0):
        assert app.get("check_license", query).status_code == 200
    # One row for the three identical refusals: the rest are counted for the next row.
    assert AuditEvent.objects.filter(action="license.activation_refused").count() == 1


def test_device_moves_to_another_code_without_a_second_seat(app, entitlement):
    first, second = ActivationCodeFactory.create_batch(2, entitlement=entitlement)
    activate(app, first)
    response = activate(app, second)
    assert response.status_code == 200
    body = response.json()
    assert body["license_key"] == second.code
    assert body["times_activated"] == 1
    license = License.objects.get()
    assert license.activation_code_id == second.pk
    moved = AuditEvent.objects.filter(action="license.activated").order_by("occurred_at").last()
    assert moved.before["activation_code"] == str(first.pk)
    assert moved.after["activation_code"] == str(second.pk)


def test_moving_to_a_code_at_its_cap_is_refused(app, entitlement):
    first = ActivationCodeFactory(entitlement=entitlement)
    capped = ActivationCodeFactory(entitlement=entitlement, max_activations=1)
    activate(app, capped, hardware_id="hw-other")
    activate(app, first)
    response = activate(app, capped)
    assert response.json()["code"] == "license_activated_max_times"
    assert License.objects.get(device__hardware_id="hw-1").activation_code_id == first.pk


def test_device_on_a_revoked_code_can_move_to_a_live_one(app, entitlement):
    old, new = ActivationCodeFactory.create_batch(2, entitlement=entitlement)
    activate(app, old)
    services.activation_code_revoke(activation_code=old, actor=Actor.system("vendor"))
    assert activate(app, new).status_code == 200
    check = app.get("check_license", {"product": "studio", "hardware_id": "hw-1", "license_key": new.code})
    assert check.status_code == 200


def test_license_id_picks_which_license_a_device_gives_back(app):
    user, (first, second) = user_on_two_entitlements()
    body = {
        "product": "team",
        "hardware_id": "hw-1",
        "username": user.username,
        "password": "correct horse battery staple",
    }
    app.post("activate_license", body)
    used = License.objects.get().entitlement
    services.entitlement_disable(entitlement=used, actor=Actor.system("vendor"))
    assert app.post("activate_license", body).status_code == 200  # now through the other one
    licenses = {lic.entitlement_id: lic for lic in License.objects.all()}
    assert set(licenses) == {first.pk, second.pk}
    other = second if used == first else first

    target = licenses[used.pk]
    response = app.post(
        "deactivate_license",
        {"product": "team", "hardware_id": "hw-1", "username": user.username, "license_id": str(target.pk)},
    )
    assert response.status_code == 200
    assert License.objects.get(pk=target.pk).status == License.Status.DEACTIVATED
    assert License.objects.get(pk=licenses[other.pk].pk).status == License.Status.ACTIVE
