"""Floating licenses through the client API: any number of activated devices, at most
`seats` running at once. A running device holds a slot until `now + floating_timeout`,
renewed by each check; a slot nobody renews is free at its end."""

import datetime as dt
from collections import Counter

import pytest
import time_machine
from django.utils import timezone

from licensing import services
from licensing.actors import Actor
from licensing.models import AuditEvent, Entitlement, FloatingSlot, License
from tests.factories import ActivationCodeFactory

from .conftest import read_license_file, verify_response

PRODUCT = "studio"
FLOATING = Entitlement.LicenseModel.FLOATING
STAFF = Actor.system("staff")


@pytest.fixture
def code(db):
    return ActivationCodeFactory(
        entitlement__product__code=PRODUCT,
        entitlement__license_model=FLOATING,
        entitlement__seats=2,
        entitlement__floating_timeout=60,
        entitlement__max_borrow_time=3600,
    )


def identity(code, hardware_id: str) -> dict:
    return {"product": PRODUCT, "hardware_id": hardware_id, "license_key": code.code}


def activate(app, code, hardware_id: str):
    return app.post("activate_license", identity(code, hardware_id))


def check(app, code, hardware_id: str):
    return app.get("check_license", identity(code, hardware_id))


def release(app, code, hardware_id: str):
    return app.post("floating/release", identity(code, hardware_id))


def borrow(app, code, hardware_id: str, until):
    return app.post("floating/borrow", {**identity(code, hardware_id), "borrowed_until": until})


