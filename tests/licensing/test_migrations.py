"""Migrations that rewrite data keep what was there, both ways."""

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from licensing.errors import Refusal
from licensing.signing import canonical_json

OUTCOMES = ("licensing", "0007_offline_request_outcome")
BEFORE_OUTCOMES = ("licensing", "0006_license_username_any_case")
DEVICES = ("licensing", "0008_devices_per_customer_and_signed_dates")
BLANK_CRM_IDS = ("licensing", "0009_blank_crm_ids_are_none")
SEAT_COUNTERS = ("licensing", "0010_seat_counters")


class Migrator:
    def __init__(self) -> None:
        self.executor = MigrationExecutor(connection)

    def to(self, target: tuple[str, str]):
        """Migrate to `target`; the models as they are there."""
        self.executor.loader.build_graph()
        self.executor.migrate([target])
        return self.executor.loader.project_state(target).apps


@pytest.fixture
def migrator(transactional_db):
    yield Migrator()
    executor = MigrationExecutor(connection)  # back to the latest, whatever happened
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


TEXT = "text/plain; charset=utf-8"
REFUSED = {
    "status": 400,
    "code": "license_not_enabled",
    "message": "Disabled: customer disabled.",
    "reason": "customer_disabled",
}
ANSWERS = {
    "activated": (200, "-----BEGIN LICENSE FILE-----\nabc\n-----END LICENSE FILE-----", TEXT),
    "deactivated": (200, "license_deactivated", TEXT),
    "refused": (400, canonical_json(REFUSED).decode(), "application/json"),
}


def stored_answers(OfflineRequest) -> None:
    for request_id, (status, body, content_type) in ANSWERS.items():
        OfflineRequest.objects.create(
            request_id=request_id,
            kind="activation",
            credential_id=uuid.uuid4(),
            fingerprint="f" * 64,
            response_status=status,
            response_body=body,
            response_content_type=content_type,
        )


def test_stored_offline_answers_become_outcomes_that_render_the_same(migrator):
    stored_answers(migrator.to(BEFORE_OUTCOMES).get_model("licensing", "OfflineRequest"))

    rows = {row.request_id: row for row in migrator.to(OUTCOMES).get_model("licensing", "OfflineRequest").objects.all()}

    assert (rows["activated"].outcome, rows["activated"].license_file) == ("activated", ANSWERS["activated"][1])
    assert (rows["deactivated"].outcome, rows["deactivated"].license_file) == ("deactivated", "")
    assert rows["refused"].outcome == "refused"
    # Rendered again, the refusal is the very answer that was stored, reason and all.
    assert canonical_json(Refusal.from_body(rows["refused"].refusal).body()).decode() == ANSWERS["refused"][1]


def test_going_back_restores_the_stored_answers(migrator):
    stored_answers(migrator.to(BEFORE_OUTCOMES).get_model("licensing", "OfflineRequest"))
    migrator.to(OUTCOMES)

    OfflineRequest = migrator.to(BEFORE_OUTCOMES).get_model("licensing", "OfflineRequest")

    restored = {
        row.request_id: (row.response_status, row.response_body, row.response_content_type)
        for row in OfflineRequest.objects.all()
    }
    assert restored == ANSWERS


def test_a_device_that_customers_shared_is_split_one_per_customer(migrator):
    apps = migrator.to(OUTCOMES)
    Customer, Product, Entitlement, ActivationCode, Device, License = (
        apps.get_model("licensing", name)
        for name in ("Customer", "Product", "Entitlement", "ActivationCode", "Device", "License")
    )
    product = Product.objects.create(code="studio", name="Studio")
    now = timezone.now()
    shared = Device.objects.create(hardware_id="shared-hw", hostname="PWNED")
    unused = Device.objects.create(hardware_id="unused-hw")
    holders = []
    for n, name in enumerate(["First", "Second"]):
        customer = Customer.objects.create(name=name)
        entitlement = Entitlement.objects.create(customer=customer, product=product, valid_from=now)
        code = ActivationCode.objects.create(entitlement=entitlement, code=f"CODE-{n}")
        license = License.objects.create(
            entitlement=entitlement, device=shared, activation_code=code, activated_at=now + dt.timedelta(minutes=n)
        )
        holders.append((customer, license))

    apps = migrator.to(DEVICES)

    Device, License = apps.get_model("licensing", "Device"), apps.get_model("licensing", "License")
    (first, first_license), (second, second_license) = holders
    first_device = License.objects.get(pk=first_license.pk).device
    second_device = License.objects.get(pk=second_license.pk).device
    assert first_device.pk == shared.pk and first_device.customer_id == first.pk
    assert second_device.pk != shared.pk and second_device.customer_id == second.pk
    assert (second_device.hardware_id, second_device.hostname) == ("shared-hw", "PWNED")
    assert Device.objects.get(pk=unused.pk).customer_id is None
    assert sorted(Device.objects.values_list("hardware_id", flat=True)) == ["shared-hw", "shared-hw", "unused-hw"]


