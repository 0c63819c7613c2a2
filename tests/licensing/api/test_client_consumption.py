"""Features and metered consumption through the client API: a client opens the modules
its license grants and counts what it consumes against the license's limits, with every
answer signed and bound, and every refusal counting nothing."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from licensing import services
from licensing.actors import Actor
from licensing.license_body import license_file_payload
from licensing.models import AuditEvent, ConsumptionCounter, ConsumptionEntry, EntitlementFeature, ProductFeature
from licensing.signing import canonical_json
from tests.factories import ActivationCodeFactory, LicenseFactory, ProductFactory

from .conftest import verify_response

PRODUCT = "studio"
STAFF = Actor.system("staff")
CONSUMPTION = ProductFeature.FeatureType.CONSUMPTION


@pytest.fixture
def product(db):
    return ProductFactory(code=PRODUCT)


def feature(product, code: str, feature_type: str = "activation") -> ProductFeature:
    return services.product_feature_create(
        product_feature=ProductFeature(product=product, code=code, name=code.title(), feature_type=feature_type),
        actor=STAFF,
    )


def grant(entitlement, product_feature: ProductFeature, **terms) -> EntitlementFeature:
    return services.entitlement_feature_grant(
        entitlement_feature=EntitlementFeature(entitlement=entitlement, feature=product_feature, **terms), actor=STAFF
    )


@pytest.fixture
def license(product):
    code = ActivationCodeFactory(
        entitlement__product=product,
        entitlement__max_consumptions=10,
        entitlement__reset_period="monthly",
        entitlement__valid_from=timezone.now() - dt.timedelta(days=3),
    )
    return LicenseFactory(activation_code=code, device__hardware_id="hw-1")


def identity(license, **more) -> dict:
    key = license.activation_code.code
    return {"product": PRODUCT, "hardware_id": license.device.hardware_id, "license_key": key, **more}


def consume(app, license, **fields):
    return app.post("add_consumption", identity(license, **fields))


def consume_feature(app, license, code: str, **fields):
    return app.post("add_feature_consumption", identity(license, feature=code, **fields))


def used(license, code: str | None = None) -> int:
    counters = ConsumptionCounter.objects.filter(entitlement=license.entitlement)
    counters = counters.filter(feature__isnull=True) if code is None else counters.filter(feature__code=code)
    return sum(counters.values_list("used", flat=True))


def test_the_license_body_lists_granted_features_with_their_values_and_terms(app, license, product):
    grant(license.entitlement, feature(product, "export"))
    grant(license.entitlement, feature(product, "max_projects"), value=50)
    grant(license.entitlement, feature(product, "renders", CONSUMPTION), max_consumptions=100, reset_period="daily")

    response = app.get("check_license", identity(license))

    verify_response(response)
    body = response.json()
    assert body["features"] == {"export": True, "max_projects": 50, "renders": True}
    renders = next(f for f in body["product_features"] if f["code"] == "renders")
    assert renders["feature_type"] == "consumption"
    assert (renders["max_consumptions"], renders["total_consumptions"], renders["reset_period"]) == (100, 0, "daily")
    assert renders["period_ends_at"]
    assert (body["max_consumptions"], body["total_consumptions"], body["reset_period"]) == (10, 0, "monthly")


def test_an_expired_feature_vanishes_from_the_body_and_its_check_says_expired(app, license, product):
    ends = timezone.now() + dt.timedelta(hours=1)
    grant(license.entitlement, feature(product, "export"), expires_at=ends)
    assert app.get("check_license_feature", identity(license, feature="export")).status_code == 200

    with time_machine.travel(ends + dt.timedelta(seconds=1)):
        body = app.get("check_license", identity(license)).json()
        refused = app.get("check_license_feature", identity(license, feature="export"))

    assert "export" not in body["features"]
    assert body["product_features"] == []
    verify_response(refused)
    assert (refused.status_code, refused.json()["code"]) == (400, "feature_expired")


def test_check_license_feature_answers_the_feature_bound_to_the_request(app, license, product):
    grant(license.entitlement, feature(product, "max_projects"), value=50)

    response = app.get("check_license_feature", identity(license, feature="max_projects", nonce="n-1"))

    verify_response(response)
    body = response.json()
    assert (body["code"], body["value"], body["nonce"], body["hardware_id"]) == ("max_projects", 50, "n-1", "hw-1")
    assert body["license_id"] == str(license.pk)


def test_a_feature_not_granted_or_of_another_product_is_not_found(app, license, product):
    feature(product, "export")  # declared, not granted
    other = LicenseFactory().entitlement  # of another product
    grant(other, feature(other.product, "secret"))

    for code in ("export", "secret", "nothing-like-it"):
        response = app.get("check_license_feature", identity(license, feature=code))
        assert (response.status_code, response.json()["code"]) == (400, "feature_not_found")
        response = consume_feature(app, license, code)
        assert (response.status_code, response.json()["code"]) == (400, "feature_not_found")
    assert ConsumptionEntry.objects.count() == 0


def test_consumption_is_counted_and_answered_with_the_new_total(app, license):
    response = consume(app, license, consumptions=3, nonce="n-2")

    verify_response(response)
    body = response.json()
    assert (body["total_consumptions"], body["max_consumptions"], body["nonce"]) == (3, 10, "n-2")
    assert consume(app, license).json()["total_consumptions"] == 4
    assert used(license) == 4


def test_past_the_limit_consumption_is_refused_and_nothing_is_counted(app, license):
    assert consume(app, license, consumptions=8).status_code == 200

    refused = consume(app, license, consumptions=3)

    verify_response(refused)
    assert (refused.status_code, refused.json()["code"]) == (400, "consumption_limit_reached")
    assert used(license) == 8
    assert consume(app, license, consumptions=2).status_code == 200
    assert used(license) == 10


def test_overages_allow_that_many_past_the_limit(app, license):
    services.entitlement_update(
        entitlement=license.entitlement, data={"allow_overages": True, "max_overages": 5}, actor=STAFF
    )
    assert consume(app, license, consumptions=15).status_code == 200
    assert consume(app, license).json()["code"] == "consumption_limit_reached"


def test_overages_without_a_cap_never_refuse(app, license):
    services.entitlement_update(entitlement=license.entitlement, data={"allow_overages": True}, actor=STAFF)
    assert consume(app, license, consumptions=1_000_000).json()["total_consumptions"] == 1_000_000


def test_a_repeated_request_id_is_answered_as_the_first_time_and_counts_once(app, license):
    first = consume(app, license, consumptions=2, request_id="r-1", nonce="a")
    again = consume(app, license, consumptions=2, request_id="r-1", nonce="b")

    verify_response(again)
    assert again.json() == {**first.json(), "nonce": "b"}
    assert used(license) == 2
    assert ConsumptionEntry.objects.filter(request_id="r-1").count() == 1


def test_a_refused_request_id_may_be_sent_again_and_counted_later(app, license):
    assert consume(app, license, consumptions=10).status_code == 200
    assert consume(app, license, request_id="r-2").json()["code"] == "consumption_limit_reached"
    with time_machine.travel(timezone.now() + dt.timedelta(days=32)):  # the next month's counter
        assert consume(app, license, request_id="r-2").json()["total_consumptions"] == 1


def test_a_new_period_starts_a_new_counter(app, license):
    assert consume(app, license, consumptions=10).status_code == 200
    with time_machine.travel(timezone.now() + dt.timedelta(days=32)):
        body = consume(app, license, consumptions=10).json()
    assert body["total_consumptions"] == 10
    assert ConsumptionCounter.objects.filter(entitlement=license.entitlement).count() == 2


def test_a_feature_counter_is_apart_from_the_entitlements(app, license, product):
    grant(license.entitlement, feature(product, "renders", CONSUMPTION), max_consumptions=3)

    response = consume_feature(app, license, "renders", consumptions=3)

    verify_response(response)
    body = response.json()
    assert (body["code"], body["total_consumptions"], body["max_consumptions"]) == ("renders", 3, 3)
    assert consume_feature(app, license, "renders").json()["code"] == "consumption_limit_reached"
    assert (used(license, "renders"), used(license)) == (3, 0)


def test_an_activation_feature_counts_no_consumption(app, license, product):
    grant(license.entitlement, feature(product, "export"))
    assert consume_feature(app, license, "export").json()["code"] == "feature_not_consumption"


def test_an_entitlement_that_is_not_metered_counts_no_consumption(app, product):
    license = LicenseFactory(activation_code__entitlement__product=product)
    assert consume(app, license).json()["code"] == "consumption_not_metered"


def test_negative_consumption_only_where_allowed_and_never_below_zero(app, license):
    assert consume(app, license, consumptions=2).status_code == 200
    assert consume(app, license, consumptions=-1).json()["code"] == "negative_consumption_not_allowed"
    allow = {"allow_negative_consumptions": True}
    services.entitlement_update(entitlement=license.entitlement, data=allow, actor=STAFF)
    assert consume(app, license, consumptions=-1).json()["total_consumptions"] == 1
    assert consume(app, license, consumptions=-2).json()["code"] == "consumption_below_zero"
    assert used(license) == 1


@pytest.mark.parametrize(
    "consumptions",
    ["3", 1.5, 2.0, True, None, [], {}, 0, 10**9 + 1, -(10**9) - 1, 10**30, "1e3"],
)
def test_a_consumption_that_is_not_a_sane_whole_number_is_refused_and_counts_nothing(app, license, consumptions):
    response = consume(app, license, consumptions=consumptions)

    verify_response(response)
    if consumptions is None:  # absent: one
        assert response.status_code == 200
        return
    assert (response.status_code, response.json()["code"]) == (400, "invalid_parameters")
    assert used(license) == 0


@pytest.mark.parametrize("request_id", ["x" * 129, ["r"], {"a": 1}])
def test_a_malformed_request_id_is_refused(app, license, request_id):
    response = consume(app, license, request_id=request_id)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_parameters")
    assert used(license) == 0


@pytest.mark.parametrize(
    ("switch", "code", "reason"),
    [
        (
            lambda lic: services.customer_disable(customer=lic.entitlement.customer, actor=STAFF),
            "license_not_enabled",
            "customer_disabled",
        ),
        (
            lambda lic: services.entitlement_disable(entitlement=lic.entitlement, actor=STAFF),
            "license_not_enabled",
            "entitlement_disabled",
        ),
        (
            lambda lic: services.activation_code_revoke(activation_code=lic.activation_code, actor=STAFF),
            "license_revoked",
            "code_revoked",
        ),
        (lambda lic: services.license_suspend(license=lic, actor=STAFF), "license_not_enabled", "license_suspended"),
    ],
)
def test_the_switches_refuse_consumption_as_they_refuse_checks(app, license, product, switch, code, reason):
    grant(license.entitlement, feature(product, "renders", CONSUMPTION), max_consumptions=3)
    switch(license)

    for response in (
        consume(app, license),
        consume_feature(app, license, "renders"),
        app.get("check_license_feature", identity(license, feature="renders")),
    ):
        verify_response(response)
        assert (response.json()["code"], response.json()["reason"]) == (code, reason)
    assert ConsumptionEntry.objects.count() == 0


def test_reaching_the_limit_is_announced_once_per_counter(app, license):
    consume(app, license, consumptions=9)
    consume(app, license, consumptions=1)
    consume(app, license, consumptions=1)  # refused

    reached = AuditEvent.objects.filter(action="consumption.limit_reached")
    assert reached.count() == 1
    assert reached.get().after["used"] == 10


def test_staff_correct_usage_with_a_reason_never_in_place(license):
    consume_entry = ConsumptionEntry.objects.count()
    services.consumption_correct(entitlement=license.entitlement, amount=4, reason="Migrated usage", actor=STAFF)
    services.consumption_correct(entitlement=license.entitlement, amount=-1, reason="Refund", actor=STAFF)

    assert used(license) == 3
    corrections = ConsumptionEntry.objects.filter(kind="correction").order_by("created_at")
    assert [(c.amount, c.reason) for c in corrections] == [(4, "Migrated usage"), (-1, "Refund")]
    assert ConsumptionEntry.objects.count() == consume_entry + 2
    audited = AuditEvent.objects.filter(action="consumption.corrected").values_list("reason", flat=True)
    assert sorted(audited) == ["Migrated usage", "Refund"]


def test_a_grant_change_reaches_the_next_check(app, license, product):
    export = grant(license.entitlement, feature(product, "export"))
    assert app.get("check_license", identity(license)).json()["features"] == {"export": True}

    services.entitlement_feature_update(entitlement_feature=export, data={"value": "pro"}, actor=STAFF)
    assert app.get("check_license", identity(license)).json()["features"] == {"export": "pro"}

    services.entitlement_feature_revoke(entitlement_feature=export, actor=STAFF)
    assert app.get("check_license", identity(license)).json()["features"] == {}
    updates = AuditEvent.objects.for_target(license.entitlement).filter(action="entitlement.updated")
    assert updates.count() == 3


def test_a_feature_of_another_product_cannot_be_granted(license):
    with pytest.raises(Exception, match="another product"):
        grant(license.entitlement, feature(ProductFactory(), "alien"))
    assert license.entitlement.feature_grants.count() == 0


def test_the_stored_answer_is_the_json_sent(app, license):
    body = consume(app, license, request_id="r-3").json()
    stored = ConsumptionEntry.objects.get(request_id="r-3").answer
    # All but what binds the answer to its request (added to each answer as it is sent).
    assert canonical_json(stored) == canonical_json({k: v for k, v in body.items() if k not in ("nonce", "request_id")})


def test_a_license_file_carries_the_features_a_client_opens_offline(license, product):
    grant(license.entitlement, feature(product, "export"), value="pro")
    license.entitlement.refresh_from_db()

    payload = license_file_payload(license, now=timezone.now())

    assert payload["features"] == {"export": "pro"}
    assert [f["code"] for f in payload["product_features"]] == ["export"]
    assert payload["max_consumptions"] == 10


def test_a_request_id_sent_with_another_count_is_refused(app, license):
    assert consume(app, license, consumptions=2, request_id="r-9").status_code == 200
    response = consume(app, license, consumptions=5, request_id="r-9")
    verify_response(response)
    assert response.json()["code"] == "request_id_reused"
    assert used(license) == 2


def test_a_repeat_after_a_switch_gets_the_first_answer(app, license):
    first = consume(app, license, consumptions=2, request_id="r-10").json()
    services.license_suspend(license=license, actor=STAFF)
    again = consume(app, license, consumptions=2, request_id="r-10").json()
    assert again == first
    assert consume(app, license).json()["reason"] == "license_suspended"


def test_the_license_key_may_come_in_a_header_for_a_feature_check(app, license, product):
    grant(license.entitlement, feature(product, "export"))
    fields = identity(license, feature="export")
    key = fields.pop("license_key")
    response = app.get("check_license_feature", fields, **{"License-Key": key})
    assert (response.status_code, response.json()["code"]) == (200, "export")


def test_a_count_runs_a_fixed_number_of_queries_in_one_transaction(app, license, django_assert_num_queries):
    consume(app, license)  # the period's counter exists
    # The credential; then in one transaction (a savepoint and its release, inside the
    # test's own): the license's chain, the counter's UPDATE and read, the counters read
    # for the answer's body, and the entry's INSERT.
    with django_assert_num_queries(8):
        assert consume(app, license).status_code == 200


def test_the_last_second_of_a_month_and_the_first_of_the_next_count_apart(app, product):
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    code = ActivationCodeFactory(
        entitlement__product=product,
        entitlement__max_consumptions=1,
        entitlement__reset_period="monthly",
        entitlement__valid_from=start,
        entitlement__valid_until=None,
    )
    license = LicenseFactory(activation_code=code, device__hardware_id="hw-edge")

    with time_machine.travel(dt.datetime(2026, 3, 31, 23, 59, 59, tzinfo=dt.UTC), tick=False):
        last = consume(app, license).json()
        assert consume(app, license).json()["code"] == "consumption_limit_reached"
    with time_machine.travel(dt.datetime(2026, 4, 1, tzinfo=dt.UTC), tick=False):
        first = consume(app, license).json()

    assert (last["total_consumptions"], first["total_consumptions"]) == (1, 1)
    assert (last["period_ends_at"], first["period_ends_at"]) == ("2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z")
    starts = ConsumptionCounter.objects.filter(entitlement=code.entitlement).values_list("period_start", flat=True)
    assert sorted(starts) == [dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 4, 1, tzinfo=dt.UTC)]


def test_a_counts_answer_echoes_its_request_id(app, license):
    """The request's signature covers only its date: the answer names the count it
    answers, so a client can tell it from a check's answer to a rewritten request."""
    body = consume(app, license, request_id="r-echo").json()
    assert body["request_id"] == "r-echo"
    assert "request_id" not in consume(app, license).json()
