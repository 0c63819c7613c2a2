"""check_license: the hot path. It renews the lease, records the check-in, and costs at
most three SQL queries."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from licensing import services
from licensing.actors import Actor
from licensing.models import License
from licensing.services.checkins import check_ins
from tests.factories import ActivationCodeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def code():
    return ActivationCodeFactory(
        entitlement__product__code="studio",
        entitlement__lease_period=dt.timedelta(hours=6),
        entitlement__valid_until=timezone.now() + dt.timedelta(days=30),
    )


def check(app, code, hardware_id="hw-1"):
    return app.get("check_license", {"product": "studio", "hardware_id": hardware_id, "license_key": code.code})


def test_check_renews_the_lease_and_records_the_check_in(app, code):
    app.post("activate_license", {"product": "studio", "hardware_id": "hw-1", "license_key": code.code})
    later = timezone.now() + dt.timedelta(hours=5)
    with time_machine.travel(later, tick=False):
        response = check(app, code)
    assert response.status_code == 200
    license = License.objects.get()
    assert license.last_check_in_at == later
    assert license.lease_expires_at == later + dt.timedelta(hours=6)
    body = response.json()
    assert body["lease_expires_at"].startswith(license.lease_expires_at.strftime("%Y-%m-%dT%H:%M"))
    assert body["refresh_interval"] == 3 * 3600
    assert body["times_activated"] == 1


def test_lease_never_runs_past_the_end_of_the_entitlement(app, code):
    app.post("activate_license", {"product": "studio", "hardware_id": "hw-1", "license_key": code.code})
    end = code.entitlement.valid_until
    with time_machine.travel(end - dt.timedelta(hours=1), tick=False):
        check(app, code)
    assert License.objects.get().lease_expires_at == end


def test_check_license_runs_in_at_most_three_queries(app, code, django_assert_max_num_queries):
    app.post("activate_license", {"product": "studio", "hardware_id": "hw-1", "license_key": code.code})
    # Cold (the activation retired every snapshot): the credential, the license, the
    # lease write (written at once in tests; see the next test for production).
    with django_assert_max_num_queries(3):
        assert check(app, code).status_code == 200
    check(app, code)  # the first check learned which rows to watch; this one remembers
    with django_assert_max_num_queries(1):  # warm: only the lease write
        assert check(app, code).status_code == 200


def test_steady_state_check_reads_nothing_and_writes_check_ins_in_bulk(app, code, settings, django_assert_num_queries):
    settings.LICENSING_CHECKIN_FLUSH_SECONDS = 3600
    check_ins.flush()
    app.post("activate_license", {"product": "studio", "hardware_id": "hw-1", "license_key": code.code})
    app.post("activate_license", {"product": "studio", "hardware_id": "hw-2", "license_key": code.code})
    for _ in range(2):  # the first check learns which rows to watch, the second remembers
        check(app, code, "hw-1")
        check(app, code, "hw-2")
    later = timezone.now() + dt.timedelta(hours=2)
    with time_machine.travel(later, tick=False):
        with django_assert_num_queries(0):
            assert check(app, code, "hw-1").status_code == 200
            assert check(app, code, "hw-2").status_code == 200
        with django_assert_num_queries(1):  # one UPDATE for every buffered check-in
            assert check_ins.flush() == 2
    assert License.objects.get(device__hardware_id="hw-1").last_check_in_at == later
    assert License.objects.get(device__hardware_id="hw-1").lease_expires_at == later + dt.timedelta(hours=6)


def test_buffered_check_in_does_not_touch_a_license_revoked_meanwhile(app, code, settings):
    settings.LICENSING_CHECKIN_FLUSH_SECONDS = 3600
    check_ins.flush()
    app.post("activate_license", {"product": "studio", "hardware_id": "hw-1", "license_key": code.code})
    License.objects.update(lease_expires_at=None)
    check(app, code)
    services.license_revoke(license=License.objects.get(), actor=Actor.system("vendor"))
    check_ins.flush()
    assert License.objects.get().lease_expires_at is None
    assert check(app, code).json()["code"] == "license_revoked"


def test_check_query_count_does_not_grow_with_seats_and_licenses(app, code):
    code.entitlement.seats = 60
    code.entitlement.save()
    for n in range(40):
        app.post("activate_license", {"product": "studio", "hardware_id": f"hw-{n}", "license_key": code.code})
    with CaptureQueriesContext(connection) as captured:
        response = check(app, code, hardware_id="hw-7")
    assert response.status_code == 200
    assert response.json()["times_activated"] == 40
    assert len(captured) <= 3


def test_a_failed_check_in_write_keeps_the_check_ins_and_fails_no_check(app, code, settings, monkeypatch):
    from django.db import DatabaseError

    from licensing.services import checkins

    settings.LICENSING_CHECKIN_FLUSH_SECONDS = 0
    app.post("activate_license", {"product": "studio", "hardware_id": "hw-1", "license_key": code.code})

    def unreachable(pending):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(checkins, "_write", unreachable)
    assert check(app, code).status_code == 200
    monkeypatch.undo()
    later = timezone.now() + dt.timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        assert check_ins.flush() == 1
    assert License.objects.get().last_check_in_at is not None