def test_blank_crm_ids_become_none_and_others_stay(migrator):
    apps = migrator.to(DEVICES)
    Customer = apps.get_model("licensing", "Customer")
    blank, spaces, kept = (
        Customer.objects.create(name=n, external_id=e) for n, e in [("A", ""), ("B", "  "), ("C", "CRM-1")]
    )

    Customer = migrator.to(BLANK_CRM_IDS).get_model("licensing", "Customer")

    stored = dict(Customer.objects.values_list("pk", "external_id"))
    assert stored == {blank.pk: None, spaces.pk: None, kept.pk: "CRM-1"}


def test_seat_counts_start_from_the_licenses_holding_a_seat(migrator):
    apps = migrator.to(BLANK_CRM_IDS)
    Customer, Product, Entitlement, ActivationCode, Device, License = (
        apps.get_model("licensing", name)
        for name in ("Customer", "Product", "Entitlement", "ActivationCode", "Device", "License")
    )
    customer = Customer.objects.create(name="Acme")
    product = Product.objects.create(code="studio", name="Studio")
    busy, idle = (
        Entitlement.objects.create(customer=customer, product=product, seats=5, valid_from=timezone.now())
        for _ in range(2)
    )
    codes = [ActivationCode.objects.create(entitlement=busy, code=f"CODE-{n}") for n in range(2)]
    statuses = ["active", "suspended", "deactivated", "revoked", "active"]
    for n, status in enumerate(statuses):
        device = Device.objects.create(customer=customer, hardware_id=f"hw-{n}")
        License.objects.create(entitlement=busy, device=device, activation_code=codes[n % 2], status=status)

    apps = migrator.to(SEAT_COUNTERS)

    counted = {
        name: dict(apps.get_model("licensing", name).objects.values_list("pk", "seats_used"))
        for name in ("Entitlement", "ActivationCode")
    }
    # Active and suspended licenses hold seats: hw-0, hw-1 and hw-4 (codes 0, 1, 0).
    assert counted == {"Entitlement": {busy.pk: 3, idle.pk: 0}, "ActivationCode": {codes[0].pk: 2, codes[1].pk: 1}}


FLOATING = ("licensing", "0012_floating_entitlements")
FEATURES = ("licensing", "0013_features_and_consumption")
DEMO_FEATURES = {"export": True, "max_projects": 50}
ODD_FEATURES = {
    "edition": "pro",
    "Export PDF": False,
    "ratio": 0.5,
    "tiers": ["a", "b"],
    "limits": {"seats": 3},
    "nothing": None,
    "": 7,
    "export pdf": "again",
}


def test_feature_maps_become_features_and_grants_with_nothing_lost(migrator):
    apps = migrator.to(FLOATING)
    Customer, Product, Entitlement = (
        apps.get_model("licensing", name) for name in ("Customer", "Product", "Entitlement")
    )
    customer = Customer.objects.create(name="Acme")
    studio = Product.objects.create(code="studio", name="Studio")
    demo, odd, plain = (
        Entitlement.objects.create(customer=customer, product=studio, valid_from=timezone.now(), features=features)
        for features in (DEMO_FEATURES, ODD_FEATURES, {})
    )

    apps = migrator.to(FEATURES)
    ProductFeature, Entitlement = (
        apps.get_model("licensing", "ProductFeature"),
        apps.get_model("licensing", "Entitlement"),
    )
    # One feature per key of the product, shared by the entitlements that name it.
    assert ProductFeature.objects.filter(product_id=studio.pk).count() == len(DEMO_FEATURES) + len(ODD_FEATURES)
    demo = Entitlement.objects.get(pk=demo.pk)
    assert {t["code"]: t["value"] for t in demo.feature_terms} == DEMO_FEATURES
    odd = Entitlement.objects.get(pk=odd.pk)
    by_name = {t["name"]: t for t in odd.feature_terms}
    assert by_name["edition"]["value"] == "pro"
    assert by_name["Export PDF"]["value"] is False
    assert by_name["ratio"]["value"] == "0.5"  # kept as its JSON text
    assert by_name["tiers"]["value"] == '["a", "b"]'
    assert by_name["limits"]["value"] == '{"seats": 3}'
    assert by_name["nothing"]["value"] == "null"
    codes = [t["code"] for t in odd.feature_terms]
    assert len({code.lower() for code in codes}) == len(codes)  # distinct, whatever the keys
    assert all(t["feature_type"] == "activation" for t in odd.feature_terms)
    assert Entitlement.objects.get(pk=plain.pk).feature_terms == []

    apps = migrator.to(FLOATING)  # and back: the same maps, by the keys they had
    Entitlement = apps.get_model("licensing", "Entitlement")
    assert Entitlement.objects.get(pk=demo.pk).features == DEMO_FEATURES
    back = Entitlement.objects.get(pk=odd.pk).features
    assert back["edition"] == "pro" and back["Export PDF"] is False and back[""] == 7
