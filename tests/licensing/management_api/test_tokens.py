"""Bearer tokens: shown once, stored hashed, read-only or read-write, revocable."""

import pytest
from django.core.management import call_command

from licensing import services
from licensing.actors import Actor
from licensing.models import ApiToken, AuditEvent, Customer
from tests.factories import CustomerFactory

from .conftest import client_with

pytestmark = pytest.mark.django_db


def test_a_token_is_stored_only_as_a_hash(token):
    stored = ApiToken.objects.get()
    assert token not in (stored.token_hash, stored.hint, stored.name)
    assert token.startswith(stored.hint)


def test_requests_without_a_token_or_with_an_unknown_one_get_401(db):
    for client in (client_with(None), client_with("lsm_not-a-real-token")):
        response = client.get("/api/v1/customers")
        assert response.status_code == 401
        assert response.json()["status"] == 401
        assert response.json()["code"] in {"not_authenticated", "authentication_failed"}
        assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer a b", "Bearer " + "x" * 500, "Basic dXNlcjpwYXNz", "Bearer \u00e9t\u00e9"]
)
def test_a_malformed_authorization_header_gets_401_not_500(db, header):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/customers")
    assert response.status_code == 401
    assert "code" in response.json()


def test_a_revoked_token_gets_401_from_its_next_request(api):
    assert api.get("/api/v1/customers").status_code == 200
    services.api_token_revoke(token=ApiToken.objects.get(), actor=Actor.system("test"))
    response = api.get("/api/v1/customers")
    assert response.status_code == 401
    assert response.json()["message"] == "Unknown or revoked token."


def test_a_read_only_token_reads_everything_and_changes_nothing(read_only_api):
    customer = CustomerFactory()
    assert read_only_api.get("/api/v1/customers").status_code == 200
    assert read_only_api.get(f"/api/v1/customers/{customer.pk}").status_code == 200
    for method, path, body in [
        ("post", f"/api/v1/customers/{customer.pk}/disable", {"reason": "unpaid"}),
        ("patch", f"/api/v1/customers/{customer.pk}", {"name": "Renamed"}),
        ("post", "/api/v1/customers", {"name": "New"}),
    ]:
        response = getattr(read_only_api, method)(path, body, format="json")
        assert response.status_code == 403
        assert response.json()["code"] == "read_only_token"
        assert "read-only" in response.json()["message"]
    customer.refresh_from_db()
    assert (customer.name, customer.status) != ("Renamed", Customer.Status.DISABLED)
    assert Customer.objects.count() == 1


def test_a_token_records_when_it_was_last_used(api):
    assert ApiToken.objects.get().last_used_at is None
    api.get("/api/v1/products")
    assert ApiToken.objects.get().last_used_at is not None


def test_create_api_token_prints_the_token_once_and_it_works(capsys):
    call_command("create_api_token", "--name", "crm", "--read-only")
    out, err = capsys.readouterr()
    raw = out.strip()
    assert "not shown again" in err
    token = ApiToken.objects.get(name="crm")
    assert token.read_only
    assert client_with(raw).get("/api/v1/customers").status_code == 200
    assert client_with(raw).post("/api/v1/customers", {"name": "x"}, format="json").status_code == 403


def test_creating_and_revoking_a_token_is_audited(api):
    token = ApiToken.objects.get()
    services.api_token_revoke(token=token, actor=Actor.system("test"))
    assert ApiToken.objects.get().is_revoked  # the row stays, revoked
    assert set(AuditEvent.objects.filter(target_id=token.pk).values_list("action", flat=True)) == {
        "api_token.created",
        "api_token.revoked",
    }
