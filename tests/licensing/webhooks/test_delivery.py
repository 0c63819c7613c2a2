"""Deliveries end to end: real Celery workers and beat over Redis, a real local HTTP
receiver, PostgreSQL. No transport is mocked."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from celery import Celery
from django.db import transaction
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from config import celery_app
from licensing import services, webhooks
from licensing.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from tests.factories import CustomerFactory, WebhookEndpointFactory
from tests.servers import RedisServer

from .receiver import Receiver, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def succeeded() -> int:
    return WebhookDelivery.objects.filter(status=WebhookDelivery.Status.SUCCEEDED).count()


def assert_each_delivered_once_as_success(receiver: Receiver, events: int) -> None:
    assert WebhookEvent.objects.count() == events
    assert WebhookDelivery.objects.exclude(status=WebhookDelivery.Status.SUCCEEDED).count() == 0
    # In our records: exactly one successful attempt per delivery.
    per_delivery = Counter(WebhookAttempt.objects.filter(succeeded=True).values_list("delivery_id", flat=True))
    assert len(per_delivery) == events and set(per_delivery.values()) == {1}
    # At the receiver: every event arrived with a 2xx answer.
    assert {r.headers["webhook-id"] for r in receiver.successes()} == {e.message_id for e in WebhookEvent.objects.all()}


def test_disabling_a_customer_delivers_one_signed_event(celery, receiver, actor):
    endpoint = WebhookEndpointFactory(url=receiver.url)
    customer = CustomerFactory()
    celery.worker()

    services.customer_disable(customer=customer, actor=actor, reason="invoice overdue")

    wait_for(lambda: succeeded() == 1, 30, celery.logs())
    (received,) = receiver.received
    payload = Webhook(endpoint.secret).verify(received.body, received.headers)
    assert payload["type"] == "customer.disabled"
    assert payload["data"]["id"] == str(customer.pk) and payload["data"]["effective_status"] == "disabled"
    assert payload["id"] == received.headers["webhook-id"]
    tampered = received.body.replace(b"invoice overdue", b"invoice paid!!!")
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(tampered, received.headers)


def test_a_receiver_failing_then_recovering_gets_the_event_once_as_success(celery, receiver, actor):
    receiver.answer = lambda n: 503 if n < 3 else 200
    WebhookEndpointFactory(url=receiver.url)
    celery.worker()

    services.customer_disable(customer=CustomerFactory(), actor=actor, reason="")

    wait_for(lambda: succeeded() == 1, 30, celery.logs())
    assert [r.answered for r in receiver.received] == [503, 503, 503, 200]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    delivery = WebhookDelivery.objects.get()
    attempts = list(delivery.attempts.order_by("started_at"))
    assert [a.status_code for a in attempts] == [503, 503, 503, 200]
    assert [a.succeeded for a in attempts] == [False, False, False, True]
    assert all(a.response_excerpt.startswith("answered") and a.duration_ms >= 0 for a in attempts)
    assert delivery.tries == 4
    time.sleep(1.5)  # nothing more arrives
    assert len(receiver.received) == 4


def test_a_receiver_down_during_200_changes_gets_all_of_them_after_it_returns(celery, actor):
    receiver = Receiver()  # its port is chosen, but nothing listens yet
    WebhookEndpointFactory(url=receiver.url)
    customers = CustomerFactory.create_batch(100)
    celery.worker(LICENSING_WEBHOOK_RETRY_DELAYS="1,2,3,5,8,13,20")

    for customer in customers:
        services.customer_disable(customer=customer, actor=actor, reason="")
        services.customer_enable(customer=customer, actor=actor, reason="")
    wait_for(lambda: WebhookAttempt.objects.filter(error="Could not connect to the receiver.").count() >= 200, 30)
    receiver.start()
    try:
        wait_for(lambda: succeeded() == 200, 60, celery.logs())
        time.sleep(1)
        assert_each_delivered_once_as_success(receiver, 200)
        assert Counter(r.headers["webhook-id"] for r in receiver.successes()).most_common(1)[0][1] == 1
    finally:
        receiver.stop()


def test_a_worker_killed_mid_delivery_loses_nothing(celery, receiver, actor):
    receiver.delay = 1.0  # deliveries are in flight when the worker dies
    WebhookEndpointFactory(url=receiver.url)
    customers = CustomerFactory.create_batch(12)
    first = celery.worker(concurrency=4)

    for customer in customers:
        services.customer_disable(customer=customer, actor=actor, reason="")
    wait_for(lambda: len(receiver.received) >= 2, 30, celery.logs())
    celery.kill(first)
    assert succeeded() < 12

    # A new worker, and beat: the re-queue finds what the dead worker held once its
    # claims expire, and what was still queued is consumed as usual.
    celery.worker(concurrency=4)
    celery.beat()
    wait_for(lambda: succeeded() == 12, 60, celery.logs())
    assert_each_delivered_once_as_success(receiver, 12)


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of this test's own, which it may kill and restart (empty, as a
    Redis that keeps nothing on disk comes back)."""
    server = RedisServer(tmp_path)
    server.start()
    # This process publishes to it too: a Celery app of its own becomes the current one
    # (shared tasks resolve against the current app) until the test ends.
    publisher = Celery("publisher", set_as_current=True)
    publisher.config_from_object("django.conf:settings", namespace="CELERY")
    publisher.conf.broker_url = server.url
    yield server
    publisher.close()
    celery_app.set_current()
    server.kill()


