"""How each resource is shown outside the server, built once for every reader.

The management API answers with these representations, and a webhook event's `data` is
the same representation of the same row at the moment of the change, so an integration
can parse both with one model. This package sits below both: it reads models,
querysets and rules, and nothing that calls it.

`RESOURCES` is the one list of what is represented, with the rows as shown (effective
status and seat counts annotated in the query); `events.EVENTS` says what each resource
announces, and an event is only ever of a represented resource.
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
    EntitlementFeature,
    License,
    LicenseTransaction,
    LicenseUser,
    Product,
    ProductFeature,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from . import resources, webhooks
from .events import EVENT_TYPES, EVENTS
from .resources import FloatingSlotSerializer
from .transactions import TRANSACTION_LICENSES_SCHEMA, transaction_licenses


@dataclass(frozen=True)
class Resource:
    model: type[models.Model]
    serializer: type[serializers.Serializer]
    rows: Callable[[], QuerySet]  # every row as shown, annotations included

    @property
    def event_types(self) -> tuple[str, ...]:
        """What webhooks announce of this resource (events.py)."""
        return tuple(f"{self.model.resource_name}.{event}" for event in EVENTS.get(self.model, ()))


# Rows as each representation shows them: one query a page, whatever the rows hold.


def _entitlements() -> QuerySet:
    return Entitlement.objects.with_effective_status().with_floating_use()


def _activation_codes() -> QuerySet:
    return ActivationCode.objects.with_effective_status()


def _license_users() -> QuerySet:
    return LicenseUser.objects.prefetch_related(Prefetch("entitlements", Entitlement.objects.only("pk")))


def _licenses() -> QuerySet:
    return License.objects.with_effective_status().select_related("device", "floating_slot")


def _products() -> QuerySet:
    return Product.objects.prefetch_related(Prefetch("trial_features", ProductFeature.objects.only("pk", "code")))


def _grants() -> QuerySet:
    return EntitlementFeature.objects.select_related("feature")


def _webhook_deliveries() -> QuerySet:
    attempts = Prefetch("attempts", WebhookAttempt.objects.order_by("-started_at"))
    return WebhookDelivery.objects.select_related("event").prefetch_related(attempts)


RESOURCES: dict[type[models.Model], Resource] = {
    resource.model: resource
    for resource in (
        Resource(Customer, resources.CustomerSerializer, Customer.objects.with_effective_status),
        Resource(Product, resources.ProductSerializer, _products),
        Resource(ProductFeature, resources.ProductFeatureSerializer, ProductFeature.objects.all),
        Resource(EntitlementFeature, resources.EntitlementFeatureSerializer, _grants),
        Resource(LicenseTransaction, resources.LicenseTransactionSerializer, LicenseTransaction.objects.all),
        Resource(Entitlement, resources.EntitlementSerializer, _entitlements),
        Resource(ActivationCode, resources.ActivationCodeSerializer, _activation_codes),
        Resource(LicenseUser, resources.LicenseUserSerializer, _license_users),
        Resource(Device, resources.DeviceSerializer, Device.objects.all),
        Resource(License, resources.LicenseSerializer, _licenses),
        Resource(AuditEvent, resources.AuditEventSerializer, AuditEvent.objects.all),
        Resource(WebhookEndpoint, webhooks.WebhookEndpointSerializer, WebhookEndpoint.objects.all),
        Resource(WebhookDelivery, webhooks.WebhookDeliverySerializer, _webhook_deliveries),
    )
}


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
    "FloatingSlotSerializer",
    "Resource",
    "represent",
    "rows",
    "serializer_for",
    "transaction_licenses",
]
