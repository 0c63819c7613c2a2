from django.urls import path, re_path, register_converter
from rest_framework.routers import SimpleRouter

from ...models import Customer
from . import views, webhooks
from .errors import not_found

app_name = "management-api"

router = SimpleRouter()
router.trailing_slash = "/?"  # documented paths have none; a trailing slash is taken too
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("products", views.ProductViewSet, basename="product")
router.register("license-transactions", views.LicenseTransactionViewSet, basename="license-transaction")
router.register("entitlements", views.EntitlementViewSet, basename="entitlement")
router.register("product-features", views.ProductFeatureViewSet, basename="product-feature")
router.register("entitlement-features", views.EntitlementFeatureViewSet, basename="entitlement-feature")
router.register("activation-codes", views.ActivationCodeViewSet, basename="activation-code")
router.register("license-users", views.LicenseUserViewSet, basename="license-user")
router.register("devices", views.DeviceViewSet, basename="device")
router.register("licenses", views.LicenseViewSet, basename="license")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")
router.register("webhook-endpoints", webhooks.WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("webhook-deliveries", webhooks.WebhookDeliveryViewSet, basename="webhook-delivery")


class ExternalIdConverter:
    """An order's id in the vendor's billing, as a path segment: printable and no longer
    than the column, so anything else is a plain 404 before any query."""

    regex = r"[^/\x00-\x1f\x7f]{1,200}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ExternalIdConverter, "external_id")

# 10Duke's paths: organizations and persons ("users") are both customers here.
TRANSACTION_SWITCHES = [
    path(
        f"{prefix}/<str:customer_id>/license-transactions/<external_id:external_id>/{verb}-licenses",
        views.TransactionLicenses.as_view(kind=kind, suspend=verb == "suspend"),
        name=f"{prefix}-{verb}-licenses",
    )
    for prefix, kind in (("organizations", Customer.Kind.ORGANIZATION), ("users", Customer.Kind.PERSON))
    for verb in ("suspend", "resume")
]

urlpatterns = [*router.urls, *TRANSACTION_SWITCHES, re_path(r"^.*$", not_found, name="not-found")]
