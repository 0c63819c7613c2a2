"""The outbox and one delivery attempt, in process, against a real local receiver."""

import datetime as dt
import json

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from licensing import services, webhooks
from licensing.models import AuditEvent, WebhookAttempt, WebhookDelivery, WebhookEvent
from tests.factories import CustomerFactory, EntitlementFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db


def test_a_switch_writes_one_event_and_a_delivery_per_subscribed_active_endpoint(actor):
    everything = WebhookEndpointFactory()
    customers_only = WebhookEndpointFactory(event_types=["customer.disabled"])
    WebhookEndpointFactory(event_types=["license.revoked"])
    WebhookEndpointFactory(is_active=False)
    customer = CustomerFactory()

    services.customer_disable(customer=customer, actor=actor, reason="invoice overdue")

    event = WebhookEvent.objects.get()
    assert event.type == "customer.disabled"
    assert {d.endpoint for d in event.deliveries.all()} == {everything, customers_only}
    body = json.loads(event.payload)
    assert body["id"] == event.message_id and body["type"] == "customer.disabled"
    assert body["created"].endswith("Z")
    # The customer as the management API shows it, effective status included.
    assert body["data"]["id"] == str(customer.pk)
    assert body["data"]["status"] == "disabled"
    assert body["data"]["effective_status"] == "disabled"
    assert body["data"]["effective_reason"] == "customer_disabled"
    assert body["data"]["status_reason"] == "invoice overdue"


def test_a_change_that_rolls_back_emits_nothing(actor):
    WebhookEndpointFactory()
    customer = CustomerFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.customer_disable(customer=customer, actor=actor, reason="")
        raise RuntimeError("the caller's transaction fails after the switch")
    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()


def test_without_endpoints_nothing_is_written(actor):
    services.customer_disable(customer=CustomerFactory(), actor=actor, reason="")
    assert not WebhookEvent.objects.exists()


def test_created_entitlements_and_edits_are_events(actor):
    WebhookEndpointFactory()
    entitlement = EntitlementFactory.build(customer=CustomerFactory(), product=EntitlementFactory().product)
    entitlement.transaction = None
    services.entitlement_create(entitlement=entitlement, actor=actor)
    assert WebhookEvent.objects.filter(type="entitlement.created").count() == 1
    # The audit action names the resource as the webhook event does.
    assert AuditEvent.objects.filter(action="entitlement.created", target_id=entitlement.pk).exists()


def test_a_delivery_is_signed_per_standard_webhooks_and_a_tampered_body_fails(actor, receiver):
    endpoint = WebhookEndpointFactory(url=receiver.url)
    services.customer_disable(customer=CustomerFactory(), actor=actor, reason="")
    delivery = WebhookDelivery.objects.get()

    assert webhooks.attempt(delivery.pk) is None

    (received,) = receiver.received
    verified = Webhook(endpoint.secret).verify(received.body, received.headers)
    assert verified["type"] == "customer.disabled"
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(received.body.replace(b"disabled", b"enabled!"), received.headers)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED and delivery.tries == 1
    attempt = delivery.attempts.get()
    assert attempt.succeeded and attempt.status_code == 200 and attempt.response_excerpt == "answered 200"


