"""Renewal and expiry notices: each notice once per entitlement, milestone and end, even
with several workers at once; a renewal moves the end and starts the notices afresh."""

import datetime as dt
import json
import subprocess
import sys

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone

from licensing import services
from licensing.errors import InvalidEdit
from licensing.models import AuditEvent, Entitlement, ExpiryNotice, WebhookEvent
from tests.factories import EntitlementFactory, LicenseFactory, WebhookEndpointFactory
from tests.servers import ROOT, server_env

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def endpoint(db):
    """A receiver subscribed to everything: without one, no event is written."""
    return WebhookEndpointFactory()


def notices(entitlement: Entitlement | None = None) -> list[tuple[str, int | None]]:
    """(event type, milestone) of the expiry events written, oldest first."""
    events = WebhookEvent.objects.filter(type__in=["entitlement.expiring", "entitlement.expired"]).order_by(
        "created_at"
    )
    found = []
    for event in events:
        data = json.loads(event.payload)["data"]
        if entitlement is None or data["id"] == str(entitlement.pk):
            found.append((event.type, data["expiry"]["milestone_days"]))
    return found


def ending(at: dt.datetime, **fields) -> Entitlement:
    return EntitlementFactory(valid_from=at - 365 * DAY, valid_until=at, **fields)


def send_at(moment: dt.datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return services.expiry_notices_send()


def test_each_milestone_is_announced_once_then_the_end(settings):
    settings.LICENSING_EXPIRY_NOTICE_DAYS = [30, 7, 1]
    entitlement = ending(T0 + 40 * DAY)
    assert send_at(T0) == 0  # 40 days left: no milestone yet
    assert send_at(T0 + 10 * DAY) == 1  # 30 days left
    assert send_at(T0 + 11 * DAY) == 0  # sent already
    assert send_at(T0 + 33 * DAY) == 1  # 7 days left
    assert send_at(T0 + 39 * DAY + dt.timedelta(hours=1)) == 1  # 23 hours left
    assert send_at(T0 + 40 * DAY) == 0  # the last instant of validity
    assert send_at(T0 + 40 * DAY + dt.timedelta(seconds=1)) == 1
    assert send_at(T0 + 41 * DAY) == 0
    assert notices(entitlement) == [
        ("entitlement.expiring", 30),
        ("entitlement.expiring", 7),
        ("entitlement.expiring", 1),
        ("entitlement.expired", 0),
    ]


def test_a_late_start_sends_only_the_nearest_milestone(settings):
    """An entitlement made five days before its end (or a scheduler that was down) is
    told "7 days", not also "30 days"."""
    settings.LICENSING_EXPIRY_NOTICE_DAYS = [30, 7, 1]
    entitlement = ending(T0 + 5 * DAY)
    send_at(T0)
    event = json.loads(WebhookEvent.objects.get(type="entitlement.expiring").payload)["data"]
    assert notices(entitlement) == [("entitlement.expiring", 7)]
    assert event["expiry"]["days_left"] == 5
    assert event["customer"] == str(entitlement.customer_id)


def test_the_end_of_a_grace_period_is_when_expired_is_sent(settings):
    settings.LICENSING_EXPIRY_NOTICE_DAYS = [7]
    entitlement = ending(T0, grace_period=3 * DAY)
    send_at(T0 + DAY)  # in grace: licenses still work
    assert notices(entitlement) == []
    send_at(T0 + 3 * DAY + dt.timedelta(seconds=1))
    assert notices(entitlement) == [("entitlement.expired", 0)]
    data = json.loads(WebhookEvent.objects.get(type="entitlement.expired").payload)["data"]
    assert data["expiry"]["grace_until"] == (T0 + 3 * DAY).isoformat().replace("+00:00", "Z")


def test_ends_long_past_are_not_announced_when_notices_start(settings):
    ending(T0 - 30 * DAY)
    assert send_at(T0) == 0


def test_renewing_before_a_milestone_cancels_the_notices_not_yet_due(settings, actor):
    settings.LICENSING_EXPIRY_NOTICE_DAYS = [30, 7]
    entitlement = ending(T0 + 20 * DAY)
    send_at(T0)  # 20 days left: the 30-day notice
    with time_machine.travel(T0 + DAY, tick=False):
        services.entitlement_renew(entitlement=entitlement, days=365, actor=actor)
    for day in (14, 19, 21, 30):  # the old end's 7-day notice and its end pass unannounced
        send_at(T0 + day * DAY)
    assert notices(entitlement) == [("entitlement.expiring", 30)]
    send_at(T0 + (385 - 30) * DAY)  # the new end's cycle
    assert notices(entitlement) == [("entitlement.expiring", 30), ("entitlement.expiring", 30)]


def test_renewing_after_expiry_starts_a_fresh_cycle(settings, actor):
    settings.LICENSING_EXPIRY_NOTICE_DAYS = [7]
    entitlement = ending(T0)
    license = LicenseFactory(activation_code__entitlement=entitlement)
    send_at(T0 - 6 * DAY)
    send_at(T0 + DAY)
    assert license.verdict(T0 + DAY).status == "expired"
    with time_machine.travel(T0 + 2 * DAY, tick=False):
        services.entitlement_renew(entitlement=entitlement, days=30, start="now", actor=actor)
    license.entitlement.refresh_from_db()
    assert license.verdict(T0 + 2 * DAY).is_active
    send_at(T0 + 26 * DAY)
    send_at(T0 + 33 * DAY)
    assert notices(entitlement) == [("entitlement.expiring", 7), ("entitlement.expired", 0)] * 2


def test_renewal_from_expiry_keeps_the_days_already_paid_for(actor):
    entitlement = ending(T0 + 10 * DAY)
    with time_machine.travel(T0, tick=False):
        renewed = services.entitlement_renew(entitlement=entitlement, days=365, actor=actor, reason="invoice 42")
    assert renewed.valid_until == T0 + 375 * DAY
    event = AuditEvent.objects.get(action="entitlement.renewed")
    assert event.reason == "invoice 42"
    assert event.before == {"valid_until": (T0 + 10 * DAY).isoformat()}
    assert WebhookEvent.objects.filter(type="entitlement.renewed").count() == 1


def test_renewal_to_a_date(actor):
    entitlement = ending(T0 + 10 * DAY)
    with time_machine.travel(T0, tick=False):
        renewed = services.entitlement_renew(entitlement=entitlement, valid_until=T0 + 100 * DAY, actor=actor)
    assert renewed.valid_until == T0 + 100 * DAY


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({}, "__all__"),
        ({"days": 30, "valid_until": T0 + 99 * DAY}, "__all__"),
        ({"days": 0}, "days"),
        ({"days": -5}, "days"),
        ({"days": 10**9}, "days"),
        ({"days": True}, "days"),
        ({"days": 30, "start": "yesterday"}, "from"),
        ({"valid_until": T0 + 5 * DAY}, "valid_until"),  # earlier than the current end
        ({"valid_until": T0 - DAY}, "valid_until"),
        ({"valid_until": T0 + 20_000 * DAY}, "valid_until"),
    ],
)
def test_absurd_renewals_are_refused_and_change_nothing(arguments, field, actor):
    entitlement = ending(T0 + 10 * DAY)
    with time_machine.travel(T0, tick=False), pytest.raises(InvalidEdit) as refused:
        services.entitlement_renew(entitlement=entitlement, actor=actor, **arguments)
    assert field in refused.value.errors
    entitlement.refresh_from_db()
    assert entitlement.valid_until == T0 + 10 * DAY
    assert not AuditEvent.objects.filter(action="entitlement.renewed").exists()


