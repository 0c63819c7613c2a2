"""Webhook receivers are public addresses only: an endpoint may not point at the server's
own network (loopback, private, link-local, metadata services), neither when it is saved
nor when a delivery resolves its host, and what a delivery keeps of an answer shows
nothing of what lies behind an address. Against a real local receiver."""

import pytest
from django.urls import reverse

from licensing import webhooks
from licensing.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.factories import WebhookEndpointFactory
from tests.licensing.webhooks.receiver import Receiver

pytestmark = pytest.mark.django_db

INTERNAL = [
    "http://127.0.0.1:{port}/hooks",
    "http://localhost:{port}/hooks",
    "http://[::1]:{port}/hooks",
    "http://[::ffff:127.0.0.1]:{port}/hooks",
    "http://10.0.0.1/hooks",
    "https://192.168.1.20/hooks",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/hooks",
    "http://100.64.0.1/hooks",
    "http://0.0.0.0:{port}/",
    "http://224.0.0.1/hooks",
    "http://240.0.0.1/hooks",
]


@pytest.fixture
def as_in_production(settings):
    """Internal receivers refused, as production's settings have it (http aside: the
    address is what is under test here)."""
    settings.LICENSING_WEBHOOK_ALLOW_INTERNAL = False
    settings.LICENSING_WEBHOOK_ALLOW_HTTP = True


@pytest.fixture
def local_receiver():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.mark.parametrize("url", INTERNAL)
def test_an_endpoint_at_an_internal_address_is_refused(api, as_in_production, local_receiver, url):
    response = api.post("/api/v1/webhook-endpoints", {"url": url.format(port=local_receiver.port)}, format="json")
    assert response.status_code == 400, response.json()
    assert "internal address" in response.json()["errors"]["url"][0]
    assert not WebhookEndpoint.objects.exists()


def test_an_endpoint_cannot_be_moved_to_an_internal_address(api, as_in_production):
    endpoint = WebhookEndpointFactory(url="https://hooks.example.com/")
    response = api.patch(f"/api/v1/webhook-endpoints/{endpoint.pk}", {"url": "http://10.1.2.3/"}, format="json")
    assert response.status_code == 400
    assert "internal address" in response.json()["errors"]["url"][0]
    assert WebhookEndpoint.objects.get().url == "https://hooks.example.com/"


def test_http_is_refused_unless_a_setting_allows_it(api, settings):
    settings.LICENSING_WEBHOOK_ALLOW_HTTP = False
    response = api.post("/api/v1/webhook-endpoints", {"url": "http://hooks.example.com/"}, format="json")
    assert response.status_code == 400
    assert "https://" in response.json()["errors"]["url"][0]
    settings.LICENSING_WEBHOOK_ALLOW_HTTP = True
    assert api.post("/api/v1/webhook-endpoints", {"url": "http://hooks.example.com/"}, format="json").status_code == 201


def test_the_admin_refuses_an_internal_address_beside_the_field(client, superuser, as_in_production):
    client.force_login(superuser)
    response = client.post(reverse("admin:licensing_webhookendpoint_add"), {"url": "http://169.254.169.254/"})
    assert response.status_code == 200
    assert "internal address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_a_host_that_resolves_to_an_internal_address_when_delivering_is_not_contacted(
    api, read_only_api, as_in_production, local_receiver
):
    """DNS rebinding: the name resolved elsewhere when the endpoint was saved (here it is
    made directly), and resolves to the server's own network when an event goes out."""
    endpoint = WebhookEndpointFactory(url=f"http://localhost:{local_receiver.port}/hooks")

    assert api.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/test").status_code == 202
    delivery = WebhookDelivery.objects.get()
    assert webhooks.attempt(delivery.pk) is None  # not retried

    assert local_receiver.received == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.tries) == (WebhookDelivery.Status.FAILED, 1)
    (attempt,) = read_only_api.get(f"/api/v1/webhook-deliveries/{delivery.pk}").json()["attempts"]
    assert attempt["status_code"] is None and attempt["response_excerpt"] == ""
    assert attempt["error"] == "Not sent: the endpoint's host resolves to an internal address."


def test_an_internal_services_answer_is_never_read_back(api, read_only_api, as_in_production, local_receiver):
    """The attack as it was: an endpoint at an internal service, a test event on demand,
    and the service's answer read back through the deliveries."""
    local_receiver.body = lambda status: b"redis_version:7.0.15\r\nrole:master"
    endpoint = WebhookEndpointFactory(url=local_receiver.url)

    api.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/test")
    webhooks.attempt(WebhookDelivery.objects.get().pk)

    assert local_receiver.received == []
    listed = read_only_api.get("/api/v1/webhook-deliveries").json()["results"]
    assert "redis_version" not in str(listed)


def test_errors_say_what_failed_in_our_own_words(api):
    endpoint = WebhookEndpointFactory(url="http://127.0.0.1:9/hooks")  # nothing listens: connection refused
    api.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/test")
    webhooks.attempt(WebhookDelivery.objects.get().pk)
    error = WebhookAttempt.objects.get().error
    assert error == "Could not connect to the receiver."


@pytest.mark.parametrize(
    ("content_type", "body", "kept"),
    [
        ("text/plain", b"x" * 5000, "x" * 256),
        ("application/json; charset=utf-8", b'{"ok": true}', '{"ok": true}'),
        ("application/octet-stream", b"\x00\x01secret", "(application/octet-stream: not kept)"),
        ("image/png", b"\x89PNG", "(image/png: not kept)"),
    ],
)
def test_an_attempt_keeps_only_the_start_of_a_text_answer(api, local_receiver, content_type, body, kept):
    local_receiver.content_type = content_type
    local_receiver.body = lambda status: body
    endpoint = WebhookEndpointFactory(url=local_receiver.url)
    api.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/test")
    webhooks.attempt(WebhookDelivery.objects.get().pk)
    assert WebhookAttempt.objects.get().response_excerpt == kept
