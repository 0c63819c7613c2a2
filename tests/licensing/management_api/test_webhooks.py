"""Webhook endpoints and deliveries through the management API."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from standardwebhooks.webhooks import Webhook

from licensing import services, webhooks
from licensing.models import AuditEvent, WebhookDelivery, WebhookEndpoint
from tests.factories import CustomerFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db


def test_creating_an_endpoint_answers_its_secret_once(api):
    response = api.post(
        "/api/v1/webhook-endpoints",
        {"url": "https://billing.example.com/hooks", "event_types": ["customer.disabled"], "description": "billing"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    endpoint = WebhookEndpoint.objects.get()
    assert response.json()["secret"] == endpoint.secret and endpoint.secret.startswith("whsec_")
    assert response.json()["event_types"] == ["customer.disabled"]
    assert api.get(f"/api/v1/webhook-endpoints/{endpoint.pk}").json()["secret"] is None
    assert AuditEvent.objects.filter(action="webhook_endpoint.created", actor_label="billing").exists()


@pytest.mark.parametrize(
    "body",
    [
        {"url": "not a url"},
        {"url": "https://x.example.com/", "event_types": ["customer.exploded"]},
        {"url": "https://x.example.com/", "event_types": "customer.disabled"},
        {"url": "https://x.example.com/" + "a" * 3000},
        {},
    ],
)
def test_bad_endpoints_are_refused_and_nothing_is_made(api, body):
    response = api.post("/api/v1/webhook-endpoints", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert not WebhookEndpoint.objects.exists()


def test_rotating_answers_a_new_secret_and_editing_keeps_it(api):
    endpoint = WebhookEndpointFactory()
    old = endpoint.secret
    rotated = api.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/rotate-secret").json()
    endpoint.refresh_from_db()
    assert rotated["secret"] == endpoint.secret != old
    assert api.patch(f"/api/v1/webhook-endpoints/{endpoint.pk}", {"is_active": False}, format="json").status_code == 200
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.secret == rotated["secret"]


def test_a_read_only_token_cannot_touch_endpoints(read_only_api):
    endpoint = WebhookEndpointFactory()
    assert read_only_api.get("/api/v1/webhook-endpoints").status_code == 200
    response = read_only_api.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/rotate-secret")
    assert response.status_code == 403 and response.json()["code"] == "read_only_token"


def test_send_test_and_list_deliveries_with_their_attempts(api, receiver):
    endpoint = WebhookEndpointFactory(url=receiver.url)
    answer = api.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/test")
    assert answer.status_code == 202 and answer.json()["event_type"] == "webhook.test"
    webhooks.attempt(answer.json()["id"])

    listed = api.get("/api/v1/webhook-deliveries", {"endpoint": str(endpoint.pk), "status": "succeeded"}).json()
    (delivery,) = listed["results"]
    assert delivery["event_id"] == receiver.received[0].headers["webhook-id"]
    assert [a["status_code"] for a in delivery["attempts"]] == [200]
    assert Webhook(endpoint.secret).verify(receiver.received[0].body, receiver.received[0].headers)


def test_redeliver_sends_a_failed_delivery_again(api, receiver, actor):
    receiver.answer = lambda n: 400 if n == 0 else 200
    WebhookEndpointFactory(url=receiver.url)
    services.customer_disable(customer=CustomerFactory(), actor=actor, reason="")
    delivery = WebhookDelivery.objects.get()
    webhooks.attempt(delivery.pk)
    assert api.get("/api/v1/webhook-deliveries", {"status": "failed"}).json()["count"] == 1

    response = api.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver")

    assert response.status_code == 202 and response.json()["status"] == "pending"
    webhooks.attempt(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED


@pytest.mark.parametrize("query", [{"status": "lost"}, {"event_type": "nope"}, {"endpoint": "not-a-uuid"}])
def test_unknown_delivery_filters_are_400(api, query):
    response = api.get("/api/v1/webhook-deliveries", query)
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_unknown_or_malformed_ids_are_404(api):
    for path in ("webhook-deliveries/nope/redeliver", "webhook-endpoints/0d1b7a4e-0000-4000-8000-000000000000/test"):
        response = api.post(f"/api/v1/{path}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_delivery_list_takes_the_same_queries_for_2_or_20_rows(api, actor):
    WebhookEndpointFactory()
    api.get("/api/v1/webhook-deliveries")  # the token's last use is stamped once a minute
    counts = []
    for rows in (2, 18):
        for customer in CustomerFactory.create_batch(rows):
            services.customer_disable(customer=customer, actor=actor, reason="")
        with CaptureQueriesContext(connection) as captured:
            assert api.get("/api/v1/webhook-deliveries").status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]
