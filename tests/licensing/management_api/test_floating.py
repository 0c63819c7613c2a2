"""Floating entitlements through the management API: their terms on create and update,
who holds slots now, and releasing one."""

import datetime as dt

import pytest
from django.utils import timezone

from licensing import services
from licensing.actors import Actor
from licensing.errors import InvalidTransition
from licensing.models import AuditEvent, Entitlement, FloatingSlot, License
from tests.factories import ActivationCodeFactory, CustomerFactory, EntitlementFactory, LicenseFactory, ProductFactory

FLOATING = Entitlement.LicenseModel.FLOATING


def running(license: License, *, seconds: int = 600, borrowed: bool = False) -> FloatingSlot:
    now = timezone.now()
    ends = now + dt.timedelta(seconds=seconds)
    return FloatingSlot.objects.create(
        license=license,
        entitlement=license.entitlement,
        taken_at=now,
        ends_at=ends,
        borrowed_until=ends if borrowed else None,
    )


def test_a_floating_entitlement_is_created_with_its_terms(api):
    customer, product = CustomerFactory(), ProductFactory()
    response = api.post(
        "/api/v1/entitlements/",
        {
            "customer": str(customer.pk),
            "product": str(product.pk),
            "license_model": "floating",
            "seats": 5,
            "max_activations": 20,
            "floating_timeout": 300,
            "max_borrow_time": 86_400,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["license_model"], body["seats"], body["max_activations"]) == ("floating", 5, 20)
    assert (body["floating_timeout"], body["max_borrow_time"], body["floating_in_use"]) == (300, 86_400, 0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("floating_timeout", 59),
        ("floating_timeout", 86_401),
        ("floating_timeout", "soon"),
        ("max_borrow_time", -1),
        ("max_activations", 0),
        ("license_model", "concurrent"),
    ],
)
def test_floating_terms_out_of_bounds_are_refused_and_nothing_changes(api, field, value):
    entitlement = EntitlementFactory(license_model=FLOATING)
    before = Entitlement.objects.values().get(pk=entitlement.pk)
    response = api.patch(f"/api/v1/entitlements/{entitlement.pk}/", {field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Entitlement.objects.values().get(pk=entitlement.pk) == before


def test_seats_cannot_drop_below_the_devices_running_now(api):
    code = ActivationCodeFactory(entitlement__license_model=FLOATING, entitlement__seats=3)
    for _ in range(2):
        running(LicenseFactory(activation_code=code))
    response = api.patch(f"/api/v1/entitlements/{code.entitlement_id}/", {"seats": 1}, format="json")
    assert response.status_code == 400
    assert "2 devices are running now" in response.json()["errors"]["seats"][0]
    assert api.patch(f"/api/v1/entitlements/{code.entitlement_id}/", {"seats": 2}, format="json").status_code == 200


def test_a_node_locked_entitlement_cannot_become_one_with_more_licenses_than_seats(api):
    code = ActivationCodeFactory(entitlement__license_model=FLOATING, entitlement__seats=1)
    LicenseFactory.create_batch(3, activation_code=code)
    response = api.patch(
        f"/api/v1/entitlements/{code.entitlement_id}/", {"license_model": "node_locked"}, format="json"
    )
    assert response.status_code == 400
    assert "seats" in response.json()["errors"]


def test_making_a_floating_entitlement_node_locked_frees_its_slots(api):
    code = ActivationCodeFactory(entitlement__license_model=FLOATING, entitlement__seats=3)
    running(LicenseFactory(activation_code=code))
    response = api.patch(
        f"/api/v1/entitlements/{code.entitlement_id}/", {"license_model": "node_locked"}, format="json"
    )
    assert response.status_code == 200
    assert not FloatingSlot.objects.exists()


def test_floating_slots_lists_who_runs_the_entitlement_now(api, django_assert_max_num_queries):
    code = ActivationCodeFactory(entitlement__license_model=FLOATING, entitlement__seats=5)
    first = running(LicenseFactory(activation_code=code, device__hostname="build-01"), borrowed=True)
    for _ in range(3):
        running(LicenseFactory(activation_code=code))
    lapsed = running(LicenseFactory(activation_code=code))
    FloatingSlot.objects.filter(pk=lapsed.pk).update(ends_at=timezone.now() - dt.timedelta(seconds=1))
    other = ActivationCodeFactory(entitlement__license_model=FLOATING)
    running(LicenseFactory(activation_code=other))

    with django_assert_max_num_queries(6):
        response = api.get(f"/api/v1/entitlements/{code.entitlement_id}/floating-slots/")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert len(rows) == 4  # live slots of this entitlement only
    assert rows[0]["license"] == str(first.license_id)
    assert rows[0]["device"]["hostname"] == "build-01"
    assert rows[0]["is_borrowed"] is True
    assert api.get(f"/api/v1/entitlements/{code.entitlement_id}/").json()["floating_in_use"] == 4


def test_release_floating_frees_the_slot_with_the_reason_audited(api):
    license = LicenseFactory(activation_code=ActivationCodeFactory(entitlement__license_model=FLOATING))
    running(license)
    response = api.post(f"/api/v1/licenses/{license.pk}/release-floating/", {"reason": "machine died"}, format="json")
    assert response.status_code == 200
    assert response.json()["floating_slot"] is None
    assert not FloatingSlot.objects.exists()
    event = AuditEvent.objects.get(action="license.floating_released")
    assert (event.reason, event.actor_type) == ("machine died", "api_token")
    assert License.objects.get().status == License.Status.ACTIVE


def test_release_floating_of_a_node_locked_license_is_a_conflict(api):
    license = LicenseFactory()
    response = api.post(f"/api/v1/licenses/{license.pk}/release-floating/", {}, format="json")
    assert response.status_code == 409


def test_the_license_representation_shows_its_slot(api):
    license = LicenseFactory(activation_code=ActivationCodeFactory(entitlement__license_model=FLOATING))
    slot = running(license)
    shown = api.get(f"/api/v1/licenses/{license.pk}/").json()["floating_slot"]
    assert shown["ends_at"].startswith(slot.ends_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"))


def test_floating_slots_of_a_node_locked_entitlement_is_an_empty_list(api):
    entitlement = EntitlementFactory()
    assert api.get(f"/api/v1/entitlements/{entitlement.pk}/floating-slots/").json()["results"] == []


def test_release_floating_is_refused_to_a_read_only_token(read_only_api):
    license = LicenseFactory(activation_code=ActivationCodeFactory(entitlement__license_model=FLOATING))
    running(license)
    assert read_only_api.post(f"/api/v1/licenses/{license.pk}/release-floating/", {}, format="json").status_code == 403
    assert FloatingSlot.objects.exists()


def test_the_service_refuses_what_the_api_would(db):
    """Staff's and the portal's release go through the same service."""
    license = LicenseFactory()
    with pytest.raises(InvalidTransition):
        services.license_floating_release(license=license, actor=Actor.system("staff"))


def test_release_floating_of_a_license_holding_no_slot_is_a_conflict(api):
    license = LicenseFactory(activation_code=ActivationCodeFactory(entitlement__license_model=FLOATING))
    response = api.post(f"/api/v1/licenses/{license.pk}/release-floating/", {}, format="json")
    assert response.status_code == 409
    assert "holds no floating slot" in response.json()["message"]
    assert not AuditEvent.objects.filter(action="license.floating_released").exists()
