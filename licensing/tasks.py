"""Celery tasks. They take ids, re-read the rows, and do nothing if the work is done."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from . import outbox, services, webhooks


@shared_task(name=outbox.DELIVER_TASK, ignore_result=True)
def deliver_webhook(delivery_id: str) -> None:
    """Try one delivery; if it should be retried, queue the retry for when it is due."""
    retry_in = webhooks.attempt(delivery_id)
    if retry_in is not None:
        try:
            deliver_webhook.apply_async((delivery_id,), countdown=retry_in)
        except Exception:  # the broker went away: the periodic re-queue has it
            webhooks.logger.warning("could not queue the retry of %s; the re-queue will send it", delivery_id)


@shared_task(ignore_result=True)
def requeue_webhook_deliveries() -> int:
    """Queue again what is overdue and not in flight: messages lost with a broker restart,
    a worker killed mid-task, or a commit whose queueing failed. Runs on Celery beat."""
    overdue = webhooks.overdue(grace=settings.LICENSING_WEBHOOK_REQUEUE_GRACE)
    outbox.queue(overdue)
    return len(overdue)


@shared_task(ignore_result=True)
def sweep_floating_slots() -> int:
    """Tidy floating slots that lapsed, announcing each once (`license.floating_expired`).
    They are free already: this only tidies and tells. Runs on Celery beat, or on the
    embedded scheduler (config/scheduler.py)."""
    return services.slots_sweep()


@shared_task(ignore_result=True)
def send_expiry_notices() -> int:
    """Send the expiry notices that are due (`entitlement.expiring`, `entitlement.expired`),
    each once however many workers run this. Runs on Celery beat, or on the embedded
    scheduler (config/scheduler.py)."""
    return services.expiry_notices_send()
