"""Renewing a floating slot costs no database write per check: a worker that knows the
slot ends well ahead answers from memory and writes the new end behind the answer, and
such a write never extends a slot released (or taken again) since."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from licensing import services
from licensing.actors import Actor
from licensing.models import Entitlement, FloatingSlot, License
from licensing.services.floating import renewals
from tests.factories import ActivationCodeFactory

from .conftest import verify_response

PRODUCT = "studio"


@pytest.fixture(autouse=True)
def buffered(settings):
    # Renewals are written behind when the slot ends more than 100 s ahead (five flush
    # intervals); nothing is flushed within a test unless it flushes.
    settings.LICENSING_CHECKIN_FLUSH_SECONDS = 20
    yield
    renewals.discard()


@pytest.fixture
def code(db):
    return ActivationCodeFactory(
        entitlement__product__code=PRODUCT,
        entitlement__license_model=Entitlement.LicenseModel.FLOATING,
        entitlement__seats=2,
        entitlement__floating_timeout=600,
    )


def check(app, code, hardware_id="hw-1"):
    return app.get("check_license", {"product": PRODUCT, "hardware_id": hardware_id, "license_key": code.code})


def moment() -> dt.datetime:
    return timezone.now().replace(microsecond=0)


def test_a_warm_floating_check_reads_and_writes_nothing_and_its_renewal_lands_at_the_flush(
    app, code, django_assert_num_queries
):
    start = moment()
    with time_machine.travel(start, tick=False):
        app.post("activate_license", {"product": PRODUCT, "hardware_id": "hw-1", "license_key": code.code})
        check(app, code)  # this worker learns the slot (a transaction)...
        check(app, code)  # ... and remembers the license (snapshots keep the second read)
    later = start + dt.timedelta(seconds=100)
    with time_machine.travel(later, tick=False), django_assert_num_queries(0):
        response = check(app, code)
    verify_response(response)
    assert response.json()["floating_until"] == (later + dt.timedelta(seconds=600)).isoformat().replace("+00:00", "Z")
    assert FloatingSlot.objects.get().ends_at == start + dt.timedelta(seconds=600)  # not yet written
    assert renewals.flush() == 1
    assert FloatingSlot.objects.get().ends_at == later + dt.timedelta(seconds=600)


def test_a_slot_near_its_end_is_renewed_in_a_transaction(app, code):
    start = moment()
    with time_machine.travel(start, tick=False):
        app.post("activate_license", {"product": PRODUCT, "hardware_id": "hw-1", "license_key": code.code})
        check(app, code)
    # Less than the renew-ahead margin (five flush intervals) before the end: written
    # now, not buffered.
    near = start + dt.timedelta(seconds=550)
    with time_machine.travel(near, tick=False):
        check(app, code)
    assert FloatingSlot.objects.get().ends_at == near + dt.timedelta(seconds=600)


def test_a_buffered_renewal_never_brings_back_a_released_slot(app, code):
    start = moment()
    with time_machine.travel(start, tick=False):
        app.post("activate_license", {"product": PRODUCT, "hardware_id": "hw-1", "license_key": code.code})
        check(app, code)
    with time_machine.travel(start + dt.timedelta(seconds=10), tick=False):
        check(app, code)  # buffered
        services.license_floating_release(license=License.objects.get(), actor=Actor.system("staff"))
    renewals.flush()
    assert not FloatingSlot.objects.exists()


def test_a_buffered_renewal_never_extends_the_slot_taken_again_after_a_release(app, code):
    start = moment()
    with time_machine.travel(start, tick=False):
        app.post("activate_license", {"product": PRODUCT, "hardware_id": "hw-1", "license_key": code.code})
        check(app, code)
    with time_machine.travel(start + dt.timedelta(seconds=10), tick=False):
        check(app, code)  # buffered, for the slot taken at `start`
        services.license_floating_release(license=License.objects.get(), actor=Actor.system("staff"))
    retaken = start + dt.timedelta(seconds=20)
    with time_machine.travel(retaken, tick=False):
        response = check(app, code)  # the release retired what the worker knew: a new slot, in a transaction
    assert response.status_code == 200
    renewals.flush()
    slot = FloatingSlot.objects.get()
    assert (slot.taken_at, slot.ends_at) == (retaken, retaken + dt.timedelta(seconds=600))


def test_after_a_release_the_next_check_learns_of_it_at_once(app, code):
    """The release bumps the slot's version: a worker answering from memory would
    otherwise keep renewing a slot that no longer exists."""
    start = moment()
    with time_machine.travel(start, tick=False):
        app.post("activate_license", {"product": PRODUCT, "hardware_id": "hw-1", "license_key": code.code})
        app.post("activate_license", {"product": PRODUCT, "hardware_id": "hw-2", "license_key": code.code})
        check(app, code)
        services.license_floating_release(
            license=License.objects.get(device__hardware_id="hw-1"), actor=Actor.system("staff")
        )
        app.post("activate_license", {"product": PRODUCT, "hardware_id": "hw-3", "license_key": code.code})
    with time_machine.travel(start + dt.timedelta(seconds=10), tick=False):
        response = check(app, code)
    verify_response(response)
    assert (response.status_code, response.json()["code"]) == (400, "floating_not_available")


def test_with_a_flush_interval_too_long_for_the_timeout_every_renewal_is_a_transaction(app, code, settings):
    settings.LICENSING_CHECKIN_FLUSH_SECONDS = 200  # a buffered write might land after the slot lapsed
    start = moment()
    with time_machine.travel(start, tick=False):
        app.post("activate_license", {"product": PRODUCT, "hardware_id": "hw-1", "license_key": code.code})
        check(app, code)
        check(app, code)
    later = start + dt.timedelta(seconds=10)
    with time_machine.travel(later, tick=False):
        check(app, code)
    assert FloatingSlot.objects.get().ends_at == later + dt.timedelta(seconds=600)


def test_a_renewal_that_could_not_be_written_is_forgotten_not_believed(app, code):
    """A flush held up past the slot's end writes nothing (the slot is free, maybe taken
    by another device): the worker must not go on answering from its memory of it."""
    start = moment()
    with time_machine.travel(start, tick=False):
        app.post("activate_license", {"product": PRODUCT, "hardware_id": "hw-1", "license_key": code.code})
        check(app, code)
        check(app, code)
    with time_machine.travel(start + dt.timedelta(seconds=300), tick=False):
        check(app, code)  # buffered: ends at start + 900 once written
    Entitlement.objects.filter(pk=code.entitlement_id).update(seats=1)
    lapsed = start + dt.timedelta(seconds=601)
    with time_machine.travel(lapsed, tick=False):
        assert renewals.flush() == 1  # tried; the slot had lapsed, nothing written
        app.post("activate_license", {"product": PRODUCT, "hardware_id": "hw-2", "license_key": code.code})
    with time_machine.travel(lapsed + dt.timedelta(seconds=1), tick=False):
        response = check(app, code)
    verify_response(response)
    assert (response.status_code, response.json()["code"]) == (400, "floating_not_available")
    live = FloatingSlot.objects.live(lapsed).values_list("license__device__hardware_id", flat=True)
    assert list(live) == ["hw-2"]


def test_a_worker_new_to_a_running_device_learns_its_slot_with_one_read_and_no_lock(
    app, code, django_assert_num_queries
):
    from licensing.services import floating

    start = moment()
    with time_machine.travel(start, tick=False):
        app.post("activate_license", {"product": PRODUCT, "hardware_id": "hw-1", "license_key": code.code})
        check(app, code)
        check(app, code)
    floating._known.clear()  # as another worker's memory: it has never seen this device
    later = start + dt.timedelta(seconds=100)
    with time_machine.travel(later, tick=False), django_assert_num_queries(1) as captured:
        response = check(app, code)
    assert "FOR" not in captured.captured_queries[0]["sql"]  # no row locked
    assert response.json()["floating_in_use_devices"] == 1
    assert renewals.flush() == 1
    assert FloatingSlot.objects.get().ends_at == later + dt.timedelta(seconds=600)


def test_with_every_slot_held_a_device_without_one_is_refused_with_one_read_and_no_lock(
    app, code, django_assert_num_queries
):
    for hardware_id in ("hw-1", "hw-2"):  # both slots
        app.post("activate_license", {"product": PRODUCT, "hardware_id": hardware_id, "license_key": code.code})
    services.license_floating_release(license=License.objects.get(device__hardware_id="hw-2"), actor=Actor.system("t"))
    app.post("activate_license", {"product": PRODUCT, "hardware_id": "hw-3", "license_key": code.code})
    check(app, code, "hw-2")  # hw-2 is activated, holds no slot: refused (its license remembered)
    check(app, code, "hw-2")
    with django_assert_num_queries(1) as captured:
        response = check(app, code, "hw-2")
    assert "FOR" not in captured.captured_queries[0]["sql"]  # read before any other request resets the log
    verify_response(response)
    assert (response.status_code, response.json()["code"]) == (400, "floating_not_available")
