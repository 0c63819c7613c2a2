"""Creating, reading, updating and finding records; bad input is a clear 4xx that
changes nothing."""

import datetime as dt

import pytest
from django.utils import timezone

from licensing.models import ActivationCode, AuditEvent, Customer, Entitlement, LicenseUser
from tests.factories import (
    ActivationCodeFactory,
    CustomerFactory,
    DeviceFactory,
    EntitlementFactory,
    LicenseFactory,
    LicenseTransactionFactory,
    LicenseUserFactory,
    ProductFactory,
    grant_features,
)

pytestmark = pytest.mark.django_db


def test_provisioning_an_order_end_to_end(api):
    customer = api.post(
        "/api/v1/customers", {"name": "Acme", "email": "it@acme.example", "external_id": "CRM-9"}, format="json"
    ).json()
    product = api.post("/api/v1/products", {"code": "studio", "name": "Studio"}, format="json").json()
    order = api.post(
        "/api/v1/license-transactions", {"customer": customer["id"], "external_id": "ORD-1"}, format="json"
    ).json()
    response = api.post(
        "/api/v1/entitlements",
        {
            "customer": customer["id"],
            "product": product["id"],
            "transaction": order["id"],
            "seats": 3,
            "lease_period": 3600,
        },
        format="json",
    )
    assert response.status_code == 201
    entitlement = response.json()
    export = api.post(
        "/api/v1/product-features", {"product": product["id"], "code": "export", "name": "Export"}, format="json"
    )
    assert export.status_code == 201
    granted = api.post(
        "/api/v1/entitlement-features", {"entitlement": entitlement["id"], "feature": "export"}, format="json"
    )
    assert (granted.status_code, granted.json()["feature"], granted.json()["value"]) == (201, "export", None)
    assert api.get(f"/api/v1/entitlements/{entitlement['id']}").json()["features"] == {"export": True}
    assert (entitlement["seats"], entitlement["seats_used"], entitlement["lease_period"]) == (3, 0, 3600)
    assert entitlement["offline_grace"] == 7 * 24 * 3600
    assert entitlement["effective_status"] == "active"
    assert entitlement["created_at"].endswith("Z")
    assert AuditEvent.objects.filter(action="entitlement.created", target_id=entitlement["id"]).exists()


def test_a_created_activation_code_is_shown_once_in_full(api):
    entitlement = EntitlementFactory()
    created = api.post("/api/v1/activation-codes", {"entitlement": str(entitlement.pk)}, format="json").json()
    code = ActivationCode.objects.get()
    assert created["code"] == code.code
    listed = api.get("/api/v1/activation-codes").json()["results"][0]
    assert listed["code"] == code.masked_code
    assert api.get(f"/api/v1/activation-codes/{code.pk}").json()["code"] == code.masked_code


