import pytest
import yaml

pytestmark = pytest.mark.django_db

CLIENT_ENDPOINTS = {
    "/api/v4/activate_license": "post",
    "/api/v4/check_license": "get",
    "/api/v4/deactivate_license": "post",
    "/api/v4/activate_offline": "post",
    "/api/v4/deactivate_offline": "post",
    "/api/v4/public_key": "get",
    "/api/v4/floating/release": "post",
    "/api/v4/floating/borrow": "post",
    "/api/v4/check_license_feature": "get",
    "/api/v4/add_consumption": "post",
    "/api/v4/add_feature_consumption": "post",
    "/api/v4/trial_key": "get",
}


def test_every_client_endpoint_is_in_the_openapi_schema(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    for path, method in CLIENT_ENDPOINTS.items():
        assert method in schema["paths"][path], path
    check = schema["paths"]["/api/v4/check_license"]["get"]
    parameters = {p["name"] for p in check["parameters"]}
    assert {"product", "hardware_id", "license_key", "username", "nonce", "Date", "Authorization"} <= parameters
    assert not [path for path in schema["paths"] if path.startswith("/api/v4/") and path not in CLIENT_ENDPOINTS]


CLIENT_TAGS = {
    "/api/v4/activate_license": "Client: licenses",
    "/api/v4/check_license": "Client: licenses",
    "/api/v4/deactivate_license": "Client: licenses",
    "/api/v4/public_key": "Client: licenses",
    "/api/v4/floating/release": "Client: floating",
    "/api/v4/floating/borrow": "Client: floating",
    "/api/v4/check_license_feature": "Client: features and consumption",
    "/api/v4/add_consumption": "Client: features and consumption",
    "/api/v4/add_feature_consumption": "Client: features and consumption",
    "/api/v4/activate_offline": "Client: offline",
    "/api/v4/deactivate_offline": "Client: offline",
    "/api/v4/trial_key": "Client: trials",
}


def test_every_client_endpoint_is_grouped_and_described(client):
    schema = client.get("/api/schema/?format=json").json()
    described = {tag["name"] for tag in schema["tags"] if tag.get("description")}
    assert CLIENT_TAGS.keys() == CLIENT_ENDPOINTS.keys()
    for path, method in CLIENT_ENDPOINTS.items():
        operation = schema["paths"][path][method]
        assert operation["tags"] == [CLIENT_TAGS[path]], path
        assert CLIENT_TAGS[path] in described
        assert operation.get("description"), f"{path} says nothing of what it does"
