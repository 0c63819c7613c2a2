"""Checks answer from worker memory only while nothing changed (licensing/snapshots.py):
any audited change is seen by the very next check, and without the cache every check
simply reads the database."""

import datetime as dt

import pytest
import redis
from django.utils import timezone
from redis.backoff import NoBackoff
from redis.retry import Retry

from licensing import services, snapshots
from licensing.audit import Actor
from licensing.models import Entitlement
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
    entitlement.valid_from = timezone.now() - dt.timedelta(days=10)
    entitlement.valid_until = timezone.now() - dt.timedelta(days=1)
    services.save_edits(instance=entitlement, fields=["valid_from", "valid_until"], actor=Actor.system("vendor"))
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


def test_checks_read_the_database_when_the_cache_is_unreachable(app, code, monkeypatch):
    app.post("activate_license", {"product": "studio", "hardware_id": "hw-1", "license_key": code.code})
    dead = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))  # nothing listens on port 1
    monkeypatch.setattr(snapshots._store, "_redis", dead)
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
