"""Whatever arrives at /api/, the answer is JSON in the documented error shape: bodies
nested too deeply, too large or with too many fields, an unknown host, a bug. Never
Django's HTML pages."""

import json

import pytest
from django.test import Client

from licensing.models import Customer

pytestmark = pytest.mark.django_db


def assert_json_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    body = response.json()
    assert (body["status"], body["code"]) == (status, code), body
    assert isinstance(body["message"], str) and body["message"]


def test_a_body_nested_thousands_of_levels_deep_is_a_parse_error(api):
    nested = "[" * 2000 + "]" * 2000
    response = api.post("/api/v1/customers", nested, content_type="application/json")
    assert_json_error(response, 400, "parse_error")
    assert not Customer.objects.exists()


def test_a_body_larger_than_the_server_reads_is_refused(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    huge = json.dumps({"name": "x" * 5000})
    assert_json_error(api.post("/api/v1/customers", huge, content_type="application/json"), 400, "bad_request")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", "&".join(f"f{n}=1" for n in range(1500))),  # too many fields, too
        ("multipart/form-data; boundary=x", '--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nA\r\n--x--'),
        ("text/plain", "name=A"),
    ],
)
def test_bodies_are_json_only(api, content_type, body):
    assert_json_error(api.post("/api/v1/customers", body, content_type=content_type), 415, "unsupported_media_type")
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 5}, "name"),
        ({"name": "A", "external_id": 42}, "external_id"),
        ({"name": "A", "kind": 1}, "kind"),
    ],
)
def test_a_value_of_another_json_type_is_refused_not_read_as_text(api, body, field):
    response = api.post("/api/v1/customers", body, format="json")
    assert_json_error(response, 400, "invalid")
    assert field in response.json()["errors"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/products", {"code": "p", "name": "P", "seats": 5}, "seats"),  # a field of another resource
        ("/api/v1/customers", {"name": "A", "id": "c0ffee00-0000-4000-8000-000000000000"}, "id"),  # read-only
    ],
)
def test_a_field_the_request_does_not_take_is_refused_not_ignored(api, path, body, field):
    response = api.post(path, body, format="json")
    assert_json_error(response, 400, "invalid")
    assert response.json()["errors"] == {field: ["Not a field of this request."]}


def test_a_typo_in_an_update_changes_nothing(api):
    from tests.factories import EntitlementFactory

    entitlement = EntitlementFactory(seats=3)
    response = api.patch(f"/api/v1/entitlements/{entitlement.pk}", {"seat": 10}, format="json")
    assert_json_error(response, 400, "invalid")
    entitlement.refresh_from_db()
    assert entitlement.seats == 3


def test_a_body_of_thousands_of_unknown_fields_is_not_echoed_back(api):
    body = {f"field-{n}-" + "x" * 200: 1 for n in range(2000)}
    response = api.post("/api/v1/customers", {"name": "A", **body}, format="json")
    assert_json_error(response, 400, "invalid")
    errors = response.json()["errors"]
    assert len(errors) == 10 and all(len(name) <= 100 for name in errors)


@pytest.mark.parametrize("features", [[], "export", 5, None])
def test_features_are_a_json_object(api, features):
    from tests.factories import CustomerFactory, ProductFactory

    customer, product = CustomerFactory(), ProductFactory()
    body = {"customer": str(customer.pk), "product": str(product.pk), "features": features}
    response = api.post("/api/v1/entitlements", body, format="json")
    assert_json_error(response, 400, "invalid")
    assert "features" in response.json()["errors"]


@pytest.mark.parametrize(
    "features",
    [
        json.loads('{"a":' * 306 + "1" + "}" * 306),  # deeper than features go, not past the parser
        {"name": "\ud800"},  # an unpaired surrogate half, which PostgreSQL's jsonb refuses
        {"\udfff": True},
        {"name": "a\u0000b"},
    ],
)
def test_features_the_database_cannot_store_are_refused_by_name(api, features):
    from tests.factories import CustomerFactory, ProductFactory

    body = {"customer": str(CustomerFactory().pk), "product": str(ProductFactory().pk), "features": features}
    # As a client sends it: JSON escapes a lone surrogate (\ud800), which the parser reads back.
    response = api.post("/api/v1/entitlements", json.dumps(body), content_type="application/json")
    assert_json_error(response, 400, "invalid")
    assert list(response.json()["errors"]) == ["features"]


def test_a_list_far_longer_than_a_field_takes_is_refused_at_once_in_one_message(api):
    body = {"url": "https://hooks.example.com/in", "event_types": [0] * 100_000}
    response = api.post("/api/v1/webhook-endpoints", body, format="json")
    assert_json_error(response, 400, "invalid")
    assert len(response.json()["errors"]["event_types"]) == 1


def test_errors_of_many_items_are_summed_up_not_each_echoed(api):
    body = {"url": "https://hooks.example.com/in", "event_types": [f"no.such.event.{n}" for n in range(25)]}
    response = api.post("/api/v1/webhook-endpoints", body, format="json")
    assert_json_error(response, 400, "invalid")
    messages = response.json()["errors"]["event_types"]
    assert len(messages) == 21 and messages[-1] == "More errors like these were left out."


@pytest.mark.parametrize(("query", "accept"), [("", "text/html"), ("?format=api", "*/*"), ("", "application/xml")])
def test_answers_are_json_whatever_the_client_asks_for(api, query, accept):
    listed = api.get(f"/api/v1/customers{query}", HTTP_ACCEPT=accept)
    assert (listed.status_code, listed["Content-Type"]) == (200, "application/json")
    refused = api.post("/api/v1/customers", {"name": 5}, format="json", HTTP_ACCEPT=accept)
    assert_json_error(refused, 400, "invalid")
    anonymous = Client().get("/api/v1/customers", HTTP_ACCEPT=accept)
    assert_json_error(anonymous, 401, "not_authenticated")


def test_a_list_of_links_must_be_a_list(api):
    from tests.factories import LicenseUserFactory

    user = LicenseUserFactory()
    response = api.patch(f"/api/v1/license-users/{user.pk}", {"entitlements": {}}, format="json")
    assert_json_error(response, 400, "invalid")


def test_a_list_of_more_links_than_a_request_may_name_is_refused_as_such(api):
    import uuid

    from tests.factories import LicenseUserFactory

    user = LicenseUserFactory()
    ids = [str(uuid.uuid4()) for _ in range(1001)]  # each would cost a query to find
    response = api.patch(f"/api/v1/license-users/{user.pk}", {"entitlements": ids}, format="json")
    assert_json_error(response, 400, "invalid")
    assert response.json()["errors"]["entitlements"] == ["At most 1000 ids."]


@pytest.mark.parametrize("path", ["/api/v1/customers", "/api/v1/nothing-here"])
def test_a_host_the_server_does_not_serve_is_refused_in_the_apis_shape(db, path):
    response = Client(HTTP_HOST="evil.example").get(path)
    assert_json_error(response, 400, "bad_request")


def test_a_bug_in_a_management_view_is_a_json_500(api, monkeypatch):
    from licensing.api.management import views

    def broken(self):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views.CustomerViewSet, "get_queryset", broken)
    response = Client(raise_request_exception=False).get(
        "/api/v1/customers", HTTP_AUTHORIZATION=api._credentials["HTTP_AUTHORIZATION"]
    )
    assert_json_error(response, 500, "server_error")


def test_pages_outside_the_apis_keep_djangos_own_error_pages(db):
    response = Client().get("/portal/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
