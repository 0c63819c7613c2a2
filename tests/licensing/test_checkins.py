"""Buffered check-ins (licensing/services/checkins.py): every worker writes the check-ins
it answered in bulk; workers that flush the same licenses at once neither deadlock nor
put an older check-in over a newer one."""

import datetime as dt
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from licensing.models import Device, License
from licensing.services.checkins import CheckInBuffer
from tests.factories import ActivationCodeFactory, DeviceFactory, LicenseFactory


@pytest.fixture(autouse=True)
def buffered(settings):
    settings.LICENSING_CHECKIN_FLUSH_SECONDS = 3600


def test_the_newest_check_in_wins_whichever_worker_flushes_last(db):
    license = LicenseFactory()
    now = timezone.now()
    newer, older = CheckInBuffer(), CheckInBuffer()
    newer.record(license.pk, now, now + dt.timedelta(hours=6))
    older.record(license.pk, now - dt.timedelta(seconds=1), now + dt.timedelta(hours=5))
    newer.flush()
    older.flush()
    license.refresh_from_db()
    assert license.last_check_in_at == now
    assert license.lease_expires_at == now + dt.timedelta(hours=6)


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_workers_flushing_the_same_licenses_at_once_all_succeed(caplog):
    """Each flush locks up to thousands of rows; two in the opposite order would
    deadlock, and PostgreSQL would abort one after a second's stall."""
    licenses = [license.pk for license in LicenseFactory.create_batch(1000)]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # the planner's statistics, as a live table has them
    rounds, workers = 10, 3
    barrier = threading.Barrier(workers)
    written: list[int] = []
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        buffer = CheckInBuffer()
        try:
            for round in range(rounds):
                at = timezone.now()
                # Each worker records the licenses in its own order, as traffic would.
                for pk in licenses[n::workers] + licenses[round % workers :: 2]:
                    buffer.record(pk, at, at + dt.timedelta(hours=1))
                barrier.wait(timeout=30)
                written.append(buffer.flush())
        except BaseException as error:  # surfaced in the test thread below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert "check-in write failed" not in caplog.text
    assert len(written) == rounds * workers and 0 not in written  # 0: a flush failed
    assert not License.objects.filter(last_check_in_at=None).exists()


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="heap-only updates: PostgreSQL")
def test_check_ins_leave_the_license_indexes_alone(db):
    """A check-in changes no indexed column: PostgreSQL can rewrite the row within its
    page without touching any of the table's indexes, as long as the page has room.
    Licenses inserted in bulk leave that room for the check-ins that come later, a few
    of each page's licenses at a time."""
    code = ActivationCodeFactory()
    devices = Device.objects.bulk_create(
        DeviceFactory.build(customer=code.entitlement.customer) for _ in range(LICENSES_ON_SEVERAL_PAGES)
    )
    licenses = License.objects.bulk_create(
        License(entitlement=code.entitlement, activation_code=code, device=device) for device in devices
    )
    buffer = CheckInBuffer()
    now = timezone.now()
    for license in licenses[::10]:
        buffer.record(license.pk, now, now + dt.timedelta(hours=12))
    before = _updates_of_licenses()
    assert buffer.flush() == len(licenses[::10])
    updated, heap_only = (after - earlier for after, earlier in zip(_updates_of_licenses(), before, strict=True))
    assert updated == len(licenses[::10])
    assert heap_only == updated


def _updates_of_licenses() -> tuple[int, int]:
    """Rows of licenses this connection has updated, and how many of those updates were
    heap-only, as far as its statistics not yet reported to the server go."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_stat_get_xact_tuples_updated(oid), pg_stat_get_xact_tuples_hot_updated(oid)"
            " FROM pg_class WHERE relname = %s",
            [License._meta.db_table],
        )
        return cursor.fetchone()


# Enough licenses to fill several pages of the table.
LICENSES_ON_SEVERAL_PAGES = 400


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="psycopg's binding modes: PostgreSQL")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("server_side_binding", [True, False], ids=["server-side binding", "client-side binding"])
def test_check_ins_are_written_whichever_way_psycopg_binds_parameters(monkeypatch, server_side_binding):
    """The arrays of a flush are sent in binary where psycopg binds on the server, as
    production does; a deployment may bind on the client, where psycopg writes them
    into the statement's text instead."""
    from licensing.services import checkins

    default = connections["default"]
    wrapper = type(default)({**default.settings_dict, "OPTIONS": {"server_side_binding": server_side_binding}})
    monkeypatch.setattr(checkins, "connection", wrapper)
    license = LicenseFactory()
    now = timezone.now()
    buffer = CheckInBuffer()
    buffer.record(license.pk, now, now + dt.timedelta(hours=12))
    try:
        assert buffer.flush() == 1
    finally:
        wrapper.close()
    license.refresh_from_db()
    assert (license.last_check_in_at, license.lease_expires_at) == (now, now + dt.timedelta(hours=12))
