"""The check's compiled query (licensing/compiled.py) answers exactly what the ORM
answers, with the same instances attached, in one query."""

import pytest

from licensing import selectors
from licensing.models import LicenseUser, Product
from licensing.selectors import CLIENT_RELATIONS, client_licenses
from tests.factories import (
    EntitlementFactory,
    LicenseFactory,
    LicenseTransactionFactory,
    LicenseUserFactory,
)

pytestmark = pytest.mark.django_db


def locked_elsewhere(**querysets) -> dict[str, bool]:
    """Which of these rows another connection finds locked (SELECT ... FOR UPDATE NOWAIT
    from a thread of its own, while the caller's transaction holds its locks)."""
    import threading

    from django.db import DatabaseError, connection, transaction

    locked: dict[str, bool] = {}

    def try_locks():
        try:
            for name, queryset in querysets.items():
                try:
                    with transaction.atomic():
                        list(queryset.select_for_update(nowait=True))
                    locked[name] = False
                except DatabaseError:
                    locked[name] = True
        finally:
            connection.close()

    thread = threading.Thread(target=try_locks)
    thread.start()
    thread.join(timeout=30)
    return locked


def snapshot(license) -> dict:
    """Every stored value of the license and of each row it is answered with."""
    rows = {"": license}
    for path in CLIENT_RELATIONS:
        parent = rows[path.rpartition("__")[0]]
        rows[path] = None if parent is None else getattr(parent, path.rpartition("__")[2])
    values = {
        path: None if row is None else {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields}
        for path, row in rows.items()
    }
    return values


def test_key_lookup_matches_the_orm(django_assert_num_queries):
    transaction = LicenseTransactionFactory()
    license = LicenseFactory(
        activation_code__entitlement__customer=transaction.customer,
        activation_code__entitlement__transaction=transaction,
        activation_code__entitlement__feature_terms=[{"code": "export", "value": True, "expires_at": None}],
    )
    LicenseFactory(activation_code=license.activation_code)  # another seat taken
    product = license.entitlement.product
    with django_assert_num_queries(1):
        [found] = selectors._licenses_by_key(
            product=product.code, hardware_id=license.device.hardware_id, key=license.activation_code.code
        )
        answer = snapshot(found)
    assert answer == snapshot(client_licenses().get(pk=license.pk))
    assert (answer["entitlement"]["seats_used"], answer["activation_code"]["seats_used"]) == (2, 2)
    assert answer["entitlement__transaction"]["external_id"] == transaction.external_id


def test_user_lookup_ignores_case_and_leaves_absent_rows_empty(django_assert_num_queries):
    entitlement = EntitlementFactory(product__authorization_method=Product.AuthorizationMethod.USER)
    user = LicenseUserFactory(customer=entitlement.customer, username="Ada@Example.com")
    license = LicenseFactory(activation_code=None, entitlement=entitlement, license_user=user)
    with django_assert_num_queries(1):
        [found] = selectors._licenses_by_user(
            product=entitlement.product.code, hardware_id=license.device.hardware_id, user="ada@example.com"
        )
        answer = snapshot(found)
    assert answer == snapshot(client_licenses().get(pk=license.pk))
    assert answer["activation_code"] is None and answer["entitlement__transaction"] is None


def test_other_devices_and_products_do_not_match():
    license = LicenseFactory()
    other = LicenseFactory()
    code = license.activation_code.code
    assert (
        selectors._licenses_by_key(
            product=license.entitlement.product.code, hardware_id=other.device.hardware_id, key=code
        )
        == []
    )
    assert (
        selectors._licenses_by_key(
            product=other.entitlement.product.code, hardware_id=license.device.hardware_id, key=code
        )
        == []
    )


