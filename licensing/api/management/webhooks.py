"""Webhook endpoints and deliveries in the management API."""

from __future__ import annotations

from typing import Any

import django_filters as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from ... import representations, services
from ...models import WebhookDelivery, WebhookEndpoint
from ...representations.webhooks import WebhookEndpointWithSecretSerializer
from .filters import Filters, TimestampedFilters
from .serializers import InputSerializer, StrictChoiceField, StrictListField
from .views import ManagementViewSet, RecordViewSet


class WebhookEndpointInputSerializer(InputSerializer):
    event_types = StrictListField(
        child=StrictChoiceField(choices=representations.EVENT_TYPES),
        required=False,
        max_length=len(representations.EVENT_TYPES),
        help_text="The event types to send; empty for all of them.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_types", "is_active"]


class WebhookDeliveryFilters(Filters):
    created = filters.IsoDateTimeFromToRangeFilter(field_name="created_at")
    event_type = filters.ChoiceFilter(field_name="event__type", choices=[(t, t) for t in representations.EVENT_TYPES])

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
    input_serializer_class = WebhookEndpointInputSerializer
    update_service = staticmethod(services.webhook_endpoint_update)
    service_argument = "endpoint"
    filterset_class = WebhookEndpointFilters
    search_fields = ["url", "description"]
    ordering_fields = ["url", "created_at", "updated_at"]

    @extend_schema(responses={201: WebhookEndpointWithSecretSerializer})
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def created(self, data: dict[str, Any]) -> Response:
        endpoint, secret = services.webhook_endpoint_create(endpoint=WebhookEndpoint(**data), actor=self.actor())
        return self.answer(endpoint, status_code=status.HTTP_201_CREATED, secret=secret)

    @extend_schema(request=None, responses=WebhookEndpointWithSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new secret. For 24 hours deliveries are signed with the old one too."""
        endpoint, secret = services.webhook_endpoint_rotate_secret(endpoint=self.get_object(), actor=self.actor())
        return self.answer(endpoint, secret=secret)

    @extend_schema(request=None, responses={202: representations.serializer_for(WebhookDelivery)})
    @action(detail=True, methods=["post"], url_path="test")
    def send_test(self, request, pk=None):
        """Send a `webhook.test` event to this endpoint alone."""
        event = services.webhook_endpoint_send_test(endpoint=self.get_object(), actor=self.actor())
        return self.answer(event.deliveries.get(), status_code=status.HTTP_202_ACCEPTED)


class WebhookDeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ManagementViewSet):
    """Each event for each endpoint, with every attempt."""

    queryset = WebhookDelivery.objects.all()
    filterset_class = WebhookDeliveryFilters
    ordering_fields = ["created_at", "last_attempt_at", "next_attempt_at"]

    @extend_schema(request=None, responses={202: representations.serializer_for(WebhookDelivery)})
    @action(detail=True, methods=["post"])
    def redeliver(self, request, pk=None):
        """Send it again, with a fresh set of tries."""
        delivery = services.webhook_delivery_redeliver(delivery=self.get_object(), actor=self.actor())
        return self.answer(delivery, status_code=status.HTTP_202_ACCEPTED)
