"""A page of any list costs a fixed number of queries, however many rows it shows.

Each test lists a resource with 2 rows, then with 30 (one page: the page size is 50),
and counts the SQL queries of each request. The rows are built so that everything a
row shows is exercised: effective statuses failing at every link of the chain, seats
held by licenses, license users' entitlements, the device of each license.

Every request costs the token lookup, the page's `COUNT(*)` and the page itself;
license users add one prefetch of their entitlements. The token's `last_used_at` is
stamped at most once a minute, so a first request (not counted) takes that stamp.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from licensing.models import (
    ActivationCode,
    AuditEvent,
    Customer,
    Entitlement,
    License,
    LicenseTransaction,
)
from tests.factories import (
    ActivationCodeFactory,
    CustomerFactory,
    DeviceFactory,
    EntitlementFactory,
    LicenseFactory,
    LicenseTransactionFactory,
    LicenseUserFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db

FEW, MANY = 2, 30
# Token lookup, COUNT(*) for the paginator, the page.
PAGE_QUERIES = 3


def queries_for_one_page(api, url: str, rows: int) -> int:
    """The queries of `GET url`, checking that the page shows `rows` rows."""
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == rows
    assert len(body["results"]) == rows
    return len(captured.captured_queries)


def assert_page_cost_is_flat(api, url: str, seed, *, expected: int, rows=lambda n: n) -> None:
    """Seed FEW rows, count a page; seed up to MANY, count again: the same, and `expected`."""
    api.get(url)  # stamps the token's last_used_at, once a minute: not part of a page's cost
    seed(0, FEW)
    few = queries_for_one_page(api, url, rows(FEW))
    seed(FEW, MANY)
    many = queries_for_one_page(api, url, rows(MANY))
    assert few == many, f"{url}: {few} queries for {FEW} rows but {many} for {MANY}"
    assert many == expected, f"{url}: {many} queries per page, expected {expected}"


def chain_link(i: int) -> dict:
    """Entitlement attributes whose chain fails at a different link for each `i`
    (or not at all): customer, transaction, entitlement, validity window."""
    now = timezone.now()
    customer = CustomerFactory(status=Customer.Status.DISABLED if i % 6 == 1 else Customer.Status.ACTIVE)
    transaction = LicenseTransactionFactory(
        customer=customer,
        status=LicenseTransaction.Status.SUSPENDED if i % 6 == 2 else LicenseTransaction.Status.ACTIVE,
    )
    attributes = {
        "customer": customer,
        "transaction": transaction,
        "status": Entitlement.Status.DISABLED if i % 6 == 3 else Entitlement.Status.ACTIVE,
    }
    if i % 6 == 4:  # expired
        attributes |= {"valid_from": now - dt.timedelta(days=30), "valid_until": now - dt.timedelta(days=1)}
    elif i % 6 == 5:  # not yet valid
        attributes |= {"valid_from": now + dt.timedelta(days=1), "valid_until": now + dt.timedelta(days=30)}
    return attributes


def varied_entitlement(i: int) -> Entitlement:
    return EntitlementFactory(**chain_link(i))


CODE_STATUSES = [ActivationCode.Status.ACTIVE, ActivationCode.Status.DISABLED, ActivationCode.Status.REVOKED]
LICENSE_STATUSES = [
    License.Status.ACTIVE,
    License.Status.SUSPENDED,
    License.Status.REVOKED,
    License.Status.DEACTIVATED,
]


def test_listing_customers_costs_the_same_queries_for_2_or_30_rows(api):
    def seed(start, stop):
        for i in range(start, stop):
            customer = CustomerFactory(
                status=Customer.Status.DISABLED if i % 2 else Customer.Status.ACTIVE,
                kind=Customer.Kind.PERSON if i % 3 else Customer.Kind.ORGANIZATION,
            )
            EntitlementFactory(customer=customer)

    assert_page_cost_is_flat(api, "/api/v1/customers", seed, expected=PAGE_QUERIES)


def test_listing_products_costs_the_same_queries_for_2_or_30_rows(api):
    def seed(start, stop):
        for _ in range(start, stop):
            ProductFactory()

    # One more: the features each product's trials grant, for the whole page.
    assert_page_cost_is_flat(api, "/api/v1/products", seed, expected=PAGE_QUERIES + 1)


def test_listing_license_transactions_costs_the_same_queries_for_2_or_30_rows(api):
    def seed(start, stop):
        for i in range(start, stop):
            LicenseTransactionFactory(
                status=LicenseTransaction.Status.SUSPENDED if i % 2 else LicenseTransaction.Status.ACTIVE
            )

    assert_page_cost_is_flat(api, "/api/v1/license-transactions", seed, expected=PAGE_QUERIES)


def test_listing_entitlements_costs_the_same_queries_for_2_or_30_rows(api):
    def seed(start, stop):
        for i in range(start, stop):
            entitlement = varied_entitlement(i)
            # Seats held (and not held) through codes, and through a license user.
            code = ActivationCodeFactory(entitlement=entitlement)
            for status in LICENSE_STATUSES[: 1 + i % 4]:
                LicenseFactory(activation_code=code, status=status)
            user = LicenseUserFactory(customer=entitlement.customer)
            user.entitlements.add(entitlement)
            LicenseFactory(entitlement=entitlement, activation_code=None, license_user=user)

    assert_page_cost_is_flat(api, "/api/v1/entitlements", seed, expected=PAGE_QUERIES)


def test_entitlement_pages_show_seats_used_and_effective_status_of_every_row(api):
    """What the flat cost above must not lose: each row's own figures."""
    varied = [varied_entitlement(i) for i in range(6)]
    for entitlement in varied:
        code = ActivationCodeFactory(entitlement=entitlement)
        LicenseFactory(activation_code=code)
        LicenseFactory(activation_code=code, status=License.Status.DEACTIVATED)

    rows = {row["id"]: row for row in api.get("/api/v1/entitlements").json()["results"]}

    assert {rows[str(e.pk)]["seats_used"] for e in varied} == {1}
    assert [rows[str(e.pk)]["effective_reason"] for e in varied] == [
        None,
        "customer_disabled",
        "transaction_suspended",
        "entitlement_disabled",
        "expired",
        "not_yet_valid",
    ]