def test_a_perpetual_entitlement_has_nothing_to_renew(actor):
    entitlement = EntitlementFactory(valid_until=None)
    with pytest.raises(InvalidEdit, match="never ends"):
        services.entitlement_renew(entitlement=entitlement, days=30, actor=actor)


# One run of the notice job in a process of its own, at a given time.
JOB = """
import datetime as dt, sys
import django
django.setup()
from licensing import services
print(services.expiry_notices_send(now=dt.datetime.fromisoformat(sys.argv[1])))
"""


def job(moment: dt.datetime) -> subprocess.Popen:
    env = server_env(
        connection.settings_dict["NAME"],
        settings.REDIS_URL,
        settings="config.settings.test",
        LICENSING_EXPIRY_NOTICE_DAYS="30,7,1",
    )
    return subprocess.Popen(
        [sys.executable, "-c", JOB, moment.isoformat()], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True
    )


@pytest.mark.django_db(transaction=True)
def test_two_workers_and_a_restart_send_each_notice_exactly_once():
    """Across every milestone, the job runs in two processes at once, and at the first
    milestone a third is killed halfway and started again: every entitlement gets each
    notice once, and the notices sent add up to the rows kept."""
    WebhookEndpointFactory()
    entitlements = [ending(T0 + 40 * DAY + n * dt.timedelta(seconds=1)) for n in range(150)]
    moments = [T0 + 10 * DAY + 200 * dt.timedelta(seconds=1), T0 + 34 * DAY, T0 + 39 * DAY + dt.timedelta(hours=2)]
    moments.append(T0 + 41 * DAY)
    sent = 0
    for round_, moment in enumerate(moments):
        if round_ == 0:
            killed = job(moment)
            try:
                killed.wait(timeout=2.5)
            except subprocess.TimeoutExpired:
                killed.kill()
            killed.wait()
        racing = [job(moment), job(moment)]
        sent += sum(int(process.communicate(timeout=120)[0].strip().splitlines()[-1]) for process in racing)
    expected = [
        ("entitlement.expiring", 30),
        ("entitlement.expiring", 7),
        ("entitlement.expiring", 1),
        ("entitlement.expired", 0),
    ]
    by_entitlement: dict[str, list] = {str(e.pk): [] for e in entitlements}
    for event in WebhookEvent.objects.filter(type__startswith="entitlement.expir").order_by("created_at"):
        data = json.loads(event.payload)["data"]
        by_entitlement[data["id"]].append((event.type, data["expiry"]["milestone_days"]))
    assert all(found == expected for found in by_entitlement.values()), by_entitlement
    assert ExpiryNotice.objects.count() == 4 * len(entitlements)
    assert WebhookEvent.objects.filter(type__startswith="entitlement.expir").count() == 4 * len(entitlements)
    assert sent <= 4 * len(entitlements)  # the killed run's may have committed before it died


def test_the_notice_job_is_on_the_schedule_beat_and_the_embedded_scheduler_run():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "licensing.tasks.send_expiry_notices" in tasks


def test_time_passes_the_notice_job_with_no_entitlement_at_all():
    assert services.expiry_notices_send(now=timezone.now()) == 0


def test_a_notice_read_before_a_renewal_is_not_sent_after_it(settings, actor):
    """The job lists what is due, then sends each under the entitlement's lock: a renewal
    committed in between moved the end, and the old end's notice is not sent."""
    from licensing.services import renewals

    settings.LICENSING_EXPIRY_NOTICE_DAYS = [7]
    entitlement = ending(T0 + 5 * DAY)
    with time_machine.travel(T0, tick=False):
        ((listed, milestone),) = renewals._due(T0)
        services.entitlement_renew(entitlement=entitlement, days=365, actor=actor)
        assert renewals._send(listed, milestone, T0) == 0
    assert notices(entitlement) == [] and not ExpiryNotice.objects.exists()
