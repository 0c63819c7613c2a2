"""Features, grants and usage through the management API: the vendor's back office
declares what a product sells, grants it per entitlement, and reads what was consumed."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.utils import timezone

from licensing import services
from licensing.actors import Actor
from licensing.models import AuditEvent, EntitlementFeature, ProductFeature, WebhookEvent
from tests.factories import (
    ActivationCodeFactory,
    EntitlementFactory,
    LicenseFactory,
    ProductFactory,
    WebhookEndpointFactory,
)

pytestmark = pytest.mark.django_db
STAFF = Actor.system("staff")


def declare(api, product, code: str, feature_type: str = "activation"):
    body = {"product": str(product.pk), "code": code, "name": code.title(), "feature_type": feature_type}
    return api.post("/api/v1/product-features", body, format="json")


def grant(api, entitlement, code: str, **terms):
    return api.post(
        "/api/v1/entitlement-features", {"entitlement": str(entitlement.pk), "feature": code, **terms}, format="json"
    )


def test_granting_a_feature_is_an_audited_entitlement_update_announced_by_webhook(api):
    WebhookEndpointFactory(event_types=["entitlement.updated"])
    entitlement = EntitlementFactory()
    assert declare(api, entitlement.product, "export").status_code == 201

    response = grant(api, entitlement, "export", value="pro")

    assert response.status_code == 201
    assert api.get(f"/api/v1/entitlements/{entitlement.pk}").json()["features"] == {"export": "pro"}
    event = AuditEvent.objects.for_target(entitlement).get(action="entitlement.updated")
    assert (event.before["features"], event.after["features"][0]["value"]) == ([], "pro")
    data = json.loads(WebhookEvent.objects.get(type="entitlement.updated").payload)["data"]
    assert data["features"] == {"export": "pro"}


def test_a_feature_of_another_product_or_unknown_cannot_be_granted(api):
    entitlement = EntitlementFactory()
    declare(api, ProductFactory(), "alien")
    for code in ("alien", "nothing"):
        response = grant(api, entitlement, code)
        assert response.status_code == 400
        assert "feature" in response.json()["errors"]
    assert not EntitlementFeature.objects.exists()


def test_a_feature_is_granted_once_per_entitlement(api):
    entitlement = EntitlementFactory()
    declare(api, entitlement.product, "export")
    assert grant(api, entitlement, "export").status_code == 201
    again = grant(api, entitlement, "export")
    assert again.status_code == 400
    assert EntitlementFeature.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "has space"}, "code"),
        ({"code": ""}, "code"),
        ({"code": "x" * 101}, "code"),
        ({"feature_type": "module"}, "feature_type"),
        ({"product": "not-a-uuid"}, "product"),
    ],
)
def test_bad_feature_declarations_are_refused(api, body, field):
    product = ProductFactory()
    full = {"product": str(product.pk), "code": "export", "name": "Export", "feature_type": "activation", **body}
    response = api.post("/api/v1/product-features", full, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not ProductFeature.objects.exists()


@pytest.mark.parametrize(
    "terms",
    [
        {"max_consumptions": -1},
        {"max_consumptions": 10**16},
        {"max_consumptions": "ten"},
        {"reset_period": "hourly"},
        {"max_overages": 5},  # overages not allowed
        {"expires_at": "soon"},
    ],
)
def test_bad_grant_terms_are_refused_and_nothing_is_granted(api, terms):
    entitlement = EntitlementFactory()
    declare(api, entitlement.product, "renders", "consumption")
    response = grant(api, entitlement, "renders", **terms)
    assert response.status_code == 400
    assert not EntitlementFeature.objects.exists()


def test_an_activation_feature_is_not_metered(api):
    entitlement = EntitlementFactory()
    declare(api, entitlement.product, "export")
    response = grant(api, entitlement, "export", max_consumptions=5)
    assert response.status_code == 400
    assert "max_consumptions" in response.json()["errors"]


def test_usage_shows_the_current_period_and_each_day_filtered_by_feature_and_dates(api):
    code = ActivationCodeFactory(
        entitlement__max_consumptions=100,
        entitlement__reset_period="monthly",
        entitlement__valid_from=timezone.now() - dt.timedelta(days=40),
    )
    license = LicenseFactory(activation_code=code)
    entitlement = code.entitlement
    declare(api, entitlement.product, "renders", "consumption")
    grant(api, entitlement, "renders", max_consumptions=10)

    def consume(amount: int, feature: str | None = None) -> None:
        services.license_consume(
            product_code=entitlement.product.code,
            hardware_id=license.device.hardware_id,
            license_key=code.code,
            amount=amount,
            feature=feature,
            actor=STAFF,
            answer=lambda counted: {"used": counted.used},
        )

    with time_machine.travel(timezone.now() - dt.timedelta(days=2)):
        consume(5)
    consume(3)
    consume(2, "renders")
    services.consumption_correct(entitlement=entitlement, amount=-1, reason="Refund", actor=STAFF)

    usage = api.get(f"/api/v1/entitlements/{entitlement.pk}/usage").json()
    current = {meter["feature"]: meter for meter in usage["current"]}
    assert current[None]["max_consumptions"] == 100
    assert current["renders"]["total_consumptions"] == 2
    today = timezone.now().date().isoformat()
    assert {(d["date"], d["feature"]): d["consumed"] for d in usage["days"]} == {
        (today, None): 2,
        (today, "renders"): 2,
        ((timezone.now() - dt.timedelta(days=2)).date().isoformat(), None): 5,
    }

    only = api.get(f"/api/v1/entitlements/{entitlement.pk}/usage", {"feature": "renders", "start": today}).json()
    assert [(d["feature"], d["consumed"]) for d in only["days"]] == [("renders", 2)]
    assert [meter["feature"] for meter in only["current"]] == ["renders"]


@pytest.mark.parametrize(
    "query",
    [
        {"start": "yesterday"},
        {"start": "2026-05-02", "end": "2026-05-01"},
        {"feature": "x" * 101},
        {"colour": "red"},
    ],
)
def test_bad_usage_queries_are_a_400(api, query):
    entitlement = EntitlementFactory()
    response = api.get(f"/api/v1/entitlements/{entitlement.pk}/usage", query)
    assert response.status_code == 400


def test_a_read_only_token_cannot_grant(read_only_api):
    entitlement = EntitlementFactory()
    response = grant(read_only_api, entitlement, "export")
    assert response.status_code == 403


def test_staff_correct_usage_with_a_reason_through_the_api(api):
    entitlement = EntitlementFactory(max_consumptions=10)
    response = api.post(
        f"/api/v1/entitlements/{entitlement.pk}/correct-usage", {"amount": 4, "reason": "Imported"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["current"][0]["total_consumptions"] == 4
    assert response.json()["days"][0]["consumed"] == 4
    assert AuditEvent.objects.get(action="consumption.corrected").reason == "Imported"


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 4},
        {"amount": 4, "reason": "  "},
        {"amount": 0, "reason": "x"},
        {"amount": "4", "reason": "x"},
        {"amount": -1, "reason": "below zero"},
        {"amount": 1, "reason": "x", "feature": "nothing"},
    ],
)
def test_bad_usage_corrections_are_a_400_and_change_nothing(api, body):
    entitlement = EntitlementFactory(max_consumptions=10)
    response = api.post(f"/api/v1/entitlements/{entitlement.pk}/correct-usage", body, format="json")
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="consumption.corrected").exists()


def test_a_put_naming_the_same_entitlement_updates_and_another_is_refused(api):
    entitlement = EntitlementFactory()
    declare(api, entitlement.product, "export")
    grant_id = grant(api, entitlement, "export").json()["id"]
    body = {"entitlement": str(entitlement.pk), "feature": "export", "value": 5, "reset_period": "never"}
    assert api.put(f"/api/v1/entitlement-features/{grant_id}", body, format="json").status_code == 200
    moved = {**body, "entitlement": str(EntitlementFactory(product=entitlement.product).pk)}
    response = api.put(f"/api/v1/entitlement-features/{grant_id}", moved, format="json")
    assert response.status_code == 400
    assert "entitlement" in response.json()["errors"]


def test_a_value_with_a_lone_surrogate_is_a_400(api):
    entitlement = EntitlementFactory()
    declare(api, entitlement.product, "export")
    response = api.post(
        "/api/v1/entitlement-features",
        b'{"entitlement": "%s", "feature": "export", "value": "\\ud800"}' % str(entitlement.pk).encode(),
        content_type="application/json",
    )
    assert response.status_code == 400


def test_a_granted_feature_keeps_its_type(api):
    entitlement = EntitlementFactory()
    feature_id = declare(api, entitlement.product, "renders", "consumption").json()["id"]
    grant(api, entitlement, "renders", max_consumptions=5)
    response = api.patch(f"/api/v1/product-features/{feature_id}", {"feature_type": "activation"}, format="json")
    assert response.status_code == 400
    assert "feature_type" in response.json()["errors"]


@pytest.mark.parametrize("query", [{"end": "9999-12-31"}, {"start": "0001-01-01"}, {"start": "0109-10-27"}])
def test_usage_days_at_the_ends_of_the_calendar_are_answered(api, query):
    entitlement = EntitlementFactory(max_consumptions=5)
    services.consumption_correct(entitlement=entitlement, amount=1, reason="x", actor=STAFF)
    response = api.get(f"/api/v1/entitlements/{entitlement.pk}/usage", query)
    assert response.status_code == 200
    assert len(response.json()["days"]) == 1
