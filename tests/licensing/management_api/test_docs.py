"""The management API describes itself: an OpenAPI 3 schema and browsable docs that
load from this server alone (no CDN: a self-hosted server may have no internet)."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_schema_covers_the_management_api_with_bearer_tokens():
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
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


def test_the_docs_page_loads_its_assets_from_this_server():
    page = Client().get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()
