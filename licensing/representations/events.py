"""What each resource announces to webhook endpoints: `<resource_name>.<event>`."""

from __future__ import annotations

from django.db import models

from ..models import (
    ActivationCode,
    Customer,
    Entitlement,
    License,
    LicenseTransaction,
    LicenseUser,
    Product,
)

EDITED = ("created", "updated")

EVENTS: dict[type[models.Model], tuple[str, ...]] = {
    Customer: (*EDITED, "disabled", "enabled"),
    Product: EDITED,
    LicenseTransaction: (*EDITED, "suspended", "resumed"),
    Entitlement: (*EDITED, "disabled", "enabled", "renewed"),
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

# Events about a resource that are not its own changes: their `data` is the resource's
# representation with what happened added (`outbox.emit(..., extra=...)`).
# consumption.limit_reached: an entitlement's meter reached its limit (once per period).
# entitlement.expiring / .expired: its end is a milestone away / licenses stopped (once
# per milestone and end, with `expiry`). trial.started / .converted: a trial key was
# handed out (with `trial`) / staff made the trial a paid entitlement.
OTHER_EVENT_TYPES = (
    "consumption.limit_reached",
    "entitlement.expiring",
    "entitlement.expired",
    "trial.started",
    "trial.converted",
)

# Every event type a vendor can subscribe to.
EVENT_TYPES: tuple[str, ...] = (
    *(f"{model.resource_name}.{event}" for model, events in EVENTS.items() for event in events),
    *OTHER_EVENT_TYPES,
)
