"""Trials, grace periods and renewals through the management API: a product's trial terms,
an entitlement's grace period, the lists of trials and of what ends soon, and the two
explicit endpoints that renew an entitlement and make a trial a sale, each through its
service (audited, announced by webhook), each refusing bad input with a 400 that changes
nothing."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.test import Client

from licensing import services
from licensing.actors import Actor
from licensing.models import (
    ApiToken,
    AuditEvent,
    Entitlement,
    Product,
    ProductFeature,
    Trial,
    WebhookEvent,
)
from tests.factories import CustomerFactory, EntitlementFactory, LicenseFactory, ProductFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
STAFF = Actor.system("staff")


@pytest.fixture
def frozen():
    with time_machine.travel(T0, tick=False):
        yield T0


@pytest.fixture
def receiver(db):
    """A webhook receiver of everything: without one, no event is written."""
    return WebhookEndpointFactory()


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def audited(target, action: str) -> AuditEvent:
    """The one audit event of `action` on `target`, made with the API's read-write token."""
    event = AuditEvent.objects.for_target(target).get(action=action)
    token = ApiToken.objects.get(name="billing")
    assert (event.actor_type, event.actor_id) == ("api_token", str(token.pk))
    return event


def announced(event_type: str) -> dict:
    return json.loads(WebhookEvent.objects.get(type=event_type).payload)["data"]


def ending(at: dt.datetime, **fields) -> Entitlement:
    return EntitlementFactory(valid_from=at - 365 * DAY, valid_until=at, **fields)


def a_trial(product: Product | None = None, email: str = "ada@example.com") -> Entitlement:
    """A trial handed out to a client application, as GET /api/v4/trial_key does."""
    product = product or ProductFactory(trial_allowed=True, trial_duration=14)
    return services.trial_start(product=product, hardware_id=f"hw-{email}", email=email, actor=STAFF).entitlement


# --- Products: the trial's terms ----------------------------------------------------------


def test_a_product_is_created_with_trial_terms_and_shown_with_them(api):
    body = {"code": "studio", "name": "Studio", "trial_allowed": True, "trial_duration": 30, "trial_seats": 3}
    response = api.post("/api/v1/products", {**body, "trial_features": []}, format="json")

    assert response.status_code == 201, response.json()
    shown = response.json()
    assert {name: shown[name] for name in body} == body
    assert shown["trial_features"] == []
    product = Product.objects.get(code="studio")
    assert (product.trial_allowed, product.trial_duration, product.trial_seats) == (True, 30, 3)