def test_listing_activation_codes_costs_the_same_queries_for_2_or_30_rows(api):
    def seed(start, stop):
        for i in range(start, stop):
            code = ActivationCodeFactory(entitlement=varied_entitlement(i), status=CODE_STATUSES[i % 3])
            for status in LICENSE_STATUSES[: 1 + i % 4]:
                LicenseFactory(activation_code=code, status=status)

    assert_page_cost_is_flat(api, "/api/v1/activation-codes", seed, expected=PAGE_QUERIES)


def test_listing_license_users_costs_the_same_queries_for_2_or_30_rows(api):
    def seed(start, stop):
        for i in range(start, stop):
            customer = CustomerFactory()
            user = LicenseUserFactory(customer=customer)
            # 0 to 3 entitlements each: the m2m is prefetched in one query for the page.
            user.entitlements.set([EntitlementFactory(customer=customer) for _ in range(i % 4)])
            if i % 4:
                LicenseFactory(entitlement=user.entitlements.first(), activation_code=None, license_user=user)

    # One more: the entitlements of the whole page, prefetched at once.
    assert_page_cost_is_flat(api, "/api/v1/license-users", seed, expected=PAGE_QUERIES + 1)


def test_license_user_pages_list_each_users_own_entitlements(api):
    customer = CustomerFactory()
    mine = [EntitlementFactory(customer=customer) for _ in range(3)]
    user = LicenseUserFactory(customer=customer)
    user.entitlements.set(mine)
    LicenseUserFactory(customer=customer)

    rows = {row["username"]: row for row in api.get("/api/v1/license-users").json()["results"]}

    assert sorted(rows[user.username]["entitlements"]) == sorted(str(e.pk) for e in mine)
    assert [row["entitlements"] for name, row in rows.items() if name != user.username] == [[]]


def test_listing_devices_costs_the_same_queries_for_2_or_30_rows(api):
    def seed(start, stop):
        for i in range(start, stop):
            device = DeviceFactory(is_vm=bool(i % 2), ip=f"10.0.0.{i + 1}")
            if i % 3:
                LicenseFactory(device=device)

    assert_page_cost_is_flat(api, "/api/v1/devices", seed, expected=PAGE_QUERIES)


def test_listing_licenses_costs_the_same_queries_for_2_or_30_rows(api):
    def seed(start, stop):
        for i in range(start, stop):
            entitlement = varied_entitlement(i)
            if i % 5 == 4:  # through a license user rather than a code
                user = LicenseUserFactory(customer=entitlement.customer)
                user.entitlements.add(entitlement)
                LicenseFactory(
                    entitlement=entitlement,
                    activation_code=None,
                    license_user=user,
                    status=LICENSE_STATUSES[i % 4],
                    last_check_in_at=timezone.now(),
                )
            else:
                code = ActivationCodeFactory(entitlement=entitlement, status=CODE_STATUSES[i % 3])
                LicenseFactory(activation_code=code, status=LICENSE_STATUSES[i % 4])

    assert_page_cost_is_flat(api, "/api/v1/licenses", seed, expected=PAGE_QUERIES)


def test_license_pages_show_each_licenses_device(api):
    licenses = [LicenseFactory() for _ in range(3)]

    rows = {row["id"]: row for row in api.get("/api/v1/licenses").json()["results"]}

    for license in licenses:
        assert rows[str(license.pk)]["device"] == {
            "id": str(license.device.pk),
            "hardware_id": license.device.hardware_id,
            "hostname": license.device.hostname,
        }


def test_listing_audit_events_costs_the_same_queries_for_2_or_30_rows(api):
    already = AuditEvent.objects.count()  # creating the token is recorded too
    actor_types = list(AuditEvent.ActorType)

    def seed(start, stop):
        for i in range(start, stop):
            customer = CustomerFactory()
            AuditEvent.objects.create(
                actor_type=actor_types[i % len(actor_types)],
                actor_id=str(i),
                actor_label=f"actor {i}",
                ip="192.0.2.1" if i % 2 else None,
                action="customer.disabled",
                target_type="licensing.customer",
                target_id=customer.pk,
                target_repr=str(customer),
                reason=f"reason {i}",
                before={"status": "active"},
                after={"status": "disabled"},
            )

    assert_page_cost_is_flat(
        api, "/api/v1/audit-events", seed, expected=PAGE_QUERIES, rows=lambda seeded: seeded + already
    )
