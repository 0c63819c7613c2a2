"""The management API describes itself: an OpenAPI 3 schema and browsable docs that
load from this server alone (no CDN: a self-hosted server may have no internet)."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

ERROR = {"$ref": "#/components/schemas/ManagementError"}


@pytest.fixture
def schema() -> dict:
    return Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def operation(schema: dict, method: str, path: str) -> dict:
    """The operation at `path` (as docs/management-api.md writes it: no trailing slash)."""
    (found,) = [operations for p, operations in schema["paths"].items() if p.rstrip("/") == path]
    return found[method]


def error_statuses(answer: dict) -> set[str]:
    """The statuses answered with the management API's one error shape."""
    return {
        status
        for status, response in answer["responses"].items()
        if response.get("content", {}).get("application/json", {}).get("schema") == ERROR
    }


def test_the_schema_covers_the_management_api_with_bearer_tokens(schema):
    paths = schema["paths"]
    for path in [
        "/api/v1/customers",
        "/api/v1/customers/{id}/disable",
        "/api/v1/activation-codes/{id}/revoke",
        "/api/v1/licenses/{id}",
        "/api/v1/organizations/{customer_id}/license-transactions/{external_id}/suspend-licenses",
        "/api/v1/users/{customer_id}/license-transactions/{external_id}/resume-licenses",
    ]:
        assert any(p.rstrip("/") == path for p in paths), path
    assert schema["components"]["securitySchemes"]["bearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from the admin or `create_api_token`.",
    }


@pytest.mark.parametrize(
    ("method", "path", "tag"),
    [
        ("get", "/api/v1/customers", "Customers"),
        ("post", "/api/v1/entitlements/{id}/renew", "Entitlements"),
        ("get", "/api/v1/entitlements/{id}/usage", "Entitlements"),
        (
            "put",
            "/api/v1/users/{customer_id}/license-transactions/{external_id}/resume-licenses",
            "License transactions",
        ),
        ("patch", "/api/v1/entitlement-features/{id}", "Features"),
        ("post", "/api/v1/webhook-deliveries/{id}/redeliver", "Webhooks"),
        ("get", "/api/v1/audit-events", "Audit"),
    ],
)
def test_operations_are_grouped_by_the_resource_they_are_about(schema, method, path, tag):
    assert operation(schema, method, path)["tags"] == [tag]


def test_the_docs_page_loads_its_assets_from_this_server():
    page = Client().get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()


def test_the_error_shape_is_one_component_with_errors_only_for_invalid_input(schema):
    error = schema["components"]["schemas"]["ManagementError"]
    assert set(error["properties"]) == {"status", "code", "message", "errors"}
    assert sorted(error["required"]) == ["code", "message", "status"]
    assert error["properties"]["errors"]["additionalProperties"] == {"type": "array", "items": {"type": "string"}}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/customers/{id}/disable"),
        ("patch", "/api/v1/entitlements/{id}/enable"),
        ("post", "/api/v1/activation-codes/{id}/revoke"),
        ("patch", "/api/v1/licenses/{id}"),
        ("post", "/api/v1/licenses/{id}/deactivate"),
        ("put", "/api/v1/organizations/{customer_id}/license-transactions/{external_id}/suspend-licenses"),
    ],
)
def test_a_switch_documents_every_error_it_can_answer_in_the_one_shape(schema, method, path):
    answer = operation(schema, method, path)
    assert error_statuses(answer) == {"400", "401", "403", "404", "409", "415", "429"}
    assert answer["responses"]["401"]["headers"]["WWW-Authenticate"]["required"] is True
    assert "Retry-After" in answer["responses"]["429"]["headers"]


@pytest.mark.parametrize(
    ("method", "path", "errors"),
    [
        ("get", "/api/v1/customers", {"400", "401", "404", "429"}),  # bad filter, page past the last
        ("get", "/api/v1/customers/{id}", {"401", "404", "429"}),
        ("get", "/api/v1/audit-events/{id}", {"401", "404", "429"}),
        ("post", "/api/v1/products", {"400", "401", "403", "415", "429"}),
        ("put", "/api/v1/products/{id}", {"400", "401", "403", "404", "415", "429"}),
        ("patch", "/api/v1/license-users/{id}", {"400", "401", "403", "404", "415", "429"}),
        # Fewer seats than licenses hold, or another product: refused as invalid input.
        ("put", "/api/v1/entitlements/{id}", {"400", "401", "403", "404", "415", "429"}),
    ],
)
def test_other_operations_document_only_the_errors_they_can_answer(schema, method, path, errors):
    assert error_statuses(operation(schema, method, path)) == errors


def test_the_client_api_is_not_described_with_the_management_errors(schema):
    client_operations = [
        answer
        for path, operations in schema["paths"].items()
        if path.startswith("/api/v4/")
        for answer in operations.values()
    ]
    assert client_operations
    assert all(error_statuses(answer) == set() for answer in client_operations)


def test_creating_a_license_user_requires_a_password_and_updating_does_not(schema):
    components = schema["components"]["schemas"]
    create = operation(schema, "post", "/api/v1/license-users")
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LicenseUserCreateInput"
    }
    assert "password" in components["LicenseUserCreateInput"]["required"]
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LicenseUser"
    }
    update = operation(schema, "put", "/api/v1/license-users/{id}")
    update_body = update["requestBody"]["content"]["application/json"]["schema"]
    assert update_body == {"$ref": "#/components/schemas/LicenseUserInput"}
    assert "password" not in components["LicenseUserInput"]["required"]
    # Answers never carry a password.
    assert "password" not in components["LicenseUser"]["properties"]


@pytest.mark.parametrize("resource", ["Customer", "Entitlement", "ActivationCode", "License", "WebhookEndpoint"])
def test_answers_are_representations_and_requests_take_only_what_may_be_written(schema, resource):
    components = schema["components"]["schemas"]
    answer = components[resource]["properties"]
    assert all(field.get("readOnly") for name, field in answer.items() if "$ref" not in field and "allOf" not in field)
    request = components.get(f"{resource}Input", {}).get("properties", {})
    assert not {"id", "status", "effective_status", "created_at", "updated_at"} & set(request)


@pytest.mark.parametrize(
    ("component", "read_only"),
    [("DeviceInput", False), ("PatchedDeviceInput", False), ("Device", True), ("AuditEvent", True)],
)
def test_an_ip_address_is_documented_as_one_of_either_family(schema, component, read_only):
    ip = schema["components"]["schemas"][component]["properties"]["ip"]
    assert ip["type"] == "string"
    assert ip["anyOf"] == [{"type": "string", "format": "ipv4"}, {"type": "string", "format": "ipv6"}]
    assert ip["nullable"] is True
    assert ip.get("readOnly", False) is read_only