def test_usernames_match_as_at_activation():
    """iexact, like the activation's lookup, on every backend: "_" is only an underscore,
    and case folds as the database folds it (SQLite: ASCII only)."""
    entitlement = EntitlementFactory(product__authorization_method=Product.AuthorizationMethod.USER)
    user = LicenseUserFactory(customer=entitlement.customer, username="Ada_Lovelace@MÜLLER.de")
    license = LicenseFactory(activation_code=None, entitlement=entitlement, license_user=user)
    lookup = {"product": entitlement.product.code, "hardware_id": license.device.hardware_id}
    assert selectors._licenses_by_user(**lookup, user="ada_lovelace@MÜLLER.de") == [license]
    lookalike = LicenseUserFactory(customer=entitlement.customer, username="AdaXLovelace@MÜLLER.de")
    theirs = LicenseFactory(activation_code=None, entitlement=entitlement, license_user=lookalike)
    theirs_lookup = {**lookup, "hardware_id": theirs.device.hardware_id}
    assert selectors._licenses_by_user(**theirs_lookup, user="ada_lovelace@MÜLLER.de") == []
    for spelling in ("ada_lovelace@müller.de", "ADA_LOVELACE@MÜLLER.DE"):
        by_activation = list(LicenseUser.objects.filter(username__iexact=spelling))
        assert (selectors._licenses_by_user(**lookup, user=spelling) == [license]) == (by_activation == [user])


@pytest.mark.django_db(transaction=True)
def test_the_activations_code_lookup_locks_the_entitlement_and_the_code_and_nothing_above():
    """Compiled with its lock: the customer, product and transaction joined for the rules
    stay free for others to change (Django would lock every joined row without OF)."""
    from django.db import transaction

    from licensing.models import ActivationCode, Customer, Entitlement
    from licensing.services import activation

    transaction_row = LicenseTransactionFactory()
    code = LicenseFactory(
        activation_code__entitlement__customer=transaction_row.customer,
        activation_code__entitlement__transaction=transaction_row,
    ).activation_code

    with transaction.atomic():
        found = activation._locked_code(code.entitlement.product.code, code.code)
        assert found == code
        locked = locked_elsewhere(
            code=ActivationCode.objects.filter(pk=code.pk),
            entitlement=Entitlement.objects.filter(pk=code.entitlement_id),
            customer=Customer.objects.filter(pk=code.entitlement.customer_id),
        )

    assert locked == {"code": True, "entitlement": True, "customer": False}


@pytest.mark.django_db(transaction=True)
def test_a_change_locks_its_row_and_what_it_names_first_and_reads_its_label_in_one_query():
    """`lock_row`, compiled once: the license and its entitlement locked, the customer
    and product read with them for the audit label but left free."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from licensing.models import Customer, Entitlement, License
    from licensing.services.recording import lock_row

    license, other = LicenseFactory.create_batch(2)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        found = lock_row(License, license.pk, first=("entitlement",))
        label = str(found)  # reads the device, the product and the customer
        locked = locked_elsewhere(
            license=License.objects.filter(pk=license.pk),
            entitlement=Entitlement.objects.filter(pk=license.entitlement_id),
            customer=Customer.objects.filter(pk=license.entitlement.customer_id),
            another_license=License.objects.filter(pk=other.pk),
        )
    assert found == license and label == str(License.objects.get(pk=license.pk))
    assert found.entitlement.customer == license.entitlement.customer
    assert len(queries) == 1
    assert locked == {"license": True, "entitlement": True, "customer": False, "another_license": False}


def test_a_change_of_a_row_that_does_not_exist_is_refused_as_the_orm_refuses_it():
    import uuid

    from licensing.models import License
    from licensing.services.recording import lock_row

    with pytest.raises(License.DoesNotExist):
        lock_row(License, uuid.uuid4())


def test_rows_below_an_empty_relation_are_left_empty():
    """A license through a code has no license user: nothing below it is attached."""
    from licensing.compiled import CompiledQuery
    from licensing.models import License

    license = LicenseFactory()
    query = CompiledQuery(
        License,
        ("license_user", "license_user__customer"),
        (),
        lambda pk: License.objects.select_related("license_user__customer").filter(pk=pk),
        ids={"pk": License._meta.pk},
    )
    [found] = query(pk=license.pk)
    assert found == license and found.license_user is None


def test_each_id_has_its_own_stand_in():
    import uuid

    from licensing.compiled import CompiledQuery
    from licensing.models import License

    license = LicenseFactory()
    query = CompiledQuery(
        License,
        (),
        (),
        lambda entitlement, device: License.objects.filter(entitlement_id=entitlement, device_id=device),
        ids={"entitlement": License._meta.get_field("entitlement"), "device": License._meta.get_field("device")},
    )
    assert query(entitlement=license.entitlement_id, device=license.device_id) == [license]
    assert query(entitlement=license.device_id, device=license.entitlement_id) == []
    assert query(entitlement=license.entitlement_id, device=uuid.uuid4()) == []
