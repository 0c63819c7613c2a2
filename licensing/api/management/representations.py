"""A record as the management API shows it, for anything that must show it the same way
outside a request: webhook payloads (licensing/webhooks.py)."""

from __future__ import annotations

from django.db import models

from ...models import ActivationCode, Customer, Device, Entitlement, License, LicenseTransaction, LicenseUser, Product
from . import views

VIEWSETS = {
    ActivationCode: views.ActivationCodeViewSet,
    Customer: views.CustomerViewSet,
    Device: views.DeviceViewSet,
    Entitlement: views.EntitlementViewSet,
    License: views.LicenseViewSet,
    LicenseTransaction: views.LicenseTransactionViewSet,
    LicenseUser: views.LicenseUserViewSet,
    Product: views.ProductViewSet,
}


def represent(instance: models.Model) -> dict:
    """Re-read the row through its viewset's queryset (effective status included) and
    serialize it with the viewset's serializer. Activation codes stay masked."""
    viewset = VIEWSETS[type(instance)]()
    row = viewset.get_queryset().get(pk=instance.pk)
    return dict(viewset.get_serializer_class()(row, context={}).data)
