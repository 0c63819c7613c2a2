"""Webhook endpoints and deliveries: creating and editing endpoints, rotating their
secrets, test events, and redelivery."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import audit, outbox, representations, webhooks
from ..actors import Actor
from ..errors import InvalidEdit, InvalidTransition
from ..models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from ..models.webhooks import generate_secret
from .edits import create_record, update_record

# After a rotation the old secret keeps signing (beside the new one) this long, so that
# receivers can deploy the new secret without rejecting deliveries meanwhile.
ROTATION_OVERLAP = dt.timedelta(hours=24)


def webhook_endpoint_create(*, endpoint: WebhookEndpoint, actor: Actor) -> tuple[WebhookEndpoint, str]:
    """Save a new endpoint with a fresh signing secret. Returns the secret, which is shown
    to the caller this once and afterwards kept only encrypted."""
    secret = generate_secret()
    endpoint.secret = secret
    return create_record(endpoint, actor=actor, check=_check_endpoint), secret


def webhook_endpoint_update(*, endpoint: WebhookEndpoint, data: Mapping[str, Any], actor: Actor) -> WebhookEndpoint:
    return update_record(endpoint, data=data, actor=actor, check=_check_endpoint)


def _check_endpoint(endpoint: WebhookEndpoint, links: Mapping[str, list]) -> None:
    """A public https URL (internal addresses would let whoever may create endpoints reach
    the server's own network), and event types that exist."""
    errors = {}
    if problem := webhooks.url_problem(endpoint.url):
        errors["url"] = [problem]
    unknown = sorted(set(endpoint.event_types) - set(representations.EVENT_TYPES))
    if unknown:
        errors["event_types"] = [f"Unknown event types: {', '.join(unknown)[:300]}."]
    if errors:
        raise InvalidEdit(errors)


def webhook_endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, actor: Actor, reason: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Give an endpoint a new secret. For `ROTATION_OVERLAP` deliveries carry signatures
    with both secrets; then only the new one."""
    secret = generate_secret()
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        locked.previous_secret = locked.secret
        locked.previous_secret_expires_at = timezone.now() + ROTATION_OVERLAP
        locked.secret = secret
        locked.save(
            update_fields=["secret_encrypted", "previous_secret_encrypted", "previous_secret_expires_at", "updated_at"]
        )
        audit.append(
            actor=actor,
            action="webhook_endpoint.secret_rotated",
            target=locked,
            reason=reason,
            after={"previous_secret_expires_at": locked.previous_secret_expires_at.isoformat()},
        )
    return locked, secret


def webhook_endpoint_send_test(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookEvent:
    """Send a `webhook.test` event to this endpoint alone."""
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if not locked.is_active:
            raise InvalidTransition("This endpoint is inactive: activate it to send it events.")
        event = outbox.emit_test(locked)
        audit.append(actor=actor, action="webhook_endpoint.test_sent", target=locked)
    return event


def webhook_delivery_redeliver(*, delivery: WebhookDelivery, actor: Actor) -> WebhookDelivery:
    """Send a delivery again, with a fresh set of tries, whatever became of it; a
    delivery already on its way is left to finish."""
    with transaction.atomic():
        locked = WebhookDelivery.objects.select_for_update().select_related("event", "endpoint").get(pk=delivery.pk)
        now = timezone.now()
        if locked.status == WebhookDelivery.Status.PENDING and locked.claimed_until and locked.claimed_until > now:
            raise InvalidTransition("This delivery is being sent right now; wait for its outcome.")
        before = {"status": locked.status, "tries": locked.tries}
        locked.status = WebhookDelivery.Status.PENDING
        locked.tries = 0
        locked.next_attempt_at = now
        locked.completed_at = None
        locked.save(update_fields=["status", "tries", "next_attempt_at", "completed_at"])
        audit.append(
            actor=actor,
            action="webhook_delivery.redelivered",
            target=locked,
            before=before,
            after={"status": locked.status, "tries": 0},
        )
        transaction.on_commit(lambda: outbox.queue([locked.pk]))
    return locked