def test_a_redis_restart_loses_no_delivery(celery, receiver, own_redis, actor):
    receiver.delay = 0.3
    WebhookEndpointFactory(url=receiver.url)
    customers = CustomerFactory.create_batch(30)
    celery.worker(redis_url=own_redis.url, concurrency=2)
    celery.beat(redis_url=own_redis.url)

    for customer in customers:
        services.customer_disable(customer=customer, actor=actor, reason="")
    wait_for(lambda: len(receiver.received) >= 3, 30, celery.logs())
    own_redis.kill()  # every queued message is gone with it
    lost = 30 - succeeded()
    assert lost > 10
    time.sleep(1)
    own_redis.start()

    wait_for(lambda: succeeded() == 30, 90, celery.logs())
    assert_each_delivered_once_as_success(receiver, 30)


def test_changes_made_while_redis_is_down_are_delivered_once_it_is_back(celery, receiver, own_redis, actor):
    WebhookEndpointFactory(url=receiver.url)
    customers = CustomerFactory.create_batch(5)
    own_redis.kill()

    # The change is made and its event written; only the nudge to the broker is lost.
    for customer in customers:
        services.customer_disable(customer=customer, actor=actor, reason="")
    assert WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).count() == 5

    own_redis.start()
    celery.worker(redis_url=own_redis.url, concurrency=2)
    celery.beat(redis_url=own_redis.url)
    wait_for(lambda: succeeded() == 5, 90, celery.logs())
    assert_each_delivered_once_as_success(receiver, 5)


@pytest.fixture
def inline(settings):
    """The embedded default: no broker, deliveries from a thread of this process."""
    settings.LICENSING_WEBHOOKS_INLINE = True
    settings.LICENSING_WEBHOOK_RETRY_DELAYS = [0.2, 0.2, 0.2]
    yield
    webhooks.stop_inline_dispatcher()


def test_without_a_broker_a_thread_of_the_web_process_delivers_and_retries(inline, receiver, actor):
    receiver.answer = lambda n: 503 if n == 0 else 200
    endpoint = WebhookEndpointFactory(url=receiver.url)

    services.customer_disable(customer=CustomerFactory(), actor=actor, reason="")

    wait_for(lambda: succeeded() == 1, 30)
    assert [r.answered for r in receiver.received] == [503, 200]
    Webhook(endpoint.secret).verify(receiver.received[-1].body, receiver.received[-1].headers)


def test_a_change_that_rolls_back_delivers_nothing(celery, receiver, actor):
    WebhookEndpointFactory(url=receiver.url)
    rolled_back, committed = CustomerFactory(), CustomerFactory()
    celery.worker()

    with pytest.raises(RuntimeError), transaction.atomic():
        services.customer_disable(customer=rolled_back, actor=actor, reason="")
        raise RuntimeError("the request fails after the switch")
    services.customer_disable(customer=committed, actor=actor, reason="")

    wait_for(lambda: succeeded() == 1, 30, celery.logs())
    time.sleep(1)
    (received,) = receiver.received
    assert json.loads(received.body)["data"]["id"] == str(committed.pk)
    assert WebhookEvent.objects.count() == 1
