"""Seat counts are kept, not counted: every change that takes a seat or gives one back
moves the entitlement's and the code's `seats_used`, and they always equal the licenses
holding a seat, whatever path the change took and however changes race."""

import itertools
import random
import threading
import time

import pytest
from django.db import connection

from licensing import services
from licensing.actors import Actor
from licensing.errors import InvalidTransition, Refusal
from licensing.models import ActivationCode, Entitlement, License, Product
from licensing.services import seats
from tests.factories import ActivationCodeFactory, EntitlementFactory, LicenseUserFactory

pytestmark = pytest.mark.django_db


def assert_counts_exact() -> None:
    """Every entitlement's and code's count equals the licenses holding a seat with it."""
    for model, by in ((Entitlement, "entitlement"), (ActivationCode, "activation_code")):
        for row in model.objects.all():
            held = License.objects.holding_seat().filter(**{by: row}).count()
            assert row.seats_used == held, (row, row.seats_used, held)


def activate(code, hardware_id):
    return services.license_activate(
        product_code=code.entitlement.product.code,
        hardware_id=hardware_id,
        license_key=code.code,
        actor=Actor.system("test"),
    )


def seats_used(*rows) -> tuple[int, ...]:
    return tuple(type(row).objects.get(pk=row.pk).seats_used for row in rows)


def test_every_change_of_a_license_moves_the_counts(actor):
    entitlement = EntitlementFactory(seats=5)
    first, second = ActivationCodeFactory(entitlement=entitlement), ActivationCodeFactory(entitlement=entitlement)

    license = activate(first, "hw-1")
    assert seats_used(entitlement, first, second) == (1, 1, 0)
    activate(first, "hw-1")  # the same device again: no new seat
    assert seats_used(entitlement, first, second) == (1, 1, 0)
    activate(second, "hw-1")  # through the other code: the same seat, counted there now
    assert seats_used(entitlement, first, second) == (1, 0, 1)
    services.license_suspend(license=license, actor=actor)  # a suspended license keeps its seat
    assert seats_used(entitlement, first, second) == (1, 0, 1)
    services.license_resume(license=license, actor=actor)
    services.license_deactivate(license=license, actor=actor)
    assert seats_used(entitlement, first, second) == (0, 0, 0)
    activate(first, "hw-1")  # back, through the first code
    assert seats_used(entitlement, first, second) == (1, 1, 0)
    services.license_suspend(license=license, actor=actor)
    services.license_revoke(license=license, actor=actor)  # revoked while suspended
    assert seats_used(entitlement, first, second) == (0, 0, 0)

    other = activate(second, "hw-2")
    services.license_deactivate(license=other, actor=actor)
    services.license_revoke(license=other, actor=actor)  # a deactivated license held none
    assert seats_used(entitlement, first, second) == (0, 0, 0)
    assert_counts_exact()


def test_a_refused_change_moves_nothing(actor):
    code = ActivationCodeFactory(entitlement__seats=1, max_activations=1)
    license = activate(code, "hw-1")
    with pytest.raises(Refusal):
        activate(code, "hw-2")
    services.license_deactivate(license=license, actor=actor)
    with pytest.raises(InvalidTransition):
        services.license_deactivate(license=license, actor=actor)
    assert seats_used(code.entitlement, code) == (0, 0)


def test_a_license_user_taken_off_an_entitlement_gives_its_seats_back(actor):
    entitlement = EntitlementFactory(product__authorization_method=Product.AuthorizationMethod.USER, seats=3)
    user = LicenseUserFactory(customer=entitlement.customer, raw_password="correct horse")
    user.entitlements.add(entitlement)
    for hardware_id in ("hw-1", "hw-2"):
        services.license_activate(
            product_code=entitlement.product.code,
            hardware_id=hardware_id,
            username=user.username,
            password="correct horse",
            actor=actor,
        )
    assert seats_used(entitlement) == (2,)
    services.license_user_update(license_user=user, data={"entitlements": []}, actor=actor)
    assert seats_used(entitlement) == (0,)
    assert_counts_exact()


@pytest.mark.django_db(transaction=True)
def test_counts_stay_exact_and_nothing_deadlocks_when_every_change_races():
    """For a few seconds, devices activate through two codes of one entitlement (moving
    their seats from code to code), give seats back, and staff suspend, resume and revoke
    licenses, each on its own connection. The activation locks the entitlement, its code,
    the license and then the code the seat leaves; a release locks the entitlement and
    then the license: PostgreSQL would end a circle of waits with a deadlock error."""
    entitlement = EntitlementFactory(seats=12)
    codes = [ActivationCodeFactory(entitlement=entitlement, max_activations=8) for _ in range(2)]
    devices = [f"hw-{n}" for n in range(16)]
    deadline = time.monotonic() + 4
    failures: list[BaseException] = []
    done = {"activated": 0, "switched": 0}

    def client(worker: int) -> None:
        rng = random.Random(worker)
        actor = Actor.system(f"client-{worker}")
        try:
            while time.monotonic() < deadline:
                code, hardware_id = rng.choice(codes), rng.choice(devices)
                try:
                    if rng.random() < 0.6:
                        activate(code, hardware_id)
                        done["activated"] += 1
                    else:
                        services.license_release(
                            product_code=entitlement.product.code,
                            hardware_id=hardware_id,
                            license_key=code.code,
                            actor=actor,
                        )
                except Refusal:
                    pass  # no seat, a revoked license, nothing to release: all expected
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    def staff() -> None:
        rng = random.Random(99)
        actor = Actor.system("staff")
        switches = [services.license_suspend, services.license_resume, services.license_deactivate]
        try:
            for n in itertools.count():
                if time.monotonic() > deadline:
                    return
                licenses = list(License.objects.filter(entitlement=entitlement).exclude(status="revoked"))
                if not licenses:
                    continue
                change = services.license_revoke if n % 25 == 24 else rng.choice(switches)
                try:
                    change(license=rng.choice(licenses), actor=actor)
                    done["switched"] += 1
                except InvalidTransition:
                    pass
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)] + [threading.Thread(target=staff)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not failures, failures
    assert done["activated"] > 20 and done["switched"] > 5, done
    assert_counts_exact()


def test_counts_written_around_the_services_are_set_right_by_a_recount(actor):
    code = ActivationCodeFactory(entitlement__seats=5)
    activate(code, "hw-1")
    activate(code, "hw-2")
    services.license_deactivate(license=License.objects.get(device__hardware_id="hw-2"), actor=actor)
    Entitlement.objects.update(seats_used=4)  # as a bulk load or a hand repair might leave them
    ActivationCode.objects.update(seats_used=0)

    seats.recount()

    assert seats_used(code.entitlement, code) == (1, 1)
    assert_counts_exact()
