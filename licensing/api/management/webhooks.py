"""Webhook endpoints and deliveries in the management API (DESIGN.md §4, §5)."""

from __future__ import annotations

import django_filters as filters
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from ... import services
from ...models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from ...models.webhooks import EVENT_TYPES
from .filters import TimestampedFilters
from .serializers import AuditedModelSerializer
from .views import ManagementViewSet, RecordViewSet


class WebhookEndpointSerializer(AuditedModelSerializer):
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        required=False,
        max_length=len(EVENT_TYPES),
        help_text="The event types to send; empty for all of them.",
    )
    secret = serializers.SerializerMethodField(
        help_text="The signing secret (`whsec_...`): only in the answers of create and rotate-secret."
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "event_types", "is_active", "secret", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]

    def get_secret(self, obj) -> str | None:
        return self.context.get("secret")

    def _save(self, instance, fields, related):
        if instance._state.adding:
            endpoint, self.context["secret"] = services.webhook_endpoint_create(
                endpoint=instance, actor=self.context["actor"]
            )
            return endpoint
        return super()._save(instance, fields, related)


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["started_at", "duration_ms", "status_code", "succeeded", "response_excerpt", "error"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.CharField(source="event.message_id", help_text="The `webhook-id` of every try.")
    event_type = serializers.CharField(source="event.type")
    attempts = WebhookAttemptSerializer(many=True, help_text="Newest first.")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "event_id", "event_type", "endpoint", "status", "tries", "next_attempt_at", "last_attempt_at",
            "last_status_code", "last_error", "completed_at", "created_at", "attempts",
        ]  # fmt: skip
        read_only_fields = fields


class WebhookDeliveryFilters(filters.FilterSet):
    created = filters.IsoDateTimeFromToRangeFilter(field_name="created_at")
    event_type = filters.ChoiceFilter(field_name="event__type", choices=[(t, t) for t in EVENT_TYPES])

    class Meta:
        model = WebhookDelivery
        fields = ["status", "endpoint"]


class WebhookEndpointFilters(TimestampedFilters):
    class Meta:
        model = WebhookEndpoint
        fields = ["is_active"]


class WebhookEndpointViewSet(RecordViewSet):
    """Where events go. The secret appears only when it is made: on create and on
    rotate-secret."""

    queryset = WebhookEndpoint.objects.all()
    serializer_class = WebhookEndpointSerializer
    filterset_class = WebhookEndpointFilters
    search_fields = ["url", "description"]
    ordering_fields = ["url", "created_at", "updated_at"]

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = serializer.save()
        return self.answer(endpoint, status_code=status.HTTP_201_CREATED, secret=serializer.context["secret"])

    @extend_schema(request=None, responses=WebhookEndpointSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new secret. For 24 hours deliveries are signed with the old one too."""
        endpoint, secret = services.webhook_endpoint_rotate_secret(endpoint=self.get_object(), actor=self.actor())
        return self.answer(endpoint, secret=secret)

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"], url_path="test")
    def send_test(self, request, pk=None):
        """Send a `webhook.test` event to this endpoint alone."""
        event = services.webhook_endpoint_send_test(endpoint=self.get_object(), actor=self.actor())
        delivery = deliveries().get(event=event)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


def deliveries():
    attempts = Prefetch("attempts", WebhookAttempt.objects.order_by("-started_at"))
    return WebhookDelivery.objects.select_related("event").prefetch_related(attempts)


class WebhookDeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ManagementViewSet):
    """Each event for each endpoint, with every attempt."""

    queryset = WebhookDelivery.objects.all()
    serializer_class = WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilters
    ordering_fields = ["created_at", "last_attempt_at", "next_attempt_at"]

    def get_queryset(self):
        return deliveries()

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def redeliver(self, request, pk=None):
        """Send it again, with a fresh set of tries."""
        delivery = services.webhook_delivery_redeliver(delivery=self.get_object(), actor=self.actor())
        return Response(WebhookDeliverySerializer(self.fresh(delivery)).data, status=status.HTTP_202_ACCEPTED)
