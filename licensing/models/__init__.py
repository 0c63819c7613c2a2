from .audit import AuditEvent
from .catalog import Product
from .client import OfflineRequest, SigningKey
from .credentials import ApiToken, ClientCredential
from .customers import Customer
from .entitlements import ActivationCode, Entitlement, LicenseTransaction
from .licenses import Device, License, LicenseUser
from .webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "ActivationCode",
    "ApiToken",
    "AuditEvent",
    "ClientCredential",
    "Customer",
    "Device",
    "Entitlement",
    "License",
    "LicenseTransaction",
    "LicenseUser",
    "OfflineRequest",
    "Product",
    "SigningKey",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
