"""A grace period: after the end of validity, licenses keep working until it ends, and
every answer says so, so the application can ask its user to renew."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from licensing import services
from licensing.actors import Actor
from tests.factories import ActivationCodeFactory

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def code():
    now = timezone.now().replace(microsecond=0)  # answers show milliseconds
    return ActivationCodeFactory(
        entitlement__product__code="studio",
        entitlement__valid_from=now - 30 * DAY,
        entitlement__valid_until=now + DAY,
        entitlement__grace_period=7 * DAY,
        entitlement__lease_period=3 * DAY,
    )


def check(app, code):
    return app.get("check_license", {"product": "studio", "hardware_id": "hw-1", "license_key": code.code})


def test_a_check_in_grace_succeeds_and_says_until_when(app, code):
    app.post("activate_license", {"product": "studio", "hardware_id": "hw-1", "license_key": code.code})
    end = code.entitlement.valid_until
    before = check(app, code).json()
    assert (before["in_grace"], before["grace_until"]) == (False, (end + 7 * DAY).isoformat().replace("+00:00", "Z"))
    with time_machine.travel(end + 2 * DAY, tick=False):
        response = check(app, code)
    assert response.status_code == 200
    body = response.json()
    assert body["in_grace"] is True
    assert body["license_active"] is True and body["is_expired"] is False
    assert body["validity_period"] == end.isoformat().replace("+00:00", "Z")
    # The lease runs to the end of the grace at the latest, not past it.
    assert body["lease_expires_at"] == (end + 5 * DAY).isoformat().replace("+00:00", "Z")


def test_after_the_grace_the_check_is_refused_as_expired(app, code):
    app.post("activate_license", {"product": "studio", "hardware_id": "hw-1", "license_key": code.code})
    end = code.entitlement.valid_until
    with time_machine.travel(end + 7 * DAY + dt.timedelta(seconds=1), tick=False):
        response = check(app, code)
    assert (response.status_code, response.json()["code"], response.json()["reason"]) == (
        400,
        "license_not_active",
        "expired",
    )


def test_a_renewal_during_the_grace_is_seen_at_the_next_check(app, code):
    app.post("activate_license", {"product": "studio", "hardware_id": "hw-1", "license_key": code.code})
    end = code.entitlement.valid_until
    with time_machine.travel(end + 2 * DAY, tick=False):
        assert check(app, code).json()["in_grace"] is True
        services.entitlement_renew(entitlement=code.entitlement, days=365, actor=Actor.system("billing"))
        body = check(app, code).json()
    assert body["in_grace"] is False
    assert body["validity_period"] == (end + 365 * DAY).isoformat().replace("+00:00", "Z")