def moment() -> dt.datetime:
    """Now, to the second: answers carry times to the millisecond."""
    return timezone.now().replace(microsecond=0)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def parsed(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def live_slots(code) -> set[str]:
    return set(
        FloatingSlot.objects.live()
        .filter(entitlement=code.entitlement)
        .values_list("license__device__hardware_id", flat=True)
    )


def refused(response, code: str, reason: str | None = None) -> bool:
    verify_response(response)
    body = response.json()
    return response.status_code == 400 and body["code"] == code and body.get("reason") == reason


def test_activating_a_floating_license_takes_a_slot_and_says_so(app, code):
    now = moment()
    with time_machine.travel(now, tick=False):
        response = activate(app, code, "hw-1")

    assert response.status_code == 200
    verify_response(response)
    body = response.json()
    assert body["license_model"] == "floating"
    assert body["floating_timeout"] == 60
    assert parsed(body["floating_until"]) == now + dt.timedelta(seconds=60)
    assert body["floating_in_use_devices"] == 1
    assert body["floating_seats"] == 2
    assert (body["max_borrow_time"], body["is_borrowed"], body["borrowed_until"]) == (3600, False, None)
    assert body["max_activations"] is None  # no cap on activated devices
    assert live_slots(code) == {"hw-1"}


def test_a_node_locked_answer_says_its_model_and_carries_no_floating_terms(app, db):
    code = ActivationCodeFactory(entitlement__product__code=PRODUCT)
    body = activate(app, code, "hw-1").json()
    assert body["license_model"] == "node_locked"
    assert "floating_until" not in body
    assert refused(release(app, code, "hw-1"), "license_not_floating")
    assert refused(borrow(app, code, "hw-1", None), "license_not_floating")


def test_each_check_renews_the_slot_until_a_timeout_from_now(app, code):
    activate(app, code, "hw-1")
    later = moment() + dt.timedelta(seconds=45)
    with time_machine.travel(later, tick=False):
        body = check(app, code, "hw-1").json()
    assert parsed(body["floating_until"]) == later + dt.timedelta(seconds=60)
    assert FloatingSlot.objects.get().ends_at == later + dt.timedelta(seconds=60)


def test_with_every_slot_taken_the_next_device_is_told_when_one_ends(app, code):
    start = moment()
    with time_machine.travel(start, tick=False):
        activate(app, code, "hw-1")
    with time_machine.travel(start + dt.timedelta(seconds=10), tick=False):
        activate(app, code, "hw-2")
        response = activate(app, code, "hw-3")

    assert refused(response, "floating_not_available")
    body = response.json()
    assert parsed(body["next_slot_at"]) == start + dt.timedelta(seconds=60)
    assert body["hardware_id"] == "hw-3"
    assert "earliest ends at" in body["message"]
    # Refused with nothing changed: hw-3 is not even activated.
    assert not License.objects.filter(device__hardware_id="hw-3").exists()
    assert live_slots(code) == {"hw-1", "hw-2"}


def test_a_silent_device_frees_its_slot_at_its_end_with_nothing_run(app, code):
    start = moment()
    with time_machine.travel(start, tick=False):
        activate(app, code, "hw-1")
        activate(app, code, "hw-2")
    with time_machine.travel(start + dt.timedelta(seconds=59), tick=False):
        assert refused(activate(app, code, "hw-3"), "floating_not_available")
        assert check(app, code, "hw-2").status_code == 200  # hw-2 keeps checking in; hw-1 is silent
    with time_machine.travel(start + dt.timedelta(seconds=60), tick=False):
        assert activate(app, code, "hw-3").status_code == 200  # hw-1's slot ended this instant
        late = check(app, code, "hw-1")
        assert live_slots(code) == {"hw-2", "hw-3"}
    assert refused(late, "floating_not_available")


def test_a_late_check_takes_a_slot_again_if_one_is_free(app, code):
    start = moment()
    with time_machine.travel(start, tick=False):
        activate(app, code, "hw-1")
    with time_machine.travel(start + dt.timedelta(minutes=10), tick=False):
        response = check(app, code, "hw-1")
    assert response.status_code == 200
    assert response.json()["floating_in_use_devices"] == 1
    actions = list(AuditEvent.objects.filter(action__startswith="license.floating").values_list("action", flat=True))
    # The lapsed slot is announced as expired once, and the new one as taken.
    assert sorted(actions) == ["license.floating_expired", "license.floating_taken", "license.floating_taken"]


def test_activated_devices_are_capped_by_max_activations_not_by_seats(app, code):
    Entitlement.objects.filter(pk=code.entitlement_id).update(max_activations=3)
    for n in (1, 2, 3):
        assert activate(app, code, f"hw-{n}").status_code in (200, 400)
        release(app, code, f"hw-{n}")
    response = activate(app, code, "hw-4")
    assert refused(response, "license_activated_max_times")
    assert License.objects.filter(entitlement=code.entitlement, status="active").count() == 3


def test_release_frees_the_slot_at_once_and_keeps_the_device_activated(app, code):
    activate(app, code, "hw-1")
    activate(app, code, "hw-2")

    response = release(app, code, "hw-1")

    assert response.status_code == 200
    verify_response(response)
    assert response.content == b"floating_released"
    assert live_slots(code) == {"hw-2"}
    assert License.objects.get(device__hardware_id="hw-1").status == License.Status.ACTIVE
    assert activate(app, code, "hw-3").status_code == 200
    assert release(app, code, "hw-1").status_code == 200  # holding none: nothing to do, no error
    assert AuditEvent.objects.filter(action="license.floating_released").count() == 1


def test_a_borrowed_slot_outlasts_the_timeout_and_other_devices_check_ins(app, code):
    start = moment()
    until = start + dt.timedelta(minutes=30)
    with time_machine.travel(start, tick=False):
        activate(app, code, "hw-1")
        response = borrow(app, code, "hw-1", iso(until))
        activate(app, code, "hw-2")
    assert response.status_code == 200
    body = response.json()
    assert (body["is_borrowed"], parsed(body["borrowed_until"]), parsed(body["floating_until"])) == (True, until, until)

    with time_machine.travel(start + dt.timedelta(minutes=20), tick=False):
        assert check(app, code, "hw-2").status_code == 200
        assert refused(activate(app, code, "hw-3"), "floating_not_available")  # hw-1 is offline, slot held
        assert live_slots(code) == {"hw-1", "hw-2"}
    with time_machine.travel(start + dt.timedelta(minutes=29), tick=False):
        release(app, code, "hw-1")  # back early: the borrow ends
        assert activate(app, code, "hw-3").status_code == 200


def test_borrowing_with_no_end_given_takes_the_longest_allowed(app, code):
    now = moment()
    activate(app, code, "hw-1")
    with time_machine.travel(now, tick=False):
        body = borrow(app, code, "hw-1", None).json()
    assert parsed(body["borrowed_until"]) == now + dt.timedelta(seconds=3600)


@pytest.mark.parametrize(
    "until",
    [
        pytest.param(lambda now: iso(now - dt.timedelta(seconds=1)), id="in the past"),
        pytest.param(lambda now: iso(now + dt.timedelta(seconds=3601)), id="beyond max_borrow_time"),
    ],
)
def test_a_borrow_out_of_bounds_is_refused_and_changes_nothing(app, code, until):
    activate(app, code, "hw-1")
    before = FloatingSlot.objects.get()
    now = moment()
    with time_machine.travel(now, tick=False):  # "now" is the server's, to the microsecond
        response = borrow(app, code, "hw-1", until(now))
    assert refused(response, "borrow_until_not_valid")
    after = FloatingSlot.objects.get()
    assert (after.ends_at, after.borrowed_until) == (before.ends_at, None)


def test_borrowing_is_refused_where_the_entitlement_allows_none(app, code):
    Entitlement.objects.filter(pk=code.entitlement_id).update(max_borrow_time=0)
    activate(app, code, "hw-1")
    assert refused(borrow(app, code, "hw-1", None), "borrowing_not_allowed")


@pytest.mark.parametrize("value", ["tomorrow", "2026-13-45T00:00:00Z", 12345, ["x"], {"a": 1}])
def test_a_malformed_borrow_end_is_invalid_input(app, code, value):
    activate(app, code, "hw-1")
    response = borrow(app, code, "hw-1", value)
    verify_response(response)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_parameters")


def test_offline_activation_of_a_floating_license_is_a_borrow(app, code):
    now = moment()
    request = app.offline_request("activation", product=PRODUCT, hardware_id="hw-1", license_key=code.code)
    with time_machine.travel(now, tick=False):
        response = app.post_raw("activate_offline", request)
    assert response.status_code == 200
    payload = read_license_file(response.content.decode())
    assert parsed(payload["expires_at"]) == now + dt.timedelta(seconds=3600)
    assert payload["is_borrowed"] is True
    slot = FloatingSlot.objects.get()
    assert slot.borrowed_until == now + dt.timedelta(seconds=3600)
    # The offline deactivation gives the slot back.
    request = app.offline_request("deactivation", product=PRODUCT, hardware_id="hw-1", license_key=code.code)
    assert app.post_raw("deactivate_offline", request).status_code == 200
    assert not live_slots(code)


def test_offline_activation_without_borrowing_is_refused_and_activates_nothing(app, code):
    Entitlement.objects.filter(pk=code.entitlement_id).update(max_borrow_time=0)
    request = app.offline_request("activation", product=PRODUCT, hardware_id="hw-1", license_key=code.code)
    response = app.post_raw("activate_offline", request)
    assert refused(response, "borrowing_not_allowed")
    assert not License.objects.exists()
    assert not FloatingSlot.objects.exists()


SWITCHES = [
    ("customer_disabled", lambda code: services.customer_disable(customer=code.entitlement.customer, actor=STAFF)),
    ("entitlement_disabled", lambda code: services.entitlement_disable(entitlement=code.entitlement, actor=STAFF)),
    (
        "transaction_suspended",
        lambda code: services.transaction_suspend(license_transaction=code.entitlement.transaction, actor=STAFF),
    ),
    ("code_disabled", lambda code: services.activation_code_disable(activation_code=code, actor=STAFF)),
    ("code_revoked", lambda code: services.activation_code_revoke(activation_code=code, actor=STAFF)),
    ("license_suspended", lambda code: services.license_suspend(license=License.objects.get(), actor=STAFF)),
    ("license_revoked", lambda code: services.license_revoke(license=License.objects.get(), actor=STAFF)),
]


@pytest.mark.parametrize(("reason", "flip"), SWITCHES, ids=[reason for reason, _ in SWITCHES])
def test_every_switch_refuses_the_next_check_with_its_reason_and_frees_the_slot(app, reason, flip, db):
    code = ActivationCodeFactory(
        entitlement__product__code=PRODUCT,
        entitlement__license_model=FLOATING,
        entitlement__seats=1,
    )
    if reason == "transaction_suspended":
        from tests.factories import LicenseTransactionFactory

        transaction = LicenseTransactionFactory(customer=code.entitlement.customer)
        Entitlement.objects.filter(pk=code.entitlement_id).update(transaction=transaction)
        code.entitlement.refresh_from_db()
    activate(app, code, "hw-1")
    assert live_slots(code) == {"hw-1"}

    flip(code)

    assert not live_slots(code)  # freed with the switch, in its transaction
    response = check(app, code, "hw-1")
    codes = {
        "code_revoked": "license_revoked",
        "license_revoked": "license_revoked",
    }
    assert refused(response, codes.get(reason, "license_not_enabled"), reason)
    assert AuditEvent.objects.filter(action="license.floating_released", reason__contains=".").count() == 1


def test_a_check_refused_by_a_switch_it_learns_of_late_frees_the_slot_too(app, code):
    activate(app, code, "hw-1")
    # Changed around the services (as a restore or a hand edit would): only the check notices.
    Entitlement.objects.filter(pk=code.entitlement_id).update(valid_until=moment() - dt.timedelta(seconds=1))
    from licensing import snapshots

    snapshots.bump(code.entitlement)
    assert refused(check(app, code, "hw-1"), "license_not_active", "expired")
    assert not live_slots(code)


def test_the_sweep_announces_each_lapsed_slot_once(app, code):
    start = moment()
    with time_machine.travel(start, tick=False):
        activate(app, code, "hw-1")
        activate(app, code, "hw-2")
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        assert services.slots_sweep() == 2
        assert services.slots_sweep() == 0
    assert AuditEvent.objects.filter(action="license.floating_expired").count() == 2
    assert not FloatingSlot.objects.exists()


def test_webhooks_announce_taken_borrowed_released_expired_each_once_and_no_renewal(app, code):
    from licensing.models import WebhookEvent
    from tests.factories import WebhookEndpointFactory

    WebhookEndpointFactory()
    start = moment()
    with time_machine.travel(start, tick=False):
        activate(app, code, "hw-1")  # taken
        for _ in range(3):
            check(app, code, "hw-1")  # renewals: not announced
        borrow(app, code, "hw-1", None)  # borrowed
        release(app, code, "hw-1")  # released
        release(app, code, "hw-1")  # nothing held: nothing announced
        check(app, code, "hw-1")  # taken again
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        services.slots_sweep()  # expired
        services.slots_sweep()

    types = Counter(WebhookEvent.objects.filter(type__startswith="license.").values_list("type", flat=True))
    assert types == {
        "license.activated": 1,
        "license.floating_taken": 2,
        "license.borrowed": 1,
        "license.floating_released": 1,
        "license.floating_expired": 1,
    }


def test_a_slot_is_never_taken_for_a_license_stopped_since_its_chain_was_read(app, code):
    """The check reads the rules before it takes the entitlement's lock; a switch may
    land in between. The rules are read again under the lock."""
    from licensing.errors import Refusal
    from licensing.services import floating

    activate(app, code, "hw-1")
    release(app, code, "hw-1")
    license = License.objects.select_related("entitlement").get()  # as the check read it
    services.license_suspend(license=License.objects.get(), actor=STAFF, reason="chargeback")
    with pytest.raises(Refusal) as refusal:
        floating.slot_take(license, now=timezone.now(), actor=STAFF)
    assert (refusal.value.code, refusal.value.reason) == ("license_not_enabled", "license_suspended")
    assert not FloatingSlot.objects.exists()


def test_a_slot_freed_twice_at_once_is_announced_once(app, code):
    from licensing.errors import InvalidTransition
    from licensing.services import floating

    activate(app, code, "hw-1")
    license = License.objects.get()
    stale = list(FloatingSlot.objects.all())  # what a second releaser read before the first deleted it
    assert release(app, code, "hw-1").status_code == 200
    assert floating.slots_free(FloatingSlot.objects.filter(pk__in=[s.pk for s in stale]), actor=STAFF, reason="x") == 0
    with pytest.raises(InvalidTransition, match="holds no floating slot"):
        services.license_floating_release(license=license, actor=STAFF)
    assert AuditEvent.objects.filter(action="license.floating_released").count() == 1


def test_an_offline_borrow_never_outlives_the_entitlement(app, code):
    now = moment()
    end = now + dt.timedelta(seconds=30)  # sooner than the slot's timeout and the longest borrow
    Entitlement.objects.filter(pk=code.entitlement_id).update(valid_until=end)
    request = app.offline_request("activation", product=PRODUCT, hardware_id="hw-1", license_key=code.code)
    with time_machine.travel(now, tick=False):
        response = app.post_raw("activate_offline", request)
    assert response.status_code == 200
    assert parsed(read_license_file(response.content.decode())["expires_at"]) == end


def test_a_floating_answer_lets_the_device_run_offline_only_while_it_holds_the_slot(app, code):
    """Its lease is the slot, not the entitlement's lease period: a device cut off from
    the server after a check must stop when its slot ends and another device takes it."""
    Entitlement.objects.filter(pk=code.entitlement_id).update(lease_period=dt.timedelta(days=1))
    now = moment()
    with time_machine.travel(now, tick=False):
        activated = activate(app, code, "hw-1").json()
        checked = check(app, code, "hw-1").json()
        borrowed = borrow(app, code, "hw-1", iso(now + dt.timedelta(minutes=20))).json()
    for body in (activated, checked):
        assert parsed(body["lease_expires_at"]) == now + dt.timedelta(seconds=60) == parsed(body["floating_until"])
        assert body["refresh_interval"] == 20
    assert parsed(borrowed["lease_expires_at"]) == now + dt.timedelta(minutes=20)
    assert License.objects.get().lease_expires_at == now + dt.timedelta(seconds=60)
