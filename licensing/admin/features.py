"""Product features, the grants of them, and what metered entitlements consumed."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from .. import metering, services
from ..models import Entitlement, EntitlementFeature, ProductFeature
from .base import LicensingAdmin, ReadOnlyInline


@admin.register(ProductFeature)
class ProductFeatureAdmin(LicensingAdmin):
    list_display = ["code", "name", "product", "feature_type"]
    list_select_related = ["product"]
    list_filter = ["feature_type", "product"]
    search_fields = ["code", "name", "product__name", "product__code"]
    autocomplete_fields = ["product"]
    fixed_after_creation = ("product",)
    fieldsets = [(None, {"fields": ["product", "code", "name", "feature_type"]})]
    create_service = staticmethod(services.product_feature_create)
    update_service = staticmethod(services.product_feature_update)
    service_argument = "product_feature"


@admin.register(EntitlementFeature)
class EntitlementFeatureAdmin(LicensingAdmin):
    list_display = ["feature", "entitlement", "value", "expires_at", "max_consumptions", "reset_period"]
    list_select_related = ["feature", "entitlement__customer", "entitlement__product"]
    list_filter = ["feature__feature_type", "reset_period"]
    search_fields = ["feature__code", "feature__name", "entitlement__customer__name"]
    autocomplete_fields = ["entitlement", "feature"]
    fixed_after_creation = ("entitlement", "feature")
    fieldsets = [
        (None, {"fields": ["entitlement", "feature", "value", "expires_at"]}),
        (
            "Consumption",
            {
                "fields": [
                    "max_consumptions",
                    "allow_overages",
                    "max_overages",
                    "reset_period",
                    "allow_negative_consumptions",
                ],
                "description": "For a consumption feature: what its counter allows per period.",
            },
        ),
    ]
    create_service = staticmethod(services.entitlement_feature_grant)
    update_service = staticmethod(services.entitlement_feature_update)
    service_argument = "entitlement_feature"


class FeatureGrantInline(ReadOnlyInline):
    model = EntitlementFeature
    verbose_name_plural = "Features granted"
    fields = ["feature", "value", "expires_at", "max_consumptions", "reset_period"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("feature")


def usage_bars(entitlement: Entitlement) -> str:
    """Each meter's use this period against its limit, as a bar people read at a glance
    (a <meter>: no inline style, which the pages' Content-Security-Policy refuses), with
    the words beside it."""
    rows = metering.usage_rows(entitlement, timezone.now())
    if not rows:
        return "Not metered"
    return format_html(
        '<div class="usage">{}</div>',
        format_html_join(
            "",
            '<div class="usage-row"><span class="usage-name">{}</span>{}<span class="usage-words">{}</span></div>',
            ((row["name"], meter_bar(row), row["words"]) for row in rows),
        ),
    )


def meter_bar(row: dict) -> str:
    if not row["limit"]:
        return ""
    return format_html(
        '<meter class="usage-bar" min="0" max="{}" high="{}" optimum="0" value="{}" aria-label="{}"></meter>',
        row["limit"],
        row["high"],
        row["used"],
        row["name"],
    )
