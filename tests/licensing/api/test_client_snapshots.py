"""Checks answer from worker memory only while nothing changed (licensing/snapshots.py):
any audited change is seen by the very next check, and without the cache every check
simply reads the database."""

import datetime as dt
import time

import pytest
import redis
from django.utils import timezone
from redis.backoff import NoBackoff
from redis.retry import Retry

from licensing import services, snapshots
from licensing.actors import Actor
from licensing.models import Customer, Entitlement
from tests.factories import ActivationCodeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def code():
    return ActivationCodeFactory(entitlement__product__code="studio")


def check(app, code):
    return app.get("check_license", {"product": "studio", "hardware_id": "hw-1", "license_key": code.code})


@pytest.fixture
def warm(app, code, settings, django_assert_num_queries):
    settings.LICENSING_CHECKIN_FLUSH_SECONDS = 3600
    app.post("activate_license", {"product": "studio", "hardware_id": "hw-1", "license_key": code.code})
    check(app, code)  # learns which rows the answer is built from
    check(app, code)  # remembers it, under their versions read before the database
    with django_assert_num_queries(0):
        assert check(app, code).status_code == 200


def test_editing_validity_in_the_admin_is_seen_by_the_next_check(app, code, warm):
    entitlement = Entitlement.objects.get(pk=code.entitlement_id)
    now = timezone.now()
    services.entitlement_update(
        entitlement=entitlement,
        data={"valid_from": now - dt.timedelta(days=10), "valid_until": now - dt.timedelta(days=1)},
        actor=Actor.system("vendor"),
    )
    body = check(app, code).json()
    assert (body["code"], body["reason"]) == ("license_not_active", "expired")


def test_validity_ending_is_seen_without_any_change(app, code, warm):
    """Rules run on every check, at the current time, also on a remembered chain."""
    import time_machine

    with time_machine.travel(code.entitlement.valid_until + dt.timedelta(seconds=1)):
        body = check(app, code).json()
    assert (body["code"], body["reason"]) == ("license_not_active", "expired")


def test_revoking_the_credential_is_seen_by_the_next_request(app, code, credential, warm):
    services.client_credential_revoke(credential=credential, actor=Actor.system("vendor"))
    assert check(app, code).json()["code"] == "invalid_api_key"


def test_checks_read_the_database_when_the_cache_is_unreachable(app, code, monkeypatch, settings):
    app.post("activate_license", {"product": "studio", "hardware_id": "hw-1", "license_key": code.code})
    settings.REDIS_URL = "redis://127.0.0.1:1/15"  # nothing listens on port 1
    dead = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    monkeypatch.setattr(snapshots._store, "_redis", dead)
    snapshots._store.tracked.reset()
    monkeypatch.setattr(snapshots, "_cache_down_until", 0.0)
    assert not snapshots.Versions.read(["any"]).available
    assert check(app, code).status_code == 200
    services.customer_disable(customer=code.entitlement.customer, actor=Actor.system("vendor"))
    assert check(app, code).json()["reason"] == "customer_disabled"


def test_a_remembered_chain_is_read_again_after_its_maximum_age(app, code, settings, django_assert_num_queries):
    settings.LICENSING_CHECKIN_FLUSH_SECONDS = 3600
    settings.LICENSING_SNAPSHOT_MAX_SECONDS = 0  # every entry outlives its lifetime at once
    app.post("activate_license", {"product": "studio", "hardware_id": "hw-1", "license_key": code.code})
    check(app, code)
    with django_assert_num_queries(2):  # the credential and the license, read again
        check(app, code)
    settings.LICENSING_SNAPSHOT_MAX_SECONDS = 300
    check(app, code)
    with django_assert_num_queries(0):
        check(app, code)


def test_changes_to_other_customers_leave_this_chain_in_memory(app, code, warm, django_assert_num_queries):
    other = ActivationCodeFactory(entitlement__product=code.entitlement.product)
    services.customer_disable(customer=other.entitlement.customer, actor=Actor.system("vendor"))
    services.entitlement_disable(entitlement=other.entitlement, actor=Actor.system("vendor"))
    with django_assert_num_queries(0):
        assert check(app, code).status_code == 200


def test_an_activation_on_the_same_entitlement_is_seen_in_times_activated(app, code, warm):
    before = check(app, code).json()["times_activated"]
    app.post("activate_license", {"product": "studio", "hardware_id": "hw-2", "license_key": code.code})
    assert check(app, code).json()["times_activated"] == before + 1


def _redis(settings) -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _disable_customer_from_another_server(settings, customer) -> None:
    """What another server does when it disables a customer: the database write, then
    the version bump (this process's own bump would not be needed to see it)."""
    Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.DISABLED)
    _redis(settings).incr(snapshots.version_key(customer))


def test_a_warm_check_reads_no_versions_from_redis(app, code, warm, settings, django_assert_num_queries):
    calls = lambda: _redis(settings).info("commandstats").get("cmdstat_mget", {}).get("calls", 0)  # noqa: E731
    before = calls()
    with django_assert_num_queries(0):
        assert check(app, code).status_code == 200
    assert calls() == before


