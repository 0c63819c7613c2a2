"""The vendor staff's admin. Model admins are thin: switches call `licensing.services`."""

from django.contrib import admin

from . import catalog, customers, entitlements, features, floating, licenses, lifecycle, portal, records, webhooks
from . import dashboard as dashboard  # imported for its effect: the dashboard becomes the home page
from .base import forbid_deletion

# Last, once every admin module of every app (staff users and groups included) has
# registered its models: nothing is deleted anywhere in this admin.
forbid_deletion(admin.site)

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
