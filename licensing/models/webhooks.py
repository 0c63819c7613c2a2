"""Webhooks: where to send events, the outbox of events, and every
delivery and attempt."""

from __future__ import annotations

import base64
import secrets
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from .. import secretbox
from .base import PublicModel

SECRET_PREFIX = "whsec_"


def generate_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def validate_event_types(value) -> None:
    """The shape of an endpoint's subscription. Which event types exist is the
    representation layer's to say (licensing.representations.EVENT_TYPES); the services
    and the forms check the names against it."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError("Give a list of event types, or an empty list for all of them.")


class WebhookEndpoint(PublicModel):
    """A URL of the vendor's that hears about changes. The signing secret is needed in
    clear to sign, so it is stored encrypted; it is shown once, when created or rotated.
    After a rotation the previous secret also signs for a while, so that receivers can
    switch over without missing a delivery."""

    resource_name = "webhook_endpoint"

    url = models.URLField("URL", max_length=2000, help_text="Where events are POSTed (https in production).")
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_event_types],
        help_text="The event types to send; empty for all of them.",
    )
    is_active = models.BooleanField("active", default=True, help_text="Inactive endpoints receive nothing.")
    secret_encrypted = models.TextField(editable=False)
    previous_secret_encrypted = models.TextField(blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    secret = secretbox.encrypted("secret_encrypted")
    previous_secret = secretbox.encrypted("previous_secret_encrypted")

    class Meta:
        ordering = ["url"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.description or self.url

    def signing_secrets(self, now=None) -> list[str]:
        """The secrets that sign a delivery now: the current one, and the previous one
        while its overlap lasts."""
        now = now or timezone.now()
        current = [self.secret]
        if self.previous_secret and self.previous_secret_expires_at and now < self.previous_secret_expires_at:
            return [*current, self.previous_secret]
        return current

    def subscribes_to(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookEvent(models.Model):
    """An outbox row: one change, written in the transaction of the change itself. Its id
    is the `webhook-id` every endpoint and every retry receives, so receivers can drop
    duplicates. `payload` holds the exact body sent, so retries send the same bytes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    payload = models.TextField(editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "webhook event"

    def __str__(self) -> str:
        return f"{self.type} {self.id}"

    @property
    def message_id(self) -> str:
        return f"msg_{self.id.hex}"


class WebhookDelivery(models.Model):
    """One event for one endpoint, tried until it succeeds, fails for good, or runs out of
    tries. `claimed_until` marks a delivery in flight: a worker claims it with a
    conditional UPDATE, and a claim that outlives its worker simply expires."""

    resource_name = "webhook_delivery"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, editable=False)
    tries = models.PositiveIntegerField(default=0, editable=False, help_text="Tries since it was last (re)queued.")
    next_attempt_at = models.DateTimeField(null=True, blank=True, editable=False)
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_attempt_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_endpoint")]
        indexes = [
            # The re-queue's scan: pending deliveries by due time.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_due",
            ),
            # The dashboard's failing endpoints: deliveries that failed for good, lately.
            models.Index(
                fields=["completed_at"],
                condition=models.Q(status="failed"),
                name="webhook_delivery_failed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event.type} → {self.endpoint}"


class WebhookAttempt(models.Model):
    """One POST of a delivery, as it went."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "webhook attempt"

    def __str__(self) -> str:
        return f"{self.status_code or self.error[:40]} at {self.started_at:%Y-%m-%d %H:%M:%S}"
