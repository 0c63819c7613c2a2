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
from licensing.models import Customer, Entitlement, License
from tests.factories import ActivationCodeFactory, grant_features, user_on_two_entitlements

pytestmark = pytest.mark.django_db


@pytest.fixture
def code():
    return ActivationCodeFactory(entitlement__product__code="studio")


def check(app, code, hardware_id="hw-1"):
    return app.get("check_license", {"product": "studio", "hardware_id": hardware_id, "license_key": code.code})


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


def _warm(app, code, hardware_id: str) -> None:
    app.post("activate_license", {"product": "studio", "hardware_id": hardware_id, "license_key": code.code})
    for _ in range(2):  # learns its rows, then remembers them
        assert check(app, code, hardware_id).status_code == 200


def test_a_change_to_a_shared_row_is_read_once_for_every_license_built_on_it(
    app, code, settings, django_assert_num_queries
):
    """A vendor's change to an entitlement sends all its devices' checks to the database;
    only the changed row is read, and once per worker, not once per device."""
    settings.LICENSING_CHECKIN_FLUSH_SECONDS = 3600
    for hardware_id in ("hw-1", "hw-2", "hw-3"):
        _warm(app, code, hardware_id)
    services.entitlement_disable(entitlement=code.entitlement, actor=Actor.system("vendor"))
    with django_assert_num_queries(2):  # the entitlement, and its code for the seat counts
        assert check(app, code, "hw-1").json()["reason"] == "entitlement_disabled"
    for hardware_id in ("hw-2", "hw-3"):
        with django_assert_num_queries(0):
            assert check(app, code, hardware_id).json()["reason"] == "entitlement_disabled"
    services.entitlement_enable(entitlement=code.entitlement, actor=Actor.system("vendor"))
    services.customer_disable(customer=code.entitlement.customer, actor=Actor.system("vendor"))
    with django_assert_num_queries(3):  # the entitlement, its code and the customer
        assert check(app, code, "hw-2").json()["reason"] == "customer_disabled"
    with django_assert_num_queries(0):
        assert check(app, code, "hw-1").json()["reason"] == "customer_disabled"


def test_a_chain_rebuilt_from_changed_rows_answers_as_a_fresh_read(app, code, settings):
    settings.LICENSING_CHECKIN_FLUSH_SECONDS = 3600
    for hardware_id in ("hw-1", "hw-2"):
        _warm(app, code, hardware_id)
    entitlement = Entitlement.objects.get(pk=code.entitlement_id)
    services.entitlement_update(
        entitlement=entitlement,
        data={"valid_until": entitlement.valid_until + dt.timedelta(days=30)},
        actor=Actor.system("vendor"),
    )
    grant_features(entitlement, {"export": True})
    check(app, code, "hw-1")  # reads the entitlement
    rebuilt = check(app, code, "hw-2").json()  # from the entitlement hw-1's check read
    snapshots.licenses.clear()
    snapshots.rows.clear()
    read = check(app, code, "hw-2").json()
    moving = {"nonce", "server_time", "last_check_in_at", "lease_expires_at"}
    assert {k: v for k, v in rebuilt.items() if k not in moving} == {k: v for k, v in read.items() if k not in moving}
    assert rebuilt["features"] == {"export": True}


def test_a_device_with_licenses_to_choose_from_reads_its_whole_chain_again(app):
    """Which of a device's licenses answers depends on every chain: when one changes, the
    choice is made again from the database."""
    user, _ = user_on_two_entitlements()
    body = {
        "product": "team",
        "hardware_id": "hw-1",
        "username": user.username,
        "password": "correct horse battery staple",
    }
    query = {"product": "team", "hardware_id": "hw-1", "username": user.username}
    held = app.post("activate_license", body).json()["id"]
    used = License.objects.get(pk=held).entitlement
    services.entitlement_disable(entitlement=used, actor=Actor.system("vendor"))
    newer = app.post("activate_license", body).json()["id"]  # through the other entitlement
    services.entitlement_enable(entitlement=used, actor=Actor.system("vendor"))
    for _ in range(3):
        assert app.get("check_license", query).json()["id"] == newer
    services.entitlement_disable(entitlement=License.objects.get(pk=newer).entitlement, actor=Actor.system("vendor"))
    assert app.get("check_license", query).json()["id"] == held


def test_an_entitlement_moved_to_another_order_answers_to_that_order(app, code, settings):
    from tests.factories import LicenseTransactionFactory

    settings.LICENSING_CHECKIN_FLUSH_SECONDS = 3600
    _warm(app, code, "hw-1")
    order = LicenseTransactionFactory(customer=code.entitlement.customer)
    entitlement = Entitlement.objects.get(pk=code.entitlement_id)
    services.entitlement_update(entitlement=entitlement, data={"transaction": order}, actor=Actor.system("vendor"))
    for _ in range(2):
        assert check(app, code).status_code == 200
    services.transaction_suspend(license_transaction=order, actor=Actor.system("vendor"))
    assert check(app, code).json()["reason"] == "transaction_suspended"


def test_a_renamed_license_user_no_longer_finds_the_license_by_the_old_name(app):
    from tests.factories import EntitlementFactory, LicenseUserFactory

    user = LicenseUserFactory()
    entitlement = EntitlementFactory(customer=user.customer, product__code="team", product__authorization_method="user")
    user.entitlements.add(entitlement)
    query = {"product": "team", "hardware_id": "hw-1", "username": user.username}
    app.post("activate_license", query | {"password": "correct horse battery staple"})
    for _ in range(2):
        assert app.get("check_license", query).status_code == 200
    services.license_user_update(license_user=user, data={"username": "renamed@example.com"}, actor=Actor.system("v"))
    assert app.get("check_license", query).json()["code"] == "license_not_found"  # no such user
    assert app.get("check_license", query | {"username": "renamed@example.com"}).status_code == 200


def test_a_seat_taken_through_the_same_code_is_seen_in_both_counts(app, settings):
    """A seat moves the counts of the entitlement and of the code, and bumps only the
    entitlement: a chain rebuilt after it reads the code's count again too."""
    settings.LICENSING_CHECKIN_FLUSH_SECONDS = 3600
    code = ActivationCodeFactory(entitlement__product__code="studio", entitlement__seats=5, max_activations=5)
    _warm(app, code, "hw-1")
    app.post("activate_license", {"product": "studio", "hardware_id": "hw-2", "license_key": code.code})
    body = check(app, code).json()
    assert (body["times_activated"], body["key_times_activated"]) == (2, 2)
    app.post("deactivate_license", {"product": "studio", "hardware_id": "hw-2", "license_key": code.code})
    body = check(app, code).json()
    assert (body["times_activated"], body["key_times_activated"]) == (1, 1)


def test_a_license_user_gaining_a_license_is_answered_from_the_database(app):
    """A user's device may gain a license of another entitlement while no row of the
    remembered chain changes: a user's chain is never rebuilt from parts."""
    user, _ = user_on_two_entitlements()
    query = {"product": "team", "hardware_id": "hw-1", "username": user.username}
    held = app.post("activate_license", query | {"password": "correct horse battery staple"}).json()["id"]
    for _ in range(2):
        assert app.get("check_license", query).json()["id"] == held
    services.entitlement_disable(entitlement=License.objects.get(pk=held).entitlement, actor=Actor.system("vendor"))
    newer = app.post("activate_license", query | {"password": "correct horse battery staple"}).json()["id"]
    assert app.get("check_license", query).json()["id"] == newer
