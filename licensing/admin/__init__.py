"""The vendor staff's admin. Model admins are thin: switches call `licensing.services`."""

from . import catalog, customers, entitlements, features, floating, licenses, lifecycle, portal, records, webhooks

__all__ = [
    "catalog",
    "customers",
    "entitlements",
    "features",
    "floating",
    "licenses",
    "lifecycle",
    "portal",
    "records",
    "webhooks",
]
