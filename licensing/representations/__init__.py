"""How each resource is shown outside the server, built once for every reader.

The management API answers with these representations, and a webhook event's `data` is
the same representation of the same row at the moment of the change, so an integration
can parse both with one model. This package sits below both: it reads models,
querysets and rules, and nothing that calls it.

`RESOURCES` is the one list of what is represented, with the rows as shown (effective
status and seat counts annotated in the query) and the events each resource announces;
`EVENT_TYPES` is derived from it, so an event type never lacks a representation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import Prefetch, QuerySet
from rest_framework import serializers

from ..models import (
    ActivationCode,
    AuditEvent,
    Customer,
    Device,
    Entitlement,
    License,
    LicenseTransaction,
    LicenseUser,
    Product,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from ..querysets import seats_held
from . import resources, webhooks
from .transactions import TRANSACTION_LICENSES_SCHEMA, transaction_licenses


@dataclass(frozen=True)
class Resource:
    model: type[models.Model]
    serializer: type[serializers.Serializer]
    rows: Callable[[], QuerySet]  # every row as shown, annotations included
    events: tuple[str, ...] = ()  # `<resource_name>.<event>` announced by webhooks

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(f"{self.model.resource_name}.{event}" for event in self.events)


# Rows as each representation shows them: one query a page, whatever the rows hold.


def _entitlements() -> QuerySet:
    return Entitlement.objects.with_effective_status().with_seats_used()


def _activation_codes() -> QuerySet:
    return ActivationCode.objects.with_effective_status().annotate(seats_used=seats_held("activation_code", "pk"))


def _license_users() -> QuerySet:
    return LicenseUser.objects.prefetch_related(Prefetch("entitlements", Entitlement.objects.only("pk")))


def _licenses() -> QuerySet:
    return License.objects.with_effective_status().select_related("device")


def _webhook_deliveries() -> QuerySet:
    attempts = Prefetch("attempts", WebhookAttempt.objects.order_by("-started_at"))
    return WebhookDelivery.objects.select_related("event").prefetch_related(attempts)


EDITED = ("created", "updated")

RESOURCES: dict[type[models.Model], Resource] = {
    resource.model: resource
    for resource in (
        Resource(
            Customer,
            resources.CustomerSerializer,
            Customer.objects.with_effective_status,
            events=(*EDITED, "disabled", "enabled"),
        ),
        Resource(Product, resources.ProductSerializer, Product.objects.all, events=EDITED),
        Resource(
            LicenseTransaction,
            resources.LicenseTransactionSerializer,
            LicenseTransaction.objects.all,
            events=(*EDITED, "suspended", "resumed"),
        ),
        Resource(Entitlement, resources.EntitlementSerializer, _entitlements, events=(*EDITED, "disabled", "enabled")),
        Resource(
            ActivationCode,
            resources.ActivationCodeSerializer,
            _activation_codes,
            events=(*EDITED, "disabled", "enabled", "revoked"),
        ),
        Resource(LicenseUser, resources.LicenseUserSerializer, _license_users, events=EDITED),
        Resource(Device, resources.DeviceSerializer, Device.objects.all),
        Resource(
            License,
            resources.LicenseSerializer,
            _licenses,
            events=("activated", "deactivated", "suspended", "resumed", "revoked"),
        ),
        Resource(AuditEvent, resources.AuditEventSerializer, AuditEvent.objects.all),
        Resource(WebhookEndpoint, webhooks.WebhookEndpointSerializer, WebhookEndpoint.objects.all),
        Resource(WebhookDelivery, webhooks.WebhookDeliverySerializer, _webhook_deliveries),
    )
}

# Every event type a vendor can subscribe to, in the order above.
EVENT_TYPES: tuple[str, ...] = tuple(event for resource in RESOURCES.values() for event in resource.event_types)


def rows(model: type[models.Model]) -> QuerySet:
    """Every row of `model` as its representation shows it, for lists and look-ups."""
    return RESOURCES[model].rows()


def serializer_for(model: type[models.Model]) -> type[serializers.Serializer]:
    return RESOURCES[model].serializer


def represent(instance: models.Model) -> dict[str, Any]:
    """The row as it stands now (read again, annotations included), represented."""
    resource = RESOURCES[type(instance)]
    return dict(resource.serializer(resource.rows().get(pk=instance.pk)).data)


__all__ = [
    "EVENT_TYPES",
    "RESOURCES",
    "TRANSACTION_LICENSES_SCHEMA",
    "Resource",
    "represent",
    "rows",
    "serializer_for",
    "transaction_licenses",
]