def test_a_change_made_on_another_server_is_pushed_to_this_one(app, code, warm, settings):
    _disable_customer_from_another_server(settings, code.entitlement.customer)
    # Redis pushes the change down this process's tracking connection at once.
    assert snapshots._store.tracked._connection.can_read(timeout=1)
    assert check(app, code).json()["reason"] == "customer_disabled"


def test_a_lost_tracking_connection_forgets_every_version(app, code, warm, settings, monkeypatch):
    monkeypatch.setattr(snapshots, "_cache_down_until", 0.0)
    for client in _redis(settings).client_list():
        if "t" in client["flags"]:  # tracking on: this process's connection
            _redis(settings).client_kill_filter(_id=client["id"])
    # No push can tell this process about the change: it must not answer from memory.
    _disable_customer_from_another_server(settings, code.entitlement.customer)
    assert check(app, code).json()["reason"] == "customer_disabled"


def test_a_reconnected_tracking_connection_starts_afresh(app, code, warm, settings):
    customer = code.entitlement.customer
    snapshots._store.tracked._connection.disconnect()  # as redis-py does after a network error
    _disable_customer_from_another_server(settings, customer)  # no push can tell this process
    assert check(app, code).json()["reason"] == "customer_disabled"
    # Tracking is on again for the new connection: the next change arrives by push.
    Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.ACTIVE)
    _redis(settings).incr(snapshots.version_key(customer))
    assert snapshots._store.tracked._connection.can_read(timeout=1)
    assert check(app, code).status_code == 200


def test_a_full_table_of_versions_starts_over(app, code, warm, settings, monkeypatch):
    monkeypatch.setattr(snapshots._TrackedReads, "MAX_KEYS", 0)
    monkeypatch.setattr(snapshots, "_cache_down_until", 0.0)
    _disable_customer_from_another_server(settings, code.entitlement.customer)
    assert check(app, code).json()["reason"] == "customer_disabled"
    assert snapshots._cache_down_until == 0.0  # no failure on the way: the cache stays in use


def test_a_silent_connection_is_checked_before_it_is_trusted(app, code, warm, settings, monkeypatch):
    """A read more than LIVENESS_SECONDS after the last round trip makes one first."""
    monkeypatch.setattr(snapshots._TrackedReads, "LIVENESS_SECONDS", 0.0)
    pings = lambda: _redis(settings).info("commandstats").get("cmdstat_ping", {}).get("calls", 0)  # noqa: E731
    before = pings()
    assert check(app, code).status_code == 200
    assert pings() == before + 1


@pytest.fixture
def redis_without_tracking(settings):
    """A Redis account that may not use CLIENT, as behind some proxies and ACLs."""
    admin = _redis(settings)
    admin.acl_setuser(
        "notrack", enabled=True, passwords=["+pw"], keys=["*"], channels=["*"], commands=["+@all", "-client"]
    )
    settings.REDIS_URL = "redis://notrack:pw@127.0.0.1:6379/15"
    snapshots._store.tracked.reset()
    yield
    snapshots._store.tracked.reset()
    admin.acl_deluser("notrack")


def test_without_tracking_every_check_reads_the_versions(app, code, warm, settings, redis_without_tracking):
    calls = lambda: _redis(settings).info("commandstats").get("cmdstat_mget", {}).get("calls", 0)  # noqa: E731
    before = calls()
    assert check(app, code).status_code == 200
    assert snapshots._store.tracked.refused
    assert calls() > before
    _disable_customer_from_another_server(settings, code.entitlement.customer)
    assert check(app, code).json()["reason"] == "customer_disabled"


def test_thousands_of_changes_pushed_during_one_round_trip_are_all_taken_in(app, code, warm, settings, monkeypatch):
    """A busy server changing many entitlements at once: every change this process tracks
    is pushed to it, and those that arrive while a read waits for its reply come before
    the reply. redis-py read each such push one call deeper, so a few thousand of them
    overflowed Python's stack and dropped the cache for every check of the worker."""
    tracked = snapshots._store.tracked
    keys = [f"licensing:v:test:{n}" for n in range(3000)]
    client = _redis(settings)
    client.mset(dict.fromkeys(keys, 1))
    tracked.read(keys)  # remembered, and tracked
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.incr(key)
        pipe.execute()
    assert tracked._connection.can_read(timeout=1)
    # The pushes are waiting when the read's round trip begins, as if they came during it.
    monkeypatch.setattr(snapshots._TrackedReads, "LIVENESS_SECONDS", 0.0)
    monkeypatch.setattr(tracked._connection, "can_read", lambda timeout=0: False)
    time.sleep(0.2)

    assert {int(value) for value in tracked.read(keys).values()} == {2}
    assert tracked._connection is not None  # no failure on the way: the connection is kept
