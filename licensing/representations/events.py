"""What each resource announces to webhook endpoints: `<resource_name>.<event>`."""

from __future__ import annotations

from django.db import models

from ..models import ActivationCode, Customer, Entitlement, License, LicenseTransaction, LicenseUser, Product

EDITED = ("created", "updated")

EVENTS: dict[type[models.Model], tuple[str, ...]] = {
    Customer: (*EDITED, "disabled", "enabled"),
    Product: EDITED,
    LicenseTransaction: (*EDITED, "suspended", "resumed"),
    Entitlement: (*EDITED, "disabled", "enabled"),
    ActivationCode: (*EDITED, "disabled", "enabled", "revoked"),
    LicenseUser: EDITED,
    License: (
        "activated",
        "deactivated",
        "suspended",
        "resumed",
        "revoked",
        # Floating licenses (services/floating.py); a slot's renewals are not announced.
        "floating_taken",
        "floating_released",
        "floating_expired",
        "borrowed",
    ),
}

# Every event type a vendor can subscribe to.
EVENT_TYPES: tuple[str, ...] = tuple(
    f"{model.resource_name}.{event}" for model, events in EVENTS.items() for event in events
)
