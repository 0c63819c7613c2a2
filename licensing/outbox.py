"""The webhook outbox: events written in the transaction of the change they announce.

A change writes its event and one delivery per subscribed endpoint in its own
transaction (`emit`); a change that rolls back announces nothing. Once the change
commits, the deliveries are queued: to a Celery worker over the broker in production, to
a thread of the web process in the embedded default (`licensing.webhooks` sends them).
A queued message is only a hint to try now: the rows are the truth, and a periodic task
re-queues whatever is due and not in flight.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Iterable

from celery import current_app
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from . import representations, webhooks
from .compiled import CompiledQuery
from .models import WebhookDelivery, WebhookEndpoint, WebhookEvent

logger = logging.getLogger(__name__)

TEST_EVENT = "webhook.test"  # sent by "Send test event", to one endpoint, whatever it subscribes to
# The Celery task that delivers (licensing/tasks.py), sent by name: the outbox sits below
# the tasks that call it, and does not import them.
DELIVER_TASK = "licensing.tasks.deliver_webhook"


def emit(event_type: str, target: models.Model | None, *, extra: dict | None = None) -> WebhookEvent | None:
    """Write the event and its deliveries for every active endpoint that subscribes, in
    the caller's transaction, and queue them once it commits. Nothing if none subscribes.
    `data` is the target as the management API shows it at this moment, plus `extra`."""
    if event_type not in representations.EVENT_TYPES:
        return None
    endpoints = [e for e in _active_endpoints() if e.subscribes_to(event_type)]
    if not endpoints:
        return None
    data = representations.represent(target) if target is not None else {}
    return _write(event_type, {**data, **(extra or {})}, endpoints)


# Read by every change: compiled once (licensing/compiled.py).
_active_endpoints = CompiledQuery(WebhookEndpoint, (), (), lambda: WebhookEndpoint.objects.filter(is_active=True))


def emit_test(endpoint: WebhookEndpoint) -> WebhookEvent:
    """A `webhook.test` event for one endpoint, whatever it subscribes to."""
    data = {"endpoint": str(endpoint.pk), "message": "A test event sent from the licensing server."}
    return _write(TEST_EVENT, data, [endpoint])


def _write(event_type: str, data: dict, endpoints: Iterable[WebhookEndpoint]) -> WebhookEvent:
    # Encoded as the management API encodes its answers, so `data` reads the same there.
    event_id = uuid.uuid4()
    now = timezone.now()
    body = {"id": f"msg_{event_id.hex}", "type": event_type, "created": _iso(now), "data": data}
    event = WebhookEvent.objects.create(
        id=event_id, type=event_type, created_at=now, payload=json.dumps(body, cls=JSONEncoder, separators=(",", ":"))
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(event=event, endpoint=endpoint, next_attempt_at=now) for endpoint in endpoints
    )
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: queue(ids))
    return event


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


# After the broker fails, changes leave their deliveries to the periodic re-queue for a
# while instead of each trying it (and, if it hangs, each waiting out its timeout).
PUBLISH_PAUSE_SECONDS = 5.0
_publish_paused_until = 0.0


def queue(delivery_ids: Iterable[uuid.UUID]) -> None:
    """Ask for these deliveries to be tried now. Never raises: if the broker is down the
    deliveries stay pending in the database and the periodic re-queue sends them."""
    global _publish_paused_until
    if settings.LICENSING_WEBHOOKS_INLINE:
        webhooks.inline_dispatcher().wake()
        return
    if time.monotonic() < _publish_paused_until:
        return
    for delivery_id in delivery_ids:
        try:
            current_app.send_task(DELIVER_TASK, (str(delivery_id),))
        except Exception:  # the broker's errors vary by transport; all mean "later"
            _publish_paused_until = time.monotonic() + PUBLISH_PAUSE_SECONDS
            logger.warning("could not queue webhook delivery %s; the re-queue will send it", delivery_id)
            return
