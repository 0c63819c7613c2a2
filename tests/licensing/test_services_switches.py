"""Every switch goes through one service: atomic, locked, audited, refusing bad moves."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction

from licensing import services
from licensing.actors import Actor
from licensing.audit import append
from licensing.errors import InvalidTransition
from licensing.models import (
    ActivationCode,
    AuditEvent,
    ClientCredential,
    Customer,
    Device,
    Entitlement,
    License,
)
from licensing.services import recording, switches
from tests.factories import (
    ActivationCodeFactory,
    CustomerFactory,
    EntitlementFactory,
    LicenseFactory,
    LicenseTransactionFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db

# (factory, service, keyword, status before, status after, audit action)
SWITCHES = [
    (CustomerFactory, services.customer_disable, "customer", "active", "disabled", "customer.disabled"),
    (EntitlementFactory, services.entitlement_disable, "entitlement", "active", "disabled", "entitlement.disabled"),
    (
        LicenseTransactionFactory,
        services.transaction_suspend,
        "license_transaction",
        "active",
        "suspended",
        "transaction.suspended",
    ),
    (
        ActivationCodeFactory,
        services.activation_code_disable,
        "activation_code",
        "active",
        "disabled",
        "activation_code.disabled",
    ),
    (
        ActivationCodeFactory,
        services.activation_code_revoke,
        "activation_code",
        "active",
        "revoked",
        "activation_code.revoked",
    ),
    (LicenseFactory, services.license_suspend, "license", "active", "suspended", "license.suspended"),
    (LicenseFactory, services.license_revoke, "license", "active", "revoked", "license.revoked"),
    (LicenseFactory, services.license_deactivate, "license", "active", "deactivated", "license.deactivated"),
]
# (factory, switch off, switch back on, keyword, audit action of the way back)
REVERSIBLE = [
    (CustomerFactory, services.customer_disable, services.customer_enable, "customer", "customer.enabled"),
    (
        EntitlementFactory,
        services.entitlement_disable,
        services.entitlement_enable,
        "entitlement",
        "entitlement.enabled",
    ),
    (
        LicenseTransactionFactory,
        services.transaction_suspend,
        services.transaction_resume,
        "license_transaction",
        "transaction.resumed",
    ),
    (
        ActivationCodeFactory,
        services.activation_code_disable,
        services.activation_code_enable,
        "activation_code",
        "activation_code.enabled",
    ),
    (LicenseFactory, services.license_suspend, services.license_resume, "license", "license.resumed"),
]


def staff_actor() -> Actor:
    return Actor(AuditEvent.ActorType.STAFF, id="7", label="alice", ip="192.0.2.10")


@pytest.mark.parametrize(("factory", "service", "keyword", "before", "after", "action"), SWITCHES)
def test_switch_changes_status_and_records_who_why_and_what(factory, service, keyword, before, after, action):
    obj = factory()
    result = service(**{keyword: obj}, actor=staff_actor(), reason="Invoice 42 overdue")

    obj.refresh_from_db()
    assert obj.status == result.status == after
    assert obj.status_reason == "Invoice 42 overdue"
    assert obj.status_changed_at is not None
    event = AuditEvent.objects.for_target(obj).get()
    assert event.action == action
    assert (event.actor_type, event.actor_id, event.actor_label, event.ip) == ("staff", "7", "alice", "192.0.2.10")
    assert event.reason == "Invoice 42 overdue"
    assert event.before["status"] == before
    assert event.after["status"] == after
    assert event.target_repr == str(obj)


@pytest.mark.parametrize(("factory", "off", "on", "keyword", "action"), REVERSIBLE)
def test_reversible_switch_comes_back_with_its_own_event(factory, off, on, keyword, action, actor):
    obj = factory()
    off(**{keyword: obj}, actor=actor)
    on(**{keyword: obj}, actor=actor, reason="paid")
    obj.refresh_from_db()
    assert obj.status == "active"
    assert AuditEvent.objects.for_target(obj).values_list("action", flat=True).first() == action


@pytest.mark.parametrize(("factory", "service", "keyword", "before", "after", "action"), SWITCHES)
def test_repeating_a_switch_is_refused_and_changes_nothing(factory, service, keyword, before, after, action, actor):
    obj = factory()
    service(**{keyword: obj}, actor=actor, reason="first")
    with pytest.raises(InvalidTransition):
        service(**{keyword: obj}, actor=actor, reason="second")
    obj.refresh_from_db()
    assert obj.status_reason == "first"
    assert AuditEvent.objects.for_target(obj).count() == 1


def test_enabling_an_enabled_customer_is_refused_with_a_clear_message(actor):
    customer = CustomerFactory()
    with pytest.raises(InvalidTransition, match="Cannot enable this customer: it is active"):
        services.customer_enable(customer=customer, actor=actor)
    assert not AuditEvent.objects.exists()


def test_revoked_code_can_never_be_enabled_again(actor):
    code = ActivationCodeFactory()
    services.activation_code_revoke(activation_code=code, actor=actor)
    for service in (services.activation_code_enable, services.activation_code_disable):
        with pytest.raises(InvalidTransition, match="revocation is final"):
            service(activation_code=code, actor=actor)
    code.refresh_from_db()
    assert code.status == ActivationCode.Status.REVOKED


def test_revoked_license_can_never_be_resumed_or_deactivated(actor):
    license = LicenseFactory()
    services.license_revoke(license=license, actor=actor)
    for service in (services.license_resume, services.license_suspend, services.license_deactivate):
        with pytest.raises(InvalidTransition, match="revocation is final"):
            service(license=license, actor=actor)


def test_suspended_license_cannot_free_itself_by_deactivating(actor):
    license = LicenseFactory()
    services.license_suspend(license=license, actor=actor)
    with pytest.raises(InvalidTransition):
        services.license_deactivate(license=license, actor=actor)
    assert License.objects.holding_seat().filter(pk=license.pk).exists()


def test_deactivating_frees_the_seat_at_once(actor):
    license = LicenseFactory()
    entitlement = Entitlement.objects
    assert entitlement.get(pk=license.entitlement_id).seats_used == 1
    services.license_deactivate(license=license, actor=actor)
    assert entitlement.get(pk=license.entitlement_id).seats_used == 0
    license.refresh_from_db()
    assert license.deactivated_at is not None


def test_service_works_from_a_stale_copy(actor):
    customer = CustomerFactory()
    stale = Customer.objects.get(pk=customer.pk)
    services.customer_disable(customer=customer, actor=actor)
    with pytest.raises(InvalidTransition):
        services.customer_disable(customer=stale, actor=actor)


def test_failing_change_leaves_neither_change_nor_audit_event(monkeypatch, actor):
    """The status write and its audit event share one transaction: if anything fails
    after both are written, both roll back."""
    customer = CustomerFactory()

    def record_then_fail(**kwargs):
        recording.record_change(**kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(switches, "record_change", record_then_fail)
    with pytest.raises(RuntimeError):
        services.customer_disable(customer=customer, actor=actor)
    customer.refresh_from_db()
    assert customer.status == Customer.Status.ACTIVE
    assert not AuditEvent.objects.exists()


def test_audit_event_cannot_be_written_outside_a_transaction(transactional_db, actor):
    customer = CustomerFactory()
    with pytest.raises(RuntimeError, match="inside the transaction"):
        append(actor=actor, action="customer.disabled", target=customer)


def test_audit_events_are_append_only_in_the_database(actor):
    customer = CustomerFactory()
    services.customer_disable(customer=customer, actor=actor)
    event = AuditEvent.objects.get()
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
    # Even raw SQL cannot rewrite history on PostgreSQL.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE licensing_auditevent SET reason = 'edited'")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM licensing_auditevent")
    assert AuditEvent.objects.get().reason == ""


def _customer_owning(entitlements: int, licenses_each: int) -> Customer:
    customer = CustomerFactory()
    product = ProductFactory()
    rows = Entitlement.objects.bulk_create(
        Entitlement(customer=customer, product=product, seats=max(licenses_each, 1)) for _ in range(entitlements)
    )
    codes = ActivationCode.objects.bulk_create(ActivationCode(entitlement=e) for e in rows)
    devices = Device.objects.bulk_create(
        Device(customer=customer, hardware_id=f"{customer.pk}-{n}") for n in range(entitlements * licenses_each)
    )
    License.objects.bulk_create(
        License(entitlement=code.entitlement, activation_code=code, device=devices[i * licenses_each + j])
        for i, code in enumerate(codes)
        for j in range(licenses_each)
    )
    return customer


def test_disabling_a_large_customer_takes_as_many_queries_as_a_small_one(django_assert_num_queries, actor):
    small = _customer_owning(entitlements=1, licenses_each=1)
    large = _customer_owning(entitlements=2_000, licenses_each=5)
    assert License.objects.filter(entitlement__customer=large).count() == 10_000

    # SAVEPOINT, SELECT ... FOR UPDATE, UPDATE customer, INSERT audit event, SELECT the
    # webhook endpoints (none here), SELECT the floating slots to free (none), RELEASE.
    with django_assert_num_queries(7):
        services.customer_disable(customer=small, actor=actor)
    with django_assert_num_queries(7):
        services.customer_disable(customer=large, actor=actor)
    assert Entitlement.objects.filter(customer=large).effectively("disabled").count() == 2_000
    assert License.objects.filter(entitlement__customer=large).effectively("disabled").count() == 10_000
    with django_assert_num_queries(6):
        services.customer_enable(customer=large, actor=actor)
    assert License.objects.filter(entitlement__customer=large).effectively("active").count() == 10_000


@pytest.mark.django_db(transaction=True)
def test_two_staff_disabling_at_once_make_exactly_one_change(actor):
    """The row lock serialises concurrent switches: one wins, the other sees the new
    state and is refused, and exactly one audit event exists."""
    customer = CustomerFactory()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def disable(label: str) -> None:
        try:
            barrier.wait()
            services.customer_disable(customer=customer, actor=Actor.system(label), reason=label)
            outcomes.append("done")
        except InvalidTransition:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=disable, args=(f"staff-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["done", "refused"]
    assert AuditEvent.objects.for_target(customer).count() == 1


def test_client_credential_shared_key_is_shown_once_and_stored_encrypted(actor):
    credential, shared_key = services.client_credential_create(name="Desktop app", actor=actor)
    stored = ClientCredential.objects.values_list("shared_key_encrypted", flat=True).get(pk=credential.pk)
    assert shared_key not in stored
    assert ClientCredential.objects.get(pk=credential.pk).shared_key == shared_key
    assert len(shared_key) >= 32
    assert AuditEvent.objects.for_target(credential).get().action == "client_credential.created"


def test_revoking_client_credential_is_final(actor):
    credential, _ = services.client_credential_create(name="Desktop app", actor=actor)
    services.client_credential_revoke(credential=credential, actor=actor)
    credential.refresh_from_db()
    assert credential.is_revoked
    with pytest.raises(InvalidTransition):
        services.client_credential_revoke(credential=credential, actor=actor)


def test_entitlement_cannot_hang_on_another_customers_transaction():
    entitlement = EntitlementFactory.build(transaction=LicenseTransactionFactory(), customer=CustomerFactory())
    with pytest.raises(ValidationError) as error:
        entitlement.full_clean()
    assert error.value.message_dict["transaction"] == ["This transaction belongs to another customer."]
