"""Webhook endpoints and deliveries as the management API shows them."""

from __future__ import annotations

from rest_framework import serializers

from ..models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .events import EVENT_TYPES
from .resources import Representation


class WebhookEndpointSerializer(Representation):
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        read_only=True,
        help_text="The event types sent to this endpoint; empty for all of them.",
    )
    secret = serializers.SerializerMethodField(
        help_text="The signing secret (`whsec_...`): only in the answers of create and rotate-secret, null elsewhere."
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "event_types", "is_active", "secret", "created_at", "updated_at"]

    def get_secret(self, obj: WebhookEndpoint) -> str | None:
        # Never read back: the answer that makes a secret carries it (WebhookEndpointWithSecret).
        return None


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    """The answer of create and rotate-secret: the endpoint and its new secret, shown once."""

    secret = serializers.CharField(read_only=True, help_text="The signing secret (`whsec_...`), shown this once.")


class WebhookAttemptSerializer(Representation):
    class Meta:
        model = WebhookAttempt
        fields = ["started_at", "duration_ms", "status_code", "succeeded", "response_excerpt", "error"]


class WebhookDeliverySerializer(Representation):
    event_id = serializers.CharField(
        source="event.message_id", read_only=True, help_text="The `webhook-id` of every try."
    )
    event_type = serializers.CharField(source="event.type", read_only=True)
    attempts = WebhookAttemptSerializer(many=True, read_only=True, help_text="Newest first.")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "event_id", "event_type", "endpoint", "status", "tries", "next_attempt_at", "last_attempt_at",
            "last_status_code", "last_error", "completed_at", "created_at", "attempts",
        ]  # fmt: skip
