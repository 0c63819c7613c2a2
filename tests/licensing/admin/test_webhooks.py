"""Webhooks in the admin: endpoints with a secret shown once, test events, rotation,
deliveries with their attempts, and redelivery, each through its service."""

import re

import pytest
from django.urls import reverse
from standardwebhooks.webhooks import Webhook

from licensing import services, webhooks
from licensing.models import AuditEvent, WebhookDelivery, WebhookEndpoint
from tests.factories import CustomerFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db


def shown_secret(response) -> str:
    return re.search(r'<code class="secret">(whsec_\S+)</code>', response.content.decode()).group(1)


def test_creating_an_endpoint_shows_its_secret_once(client, superuser):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:licensing_webhookendpoint_add"),
        {"url": "https://billing.example.com/hooks", "description": "billing", "event_types": ["customer.disabled"],
         "is_active": "on"},
    )  # fmt: skip
    endpoint = WebhookEndpoint.objects.get()
    assert shown_secret(response) == endpoint.secret
    assert "no-store" in response["Cache-Control"]
    assert endpoint.event_types == ["customer.disabled"]
    assert AuditEvent.objects.filter(action="webhook_endpoint.created", target_id=endpoint.pk).exists()
    change_page = client.get(reverse("admin:licensing_webhookendpoint_change", args=[endpoint.pk]))
    assert endpoint.secret not in change_page.content.decode()


def test_an_unknown_event_type_is_refused_by_the_form(client, superuser):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:licensing_webhookendpoint_add"), {"url": "https://x.example.com/", "event_types": ["nope"]}
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_send_test_event_delivers_a_signed_test_event(client, superuser, receiver):
    endpoint = WebhookEndpointFactory(url=receiver.url)
    client.force_login(superuser)
    button = reverse("admin:licensing_webhookendpoint_action", args=[endpoint.pk, "send-test"])
    change_page = client.get(reverse("admin:licensing_webhookendpoint_change", args=[endpoint.pk])).content.decode()
    assert button in change_page and "Send test event" in change_page
    assert "Send test event" in client.get(button).content.decode()  # asks first

    response = client.post(button, follow=True)

    assert "Test event queued" in response.content.decode()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    webhooks.attempt(delivery.pk)
    (received,) = receiver.received
    assert Webhook(endpoint.secret).verify(received.body, received.headers)["type"] == "webhook.test"


def test_rotating_shows_a_new_secret(client, superuser):
    endpoint = WebhookEndpointFactory()
    old = endpoint.secret
    client.force_login(superuser)
    response = client.post(reverse("admin:licensing_webhookendpoint_action", args=[endpoint.pk, "rotate-secret"]))
    endpoint.refresh_from_db()
    assert shown_secret(response) == endpoint.secret != old
    assert len(endpoint.signing_secrets()) == 2


def test_support_staff_cannot_rotate_or_send(client, support_user):
    endpoint = WebhookEndpointFactory()
    client.force_login(support_user)
    for button in ("rotate-secret", "send-test"):
        assert (
            client.post(reverse("admin:licensing_webhookendpoint_action", args=[endpoint.pk, button])).status_code
            == 403
        )
    assert WebhookDelivery.objects.count() == 0


def test_deliveries_list_filters_by_status_and_shows_attempts(client, superuser, receiver, actor):
    receiver.answer = lambda n: 500
    endpoint = WebhookEndpointFactory(url=receiver.url)
    services.customer_disable(customer=CustomerFactory(), actor=actor, reason="")
    delivery = WebhookDelivery.objects.get()
    webhooks.attempt(delivery.pk)
    client.force_login(superuser)

    changelist = reverse("admin:licensing_webhookdelivery_changelist")
    pending = client.get(changelist, {"status__exact": "pending", "endpoint__id__exact": str(endpoint.pk)})
    assert list(pending.context["cl"].result_list) == [delivery]
    assert not client.get(changelist, {"status__exact": "succeeded"}).context["cl"].result_list
    page = client.get(reverse("admin:licensing_webhookdelivery_change", args=[delivery.pk])).content.decode()
    assert "answered 500" in page and delivery.event.message_id in page


def test_redeliver_action_queues_failed_deliveries_again(client, superuser, receiver, actor):
    receiver.answer = lambda n: 404 if n == 0 else 200
    WebhookEndpointFactory(url=receiver.url)
    services.customer_disable(customer=CustomerFactory(), actor=actor, reason="")
    delivery = WebhookDelivery.objects.get()
    webhooks.attempt(delivery.pk)
    client.force_login(superuser)

    response = client.post(
        reverse("admin:licensing_webhookdelivery_changelist"),
        {"action": "redeliver_selected", "_selected_action": [str(delivery.pk)], "confirm": "yes"},
        follow=True,
    )

    assert "Queued 1 for redelivery." in response.content.decode()
    webhooks.attempt(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert AuditEvent.objects.filter(action="webhook_delivery.redelivered", actor_label=superuser.username).exists()


def test_deliveries_list_takes_the_same_queries_for_3_or_30_rows(
    client, superuser, actor, django_assert_max_num_queries
):
    WebhookEndpointFactory()
    client.force_login(superuser)
    changelist = reverse("admin:licensing_webhookdelivery_changelist")

    def queries_for(rows: int) -> int:
        for customer in CustomerFactory.create_batch(rows):
            services.customer_disable(customer=customer, actor=actor, reason="")
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert client.get(changelist).status_code == 200
        return len(captured)

    assert queries_for(3) == queries_for(27)