def test_a_new_product_names_no_trial_features_as_it_has_none_yet(api):
    response = api.post(
        "/api/v1/products", {"code": "studio", "name": "Studio", "trial_features": ["export"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"trial_features": ["The product has no feature export."]}
    assert not Product.objects.filter(code="studio").exists()


def test_a_product_s_trial_features_are_set_by_code_and_audited(api):
    product = ProductFactory()
    for code in ("export", "render", "cloud"):
        ProductFeature.objects.create(product=product, code=code, name=code.title())

    response = api.patch(
        f"/api/v1/products/{product.pk}", {"trial_allowed": True, "trial_features": ["render", "export"]}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert sorted(response.json()["trial_features"]) == ["export", "render"]
    assert sorted(product.trial_features.values_list("code", flat=True)) == ["export", "render"]
    event = audited(product, "product.updated")
    assert len(event.after["trial_features"]) == 2 and event.before["trial_features"] == []

    # An empty list grants none; leaving the field out keeps them.
    api.patch(f"/api/v1/products/{product.pk}", {"trial_seats": 2}, format="json")
    assert product.trial_features.count() == 2
    response = api.patch(f"/api/v1/products/{product.pk}", {"trial_features": []}, format="json")
    assert response.json()["trial_features"] == []


@pytest.mark.parametrize("code", ["alien", "nothing"])
def test_a_trial_feature_of_another_product_or_unknown_is_refused(api, code):
    product = ProductFactory()
    own = ProductFeature.objects.create(product=product, code="export", name="Export")
    product.trial_features.set([own])
    ProductFeature.objects.create(product=ProductFactory(), code="alien", name="Alien")

    response = api.patch(f"/api/v1/products/{product.pk}", {"trial_features": ["export", code]}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["errors"]) == ("invalid", {"trial_features": [f"The product has no feature {code}."]})
    assert list(product.trial_features.all()) == [own]


def test_a_product_activated_by_license_users_offers_no_trials(api):
    body = {"code": "team", "name": "Team", "authorization_method": "user", "trial_allowed": True}
    response = api.post("/api/v1/products", body, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["trial_allowed"]
    assert not Product.objects.filter(code="team").exists()

    users = ProductFactory(authorization_method=Product.AuthorizationMethod.USER)
    response = api.patch(f"/api/v1/products/{users.pk}", {"trial_allowed": True}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["trial_allowed"]

    # Nor does a key product with trials turn into a user product.
    keys = ProductFactory(trial_allowed=True)
    response = api.patch(f"/api/v1/products/{keys.pk}", {"authorization_method": "user"}, format="json")
    assert response.status_code == 400
    keys.refresh_from_db()
    assert keys.authorization_method == Product.AuthorizationMethod.LICENSE_KEY


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("trial_duration", 0),
        ("trial_duration", 366),
        ("trial_duration", "14"),
        ("trial_seats", 0),
        ("trial_seats", 1001),
        ("trial_seats", True),
        ("trial_allowed", "true"),
        ("trial_features", "export"),
        ("trial_features", [5]),
    ],
)
def test_trial_terms_out_of_range_or_of_the_wrong_type_are_refused(api, field, value):
    product = ProductFactory()
    response = api.patch(f"/api/v1/products/{product.pk}", {field: value}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert not AuditEvent.objects.for_target(product).filter(action="product.updated").exists()


# --- Entitlements: grace period and is_trial -----------------------------------------------


def test_an_entitlement_s_grace_period_is_set_in_seconds_and_shown_with_its_end(api, frozen):
    entitlement = ending(T0 - 2 * DAY)  # ended two days ago: expired without a grace

    response = api.patch(f"/api/v1/entitlements/{entitlement.pk}", {"grace_period": 7 * 86_400}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["grace_period"] == 604_800
    assert moment(body["grace_until"]) == T0 + 5 * DAY
    assert (body["in_grace"], body["effective_status"]) == (True, "active")
    entitlement.refresh_from_db()
    assert entitlement.grace_period == 7 * DAY


def test_an_entitlement_is_created_with_a_grace_period(api):
    entitlement = EntitlementFactory.build(customer=CustomerFactory(), product=ProductFactory())
    body = {"customer": str(entitlement.customer_id), "product": str(entitlement.product_id), "seats": 2}
    response = api.post("/api/v1/entitlements", {**body, "grace_period": 7_776_000}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["grace_period"] == 7_776_000
    assert Entitlement.objects.get(pk=response.json()["id"]).grace_period == 90 * DAY


@pytest.mark.parametrize("value", [-1, 7_776_001, "604800", 1.5, True, None])
def test_a_grace_period_out_of_range_or_not_whole_seconds_is_refused(api, value):
    entitlement = EntitlementFactory()
    response = api.patch(f"/api/v1/entitlements/{entitlement.pk}", {"grace_period": value}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["grace_period"]
    entitlement.refresh_from_db()
    assert entitlement.grace_period == dt.timedelta(0)


def test_whether_an_entitlement_is_a_trial_is_not_edited_but_converted(api):
    entitlement = a_trial()
    response = api.patch(f"/api/v1/entitlements/{entitlement.pk}", {"is_trial": False}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"is_trial": ["Not a field of this request."]}
    entitlement.refresh_from_db()
    assert entitlement.is_trial


# --- Lists: trials, and what ends soon ---------------------------------------------------


def listed(api, query: str) -> set[str]:
    response = api.get(f"/api/v1/entitlements?{query}")
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def test_the_list_filters_trials_in_or_out(api):
    trial, sold = a_trial(), EntitlementFactory()
    assert listed(api, "is_trial=true") == {str(trial.pk)}
    assert listed(api, "is_trial=false") == {str(sold.pk)}
    assert listed(api, "is_trial=") == {str(trial.pk), str(sold.pk)}  # empty: no filter


def test_the_list_shows_what_ends_within_so_many_days_not_what_ended(api, frozen):
    soon = ending(T0 + 5 * DAY)
    today = ending(T0 + dt.timedelta(hours=3))
    edge = ending(T0 + 30 * DAY)
    later = ending(T0 + 31 * DAY)
    in_grace = ending(T0 - DAY, grace_period=7 * DAY)
    ending(T0 - 10 * DAY)  # expired
    EntitlementFactory(valid_until=None)  # perpetual

    assert listed(api, "expiring_within=30") == {str(soon.pk), str(today.pk), str(edge.pk)}
    assert listed(api, "expiring_within=1") == {str(today.pk)}
    assert listed(api, "expiring_within=31") == {str(e.pk) for e in (soon, today, edge, later)}
    assert str(in_grace.pk) not in listed(api, "expiring_within=3650")
    trial = a_trial()  # 14 days, from now
    assert listed(api, "expiring_within=30&is_trial=true") == {str(trial.pk)}


@pytest.mark.parametrize(
    "query", ["expiring_within=0", "expiring_within=3651", "expiring_within=-5", "expiring_within=soon",
              "expiring_within=1.5", "is_trial=maybe", "is_trial=yes"]
)  # fmt: skip
def test_a_filter_value_it_does_not_take_is_a_400_naming_it(api, query):
    response = api.get(f"/api/v1/entitlements?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == [query.split("=")[0]]


def test_filtered_lists_take_as_many_queries_for_many_rows_as_for_one(api, frozen, django_assert_num_queries):
    ending(T0 + 5 * DAY)
    api.get("/api/v1/entitlements")  # stamps the token's last use, once a minute
    with django_assert_num_queries(3) as one:  # token, count, page
        api.get("/api/v1/entitlements?expiring_within=30&is_trial=false")
    for days in range(6, 26):
        ending(T0 + days * DAY, grace_period=DAY)
    with django_assert_num_queries(len(one.captured_queries)):
        response = api.get("/api/v1/entitlements?expiring_within=30&is_trial=false")
    assert response.json()["count"] == 21


# --- Renewing ------------------------------------------------------------------------------


def test_renewing_by_days_counts_from_the_current_end_audited_and_announced(api, frozen, receiver):
    entitlement = ending(T0 + 10 * DAY)

    response = api.post(
        f"/api/v1/entitlements/{entitlement.pk}/renew", {"days": 365, "reason": "Invoice INV-7 paid"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert moment(response.json()["valid_until"]) == T0 + 375 * DAY
    entitlement.refresh_from_db()
    assert entitlement.valid_until == T0 + 375 * DAY
    event = audited(entitlement, "entitlement.renewed")
    assert event.reason == "Invoice INV-7 paid"
    assert moment(event.before["valid_until"]) == T0 + 10 * DAY
    assert moment(event.after["valid_until"]) == T0 + 375 * DAY
    assert moment(announced("entitlement.renewed")["valid_until"]) == T0 + 375 * DAY


def test_renewing_an_entitlement_that_ended_long_ago_from_now_makes_it_work_again(api, frozen):
    entitlement = ending(T0 - 100 * DAY)
    assert api.get(f"/api/v1/entitlements/{entitlement.pk}").json()["effective_status"] == "expired"

    response = api.post(f"/api/v1/entitlements/{entitlement.pk}/renew", {"days": 30, "from": "now"}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert moment(body["valid_until"]) == T0 + 30 * DAY
    assert body["effective_status"] == "active"
    assert audited(entitlement, "entitlement.renewed").reason == ""


def test_renewing_to_a_given_end(api, frozen):
    entitlement = ending(T0 + 10 * DAY)
    end = T0 + 400 * DAY
    response = api.post(f"/api/v1/entitlements/{entitlement.pk}/renew", {"valid_until": end.isoformat()}, format="json")
    assert response.status_code == 200, response.json()
    assert moment(response.json()["valid_until"]) == end


def test_renewing_an_entitlement_in_grace_from_its_end_ends_the_grace(api, frozen):
    entitlement = ending(T0 - 2 * DAY, grace_period=7 * DAY)
    body = api.post(f"/api/v1/entitlements/{entitlement.pk}/renew", {"days": 30}, format="json").json()
    assert moment(body["valid_until"]) == T0 + 28 * DAY
    assert body["in_grace"] is False


RENEWAL_REFUSED = [
    # (body, the field the errors name)
    ({}, "non_field_errors"),
    ({"reason": "paid"}, "non_field_errors"),
    ({"days": 30, "valid_until": (T0 + 400 * DAY).isoformat()}, "non_field_errors"),
    ({"from": "now"}, "non_field_errors"),
    ({"days": 0}, "days"),
    ({"days": -30}, "days"),
    ({"days": 3651}, "days"),
    ({"days": 10**12}, "days"),
    ({"days": "30"}, "days"),
    ({"days": 30.5}, "days"),
    ({"days": True}, "days"),
    ({"days": None}, "days"),
    ({"days": 30, "from": "tomorrow"}, "from"),
    ({"days": 30, "from": "EXPIRY"}, "from"),
    ({"days": 30, "from": 1}, "from"),
    ({"valid_until": (T0 + 400 * DAY).isoformat(), "from": "now"}, "from"),
    ({"valid_until": (T0 - DAY).isoformat()}, "valid_until"),  # in the past
    ({"valid_until": (T0 + 5 * DAY).isoformat()}, "valid_until"),  # before the current end
    ({"valid_until": (T0 + 10 * DAY).isoformat()}, "valid_until"),  # the current end itself
    ({"valid_until": (T0 + 3651 * DAY).isoformat()}, "valid_until"),  # more than ten years away
    ({"valid_until": "next week"}, "valid_until"),
    ({"valid_until": "2026-13-40T00:00:00Z"}, "valid_until"),
    ({"valid_until": None}, "valid_until"),
    ({"valid_until": 1767225600}, "valid_until"),
    ({"days": 3645}, "days"),  # from the current end: more than ten years from now
    ({"days": 30, "reason": 5}, "reason"),
    ({"days": 30, "seats": 10}, "seats"),  # not a field of this request
]


@pytest.mark.parametrize(("body", "field"), RENEWAL_REFUSED)
def test_a_renewal_the_api_refuses_is_a_400_naming_the_field_and_changes_nothing(api, frozen, receiver, body, field):
    entitlement = ending(T0 + 10 * DAY)

    response = api.post(f"/api/v1/entitlements/{entitlement.pk}/renew", body, format="json")

    assert response.status_code == 400, response.json()
    answer = response.json()
    assert (answer["status"], answer["code"]) == (400, "invalid")
    assert list(answer["errors"]) == [field]
    entitlement.refresh_from_db()
    assert entitlement.valid_until == T0 + 10 * DAY
    assert not AuditEvent.objects.filter(action="entitlement.renewed").exists()
    assert not WebhookEvent.objects.filter(type="entitlement.renewed").exists()


def test_a_perpetual_entitlement_has_nothing_to_renew(api):
    entitlement = EntitlementFactory(valid_until=None)
    response = api.post(f"/api/v1/entitlements/{entitlement.pk}/renew", {"days": 30}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "non_field_errors": ["This entitlement never ends: there is nothing to renew."]
    }


def test_a_body_that_is_not_json_or_not_an_object_is_refused(api):
    entitlement = EntitlementFactory()
    url = f"/api/v1/entitlements/{entitlement.pk}/renew"
    assert api.post(url, "{days: 30", content_type="application/json").json()["code"] == "parse_error"
    assert api.post(url, [30], format="json").status_code == 400
    assert api.post(url, "days=30", content_type="application/x-www-form-urlencoded").status_code == 415


@pytest.mark.parametrize(("path", "body"), [("renew", {"days": 30}), ("convert-trial", {})])
def test_a_read_only_token_can_neither_renew_nor_convert(read_only_api, path, body):
    entitlement = a_trial()
    end = entitlement.valid_until

    response = read_only_api.post(f"/api/v1/entitlements/{entitlement.pk}/{path}", body, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "read_only_token"
    entitlement.refresh_from_db()
    assert (entitlement.valid_until, entitlement.is_trial) == (end, True)
    assert not AuditEvent.objects.filter(action__in=["entitlement.renewed", "trial.converted"]).exists()


@pytest.mark.parametrize("path", ["renew", "convert-trial"])
def test_renewing_or_converting_an_unknown_or_malformed_id_is_a_404(api, path):
    for pk in ("00000000-0000-0000-0000-000000000000", "not-an-id"):
        response = api.post(f"/api/v1/entitlements/{pk}/{path}", {"days": 30} if path == "renew" else {}, format="json")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_no_token_is_a_401(db):
    entitlement = EntitlementFactory()
    response = Client().post(f"/api/v1/entitlements/{entitlement.pk}/renew", {"days": 30}, "application/json")
    assert response.status_code == 401


# --- Converting a trial ----------------------------------------------------------------------


def test_converting_a_trial_for_another_customer_with_an_end_keeps_its_licenses(api, frozen, receiver):
    trial = a_trial()
    license = LicenseFactory(activation_code=trial.activation_codes.get())
    buyer = CustomerFactory(name="Acme Studio")
    end = T0 + 365 * DAY

    response = api.post(
        f"/api/v1/entitlements/{trial.pk}/convert-trial",
        {"customer": str(buyer.pk), "valid_until": end.isoformat(), "reason": "Order 1042"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["is_trial"], body["customer"], moment(body["valid_until"])) == (False, str(buyer.pk), end)
    trial.refresh_from_db()
    assert (trial.is_trial, trial.customer_id, trial.valid_until) == (False, buyer.pk, end)
    assert Trial.objects.get(entitlement=trial).converted_at == T0
    license.refresh_from_db()
    assert license.device.customer_id == buyer.pk  # the machine is recorded under the buyer
    assert api.get(f"/api/v1/licenses/{license.pk}").json()["effective_status"] == "active"
    event = audited(trial, "trial.converted")
    assert event.reason == "Order 1042"
    assert (event.before["is_trial"], event.after["is_trial"]) == (True, False)
    assert event.after["customer"] == str(buyer.pk)
    data = announced("trial.converted")
    assert (data["id"], data["is_trial"]) == (str(trial.pk), False)


def test_converting_with_an_empty_body_keeps_the_customer_and_the_end(api):
    trial = a_trial()
    customer, end = trial.customer_id, trial.valid_until
    response = api.post(f"/api/v1/entitlements/{trial.pk}/convert-trial", {}, format="json")
    assert response.status_code == 200, response.json()
    trial.refresh_from_db()
    assert (trial.is_trial, trial.customer_id, trial.valid_until) == (False, customer, end)


def test_converting_with_a_null_end_makes_it_perpetual(api):
    trial = a_trial()
    response = api.post(f"/api/v1/entitlements/{trial.pk}/convert-trial", {"valid_until": None}, format="json")
    assert response.status_code == 200
    assert response.json()["valid_until"] is None
    trial.refresh_from_db()
    assert trial.valid_until is None


def test_converting_an_entitlement_that_is_no_trial_is_refused(api, receiver):
    sold = EntitlementFactory()
    response = api.post(f"/api/v1/entitlements/{sold.pk}/convert-trial", {}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"non_field_errors": ["This entitlement is not a trial."]}

    # Nor twice: the first conversion made it a sale.
    trial = a_trial()
    assert api.post(f"/api/v1/entitlements/{trial.pk}/convert-trial", {}, format="json").status_code == 200
    assert api.post(f"/api/v1/entitlements/{trial.pk}/convert-trial", {}, format="json").status_code == 400
    assert AuditEvent.objects.filter(action="trial.converted").count() == 1
    assert WebhookEvent.objects.filter(type="trial.converted").count() == 1


CONVERSION_REFUSED = [
    ({"customer": "00000000-0000-0000-0000-000000000000"}, "customer"),
    ({"customer": "acme"}, "customer"),
    ({"customer": 5}, "customer"),
    ({"customer": None}, "customer"),
    ({"valid_until": (T0 - DAY).isoformat()}, "valid_until"),
    ({"valid_until": T0.isoformat()}, "valid_until"),
    ({"valid_until": "soon"}, "valid_until"),
    ({"is_trial": False}, "is_trial"),
    ({"reason": ["x"]}, "reason"),
]


@pytest.mark.parametrize(("body", "field"), CONVERSION_REFUSED)
def test_a_conversion_the_api_refuses_is_a_400_naming_the_field_and_changes_nothing(api, frozen, body, field):
    trial = a_trial()
    customer, end = trial.customer_id, trial.valid_until

    response = api.post(f"/api/v1/entitlements/{trial.pk}/convert-trial", body, format="json")

    assert response.status_code == 400, response.json()
    assert list(response.json()["errors"]) == [field]
    trial.refresh_from_db()
    assert (trial.is_trial, trial.customer_id, trial.valid_until) == (True, customer, end)
    assert not AuditEvent.objects.filter(action="trial.converted").exists()


# --- How the schema describes them -----------------------------------------------------------


@pytest.fixture
def schema() -> dict:
    return Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def operation(schema: dict, method: str, path: str) -> dict:
    (found,) = [operations for p, operations in schema["paths"].items() if p.rstrip("/") == path]
    return found[method]


@pytest.mark.parametrize(("path", "component"), [("renew", "Renewal"), ("convert-trial", "TrialConversion")])
def test_renewal_and_conversion_are_documented_with_what_they_take_and_answer(schema, path, component):
    answer = operation(schema, "post", f"/api/v1/entitlements/{{id}}/{path}")
    assert answer["description"]
    assert answer["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{component}"
    }
    assert answer["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Entitlement"
    }
    # Refused as invalid input, never as a conflict.
    assert set(answer["responses"]) == {"200", "400", "401", "403", "404", "414", "415", "429"}
    assert answer["responses"]["400"]["description"] != answer["responses"]["415"]["description"]
    request = schema["components"]["schemas"][component]
    assert request["additionalProperties"] is False
    assert all(field.get("description") for name, field in request["properties"].items() if name != "reason")


def test_the_renewal_schema_takes_a_date_or_days_never_both(schema):
    renewal = schema["components"]["schemas"]["Renewal"]
    assert renewal["properties"]["days"] | {"description": ""} == {
        "type": "integer",
        "minimum": 1,
        "maximum": 3650,
        "description": "",
    }
    assert renewal["properties"]["valid_until"]["format"] == "date-time"
    assert len(renewal["oneOf"]) == 2
    assert "required" not in renewal


def test_the_new_filters_and_fields_are_described(schema):
    parameters = {p["name"]: p for p in operation(schema, "get", "/api/v1/entitlements")["parameters"]}
    assert parameters["is_trial"]["schema"] == {"type": "boolean"}
    assert parameters["expiring_within"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 3650}
    assert parameters["is_trial"]["description"] and parameters["expiring_within"]["description"]
    components = schema["components"]["schemas"]
    grace = components["EntitlementInput"]["properties"]["grace_period"]
    assert (grace["minimum"], grace["maximum"], bool(grace["description"])) == (0, 7_776_000, True)
    assert "is_trial" not in components["EntitlementInput"]["properties"]
    product = components["ProductInput"]["properties"]
    for name in ("trial_allowed", "trial_duration", "trial_seats", "trial_features"):
        assert product[name].get("description"), name
    assert product["trial_features"]["items"]["type"] == "string"
