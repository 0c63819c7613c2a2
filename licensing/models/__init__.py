from .audit import AuditEvent
from .catalog import Product
from .client import OfflineRequest, SigningKey
from .credentials import ApiToken, ClientCredential
from .customers import Customer
from .entitlements import ActivationCode, Entitlement, LicenseTransaction
from .features import ConsumptionCounter, ConsumptionEntry, EntitlementFeature, ProductFeature, ResetPeriod
from .floating import FloatingSlot
from .licenses import Device, License, LicenseUser
from .lifecycle import ExpiryNotice, Trial
from .portal import CustomerContact, PortalSettings
from .webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "ActivationCode",
    "ApiToken",
    "AuditEvent",
    "ClientCredential",
    "ConsumptionCounter",
    "ConsumptionEntry",
    "Customer",
    "CustomerContact",
    "Device",
    "Entitlement",
    "EntitlementFeature",
    "ExpiryNotice",
    "FloatingSlot",
    "License",
    "LicenseTransaction",
    "LicenseUser",
    "OfflineRequest",
    "PortalSettings",
    "Product",
    "ProductFeature",
    "ResetPeriod",
    "SigningKey",
    "Trial",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