@pytest.mark.parametrize(
    ("answer", "status", "retried"),
    [
        (503, WebhookDelivery.Status.PENDING, True),
        (500, WebhookDelivery.Status.PENDING, True),
        (429, WebhookDelivery.Status.PENDING, True),
        (404, WebhookDelivery.Status.FAILED, False),
        (400, WebhookDelivery.Status.FAILED, False),
        (302, WebhookDelivery.Status.FAILED, False),
    ],
)
def test_5xx_and_429_are_retried_other_answers_fail_for_good(actor, receiver, answer, status, retried):
    receiver.answer = lambda n: answer
    WebhookEndpointFactory(url=receiver.url)
    services.customer_disable(customer=CustomerFactory(), actor=actor, reason="")
    delivery = WebhookDelivery.objects.get()

    retry_in = webhooks.attempt(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == status and delivery.last_status_code == answer
    assert (retry_in is not None) == retried
    assert (delivery.next_attempt_at is not None) == retried


def test_an_unreachable_endpoint_is_retried_with_growing_delays_then_fails(actor, settings):
    settings.LICENSING_WEBHOOK_RETRY_DELAYS = [0, 0, 0]
    WebhookEndpointFactory(url="http://127.0.0.1:9/hooks")  # discard port: connection refused
    services.customer_disable(customer=CustomerFactory(), actor=actor, reason="")
    delivery = WebhookDelivery.objects.get()

    for _ in range(4):
        webhooks.attempt(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED and delivery.tries == 4
    attempts = list(delivery.attempts.all())
    assert len(attempts) == 4
    assert all(a.status_code is None and a.error == "Could not connect to the receiver." for a in attempts)


def test_the_default_schedule_is_eight_tries_over_about_a_day(settings):
    delays = settings.LICENSING_WEBHOOK_RETRY_DELAYS
    assert len(delays) + 1 == 8
    assert 18 * 3600 < sum(delays) < 30 * 3600


def test_jitter_stays_within_a_fifth_of_the_delay():
    samples = [webhooks.backoff(100) for _ in range(200)]
    assert min(samples) >= 80 and max(samples) <= 120 and len(set(samples)) > 1


def test_a_claimed_delivery_is_not_sent_twice(actor, receiver):
    WebhookEndpointFactory(url=receiver.url)
    services.customer_disable(customer=CustomerFactory(), actor=actor, reason="")
    delivery = WebhookDelivery.objects.get()
    webhooks.attempt(delivery.pk)
    webhooks.attempt(delivery.pk)  # a duplicate message: already done
    assert len(receiver.received) == 1
    assert WebhookAttempt.objects.count() == 1


def test_overdue_lists_pending_deliveries_not_in_flight(actor, settings):
    WebhookEndpointFactory()
    services.customer_disable(customer=CustomerFactory(), actor=actor, reason="")
    delivery = WebhookDelivery.objects.get()
    assert webhooks.overdue(grace=0) == [delivery.pk]
    assert webhooks.overdue(grace=3600) == []  # not yet past its grace: its message may be on the way
    WebhookDelivery.objects.filter(pk=delivery.pk).update(claimed_until=timezone.now() + dt.timedelta(hours=1))
    assert webhooks.overdue(grace=0) == []


def test_redeliver_sends_a_failed_delivery_again_with_fresh_tries(actor, receiver):
    receiver.answer = lambda n: 410 if n == 0 else 200
    WebhookEndpointFactory(url=receiver.url)
    services.customer_disable(customer=CustomerFactory(), actor=actor, reason="")
    delivery = WebhookDelivery.objects.get()
    webhooks.attempt(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED

    services.webhook_delivery_redeliver(delivery=delivery, actor=actor)
    webhooks.attempt(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert [a.status_code for a in delivery.attempts.order_by("started_at")] == [410, 200]
    assert AuditEvent.objects.filter(action="webhook_delivery.redelivered", target_id=delivery.pk).exists()


def test_after_a_rotation_both_secrets_verify_until_the_overlap_ends(actor, receiver):
    endpoint, old_secret = services.webhook_endpoint_create(
        endpoint=WebhookEndpointFactory.build(url=receiver.url), actor=actor
    )
    endpoint, new_secret = services.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=actor)
    assert old_secret != new_secret and new_secret.startswith("whsec_")

    services.webhook_endpoint_send_test(endpoint=endpoint, actor=actor)
    webhooks.attempt(WebhookDelivery.objects.get().pk)

    (received,) = receiver.received
    assert received.headers["webhook-signature"].count("v1,") == 2
    for secret in (old_secret, new_secret):
        assert Webhook(secret).verify(received.body, received.headers)["type"] == "webhook.test"


def test_a_test_event_goes_to_its_endpoint_only(actor):
    endpoint = WebhookEndpointFactory(event_types=["license.revoked"])
    WebhookEndpointFactory()
    services.webhook_endpoint_send_test(endpoint=endpoint, actor=actor)
    assert WebhookDelivery.objects.get().endpoint == endpoint