def test_updates_go_through_the_audited_service(api):
    customer = CustomerFactory(name="Old name")
    response = api.patch(f"/api/v1/customers/{customer.pk}", {"name": "New name"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "New name"
    event = AuditEvent.objects.get(action="customer.updated", target_id=customer.pk)
    assert (event.before, event.after) == ({"name": "Old name"}, {"name": "New name"})


def test_status_cannot_be_written_except_through_a_switch(api):
    customer = CustomerFactory()
    api.patch(f"/api/v1/customers/{customer.pk}", {"status": "disabled"}, format="json")
    customer.refresh_from_db()
    assert customer.status == Customer.Status.ACTIVE


def test_seats_cannot_drop_below_the_licenses_holding_them(api):
    license = LicenseFactory(activation_code__entitlement__seats=2)
    LicenseFactory(entitlement=license.entitlement, activation_code=license.activation_code)
    response = api.patch(f"/api/v1/entitlements/{license.entitlement_id}", {"seats": 1}, format="json")
    assert response.status_code == 400
    assert "seats" in response.json()["errors"]
    assert Entitlement.objects.get().seats == 2


@pytest.mark.parametrize("value", ["pro\u0000", ["a"], {"tiers": 1}, 1.5, 10**16, "x" * 501])
def test_feature_values_that_are_not_a_flag_number_or_short_text_are_a_400(api, value):
    entitlement = grant_features(EntitlementFactory(), {"export": True})
    grant = entitlement.feature_grants.get()
    response = api.patch(f"/api/v1/entitlement-features/{grant.pk}", {"value": value}, format="json")
    assert response.status_code == 400
    assert "value" in response.json()["errors"]
    entitlement.refresh_from_db()
    assert entitlement.features(timezone.now()) == {"export": True}


def test_an_entitlement_cannot_use_another_customers_transaction(api):
    entitlement = EntitlementFactory()
    stranger_order = LicenseTransactionFactory()
    response = api.patch(
        f"/api/v1/entitlements/{entitlement.pk}", {"transaction": str(stranger_order.pk)}, format="json"
    )
    assert response.status_code == 400
    assert "transaction" in response.json()["errors"]
    entitlement.refresh_from_db()
    assert entitlement.transaction_id != stranger_order.pk


def test_a_license_user_is_created_with_a_hashed_password_never_shown_or_audited(api):
    entitlement = EntitlementFactory(product__authorization_method="user")
    response = api.post(
        "/api/v1/license-users",
        {
            "customer": str(entitlement.customer_id),
            "username": "ann@acme.example",
            "password": "correct horse",
            "entitlements": [str(entitlement.pk)],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert "password" not in response.json()
    assert response.json()["entitlements"] == [str(entitlement.pk)]
    user = LicenseUser.objects.get()
    assert user.check_password("correct horse")
    event = AuditEvent.objects.get(action="license_user.created")
    assert "password" not in event.after


@pytest.mark.parametrize("password", [None, ""])
def test_a_license_user_is_not_created_without_a_password(api, password):
    body = {"customer": str(CustomerFactory().pk), "username": "dee@acme.example"}
    if password is not None:
        body["password"] = password
    response = api.post("/api/v1/license-users", body, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["password"]
    assert not LicenseUser.objects.exists()


def test_updating_a_license_user_without_a_password_keeps_the_one_it_has(api):
    user = LicenseUser.objects.create(customer=CustomerFactory(), username="eve@acme.example")
    user.set_password("correct horse")
    user.save()
    response = api.put(
        f"/api/v1/license-users/{user.pk}",
        {"customer": str(user.customer_id), "username": user.username, "name": "Eve"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    user.refresh_from_db()
    assert (user.name, user.check_password("correct horse")) == ("Eve", True)


def test_changing_a_license_users_entitlements_is_audited_with_both_lists(api):
    first = EntitlementFactory(product__authorization_method="user")
    second = EntitlementFactory(customer=first.customer, product=first.product)
    user = LicenseUser.objects.create(customer=first.customer, username="cy@acme.example")
    user.entitlements.add(first)
    response = api.patch(f"/api/v1/license-users/{user.pk}", {"entitlements": [str(second.pk)]}, format="json")
    assert response.status_code == 200
    assert response.json()["entitlements"] == [str(second.pk)]
    event = AuditEvent.objects.get(action="license_user.updated", target_id=user.pk)
    assert (event.before, event.after) == ({"entitlements": [str(first.pk)]}, {"entitlements": [str(second.pk)]})


@pytest.mark.parametrize(
    ("whose", "method", "problem"),
    [("theirs", "user", "belongs to another customer"), ("mine", "license_key", "activated with keys")],
)
def test_a_license_user_holds_only_its_customers_user_based_entitlements(api, whose, method, problem):
    mine = EntitlementFactory(product__authorization_method=method)
    entitlement = mine if whose == "mine" else EntitlementFactory(product__authorization_method=method)
    response = api.post(
        "/api/v1/license-users",
        {
            "customer": str(mine.customer_id),
            "username": "bob@acme.example",
            "password": "long enough",
            "entitlements": [str(entitlement.pk)],
        },
        format="json",
    )
    assert response.status_code == 400
    assert problem in response.json()["errors"]["entitlements"][0]
    assert not LicenseUser.objects.exists()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/entitlements", {"customer": "not-a-uuid", "product": "x"}, "customer"),
        ("/api/v1/entitlements", {"seats": "many"}, "seats"),
        ("/api/v1/entitlements", {"seats": 0}, "seats"),
        ("/api/v1/entitlements", {"lease_period": 10}, "lease_period"),
        ("/api/v1/entitlements", {"lease_period": 10**20}, "lease_period"),
        ("/api/v1/entitlements", {"valid_from": "soon"}, "valid_from"),
        ("/api/v1/customers", {"name": ""}, "name"),
        ("/api/v1/customers", {"name": "x" * 201}, "name"),
        ("/api/v1/customers", {"name": "Acme", "kind": "robot"}, "kind"),
        ("/api/v1/products", {"code": "has spaces", "name": "x"}, "code"),
        (
            "/api/v1/license-transactions",
            {"customer": "00000000-0000-0000-0000-000000000000", "external_id": "x"},
            "customer",
        ),
    ],
)
def test_invalid_input_is_a_400_naming_the_field_and_creates_nothing(api, path, body, field):
    before = AuditEvent.objects.count()
    response = api.post(path, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"'])
def test_a_body_that_is_not_a_json_object_is_a_400(api, raw):
    response = api.generic("POST", "/api/v1/customers", raw, content_type="application/json")
    assert response.status_code == 400
    assert "code" in response.json()
    assert not Customer.objects.exists()


def test_lists_filter_by_effective_status_customer_product_and_time(api):
    live = EntitlementFactory()
    off = EntitlementFactory()
    off.customer.status = Customer.Status.DISABLED
    off.customer.save()
    assert ids(api, "entitlements?effective_status=disabled") == {str(off.pk)}
    assert ids(api, "entitlements?effective_reason=customer_disabled") == {str(off.pk)}
    assert ids(api, f"entitlements?customer={live.customer_id}") == {str(live.pk)}
    assert ids(api, f"entitlements?product_code={live.product.code}") == {str(live.pk)}
    assert ids(api, f"entitlements?customer_external_id={off.customer.external_id}") == {str(off.pk)}
    later = (timezone.now() + dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert ids(api, f"entitlements?created_after={later}") == set()
    assert ids(api, f"entitlements?created_before={later}") == {str(live.pk), str(off.pk)}


def test_search_finds_names_emails_codes_and_hardware_ids(api):
    acme = CustomerFactory(name="Acme Corp", email="it@acme.example")
    CustomerFactory(name="Globex")
    assert ids(api, "customers?search=acme") == {str(acme.pk)}
    assert ids(api, "customers?search=it@acme") == {str(acme.pk)}
    code = ActivationCodeFactory()
    assert ids(api, f"activation-codes?search={code.code}") == {str(code.pk)}
    assert ids(api, f"activation-codes?search={code.code[:4]}") == set()  # exact only: a secret
    device = DeviceFactory(hardware_id="HW-FIND-ME")
    assert ids(api, "devices?search=find-me") == {str(device.pk)}


@pytest.mark.parametrize(
    "query",
    [
        "entitlements?effective_status=bogus",
        "entitlements?customer=not-a-uuid",
        "customers?status=paused",
        "customers?created_after=yesterday",
        "licenses?product=123",
        "devices?is_vm=maybe",
        "webhook-endpoints?is_active=-1",
        "customers?external_id=a%00b",
        "customers?search=a%00b",
        "products?page_size=ten",
        "products?page_size=0",
    ],
)
def test_an_unknown_filter_value_is_a_400_not_an_empty_page(api, query):
    response = api.get(f"/api/v1/{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_an_empty_filter_is_no_filter_and_an_id_naming_no_row_finds_nothing(api):
    entitlement = EntitlementFactory()
    assert ids(api, "entitlements?customer=&status=&valid_until_after=") == {str(entitlement.pk)}
    assert ids(api, "entitlements?customer=c0ffee00-0000-4000-8000-000000000000") == set()
    assert ids(api, f"entitlements?customer={entitlement.customer_id}") == {str(entitlement.pk)}


def test_booleans_filter_as_true_or_false(api):
    vm, machine = DeviceFactory(is_vm=True), DeviceFactory(is_vm=False)
    assert ids(api, "devices?is_vm=true") == {str(vm.pk)}
    assert ids(api, "devices?is_vm=false") == {str(machine.pk)}
    assert ids(api, "devices?is_vm=") == {str(vm.pk), str(machine.pk)}


def test_ordering_and_page_size(api):
    ProductFactory.create_batch(3)
    names = [p["name"] for p in api.get("/api/v1/products?ordering=-name").json()["results"]]
    assert names == sorted(names, reverse=True)
    assert len(api.get("/api/v1/products?page_size=2").json()["results"]) == 2
    assert api.get("/api/v1/products?page=99").status_code == 404


@pytest.mark.parametrize("size", ["1000", "9" * 5000])
def test_a_page_never_holds_more_than_a_hundred_rows(api, size):
    ProductFactory.create_batch(101)
    page = api.get(f"/api/v1/products?page_size={size}").json()
    assert (page["count"], len(page["results"])) == (101, 100)


def ids(api, query: str) -> set[str]:
    response = api.get(f"/api/v1/{query}")
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def test_a_license_username_differing_only_in_case_from_another_is_refused(api):
    LicenseUserFactory(username="ann@acme.example")
    body = {"customer": str(CustomerFactory().pk), "username": "Ann@ACME.example", "password": "correct horse"}
    response = api.post("/api/v1/license-users", body, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["username"]
    assert LicenseUser.objects.count() == 1


def test_a_license_username_is_stored_in_lower_case(api):
    body = {"customer": str(CustomerFactory().pk), "username": "Bob@Acme.example", "password": "correct horse"}
    assert api.post("/api/v1/license-users", body, format="json").status_code == 201
    assert LicenseUser.objects.get().username == "bob@acme.example"


def test_license_users_are_found_by_username_whatever_its_case(api):
    user = LicenseUserFactory(username="ann@acme.example")
    LicenseUserFactory(username="bob@acme.example")
    response = api.get("/api/v1/license-users", {"username": "Ann@ACME.example"})
    assert [row["id"] for row in response.json()["results"]] == [str(user.pk)]
